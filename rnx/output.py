"""Everything ``rnx`` prints: JSON for programs, tables for people, a spinner while waiting.

JSON documents are the API's messages with the field names of ``joblet.proto``, one document
per command, on stdout. Tables go to stdout too, plain when it is not a terminal (no colour,
no wrapping), so ``grep`` and ``awk`` see one row per line. Secret values are never printed.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from joblet_cluster.common.durations import format_duration
from joblet_cluster.proto import cluster_pb2, joblet_pb2
from joblet_cluster.rnx.filters import METRIC_FIELDS, TERMINAL, job_time
from joblet_cluster.rnx.nodes import NodeReport

MASK = "***"
_STATUS_STYLES = {
    "COMPLETED": "green",
    "FAILED": "red",
    "RUNNING": "cyan",
    "INITIALIZING": "yellow",
    "SCHEDULED": "blue",
    "STOPPED": "magenta",
    "CANCELED": "magenta",
}
_UNWRAPPED_WIDTH = 10_000  # "as wide as the rows are" when stdout is a file or a pipe


def message_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data: every field, proto names, int64 as numbers, secrets masked."""
    data = MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=True,
        unquote_int64_if_possible=True,
    )
    if "secret_environment" in data:
        data["secret_environment"] = dict.fromkeys(data["secret_environment"], MASK)
    # in the order of joblet.proto, as people read it, not set fields first
    return {f.name: data[f.name] for f in message.DESCRIPTOR.fields if f.name in data}


