"""The read side of the CloudWatch backend: a stream's tail, pages into ordered lines,
streams merged by time, and QueryMetrics' aggregates from CloudWatch's metric statistics.

Nothing here knows the backend: it is handed pages of events, or a function that makes
one (blocking-free) CloudWatch call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joblet_cluster.persist.backends._cloudwatch_aws import ResourceMissing
from joblet_cluster.persist.backends._cloudwatch_codec import (
    MAX_DATAPOINTS_PER_GET,
    METRIC_SPECS,
    NS_PER_MS,
    NS_PER_S,
    Assembler,
    Entry,
    Event,
    Record,
    combine,
    metric_period,
    parse_event,
    proto_value,
)
from joblet_cluster.proto.persist_pb2 import LogLine, Metric

MERGE_CHUNK = 1000  # lines per chunk of a merged read
TAIL_PAGE = 50  # events read at a time from a stream's end, for its newest complete line
HEAD_PAGE = 10

#: ``await statistics(metric_name, start, end, period, statistics) -> datapoints``
Statistics = Callable[[str, datetime, datetime, int, list[str]], Awaitable[list[dict[str, Any]]]]


@dataclass(slots=True)
class StreamTail:
    """What is stored in one stream: enough to continue it and to summarise it."""

    sequence: int = 0  # newest complete line (or sample)
    first_time: int = 0  # ns of the oldest line
    last_time: int = 0  # ns of the newest line
    ms: int = 0  # newest event time: the next event may not be earlier
    total: int = 0  # content bytes

    def advance(self, batch: Sequence[Event]) -> None:
        """Account for a batch CloudWatch has just stored."""
        self.ms = max(self.ms, batch[-1].timestamp)
        for event in batch:
            if not event.last_part:
                continue
            self.sequence = max(self.sequence, event.sequence)
            self.total = event.total
            self.last_time = max(self.last_time, event.time)
            if not self.first_time:
                self.first_time = event.time


async def load_tail(get_events: Callable[..., Awaitable[dict[str, Any]]]) -> StreamTail | None:
    """A stream's tail from CloudWatch; None when there is no such stream.

    Read backwards (``get_events`` is GetLogEvents bound to the stream) until an event
    ends a line: a line split in parts counts only once its last part is stored. Then the
    first events give the oldest line's time.
    """
    params: dict[str, Any] = {"startFromHead": False, "limit": TAIL_PAGE}
    tail = StreamTail()
    token = None
    while True:
        try:
            page = await get_events(**params)
        except ResourceMissing:
            return None
        events = page.get("events") or []
        if events and not tail.ms:
            tail.ms = max(int(e.get("timestamp", 0)) for e in events)
        complete = [r for r in map(parse_event, events) if r is not None and r.last_part]
        if complete:
            newest = max(complete, key=Record.key)
            tail.sequence = newest.sequence
            tail.total = newest.total
            tail.last_time = max(r.time for r in complete)
            break
        previous = page.get("nextBackwardToken")
        if not previous or previous == token:
            break
        token = params["nextToken"] = previous
    if tail.ms:
        head = await get_events(startFromHead=True, limit=HEAD_PAGE)
        times = [r.time for r in map(parse_event, head.get("events") or []) if r]
        tail.first_time = min(times, default=0)
    return tail


async def ordered_entries(
    pages: AsyncIterator[list[dict[str, Any]]], start: int, end: int
) -> AsyncIterator[list[Entry]]:
    """Complete entries in sequence order, a chunk per page, within ``[start, end)`` ns.

    Events of one millisecond may straddle two pages, so each page's newest millisecond
    is held back until the next page: sorting by (ms, sequence, part) then orders the
    lines and brings the parts of a split line together.
    """
    assembler = Assembler()
    held: list[Record] = []
    try:
        async for events in pages:
            records = [r for r in map(parse_event, events) if r is not None]
            if not records:
                continue
            newest = max(r.ms for r in records)
            batch = held + records
            held = [r for r in batch if r.ms >= newest]
            ready = sorted((r for r in batch if r.ms < newest), key=Record.key)
            chunk = within(assembler.feed(ready), start, end)
            if chunk:
                yield chunk
        chunk = within(assembler.feed(sorted(held, key=Record.key)), start, end)
        if chunk:
            yield chunk
    finally:
        await pages.aclose()  # type: ignore[attr-defined]


def within(entries: list[Entry], start: int, end: int) -> list[Entry]:
    """Entries whose own time is in ``[start, end)`` (0: unbounded)."""
    if not start and not end:
        return entries
    return [e for e in entries if e.time >= start and (not end or e.time < end)]


def time_bounds(start: int, end: int) -> tuple[int | None, int | None]:
    """GetLogEvents' ms bounds that cannot lose a line of ``[start, end)`` ns."""
    start_ms = start // NS_PER_MS if start > 0 else None
    end_ms = (end - 1) // NS_PER_MS + 1 if end > 0 else None
    return start_ms, end_ms


