"""``rnx job ...``: run a job, and list, inspect, follow, stop and delete jobs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from joblet_cluster.common.durations import format_duration, parse_duration, parse_schedule
from joblet_cluster.proto import joblet_pb2
from joblet_cluster.rnx.connect import REQUEST_TIMEOUT, Connection
from joblet_cluster.rnx.errors import ExitCode, RnxError, job_exit_code
from joblet_cluster.rnx.filters import (
    TERMINAL,
    Aggregate,
    aggregate_metrics,
    parse_statuses,
    select_jobs,
)
from joblet_cluster.rnx.logs import LogPrinter, copy_output
from joblet_cluster.rnx.output import (
    command_line,
    message_dict,
    note,
    print_json,
    show_aggregate,
    show_jobs,
    show_metrics,
    show_status,
    waiting,
    write_output,
)
from joblet_cluster.rnx.run_request import build_run_request, collect_uploads, parse_env_pairs
from joblet_cluster.rnx.session import JsonFlag, option_value, require_subcommand, session_of

INT32_MAX = 2**31 - 1
POLL_INTERVAL = 0.5  # between status checks while waiting for a followed job to end

app = typer.Typer(help="Run and inspect jobs.", add_completion=False)

JobId = Annotated[
    str,
    typer.Argument(
        metavar="ID", help="The job's id, or a unique prefix of it.", show_default=False
    ),
]


class LogStream(StrEnum):
    """``job log --stream``: sent in a field of ours that a node of this project honours
    (Joblet's own API merges the streams)."""

    ALL = "all"
    STDOUT = "stdout"
    STDERR = "stderr"

    @property
    def number(self) -> int:
        return {"all": 0, "stdout": 1, "stderr": 2}[self.value]


@app.callback(invoke_without_command=True)
def _job(ctx: typer.Context) -> None:
    """Run and inspect jobs."""
    require_subcommand(ctx)


@app.command(context_settings={"allow_interspersed_args": False})
def run(
    ctx: typer.Context,
    command: Annotated[
        str, typer.Argument(metavar="COMMAND", help="The program to run.", show_default=False)
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ARGS",
            help="Its arguments, passed as they are (options after COMMAND too).",
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            metavar="KEY=VALUE",
            help="KEY=VALUE in the job's environment (repeatable).",
        ),
    ] = None,
    secret_env: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-env",
            "-s",
            metavar="KEY=VALUE",
            help="KEY=VALUE in the job's environment, never shown back (repeatable).",
        ),
    ] = None,
    workdir: Annotated[
        str, typer.Option("--workdir", metavar="DIR", help="The job's working directory.")
    ] = "",
    upload: Annotated[
        list[Path] | None,
        typer.Option(
            "--upload",
            metavar="PATH",
            help="A file (by its name) or a directory (its tree) to put in the job's "
            "workspace (repeatable).",
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN",
            help="Start later: after a delay (30s, 2h30m, 1d) or at an RFC 3339 time "
            "(2025-08-03T15:00:00Z).",
        ),
    ] = None,
    max_cpu: Annotated[
        int,
        typer.Option(
            min=0,
            max=INT32_MAX,
            metavar="PERCENT",
            help="CPU limit, percent of one core (0: none).",
        ),
    ] = 0,
    max_memory: Annotated[
        int, typer.Option(min=0, max=INT32_MAX, metavar="MB", help="Memory limit in MB (0: none).")
    ] = 0,
    retries: Annotated[
        int,
        typer.Option(
            min=0, max=INT32_MAX, metavar="N", help="Run again after a failure, at most N times."
        ),
    ] = 0,
    retry_delay: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="Wait before each retry, such as 5s or 1m30s."),
    ] = None,
    priority: Annotated[
        int,
        typer.Option(
            min=-INT32_MAX,
            max=INT32_MAX,
            metavar="N",
            help="Higher starts first among waiting jobs.",
        ),
    ] = 0,
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            metavar="NODE",
            help="The node to run it on (a node id), or 'any' for the least-loaded node "
            "that is up. Default: the node rnx talks to.",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Print the job's output until it ends; exit with its code."
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Run COMMAND [ARGS...] as a job.

    Options go before COMMAND; everything after it is the job's, e.g.
    rnx job run -e MODE=fast python3 -c 'print(1)'
    """
    session = session_of(ctx)
    as_json = session.wants_json(json_output)
    if follow and as_json:
        raise RnxError(
            "--follow prints the job's output, so it cannot print --json", ExitCode.USAGE
        )
    request = build_run_request(
        command,
        args or [],
        environment=parse_env_pairs(env or [], "--env"),
        secret_environment=parse_env_pairs(secret_env or [], "--secret-env"),
        work_dir=workdir,
        uploads=collect_uploads(upload or []),
        schedule=option_value("--schedule", _schedule_now, schedule) if schedule else "",
        max_cpu=max_cpu,
        max_memory=max_memory,
        max_retries=retries,
        retry_delay=option_value("--retry-delay", _go_duration, retry_delay) if retry_delay else "",
        priority=priority,
        node=on or "",
    )
    with session.connect() as connection:
        with waiting("starting the job"):
            started = connection.jobs.RunJob(request, timeout=REQUEST_TIMEOUT)
        if not follow:
            if as_json:
                print_json(message_dict(started))
            else:
                typer.echo(f"{started.job_uuid} {started.status}")
            return
        note(f"job {started.job_uuid} {started.status}: {command_line(command, args or [])}")
        logs = connection.jobs.GetJobLogs(joblet_pb2.GetJobLogsRequest(uuid=started.job_uuid))
        copy_output(logs, LogPrinter(write_output), until_quiet=False, follow=True)
        ended = _wait_for_end(connection, started.job_uuid)
    note(f"job {ended.uuid} {ended.status} (exit code {ended.exit_code})")
    raise typer.Exit(job_exit_code(ended.status, ended.exit_code))


def _schedule_now(text: str) -> str:
    return parse_schedule(text, datetime.now(UTC))


def _go_duration(text: str) -> str:
    return format_duration(parse_duration(text))


def _wait_for_end(connection: Connection, uuid: str) -> joblet_pb2.GetJobStatusResponse:
    """The job's status once it is final: its output may end just before its status does."""
    request = joblet_pb2.GetJobStatusRequest(uuid=uuid)
    with waiting(f"waiting for job {uuid} to end"):
        while True:
            status = connection.jobs.GetJobStatus(request, timeout=REQUEST_TIMEOUT)
            if status.status in TERMINAL:
                return status
            time.sleep(POLL_INTERVAL)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            metavar="STATUS", help="Only jobs with this status (repeatable, or a comma list)."
        ),
    ] = None,
    node_id: Annotated[
        str | None, typer.Option(metavar="NODE_ID", help="Only jobs of this node.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="At most N jobs, the newest.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """List jobs, newest first."""
    session = session_of(ctx)
    statuses = parse_statuses(status or [])
    with session.connect() as connection, waiting("listing jobs"):
        jobs = connection.jobs.ListJobs(joblet_pb2.EmptyRequest(), timeout=REQUEST_TIMEOUT).jobs
    selected = select_jobs(jobs, statuses=statuses, node_id=node_id, limit=limit)
    show_jobs(selected, session.wants_json(json_output), datetime.now(UTC))


@app.command()
def status(ctx: typer.Context, job_id: JobId, json_output: JsonFlag = False) -> None:
    """Show a job's status and settings."""
    session = session_of(ctx)
    with session.connect() as connection, waiting("asking for the job"):
        job = _job_status(connection, job_id)
    show_status(job, session.wants_json(json_output), datetime.now(UTC))


def _job_status(connection: Connection, job_id: str) -> joblet_pb2.GetJobStatusResponse:
    request = joblet_pb2.GetJobStatusRequest(uuid=job_id)
    return connection.jobs.GetJobStatus(request, timeout=REQUEST_TIMEOUT)


@app.command()
def log(
    ctx: typer.Context,
    job_id: JobId,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new output until the job ends."),
    ] = False,
    stream: Annotated[
        LogStream,
        typer.Option(help="Which output: both (merged by time), stdout or stderr."),
    ] = LogStream.ALL,
    since: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="Only lines from this long ago on, such as 10m."),
    ] = None,
    filter_text: Annotated[
        str | None,
        typer.Option("--filter", metavar="TEXT", help="Only lines containing this text."),
    ] = None,
    tail: Annotated[
        int | None,
        typer.Option(min=0, metavar="N", help="Of the output so far, only the last N lines."),
    ] = None,
) -> None:
    """Print a job's output (stdout and stderr, merged).

    For a running job, prints what it has printed so far; --follow keeps going until it ends.
    """
    session = session_of(ctx)
    if session.json:
        raise RnxError("job log prints the job's own output; it has no --json form", ExitCode.USAGE)
    since_ns = 0
    if since:
        delta = option_value("--since", parse_duration, since)
        since_ns = max(0, time.time_ns() - delta // timedelta(microseconds=1) * 1000)
    printer = LogPrinter(
        write_output, contains=filter_text.encode() if filter_text else None, tail=tail
    )
    with session.connect() as connection:
        job = _job_status(connection, job_id)
        running = job.status not in TERMINAL
        request = joblet_pb2.GetJobLogsRequest(
            uuid=job.uuid, stream=stream.number, since_time=since_ns
        )
        logs = connection.jobs.GetJobLogs(request)
        until_quiet = running and (not follow or tail is not None)
        copy_output(logs, printer, until_quiet=until_quiet, follow=follow)


@app.command()
def metrics(
    ctx: typer.Context,
    job_id: JobId,
    since: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="Only samples from this long ago on, such as 10m."),
    ] = None,
    aggregate: Annotated[
        Aggregate | None, typer.Option(help="One row over all samples instead of each sample.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Show a job's resource samples (CPU, memory, disk, network, GPU)."""
    session = session_of(ctx)
    start_ns = 0
    if since:
        delta = option_value("--since", parse_duration, since)
        start_ns = max(0, time.time_ns() - delta // timedelta(microseconds=1) * 1000)
    with session.connect() as connection, waiting("reading metrics"):
        job = _job_status(connection, job_id)
        request = joblet_pb2.GetJobMetricsRequest(job_uuid=job.uuid, start_time=start_ns)
        samples = [
            sample
            for sample in connection.jobs.GetJobMetrics(request, timeout=REQUEST_TIMEOUT)
            if sample.timestamp >= start_ns
        ]
    as_json = session.wants_json(json_output)
    if aggregate is None:
        show_metrics(samples, as_json)
    else:
        show_aggregate(
            aggregate.value, len(samples), aggregate_metrics(samples, aggregate), as_json
        )


@app.command()
def stop(ctx: typer.Context, job_id: JobId, json_output: JsonFlag = False) -> None:
    """Stop a running or scheduled job."""
    session = session_of(ctx)
    with session.connect() as connection, waiting("stopping the job"):
        stopped = connection.jobs.StopJob(
            joblet_pb2.StopJobRequest(uuid=job_id), timeout=REQUEST_TIMEOUT
        )
    if session.wants_json(json_output):
        print_json(message_dict(stopped))
    else:
        typer.echo(f"{stopped.uuid} {stopped.status}")


@app.command()
def cancel(ctx: typer.Context, job_id: JobId, json_output: JsonFlag = False) -> None:
    """Cancel a scheduled job before it starts."""
    session = session_of(ctx)
    with session.connect() as connection, waiting("canceling the job"):
        canceled = connection.jobs.CancelJob(
            joblet_pb2.CancelJobRequest(uuid=job_id), timeout=REQUEST_TIMEOUT
        )
    if session.wants_json(json_output):
        print_json(message_dict(canceled))
    else:
        typer.echo(f"{canceled.uuid} {canceled.status}")


@app.command()
def delete(ctx: typer.Context, job_id: JobId, json_output: JsonFlag = False) -> None:
    """Delete a finished job, with its output and metrics."""
    session = session_of(ctx)
    with session.connect() as connection, waiting("deleting the job"):
        deleted = connection.jobs.DeleteJob(
            joblet_pb2.DeleteJobRequest(uuid=job_id), timeout=REQUEST_TIMEOUT
        )
    if session.wants_json(json_output):
        print_json(message_dict(deleted))
    elif deleted.success:
        typer.echo(f"{deleted.uuid} deleted")
    if not deleted.success:
        raise RnxError(f"job {job_id} was not deleted: {deleted.message or 'no reason given'}")


@app.command("delete-all")
def delete_all(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Delete every finished job (running and scheduled jobs are kept)."""
    session = session_of(ctx)
    with session.connect() as connection, waiting("deleting jobs"):
        result = connection.jobs.DeleteAllJobs(
            joblet_pb2.DeleteAllJobsRequest(), timeout=REQUEST_TIMEOUT
        )
    if session.wants_json(json_output):
        print_json(message_dict(result))
    elif result.success:
        typer.echo(f"deleted {result.deleted_count} jobs, kept {result.skipped_count}")
    if not result.success:
        raise RnxError(f"jobs were not deleted: {result.message or 'no reason given'}")
