"""CloudWatch's shapes for persist's messages: pure functions, no IO and no clock.

A log line becomes one (or, past CloudWatch's event size, several) log events whose message
is a JSON object: ``sequence``, ``timestamp`` (the line's own ns), ``content`` (text) or
``content_b64`` (bytes that are not UTF-8), ``total`` (content bytes of the stream up to and
including this line, so a job's byte count is one read of the newest event) and, for a line
split in parts, ``part``/``parts``. A metric sample becomes one event in the job's metrics
stream (its non-zero fields, so ``read_metrics`` gets samples back) and nine metric data.

Everything CloudWatch refuses is decided here, so it can be tested without a server:
batch limits (events, bytes, 24 h span), chronological order within a batch, the time
window of accepted events, and the valid retention values.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from joblet_cluster.common.errors import ConfigError, InvalidInput
from joblet_cluster.proto.persist_pb2 import LogLine, Metric

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR

# PutLogEvents (CloudWatch Logs API reference).
MAX_EVENTS_PER_PUT = 10_000
MAX_PUT_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes each event adds to a batch beside its UTF-8 message
MAX_SPAN_MS = MS_PER_DAY  # first to last event of one call
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD  # one message (the older, smaller documented limit)
MAX_AGE_MS = 14 * MS_PER_DAY  # older events are rejected ...
MAX_AHEAD_MS = 2 * MS_PER_HOUR  # ... and so are events this far in the future
# GetLogEvents returns at most this many events a page.
MAX_PAGE_EVENTS = 10_000

# PutMetricData / GetMetricStatistics (CloudWatch API reference).
MAX_METRIC_DATA_PER_PUT = 1_000
MAX_METRIC_PUT_BYTES = 1_000_000  # the request limit is 1 MB; data are estimated below it
MAX_DATAPOINTS_PER_GET = 1_440
MAX_DIMENSIONS = 30

#: ``log_retention_days`` values CloudWatch accepts (PutRetentionPolicy).
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
DEFAULT_RETENTION_DAYS = 7

#: QueryMetrics' aggregation names and the CloudWatch statistic of each.
STATISTICS = {"avg": "Average", "min": "Minimum", "max": "Maximum", "sum": "Sum"}

_MIB = 1024 * 1024
_KIB = 1024
_CONTENT_BUDGET = MAX_EVENT_BYTES - 256  # room for the other keys of a message


class MetricSpec(NamedTuple):
    name: str  # CloudWatch metric name
    unit: str  # CloudWatch unit
    field: str  # Metric proto field
    divisor: int  # proto value / divisor = CloudWatch value


#: The nine metrics of every sample (DESIGN.md, CloudWatch).
METRIC_SPECS = (
    MetricSpec("CPUUsage", "Percent", "cpu_percent", 1),
    MetricSpec("MemoryUsage", "Megabytes", "memory_bytes", _MIB),
    MetricSpec("GPUUsage", "Percent", "gpu_percent", 1),
    MetricSpec("DiskReadBytes", "Bytes", "io_read_bytes", 1),
    MetricSpec("DiskWriteBytes", "Bytes", "io_write_bytes", 1),
    MetricSpec("DiskReadOps", "Count", "io_read_ops", 1),
    MetricSpec("DiskWriteOps", "Count", "io_write_ops", 1),
    MetricSpec("NetworkRxBytes", "Kilobytes", "net_rx_bytes", _KIB),
    MetricSpec("NetworkTxBytes", "Kilobytes", "net_tx_bytes", _KIB),
)
_FLOAT_FIELDS = frozenset({"cpu_percent", "gpu_percent"})


@dataclass(frozen=True, slots=True)
class Event:
    """One log event ready for PutLogEvents, with what the writer learns once it is stored."""

    timestamp: int  # ms: what CloudWatch orders and filters by
    message: str
    size: int  # UTF-8 bytes of the message + EVENT_OVERHEAD
    sequence: int
    time: int  # the line's (or sample's) own ns timestamp
    total: int  # content bytes of the stream up to and including this line
    last_part: bool  # the line is complete once this event is stored

    def wire(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp, "message": self.message}


@dataclass(slots=True)
class Record:
    """One stored event, parsed back."""

    ms: int
    sequence: int
    time: int
    total: int
    part: int
    parts: int
    body: dict[str, Any]

    @property
    def last_part(self) -> bool:
        return self.part >= self.parts - 1

    def key(self) -> tuple[int, int, int]:
        return (self.ms, self.sequence, self.part)


@dataclass(frozen=True, slots=True)
class Entry:
    """A complete line or sample: its parts joined."""

    sequence: int
    time: int
    total: int
    content: bytes  # logs: the line; metrics: empty
    fields: dict[str, Any]  # metrics: the sample's fields; logs: the message's other keys


def retention_days(value: int) -> int | None:
    """The retention policy for ``log_retention_days``: None means never expire (no policy).

    As in the seeds: 0 (or unset) is the default of 7 days and -1 keeps logs forever; any
    other value must be one CloudWatch accepts, or the config is wrong.
    """
    if value == 0:
        return DEFAULT_RETENTION_DAYS
    if value == -1:
        return None
    if value in RETENTION_DAYS:
        return value
    valid = ", ".join(map(str, RETENTION_DAYS))
    raise ConfigError(
        f"persist.storage.cloudwatch.log_retention_days: {value} is not a CloudWatch "
        f"retention (one of {valid}; 0 for the default of 7 days, -1 to never expire)"
    )


def accepted_window(now_ms: int, retention: int | None) -> tuple[int, int]:
    """The event times (ms) CloudWatch accepts now, with margins for clock skew and delay."""
    age = MAX_AGE_MS if retention is None else min(MAX_AGE_MS, retention * MS_PER_DAY)
    return now_ms - age + MS_PER_HOUR, now_ms + MAX_AHEAD_MS - 5 * 60_000


def encode_lines(
    lines: Iterable[LogLine], *, last_ms: int, total: int, lo_ms: int, hi_ms: int
) -> list[Event]:
    """Events for lines in sequence order.

    An event's time is the line's, clamped into ``[lo_ms, hi_ms]`` (what CloudWatch
    accepts) and never before the previous event of the stream (``last_ms``), because one
    PutLogEvents call must be in chronological order and reads come back in time order:
    so CloudWatch's order is the sequence order even when the job's clock stepped back.
    The line's own ns timestamp is kept in the message and is what reads return.
    """
    events: list[Event] = []
    for line in lines:
        ms = max(last_ms, min(max(line.timestamp // NS_PER_MS, lo_ms), hi_ms))
        last_ms = ms
        content = line.content
        total += len(content)
        try:
            key, pieces = "content", _split_text(content.decode("utf-8"), _CONTENT_BUDGET)
        except UnicodeDecodeError:
            key, pieces = "content_b64", _split_b64(content, _CONTENT_BUDGET)
        head = {"sequence": line.sequence, "timestamp": line.timestamp, "total": total}
        count = len(pieces)
        for index, piece in enumerate(pieces):
            body = {**head, key: piece}
            if count > 1:
                body["part"] = index
                body["parts"] = count
            message = orjson.dumps(body)
            events.append(
                Event(
                    ms,
                    message.decode("utf-8"),
                    len(message) + EVENT_OVERHEAD,
                    line.sequence,
                    line.timestamp,
                    total,
                    index == count - 1,
                )
            )
    return events


def encode_samples(
    samples: Iterable[Metric], *, last_ms: int, lo_ms: int, hi_ms: int
) -> list[Event]:
    """Events for metric samples, timed like lines (see ``encode_lines``)."""
    events: list[Event] = []
    for sample in samples:
        ms = max(last_ms, min(max(sample.timestamp // NS_PER_MS, lo_ms), hi_ms))
        last_ms = ms
        body = {"sequence": sample.sequence, "timestamp": sample.timestamp}
        body.update((fd.name, value) for fd, value in sample.ListFields() if fd.name != "job_id")
        message = orjson.dumps(body)
        events.append(
            Event(
                ms,
                message.decode("utf-8"),
                len(message) + EVENT_OVERHEAD,
                sample.sequence,
                sample.timestamp,
                0,
                True,
            )
        )
    return events


def plan_batches(events: Sequence[Event], max_events: int) -> list[list[Event]]:
    """Split events (already in time order) into PutLogEvents calls CloudWatch accepts.

    A call holds at most ``max_events`` (itself at most 10,000) events of at most
    1,048,576 bytes in all (messages + 26 each), first to last less than 24 h apart.
    """
    max_events = max(1, min(max_events, MAX_EVENTS_PER_PUT))
    batches: list[list[Event]] = []
    batch: list[Event] = []
    size = 0
    for event in events:
        if batch and (
            len(batch) >= max_events
            or size + event.size > MAX_PUT_BYTES
            or event.timestamp - batch[0].timestamp >= MAX_SPAN_MS
        ):
            batches.append(batch)
            batch, size = [], 0
        batch.append(event)
        size += event.size
    if batch:
        batches.append(batch)
    return batches


def parse_event(event: dict[str, Any]) -> Record | None:
    """A stored event back as a record; None for a message this backend did not write."""
    try:
        body = orjson.loads(event["message"])
        sequence = int(body["sequence"])
        time = int(body.get("timestamp", 0))
        total = int(body.get("total", 0))
        part = int(body.get("part", 0))
        parts = int(body.get("parts", 1))
        ms = int(event.get("timestamp", 0))
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(body, dict) or parts < 1 or not 0 <= part < parts:
        return None
    return Record(ms, sequence, time, total, part, parts, body)


class Assembler:
    """Joins the parts of split lines and drops what was stored twice.

    Fed records in ``(ms, sequence, part)`` order, it returns complete entries in sequence
    order. A sequence at or below the last one returned is a repeat (a write retried after
    a lost answer) and is dropped; sequence 0 (a sample without one) is never a repeat.
    """

    def __init__(self) -> None:
        self._pending: dict[int, dict[int, Record]] = {}
        self.last = 0

    def feed(self, records: Iterable[Record]) -> list[Entry]:
        out: list[Entry] = []
        for record in records:
            sequence = record.sequence
            if sequence and sequence <= self.last:
                continue
            if record.parts == 1:
                out.append(_entry(sequence, [record]))
            else:
                parts = self._pending.setdefault(sequence, {})
                parts.setdefault(record.part, record)
                if len(parts) < record.parts:
                    continue
                del self._pending[sequence]
                out.append(_entry(sequence, [parts[i] for i in range(record.parts)]))
            if sequence:
                self.last = sequence
        return out


def _entry(sequence: int, parts: list[Record]) -> Entry:
    first = parts[0].body
    if "content_b64" in first:
        content = b"".join(base64.b64decode(p.body.get("content_b64", "")) for p in parts)
    elif "content" in first:
        content = "".join(str(p.body.get("content", "")) for p in parts).encode("utf-8")
    else:
        content = b""
    fields = {
        k: v
        for k, v in first.items()
        if k not in ("content", "content_b64", "part", "parts", "total")
    }
    return Entry(sequence, parts[0].time, parts[-1].total, content, fields)


def log_line(job_id: str, stream: int, entry: Entry) -> LogLine:
    return LogLine(
        job_id=job_id,
        stream=stream,  # type: ignore[arg-type]
        content=entry.content,
        timestamp=entry.time,
        sequence=entry.sequence,
    )


def metric_sample(job_id: str, entry: Entry) -> Metric:
    """The stored sample; unknown keys (from a newer writer) are left out."""
    known = Metric.DESCRIPTOR.fields_by_name
    fields = {k: v for k, v in entry.fields.items() if k in known and k != "job_id"}
    return Metric(job_id=job_id, **fields)


def dimensions(job_id: str, node_id: str, extra: dict[str, str]) -> list[dict[str, str]]:
    """``JobID``, ``NodeID`` and the configured ones, in a stable order."""
    dims = [{"Name": "JobID", "Value": job_id}, {"Name": "NodeID", "Value": node_id}]
    dims.extend({"Name": k, "Value": v} for k, v in sorted(extra.items()))
    return dims


def check_dimensions(extra: dict[str, str]) -> None:
    """Configured dimensions CloudWatch would refuse, or that would hide JobID/NodeID."""
    key = "persist.storage.cloudwatch.metric_dimensions"
    clash = {"JobID", "NodeID"} & extra.keys()
    if clash:
        raise ConfigError(f"{key}: {', '.join(sorted(clash))} is set by the backend itself")
    if len(extra) > MAX_DIMENSIONS - 2:
        raise ConfigError(f"{key}: at most {MAX_DIMENSIONS - 2} extra dimensions")
    for name, value in extra.items():
        if not name or not value or len(name) > 255 or len(value) > 1024:
            raise ConfigError(f"{key}.{name}: names are 1-255 characters, values 1-1024")


def metric_data(sample: Metric, dims: list[dict[str, str]], now_ns: int) -> list[dict[str, Any]]:
    """The nine metric data of one sample; none when CloudWatch would refuse its time.

    PutMetricData takes data from the last two weeks up to two hours ahead; a sample
    outside that is still kept in the metrics log stream (at a clamped event time).
    """
    lo = now_ns - MAX_AGE_MS * NS_PER_MS + MS_PER_HOUR * NS_PER_MS
    hi = now_ns + (MAX_AHEAD_MS - 5 * 60_000) * NS_PER_MS
    if not lo <= sample.timestamp <= hi:
        return []
    when = datetime.fromtimestamp(sample.timestamp // NS_PER_MS / 1000, tz=UTC)
    data = []
    for spec in METRIC_SPECS:
        value = getattr(sample, spec.field) / spec.divisor
        if not math.isfinite(value):
            continue
        data.append(
            {
                "MetricName": spec.name,
                "Dimensions": dims,
                "Timestamp": when,
                "Value": float(value),
                "Unit": spec.unit,
            }
        )
    return data


def plan_metric_batches(
    data: Sequence[dict[str, Any]], max_data: int
) -> list[list[dict[str, Any]]]:
    """PutMetricData calls: at most ``max_data`` (itself at most 1000) data and ~1 MB each."""
    max_data = max(1, min(max_data, MAX_METRIC_DATA_PER_PUT))
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for datum in data:
        estimate = (
            96
            + len(datum["MetricName"])
            + sum(len(d["Name"]) + len(d["Value"]) + 16 for d in datum["Dimensions"])
        )
        if batch and (len(batch) >= max_data or size + estimate > MAX_METRIC_PUT_BYTES):
            batches.append(batch)
            batch, size = [], 0
        batch.append(datum)
        size += estimate
    if batch:
        batches.append(batch)
    return batches


def statistic(aggregation: str) -> str:
    try:
        return STATISTICS[aggregation]
    except KeyError:
        raise InvalidInput(
            f"aggregation {aggregation!r} is not one of {', '.join(STATISTICS)}"
        ) from None


def metric_period(span_ns: int, start_ns: int, now_ns: int) -> int:
    """A GetMetricStatistics period (s) of at least ``span_ns`` that CloudWatch serves.

    Data are stored at standard (60 s) resolution, so periods are multiples of 60; older
    data need coarser ones: over 15 days ago multiples of 300, over 63 days of 3600.
    """
    seconds = max(60, -(-span_ns // NS_PER_S))
    age_days = (now_ns - start_ns) / (86_400 * NS_PER_S)
    unit = 3600 if age_days > 63 else 300 if age_days > 15 else 60
    return -(-seconds // unit) * unit


def combine(stat: str, points: Sequence[dict[str, Any]]) -> float | None:
    """One value of ``stat`` from several datapoints (each with its SampleCount)."""
    values = [p[stat] for p in points if stat in p]
    if not values:
        return None
    if stat == "Sum":
        return float(sum(values))
    if stat == "Minimum":
        return float(min(values))
    if stat == "Maximum":
        return float(max(values))
    counts = [float(p.get("SampleCount", 1.0)) for p in points if stat in p]
    weight = sum(counts)
    if weight <= 0:
        return float(sum(values) / len(values))
    return float(sum(v * n for v, n in zip(values, counts, strict=True)) / weight)


def proto_value(spec: MetricSpec, value: float) -> float | int:
    """A CloudWatch value back in the Metric proto's unit and type."""
    if spec.field in _FLOAT_FIELDS:
        return value
    return round(value * spec.divisor)


def _split_text(text: str, budget: int) -> list[str]:
    """Pieces whose JSON string form fits ``budget`` bytes (escapes counted)."""
    if len(text) * 6 + 2 <= budget or len(orjson.dumps(text)) <= budget:
        return [text]
    pieces: list[str] = []
    start = 0
    while start < len(text):
        count = min(len(text) - start, budget)
        while True:
            piece = text[start : start + count]
            size = len(orjson.dumps(piece))
            if size <= budget:
                break
            count = max(1, min(count - 1, count * budget // size - 1))
        pieces.append(piece)
        start += count
    return pieces


def _split_b64(content: bytes, budget: int) -> list[str]:
    step = (budget - 2) // 4 * 3
    if not content:
        return [""]
    return [
        base64.b64encode(content[i : i + step]).decode("ascii")
        for i in range(0, len(content), step)
    ]
