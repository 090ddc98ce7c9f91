"""Job logs and metrics in AWS CloudWatch: persist's cloud backend.

Layout (DESIGN.md): one log group per node, ``{log_group_prefix}/{nodeId}/jobs``, holding
``{jobId}-stdout`` and ``{jobId}-stderr``, plus ``{jobId}-metrics`` with every raw sample
(CloudWatch metric statistics are aggregates only, and ``read_metrics`` returns samples).
The nine metrics of each sample also go to ``metric_namespace`` with the dimensions
JobID, NodeID and the configured ones, for dashboards, alarms and ``aggregate_metrics``.
What an event's message holds, and how batches are cut, is in ``_cloudwatch_codec``.

boto3 blocks, so every call runs in a worker thread (``asyncio.to_thread``) and the event
loop keeps serving. botocore retries throttling itself; what still fails leaves as a
``CloudWatchError``.

A node is the only writer of its own group, so this backend remembers per stream what it
stored (newest sequence, event time, byte total: a bounded LRU) instead of reading it back;
a stream it has not seen yet is read once, from its end. Another node may read the group
(``read_only``), e.g. while its owner is down: that view remembers nothing. (CloudWatch
makes events readable a moment after PutLogEvents; reads by another node may lag.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

from botocore.config import Config

from joblet_cluster.common.config import CloudWatchConfig
from joblet_cluster.common.errors import ConfigError, InvalidInput
from joblet_cluster.common.ids import check_id, is_safe_id
from joblet_cluster.persist.backends._base import (
    METRICS,
    STDERR,
    STDOUT,
    CleanupResult,
    JobSummary,
)
from joblet_cluster.persist.backends._block import LogBlock
from joblet_cluster.persist.backends._cloudwatch_aws import (
    CloudWatchError,
    ResourceExists,
    ResourceMissing,
    detect_ec2_region,
    invoke,
    make_clients,
    resolve_region,
)
from joblet_cluster.persist.backends._cloudwatch_codec import (
    MAX_EVENTS_PER_PUT,
    MAX_METRIC_DATA_PER_PUT,
    MAX_PAGE_EVENTS,
    NS_PER_MS,
    NS_PER_S,
    Entry,
    Event,
    accepted_window,
    check_dimensions,
    dimensions,
    encode_lines,
    encode_samples,
    log_line,
    metric_data,
    metric_sample,
    plan_batches,
    plan_metric_batches,
    retention_days,
    statistic,
)
from joblet_cluster.persist.backends._cloudwatch_read import (
    StreamTail,
    aggregate,
    load_tail,
    merge_lines,
    ordered_entries,
    time_bounds,
)
from joblet_cluster.proto.persist_pb2 import LogLine, Metric

__all__ = ["CloudWatchBackend", "CloudWatchError"]

log = logging.getLogger("joblet.persist.cloudwatch")

_KINDS = {STDOUT: "stdout", STDERR: "stderr", METRICS: "metrics"}
_BY_SUFFIX = {suffix: kind for kind, suffix in _KINDS.items()}
_GROUP_NAME = re.compile(r"[A-Za-z0-9_\-./#]{1,512}")
_DESCRIBE_PAGE = 50  # DescribeLogStreams' maximum
_MAX_TAILS = 30_000  # streams remembered (~200 bytes each)
_LOCK_STRIPES = 64
_SUMMARY_CONCURRENCY = 8  # ListJobs reads stream ends this many at a time


class CloudWatchBackend:
    """A ``PersistBackend`` on CloudWatch Logs and Metrics (see the module docstring)."""

    name = "cloudwatch"

    def __init__(
        self,
        config: CloudWatchConfig,
        node_id: str,
        *,
        region_detector: Callable[[], str | None] = detect_ec2_region,
        client_config: Config | None = None,
        page_size: int = MAX_PAGE_EVENTS,
        read_only: bool = False,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        """Check the config; nothing is contacted before ``open``.

        ``region_detector`` is asked only when neither the config nor the environment names
        a region; ``client_config`` is merged into botocore's; ``page_size`` is the number
        of events a read asks for at a time (GetLogEvents' maximum by default);
        ``read_only`` opens another node's group without creating or changing anything.
        """
        self.node_id = check_id(node_id, "node id")
        self.log_group = f"{config.log_group_prefix.rstrip('/')}/{node_id}/jobs"
        if not _GROUP_NAME.fullmatch(self.log_group):
            raise ConfigError(
                f"persist.storage.cloudwatch.log_group_prefix: {self.log_group!r} is not a "
                "CloudWatch log group name (up to 512 of A-Z a-z 0-9 _ - . / #)"
            )
        self._retention = retention_days(config.log_retention_days)
        check_dimensions(config.metric_dimensions)
        for key in ("log_batch_size", "metric_batch_size"):
            if getattr(config, key) < 1:
                raise ConfigError(f"persist.storage.cloudwatch.{key}: must be at least 1")
        if not 1 <= page_size <= MAX_PAGE_EVENTS:
            raise ValueError(f"page_size must be 1-{MAX_PAGE_EVENTS}")
        self.config = config
        self.region = config.region
        self.read_only = read_only
        self.rejected_events = 0  # events CloudWatch refused (outside its time window)
        self._log_batch = min(config.log_batch_size, MAX_EVENTS_PER_PUT)
        self._metric_batch = min(config.metric_batch_size, MAX_METRIC_DATA_PER_PUT)
        self._page_size = page_size
        self._detect = region_detector
        self._client_config = client_config
        self._clock = clock
        self._logs: Any = None
        self._metrics: Any = None
        self._state = "new"
        self._unwritable: str | None = "the CloudWatch backend is not open"
        self._tails: OrderedDict[tuple[str, int], StreamTail] = OrderedDict()
        self._locks = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]
        self._deletions = 0  # delete_job calls so far

    @property
    def logs_client(self) -> Any:
        """The boto3 CloudWatch Logs client (for instrumentation; None before ``open``)."""
        return self._logs

    @property
    def metrics_client(self) -> Any:
        """The boto3 CloudWatch client (for instrumentation; None before ``open``)."""
        return self._metrics

    async def __aenter__(self) -> CloudWatchBackend:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Resolve the region, make the clients, and create the group with its retention."""
        if self._state != "new":
            raise RuntimeError(f"the CloudWatch backend is already {self._state}")
        self._state = "open"
        self.region = await asyncio.to_thread(resolve_region, self.config.region, self._detect)
        self._logs, self._metrics = await asyncio.to_thread(
            make_clients, self.region, self.config.endpoint_url, self._client_config
        )
        if self.read_only:
            self._unwritable = f"read-only view of node {self.node_id}'s logs"
            return
        try:
            await self._ensure_group()
        except CloudWatchError as exc:
            self._unwritable = str(exc)
            raise
        self._unwritable = None
        log.info("CloudWatch log group %s in %s ready", self.log_group, self.region)

    async def close(self) -> None:
        """Release the clients; nothing is buffered, every write was stored when it returned."""
        if self._state == "closed":
            return
        self._state = "closed"
        self._unwritable = "the CloudWatch backend is closed"
        for client in (self._logs, self._metrics):
            if client is not None:
                await asyncio.to_thread(client.close)

    # -- writes ------------------------------------------------------------------------

    async def last_sequence(self, job_id: str, stream: int) -> int:
        self._require_open()
        check_id(job_id)
        _check_stream(stream, (STDOUT, STDERR, METRICS))
        tail = await self._known_tail(job_id, stream)
        return tail.sequence if tail is not None else 0

    async def write_logs(self, job_id: str, stream: int, lines: LogBlock) -> None:
        """Store lines in as few PutLogEvents calls as the limits allow; lines at or below
        the stream's stored sequence (a resend) are skipped."""
        self._require_writer()
        check_id(job_id)
        _check_stream(stream, (STDOUT, STDERR))
        if not lines:
            return
        async with self._lock(job_id, stream):
            tail = await self._writable_tail(job_id, stream)
            fresh = [line for line in lines if line.sequence > tail.sequence]  # network-bound
            if not fresh:
                return
            lo, hi = accepted_window(self._clock() // NS_PER_MS, self._retention)
            events = encode_lines(fresh, last_ms=tail.ms, total=tail.total, lo_ms=lo, hi_ms=hi)
            await self._put_events(job_id, stream, events, tail)

    async def write_metrics(self, job_id: str, samples: Sequence[Metric]) -> None:
        """Store samples: their metric data first, then the raw samples in the metrics stream
        (what ``last_sequence`` reads), so a retried write repeats no stored sample."""
        self._require_writer()
        check_id(job_id)
        if not samples:
            return
        async with self._lock(job_id, METRICS):
            tail = await self._writable_tail(job_id, METRICS)
            fresh = [s for s in samples if s.sequence == 0 or s.sequence > tail.sequence]
            if not fresh:
                return
            now = self._clock()
            dims = dimensions(job_id, self.node_id, self.config.metric_dimensions)
            data = [datum for sample in fresh for datum in metric_data(sample, dims, now)]
            for batch in plan_metric_batches(data, self._metric_batch):
                what = f"putting {len(batch)} metric data of job {job_id}"
                try:
                    await self._call(
                        what,
                        self._metrics.put_metric_data,
                        Namespace=self.config.metric_namespace,
                        MetricData=batch,
                    )
                except CloudWatchError as exc:
                    self._unwritable = str(exc)
                    raise
            lo, hi = accepted_window(now // NS_PER_MS, self._retention)
            events = encode_samples(fresh, last_ms=tail.ms, lo_ms=lo, hi_ms=hi)
            await self._put_events(job_id, METRICS, events, tail)

    async def _put_events(
        self, job_id: str, kind: int, events: list[Event], tail: StreamTail
    ) -> None:
        name = self._stream(job_id, kind)
        for batch in plan_batches(events, self._log_batch):
            what = f"writing {len(batch)} events to {self.log_group}/{name}"
            params = {
                "logGroupName": self.log_group,
                "logStreamName": name,
                "logEvents": [event.wire() for event in batch],
            }
            try:
                try:
                    answer = await self._call(what, self._logs.put_log_events, **params)
                except ResourceMissing:  # deleted behind our back: make it again, once
                    await self._create_stream(name)
                    answer = await self._call(what, self._logs.put_log_events, **params)
            except CloudWatchError as exc:
                self._unwritable = str(exc)
                raise
            rejected = answer.get("rejectedLogEventsInfo")
            if rejected:
                self._note_rejected(name, batch, rejected)
            tail.advance(batch)
        self._unwritable = None

    def _note_rejected(self, name: str, batch: list[Event], info: dict[str, int]) -> None:
        """Events are clamped into the accepted window, so this means the clock jumped.

        Resending could never succeed, so the lines are counted and logged, not retried.
        """
        old = info.get("tooOldLogEventEndIndex", -1) + 1
        expired = info.get("expiredLogEventEndIndex", -1) + 1
        new = len(batch) - info.get("tooNewLogEventStartIndex", len(batch))
        count = max(old, expired) + new
        self.rejected_events += count
        log.warning("CloudWatch refused %d events of %s/%s: %s", count, self.log_group, name, info)

    async def _writable_tail(self, job_id: str, kind: int) -> StreamTail:
        key = (job_id, kind)
        tail = self._tails.get(key)
        if tail is not None:
            self._tails.move_to_end(key)
            return tail
        name = self._stream(job_id, kind)
        try:
            await self._call(
                f"creating stream {name}",
                self._logs.create_log_stream,
                logGroupName=self.log_group,
                logStreamName=name,
            )
            tail = StreamTail()
        except ResourceExists:
            tail = await self._load_tail(name) or StreamTail()
        except ResourceMissing:
            await self._create_stream(name)
            tail = StreamTail()
        except CloudWatchError as exc:
            self._unwritable = str(exc)
            raise
        self._remember(key, tail)
        return tail

    def _remember(self, key: tuple[str, int], tail: StreamTail, *, replace: bool = True) -> None:
        """Keep a stream's tail; a tail read outside the write lock never replaces one
        the writer holds (``replace=False``), since it may predate the writer's last batch."""
        if replace or key not in self._tails:
            self._tails[key] = tail
        self._tails.move_to_end(key)
        while len(self._tails) > _MAX_TAILS:
            self._tails.popitem(last=False)

    async def _known_tail(self, job_id: str, kind: int) -> StreamTail | None:
        """The remembered tail, else the stream's end read (and, by the writer, kept)."""
        key = (job_id, kind)
        known = self._tails.get(key)
        if known is not None:
            return known
        deletions = self._deletions
        loaded = await self._load_tail(self._stream(job_id, kind))
        if loaded is None or self.read_only or deletions != self._deletions:
            return loaded  # (read before a delete_job finished: not worth keeping)
        self._remember(key, loaded, replace=False)
        return self._tails.get(key, loaded)

    async def _create_stream(self, name: str) -> None:
        what = f"creating stream {name}"
        create = self._logs.create_log_stream
        try:
            await self._call(what, create, logGroupName=self.log_group, logStreamName=name)
        except ResourceExists:
            return
        except ResourceMissing:
            await self._ensure_group()
            with contextlib.suppress(ResourceExists):
                await self._call(what, create, logGroupName=self.log_group, logStreamName=name)

    async def _ensure_group(self) -> None:
        """The group exists with the configured retention (none: never expire)."""
        group = self.log_group
        try:
            await self._call(
                f"creating log group {group}", self._logs.create_log_group, logGroupName=group
            )
            created = True
        except ResourceExists:
            created = False
        if self._retention is not None:
            await self._call(
                f"setting retention of {group}",
                self._logs.put_retention_policy,
                logGroupName=group,
                retentionInDays=self._retention,
            )
        elif not created:
            with contextlib.suppress(ResourceMissing):
                await self._call(
                    f"removing retention of {group}",
                    self._logs.delete_retention_policy,
                    logGroupName=group,
                )

    # -- reads -------------------------------------------------------------------------

    async def read_logs(
        self, job_id: str, stream: int, start: int = 0, end: int = 0
    ) -> AsyncIterator[LogBlock]:
        """Lines in blocks (one page of GetLogEvents at most), following the forward token
        until it repeats. Time bounds select by event time first, then by the line's own;
        a line whose event time was clamped (see ``encode_lines``) may miss a bounded read."""
        self._require_open()
        check_id(job_id)
        _check_stream(stream, (0, STDOUT, STDERR))
        if stream:
            async for chunk in self._lines(job_id, stream, start, end):
                yield LogBlock.of(job_id, chunk)
            return
        merged = merge_lines(
            [self._lines(job_id, STDOUT, start, end), self._lines(job_id, STDERR, start, end)]
        )
        async for chunk in merged:
            yield LogBlock.of(job_id, chunk)

    async def read_metrics(
        self, job_id: str, start: int = 0, end: int = 0
    ) -> AsyncIterator[list[Metric]]:
        """The raw samples from the job's metrics stream, in chunks, in time order."""
        self._require_open()
        check_id(job_id)
        async for entries in self._entries(job_id, METRICS, start, end):
            yield [metric_sample(job_id, entry) for entry in entries]

    async def _lines(
        self, job_id: str, stream: int, start: int, end: int
    ) -> AsyncIterator[list[LogLine]]:
        async for entries in self._entries(job_id, stream, start, end):
            yield [log_line(job_id, stream, entry) for entry in entries]

    def _entries(self, job_id: str, kind: int, start: int, end: int) -> AsyncIterator[list[Entry]]:
        pages = self._pages(self._stream(job_id, kind), *time_bounds(start, end))
        return ordered_entries(pages, start, end)

    async def _pages(
        self, name: str, start_ms: int | None, end_ms: int | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        params: dict[str, Any] = {
            "logGroupName": self.log_group,
            "logStreamName": name,
            "startFromHead": True,
            "limit": self._page_size,
        }
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        what = f"reading {self.log_group}/{name}"
        token = None
        while True:
            try:
                page = await self._call(what, self._logs.get_log_events, **params)
            except ResourceMissing:
                return
            events = page.get("events") or []
            if events:
                yield events
            following = page.get("nextForwardToken")
            if not following or following == token:  # the same token back: the end
                return
            token = params["nextToken"] = following

    async def _load_tail(self, name: str) -> StreamTail | None:
        async def get_events(**params: Any) -> dict[str, Any]:
            return await self._call(
                f"reading {self.log_group}/{name}",
                self._logs.get_log_events,
                logGroupName=self.log_group,
                logStreamName=name,
                **params,
            )

        return await load_tail(get_events)

    # -- the job index -----------------------------------------------------------------

    async def job_info(self, job_id: str) -> JobSummary | None:
        """From the job's streams: lines are the newest sequences, bytes the newest totals."""
        self._require_open()
        check_id(job_id)
        kinds = (await self._jobs(f"{job_id}-")).get(job_id)
        if not kinds:
            return None
        return await self._summary(job_id, kinds)

    async def list_jobs(self) -> list[JobSummary]:
        """Every job with a stream in the group (DescribeLogStreams, page by page), oldest
        first. Each job not written by this process costs two reads per stream."""
        self._require_open()
        jobs = await self._jobs("")
        gate = asyncio.Semaphore(_SUMMARY_CONCURRENCY)

        async def one(job_id: str, kinds: set[int]) -> JobSummary:
            async with gate:
                return await self._summary(job_id, kinds)

        summaries = await asyncio.gather(*(one(j, k) for j, k in jobs.items()))
        return sorted(summaries, key=lambda s: (s.first_time, s.job_id))

    async def _jobs(self, prefix: str) -> dict[str, set[int]]:
        """Job ids and their stream kinds, from stream names starting with ``prefix``."""
        params: dict[str, Any] = {"logGroupName": self.log_group, "limit": _DESCRIBE_PAGE}
        if prefix:
            params["logStreamNamePrefix"] = prefix
        jobs: dict[str, set[int]] = {}
        what = f"listing the streams of {self.log_group}"
        while True:
            try:
                page = await self._call(what, self._logs.describe_log_streams, **params)
            except ResourceMissing:
                return {}
            for stream in page.get("logStreams") or []:
                job_id, _, suffix = stream["logStreamName"].rpartition("-")
                if suffix in _BY_SUFFIX and is_safe_id(job_id):
                    jobs.setdefault(job_id, set()).add(_BY_SUFFIX[suffix])
            token = page.get("nextToken")
            if not token or token == params.get("nextToken"):
                return jobs
            params["nextToken"] = token

    async def _summary(self, job_id: str, kinds: set[int]) -> JobSummary:
        ordered = sorted(kinds)
        found = await asyncio.gather(*(self._known_tail(job_id, kind) for kind in ordered))
        tails = dict(zip(ordered, found, strict=True))
        summary = JobSummary(job_id)
        present = [t for t in tails.values() if t is not None]
        summary.first_time = min((t.first_time for t in present if t.first_time), default=0)
        summary.last_time = max((t.last_time for t in present), default=0)
        if out := tails.get(STDOUT):
            summary.stdout_lines, summary.stdout_bytes = out.sequence, out.total
        if err := tails.get(STDERR):
            summary.stderr_lines, summary.stderr_bytes = err.sequence, err.total
        if samples := tails.get(METRICS):
            summary.metric_samples = samples.sequence
        return summary

    async def delete_job(self, job_id: str) -> bool:
        """Delete the job's streams. Its metric data stay: CloudWatch cannot delete them
        (they expire after 15 months)."""
        self._require_writer()
        check_id(job_id)
        async with contextlib.AsyncExitStack() as stack:
            for stripe in sorted({self._stripe(job_id, kind) for kind in _KINDS}):
                await stack.enter_async_context(self._locks[stripe])
            kinds = (await self._jobs(f"{job_id}-")).get(job_id, set())
            deleted = False
            for kind in sorted(kinds):
                name = self._stream(job_id, kind)
                with contextlib.suppress(ResourceMissing):
                    await self._call(
                        f"deleting stream {name}",
                        self._logs.delete_log_stream,
                        logGroupName=self.log_group,
                        logStreamName=name,
                    )
                    deleted = True
            for kind in _KINDS:
                self._tails.pop((job_id, kind), None)
            self._deletions += 1
        return deleted

    async def cleanup(self, now: int) -> CleanupResult:
        """Nothing to do here: the log group's retention policy (``log_retention_days``)
        makes CloudWatch expire old events itself, so this reports zero removals."""
        return CleanupResult()

    async def stored_bytes(self) -> int:
        """The group's stored bytes as CloudWatch reports them (updated with some delay)."""
        self._require_open()
        params: dict[str, Any] = {"logGroupNamePrefix": self.log_group}
        while True:
            page = await self._call(
                f"describing {self.log_group}", self._logs.describe_log_groups, **params
            )
            for group in page.get("logGroups") or []:
                if group.get("logGroupName") == self.log_group:
                    return int(group.get("storedBytes", 0))
            token = page.get("nextToken")
            if not token:
                return 0
            params["nextToken"] = token

    def check_writable(self) -> str | None:
        """Why writes would fail, from the last attempt (None: they succeed).

        Health checks call this synchronously, so it never calls CloudWatch: ``open`` and
        every write keep the answer current, and ``refresh_writable`` asks again.
        """
        return self._unwritable

    async def refresh_writable(self) -> str | None:
        """Create (or confirm) the log group now and return ``check_writable``'s answer."""
        if self._state != "open" or self.read_only:
            return self._unwritable
        try:
            await self._ensure_group()
        except CloudWatchError as exc:
            self._unwritable = str(exc)
        else:
            self._unwritable = None
        return self._unwritable

    # -- aggregates --------------------------------------------------------------------

    async def aggregate_metrics(
        self, job_id: str, start: int = 0, end: int = 0, aggregation: str = "avg", step: int = 0
    ) -> list[Metric]:
        """QueryMetrics' avg/min/max/sum from CloudWatch's own statistics.

        GetMetricStatistics (Average, Minimum, Maximum or Sum, with SampleCount) over
        ``[start, end)`` in ns: one sample for the whole range when ``step`` is 0 (the
        datapoints combined, averages weighted by their sample counts), else one per
        period of ``step`` ns rounded up to what CloudWatch serves (whole minutes; coarser
        for data over 15 days old), stamped with the period's start. ``start`` 0 is the
        job's first sample, ``end`` 0 a minute from now.
        """
        self._require_open()
        check_id(job_id)
        stat = statistic(aggregation)
        if min(start, end, step) < 0:
            raise InvalidInput("start, end and step must not be negative")
        now = self._clock()
        end = end or now + 60 * NS_PER_S
        if not start:
            tail = await self._known_tail(job_id, METRICS)
            if tail is None or not tail.first_time:
                return []
            start = tail.first_time
        if start >= end:
            return []
        dims = dimensions(job_id, self.node_id, self.config.metric_dimensions)

        async def statistics(
            metric: str, lo: datetime, hi: datetime, period: int, stats: list[str]
        ) -> list[dict[str, Any]]:
            answer = await self._call(
                f"reading {metric} statistics of job {job_id}",
                self._metrics.get_metric_statistics,
                Namespace=self.config.metric_namespace,
                MetricName=metric,
                Dimensions=dims,
                StartTime=lo,
                EndTime=hi,
                Period=period,
                Statistics=stats,
            )
            return answer.get("Datapoints") or []

        return await aggregate(statistics, job_id, stat, start, end, step, now)

    # -- plumbing ----------------------------------------------------------------------

    async def _call(
        self, what: str, method: Callable[..., dict[str, Any]], **params: Any
    ) -> dict[str, Any]:
        return await asyncio.to_thread(invoke, what, method, params)

    def _stream(self, job_id: str, kind: int) -> str:
        return f"{job_id}-{_KINDS[kind]}"

    def _stripe(self, job_id: str, kind: int) -> int:
        return hash((job_id, kind)) % _LOCK_STRIPES

    def _lock(self, job_id: str, kind: int) -> asyncio.Lock:
        """Writes of one stream in order; a few streams share a lock (bounded memory)."""
        return self._locks[self._stripe(job_id, kind)]

    def _require_open(self) -> None:
        if self._state != "open":
            raise CloudWatchError(f"the CloudWatch backend is {self._state}, not open")

    def _require_writer(self) -> None:
        self._require_open()
        if self.read_only:
            raise CloudWatchError(
                f"this CloudWatch backend reads node {self.node_id}'s logs and cannot write"
            )


def _check_stream(stream: int, allowed: tuple[int, ...]) -> None:
    if stream not in allowed:
        names = ", ".join(f"{s} ({_KINDS.get(s, 'both')})" for s in allowed)
        raise InvalidInput(f"stream {stream} is not one of {names}", code="INVALID_STREAM")
