"""The ingestion core: frames in, durable de-duplicated writes and acknowledgements out.

Per job and stream (stdout, stderr, metric samples), lines carry sequences from 1. A line
at or below the highest sequence already stored is a duplicate (a resend after a
reconnect or a restart) and is dropped; everything else is written in order. The answer
is an :class:`Ack` naming, per job and stream, the highest sequence durably stored: the
client may forget everything up to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from google.protobuf.message import DecodeError

from joblet_cluster.common.ids import is_safe_id
from joblet_cluster.persist._live import LiveFeed
from joblet_cluster.persist._monitoring import PersistMetrics
from joblet_cluster.persist.backends import METRICS, STDERR, STDOUT, PersistBackend
from joblet_cluster.proto.persist_pb2 import (
    END_OF_JOB,
    LOG,
    LOG_BATCH,
    METRIC,
    METRIC_BATCH,
    Ack,
    IPCMessage,
    LogBatch,
    LogLine,
    Metric,
    MetricBatch,
    StreamAck,
)

log = logging.getLogger("joblet.persist.ingest")


class Ingestor:
    """Serialises writes (one batch at a time) so sequences and acks stay consistent."""

    def __init__(self, backend: PersistBackend, live: LiveFeed, metrics: PersistMetrics) -> None:
        self.backend = backend
        self.live = live
        self.metrics = metrics
        self._last: dict[tuple[str, int], int] = {}
        self._unordered: set[tuple[str, int]] = set()  # groups of this run not in rising order
        self._lock = asyncio.Lock()

    async def ingest(self, payloads: Sequence[bytes]) -> Ack:
        """Decode, check, de-duplicate and store a run of frames; the Ack answers them all."""
        logs: dict[tuple[str, int], list[LogLine]] = {}
        metrics: dict[str, list[Metric]] = {}
        ended: list[str] = []
        for payload in payloads:
            self._sort(payload, logs, metrics, ended)
        ack = Ack()
        async with self._lock:
            for (job_id, stream), lines in logs.items():
                fresh, last = await self._fresh(job_id, stream, lines)
                if fresh:
                    with self.metrics.write_latency.time():
                        await self.backend.write_logs(job_id, stream, fresh)
                    self._last[(job_id, stream)] = last
                    self.metrics.lines.inc(len(fresh))
                    self.live.publish(job_id, fresh)
                ack.streams.append(StreamAck(job_id=job_id, stream=stream, sequence=last))
            for job_id, samples in metrics.items():
                fresh, last = await self._fresh(job_id, METRICS, samples)
                if fresh:
                    with self.metrics.write_latency.time():
                        await self.backend.write_metrics(job_id, fresh)
                    self._last[(job_id, METRICS)] = last
                    self.metrics.samples.inc(len(fresh))
                ack.streams.append(StreamAck(job_id=job_id, stream=METRICS, sequence=last))
        for job_id in ended:
            self.live.end(job_id)
        return ack

    def forget(self, job_id: str) -> None:
        """The job's data is gone: its sequences start over."""
        for stream in (STDOUT, STDERR, METRICS):
            self._last.pop((job_id, stream), None)
        self.live.forget(job_id)

    def _sort(
        self,
        payload: bytes,
        logs: dict[tuple[str, int], list[LogLine]],
        metrics: dict[str, list[Metric]],
        ended: list[str],
    ) -> None:
        """File one frame's content under its job and stream, or count why it was refused."""
        rejected = self.metrics.rejected
        try:
            message = IPCMessage.FromString(payload)
            kind = message.type
            if kind == LOG_BATCH:
                lines: Sequence[LogLine] = LogBatch.FromString(message.data).lines
            elif kind == LOG:
                lines = [LogLine.FromString(message.data)]
            elif kind == METRIC_BATCH:
                samples: Sequence[Metric] = MetricBatch.FromString(message.data).metrics
            elif kind == METRIC:
                samples = [Metric.FromString(message.data)]
        except DecodeError:
            rejected.labels("undecodable").inc()
            return
        self.metrics.messages.inc()
        if kind in (LOG_BATCH, LOG):
            self._sort_lines(lines, logs)
        elif kind in (METRIC_BATCH, METRIC):
            for sample in samples:
                if not is_safe_id(sample.job_id):
                    rejected.labels("bad_job_id").inc()
                elif sample.sequence < 1:
                    rejected.labels("bad_sequence").inc()
                else:
                    metrics.setdefault(sample.job_id, []).append(sample)
                    self._unordered.add((sample.job_id, METRICS))  # few: always checked
        elif kind == END_OF_JOB and is_safe_id(message.job_id):
            ended.append(message.job_id)
        else:
            rejected.labels("bad_type").inc()

    def _sort_lines(
        self, lines: Sequence[LogLine], logs: dict[tuple[str, int], list[LogLine]]
    ) -> None:
        """Group lines by job and stream, checking each; the hot loop of ingestion.

        A client sends runs of one job and stream with consecutive sequences, so a line
        that continues the run before it is already known good and takes the short path.
        A group whose sequences do not rise is marked, so :meth:`_fresh` checks it line by
        line.
        """
        rejected = self.metrics.rejected
        job_id, stream, sequence = "", 0, 0
        group: list[LogLine] = []
        for line in lines:
            if line.sequence == sequence + 1 and line.stream == stream and line.job_id == job_id:
                group.append(line)
                sequence += 1
                continue
            if not is_safe_id(line.job_id):
                rejected.labels("bad_job_id").inc()
            elif line.stream not in (STDOUT, STDERR):
                rejected.labels("bad_stream").inc()
            elif line.sequence < 1:
                rejected.labels("bad_sequence").inc()
            else:
                job_id, stream, sequence = line.job_id, line.stream, line.sequence
                key = (job_id, stream)
                group = logs.setdefault(key, [])
                if group and group[-1].sequence >= sequence:
                    self._unordered.add(key)
                group.append(line)
                continue
            job_id, stream, sequence = "", 0, 0

    async def _fresh(
        self, job_id: str, stream: int, items: Sequence[LogLine] | Sequence[Metric]
    ) -> tuple[list, int]:
        """The items not stored yet, in order, and the highest sequence after them."""
        last = self._last.get((job_id, stream))
        if last is None:
            last = await self.backend.last_sequence(job_id, stream)
            self._last[(job_id, stream)] = last
        key = (job_id, stream)
        if key not in self._unordered and items[0].sequence > last:
            return list(items), items[-1].sequence  # rising, all new: the common case
        self._unordered.discard(key)
        fresh = []
        for item in items:
            if item.sequence > last:
                fresh.append(item)
                last = item.sequence
        duplicates = len(items) - len(fresh)
        if duplicates:
            self.metrics.duplicates.inc(duplicates)
        return fresh, last