class _Cursor:
    """The head of a chunked stream of lines."""

    def __init__(self, chunks: AsyncIterator[list[LogLine]]) -> None:
        self.chunks = chunks
        self._chunk: list[LogLine] = []
        self._index = 0

    async def peek(self) -> LogLine | None:
        while self._index >= len(self._chunk):
            try:
                self._chunk = await anext(self.chunks)
            except StopAsyncIteration:
                return None
            self._index = 0
        return self._chunk[self._index]

    def pop(self) -> LogLine:
        line = self._chunk[self._index]
        self._index += 1
        return line


async def merge_lines(
    sources: list[AsyncIterator[list[LogLine]]],
) -> AsyncIterator[list[LogLine]]:
    """Lines of several streams by (timestamp, stream, sequence): on a tie, stdout first."""
    cursors = [_Cursor(source) for source in sources]
    chunk: list[LogLine] = []
    try:
        while True:
            best: _Cursor | None = None
            best_key: tuple[int, int, int] | None = None
            for cursor in cursors:
                head = await cursor.peek()
                if head is None:
                    continue
                key = (head.timestamp, head.stream, head.sequence)
                if best_key is None or key < best_key:
                    best, best_key = cursor, key
            if best is None:
                break
            chunk.append(best.pop())
            if len(chunk) >= MERGE_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        for source in sources:
            await source.aclose()  # type: ignore[attr-defined]


async def aggregate(
    statistics: Statistics,
    job_id: str,
    stat: str,
    start: int,
    end: int,
    step: int,
    now: int,
) -> list[Metric]:
    """``stat`` of every metric over ``[start, end)`` ns, as Metric samples.

    Asks for ``stat`` and SampleCount per metric, in windows of at most 1440 periods (the
    most one GetMetricStatistics call returns). With ``step`` 0 the datapoints combine
    into one sample stamped ``start`` (averages weighted by sample counts); else each
    period is a sample stamped with its start.
    """
    period = metric_period(step or end - start, start, now)
    span = period * MAX_DATAPOINTS_PER_GET * NS_PER_S
    windows = [(t, min(end, t + span)) for t in range(start, end, span)]

    async def points(metric: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for lo, hi in windows:
            found.extend(
                await statistics(
                    metric, _datetime(lo), _datetime(hi), period, [stat, "SampleCount"]
                )
            )
        return found

    results = await asyncio.gather(*(points(spec.name) for spec in METRIC_SPECS))
    if not step:
        sample = Metric(job_id=job_id, timestamp=start)
        found = False
        for spec, datapoints in zip(METRIC_SPECS, results, strict=True):
            value = combine(stat, datapoints)
            if value is not None:
                setattr(sample, spec.field, proto_value(spec, value))
                found = True
        return [sample] if found else []
    by_time: dict[int, Metric] = {}
    for spec, datapoints in zip(METRIC_SPECS, results, strict=True):
        for point in datapoints:
            value = combine(stat, [point])
            if value is None:
                continue
            at = round(point["Timestamp"].timestamp() * 1000) * NS_PER_MS
            sample = by_time.setdefault(at, Metric(job_id=job_id, timestamp=at))
            setattr(sample, spec.field, proto_value(spec, value))
    return [by_time[at] for at in sorted(by_time)]


def _datetime(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS_PER_S, tz=UTC)