def print_json(document: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_output(data: bytes) -> None:
    """Bytes of a job's output to stdout, unchanged, as soon as they come."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def note(message: str) -> None:
    """A line for the person at the terminal that must stay out of stdout's data."""
    sys.stderr.write(message + "\n")


@contextmanager
def waiting(message: str) -> Iterator[None]:
    """A spinner on stderr while a request is in flight, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    with _console(sys.stderr).status(message):
        yield


def _console(stream: TextIO) -> Console:
    terminal = stream.isatty()
    return Console(file=stream, highlight=False, width=None if terminal else _UNWRAPPED_WIDTH)


def _print(renderable: Table) -> None:
    """On a terminal, as rich lays it out; elsewhere without the padding after each row."""
    console = _console(sys.stdout)
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[Text | str]]) -> None:
    """A table whose last column (the command, the error) is the one cut on a narrow terminal."""
    cells = [[cell if isinstance(cell, Text) else Text(cell) for cell in row] for row in rows]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for index, header in enumerate(headers):
        widest = max([len(header), *(row[index].cell_len for row in cells)])
        last = index == len(headers) - 1
        table.add_column(header, no_wrap=True, min_width=None if last else widest)
    for row in cells:
        table.add_row(*row)
    _print(table)


def _print_fields(fields: Sequence[tuple[str, str | Text]]) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for name, value in fields:
        grid.add_row(name, value if isinstance(value, Text) else Text(value))
    _print(grid)


def status_text(status: str) -> Text:
    """A job status, coloured by what it means (colour only on a terminal)."""
    return Text(status, style=_STATUS_STYLES.get(status, ""))


def short_id(uuid: str) -> str:
    """The first 8 characters: enough for people, and a prefix the API accepts."""
    return uuid[:8]


def command_line(command: str, args: Sequence[str]) -> str:
    """The job's command as a shell would need it typed."""
    return shlex.join([command, *args])


def local_time(text: str) -> str:
    """An RFC 3339 time from the node, in the local zone to the second ("-" when empty)."""
    if not text:
        return "-"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def human_span(delta: timedelta) -> str:
    """A duration for people: whole seconds once there is one, else milliseconds."""
    if delta >= timedelta(seconds=1):
        delta = timedelta(seconds=int(delta.total_seconds()))
    else:
        delta = timedelta(milliseconds=int(delta.total_seconds() * 1000))
    return format_duration(max(delta, timedelta(0)))


def human_bytes(count: float) -> str:
    """A byte count in binary units, one decimal."""
    if abs(count) < 1024:
        return f"{count:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if abs(count) < 1024:
            return f"{count:.1f} {unit}"
    return f"{count / 1024:.1f} TiB"


def _run_span(start: str, end: str, now: datetime) -> str:
    if not start:
        return "-"
    try:
        began = datetime.fromisoformat(start)
        ended = datetime.fromisoformat(end) if end else now
    except ValueError:
        return "-"
    return human_span(ended - began)


def show_jobs(jobs: Sequence[joblet_pb2.Job], as_json: bool, now: datetime) -> None:
    """``job list``: a table, or a JSON array of the jobs."""
    if as_json:
        print_json([message_dict(job) for job in jobs])
        return
    if not jobs:
        note("no jobs")
        return
    rows: list[list[Text | str]] = [
        [
            short_id(job.uuid),
            status_text(job.status),
            job.node_id or "-",
            local_time(job.start_time) if job.start_time else _scheduled(job),
            _run_span(job.start_time, job.end_time, now),
            str(job.exit_code) if job.status in TERMINAL else "-",
            command_line(job.command, job.args),
        ]
        for job in jobs
    ]
    _print_table(["ID", "STATUS", "NODE", "START", "DURATION", "EXIT", "COMMAND"], rows)


def _scheduled(job: joblet_pb2.Job) -> str:
    moment = job_time(job)
    return f"at {moment.astimezone():%Y-%m-%d %H:%M:%S}" if moment else "-"


def show_status(job: joblet_pb2.GetJobStatusResponse, as_json: bool, now: datetime) -> None:
    """``job status``: the fields that are set, or the whole message as JSON."""
    if as_json:
        print_json(message_dict(job))
        return
    fields: list[tuple[str, str | Text]] = [
        ("ID", job.uuid),
        ("Status", status_text(job.status)),
        ("Command", command_line(job.command, job.args)),
        ("Node", job.node_id),
        ("Scheduled", local_time(job.scheduled_time) if job.scheduled_time else ""),
        ("Started", local_time(job.start_time) if job.start_time else ""),
        ("Ended", local_time(job.end_time) if job.end_time else ""),
        ("Duration", _run_span(job.start_time, job.end_time, now) if job.start_time else ""),
        ("Exit code", str(job.exit_code) if job.status in TERMINAL else ""),
        ("Work dir", job.work_dir),
        ("Runtime", job.runtime),
        ("Network", job.network),
        ("Volumes", ", ".join(job.volumes)),
        ("Uploads", ", ".join(job.uploads)),
        ("Max CPU", f"{job.max_cpu}%" if job.max_cpu else ""),
        ("CPU cores", job.cpu_cores),
        ("Max memory", f"{job.max_memory} MB" if job.max_memory else ""),
        ("Max IO", f"{job.max_io_bps} B/s" if job.max_io_bps else ""),
        ("GPUs", str(job.gpu_count) if job.gpu_count else ""),
        ("Timeout", job.timeout),
        ("Environment", _pairs(job.environment)),
        ("Secret env", _pairs(dict.fromkeys(job.secret_environment, MASK))),
    ]
    _print_fields([(name, value) for name, value in fields if value])


def _pairs(values: Mapping[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in sorted(values.items()))


_METRIC_HEADERS = {
    "cpu_percent": "CPU %",
    "memory_bytes": "MEMORY",
    "memory_limit": "MEM LIMIT",
    "disk_read_bytes": "DISK READ",
    "disk_write_bytes": "DISK WRITE",
    "net_recv_bytes": "NET RX",
    "net_sent_bytes": "NET TX",
    "gpu_percent": "GPU %",
    "gpu_memory_bytes": "GPU MEM",
}


def _metric_cells(values: Mapping[str, float]) -> list[str]:
    return [
        f"{values[name]:.1f}" if name.endswith("percent") else human_bytes(values[name])
        for name in METRIC_FIELDS
    ]


def show_metrics(samples: Sequence[joblet_pb2.JobMetricsEvent], as_json: bool) -> None:
    """``job metrics``: one row per sample, or a JSON array of them."""
    if as_json:
        print_json([message_dict(sample) for sample in samples])
        return
    if not samples:
        note("no metrics samples")
        return
    rows = [
        [
            datetime.fromtimestamp(sample.timestamp / 1e9, UTC).astimezone().strftime("%H:%M:%S"),
            *_metric_cells({name: getattr(sample, name) for name in METRIC_FIELDS}),
        ]
        for sample in samples
    ]
    _print_table(["TIME", *(_METRIC_HEADERS.get(n, n) for n in METRIC_FIELDS)], rows)


def show_aggregate(how: str, count: int, values: Mapping[str, float], as_json: bool) -> None:
    """``job metrics --aggregate``: one row (or document) summing up ``count`` samples."""
    if as_json:
        print_json({"aggregate": how, "samples": count, "values": dict(values)})
        return
    if not count:
        note("no metrics samples")
        return
    headers = ["OVER", *(_METRIC_HEADERS.get(n, n) for n in METRIC_FIELDS)]
    _print_table(headers, [[f"{how} of {count}", *_metric_cells(values)]])


def show_nodes(reports: Sequence[NodeReport], as_json: bool) -> None:
    """``rnx nodes``: one row per node of the config, or a JSON array."""
    if as_json:
        print_json([dataclasses.asdict(report) for report in reports])
        return
    headers = ["NAME", "ADDRESS", "NODE ID", "STATUS", "VERSION"]
    any_error = any(report.error for report in reports)
    rows = []
    for report in reports:
        row: list[Text | str] = [
            report.name,
            report.address,
            report.node_id or "-",
            Text("up", style="green") if report.up else Text("down", style="red"),
            report.version or "-",
        ]
        rows.append([*row, report.error] if any_error else row)
    _print_table([*headers, "ERROR"] if any_error else headers, rows)


def show_cluster(status: cluster_pb2.ClusterStatus) -> None:
    """``rnx cluster status``: the replication's view, then one row per node."""
    if status.HasField("raft"):
        raft = status.raft
        note(
            f"answered by {status.node_id} ({raft.role}); leader {raft.leader or 'none'}, "
            f"term {raft.term}, commit index {raft.commit_index}, applied {raft.last_applied}"
        )
    else:
        note(f"answered by {status.node_id}: no replication (state.backend memory)")
    show_cluster_nodes(status.nodes)


def show_cluster_nodes(nodes: Sequence[cluster_pb2.NodeStatus]) -> None:
    """One row per node of the cluster's registry (``rnx nodes``, ``rnx cluster status``)."""
    rows: list[list[Text | str]] = [
        [
            node.node_id,
            node.address,
            node.role or "-",
            Text("up", style="green") if node.up else Text("down", style="red"),
            str(node.running_jobs),
            str(node.lag),
            node.version or "-",
        ]
        for node in nodes
    ]
    _print_table(["NODE", "ADDRESS", "ROLE", "STATUS", "RUNNING", "LAG", "VERSION"], rows)


def show_version(client: str, python: str, node: NodeReport | None, as_json: bool) -> None:
    """``rnx version``: the client's, and the server's when a node was asked."""
    if as_json:
        print_json(
            {
                "client": client,
                "python": python,
                "node": dataclasses.asdict(node) if node else None,
            }
        )
        return
    sys.stdout.write(f"rnx {client} (python {python})\n")
    if node is None:
        return
    where = f"node {node.name} ({node.address})"
    if node.up:
        sys.stdout.write(f"{where}: server {node.version or 'version unknown'}\n")
    else:
        sys.stdout.write(f"{where}: {node.error}\n")
