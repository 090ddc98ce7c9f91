"""The ingestion core: frames in, durable de-duplicated writes and acknowledgements out.

Per job and stream (stdout, stderr, metric samples), lines carry sequences from 1. A line
at or below the highest sequence already stored is a duplicate (a resend after a
reconnect or a restart) and is dropped; everything else is written in order. The answer
is an :class:`Ack` naming, per job and stream, the highest sequence durably stored: the
client may forget everything up to it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from google.protobuf.message import DecodeError

from joblet_cluster.common.ids import is_safe_id
from joblet_cluster.persist._live import LiveFeed
from joblet_cluster.persist._monitoring import PersistMetrics
from joblet_cluster.persist.backends import METRICS, STDERR, STDOUT, LogBlock, PersistBackend
from joblet_cluster.proto.persist_pb2 import (
    END_OF_JOB,
    LOG,
    LOG_BATCH,
    METRIC,
    METRIC_BATCH,
    Ack,
    IPCMessage,
    LogChunk,
    LogLine,
    Metric,
    MetricBatch,
    StreamAck,
    StreamType,
)

log = logging.getLogger("joblet.persist.ingest")


@dataclass
class Prepared:
    """Checked, de-duplicated content of a run of frames, waiting to be stored."""

    logs: list[tuple[str, int, LogBlock, int]] = field(default_factory=list)
    metrics: list[tuple[str, list[Metric], int]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


class Ingestor:
    """Two steps, so a connection can decode its next frames while the last are written:
    :meth:`prepare` (decode, check, de-duplicate) and :meth:`commit` (store, acknowledge).
    Acks only ever name what is durably stored."""

    def __init__(self, backend: PersistBackend, live: LiveFeed, metrics: PersistMetrics) -> None:
        self.backend = backend
        self.live = live
        self.metrics = metrics
        self._last: dict[tuple[str, int], int] = {}
        self._unordered: set[tuple[str, int]] = set()  # groups of this run not in rising order
        self._pending: dict[tuple[str, int], int] = {}  # prepared, maybe not stored yet

    async def prepare(self, payloads: Sequence[bytes]) -> Prepared:
        """Decode, check and de-duplicate a run of frames: what :meth:`commit` will store.

        De-duplication counts lines already prepared but not yet stored as stored, so a
        resend that arrives meanwhile is still dropped; :meth:`rollback` undoes that when
        a write fails.
        """
        logs: dict[tuple[str, int], list[LogBlock]] = {}
        metrics: dict[str, list[Metric]] = {}
        prepared = Prepared()
        for payload in payloads:
            self._sort(payload, logs, metrics, prepared.ended)
        for (job_id, stream), blocks in logs.items():
            block = LogBlock.concat(blocks)
            keep, last = await self._fresh(job_id, stream, block.sequences)
            prepared.logs.append(
                (job_id, stream, block if keep is None else block.pick(keep), last)
            )
        for job_id, samples in metrics.items():
            keep, last = await self._fresh(job_id, METRICS, [s.sequence for s in samples])
            fresh = samples if keep is None else [samples[at] for at in keep]
            prepared.metrics.append((job_id, fresh, last))
        return prepared

    async def commit(self, prepared: Prepared) -> Ack:
        """Store what :meth:`prepare` kept; the Ack names what is now durably stored."""
        ack = Ack()
        for job_id, stream, fresh, last in prepared.logs:
            if fresh:
                with self.metrics.write_latency.time():
                    await self.backend.write_logs(job_id, stream, fresh)
                self.metrics.lines.inc(len(fresh))
                self.live.publish(job_id, fresh)
            ack.streams.append(self._stored(job_id, stream, last))
        for job_id, samples, last in prepared.metrics:
            if samples:
                with self.metrics.write_latency.time():
                    await self.backend.write_metrics(job_id, samples)
                self.metrics.samples.inc(len(samples))
            ack.streams.append(self._stored(job_id, METRICS, last))
        for job_id in prepared.ended:
            self.live.end(job_id)
        return ack

    def rollback(self) -> None:
        """A write failed: forget what was prepared and not stored, so it is taken again."""
        self._pending.clear()

    def _stored(self, job_id: str, stream: int, last: int) -> StreamAck:
        key = (job_id, stream)
        stored = max(self._last.get(key, 0), last)
        self._last[key] = stored
        return StreamAck(job_id=job_id, stream=cast(StreamType, stream), sequence=stored)

    def forget(self, job_id: str) -> None:
        """The job's data is gone: its sequences start over."""
        for stream in (STDOUT, STDERR, METRICS):
            self._last.pop((job_id, stream), None)
            self._pending.pop((job_id, stream), None)
        self.live.forget(job_id)

    def _sort(
        self,
        payload: bytes,
        logs: dict[tuple[str, int], list[LogBlock]],
        metrics: dict[str, list[Metric]],
        ended: list[str],
    ) -> None:
        """File one frame's content under its job and stream, or count why it was refused."""
        rejected = self.metrics.rejected
        try:
            message = IPCMessage.FromString(payload)
            kind = message.type
            if kind == LOG_BATCH:
                block = LogBlock.from_chunk(LogChunk.FromString(message.data))
            elif kind == LOG:
                line = LogLine.FromString(message.data)
                block = LogBlock.of(line.job_id, [line])
            elif kind == METRIC_BATCH:
                samples: Sequence[Metric] = MetricBatch.FromString(message.data).metrics
            elif kind == METRIC:
                samples = [Metric.FromString(message.data)]
        except (DecodeError, ValueError):
            rejected.labels("undecodable").inc()
            return
        self.metrics.messages.inc()
        if kind in (LOG_BATCH, LOG):
            self._sort_block(block, logs)
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

    def _sort_block(self, block: LogBlock, logs: dict[tuple[str, int], list[LogBlock]]) -> None:
        """File a frame's lines by stream after checking them; the hot path of ingestion.

        A client sends runs of one job with consecutive sequences per stream, so the
        checks are a few operations per frame, done in C. A run whose sequences do not
        rise one by one is marked, so :meth:`_fresh` checks it line by line.
        """
        rejected = self.metrics.rejected
        if not block:
            return
        if not is_safe_id(block.job_id):
            rejected.labels("bad_job_id").inc(len(block))
            return
        if block.streams.strip(b"\x01\x02"):  # a line names no stream we know
            keep = [at for at, stream in enumerate(block.streams) if stream in (STDOUT, STDERR)]
            rejected.labels("bad_stream").inc(len(block) - len(keep))
            block = block.pick(keep)
        if block and min(block.sequences) < 1:
            keep = [at for at, sequence in enumerate(block.sequences) if sequence >= 1]
            rejected.labels("bad_sequence").inc(len(block) - len(keep))
            block = block.pick(keep)
        if not block:
            return
        streams = block.streams
        for stream in (STDOUT, STDERR):
            if streams.count(stream) == len(streams):
                part = block
            else:
                part = block.pick([at for at, s in enumerate(streams) if s == stream])
                if not part:
                    continue
            key = (block.job_id, stream)
            group = logs.setdefault(key, [])
            first = part.sequences[0]
            if (group and group[-1].sequences[-1] >= first) or part.sequences != list(
                range(first, first + len(part))
            ):
                self._unordered.add(key)
            group.append(part)

    async def _fresh(
        self, job_id: str, stream: int, sequences: list[int]
    ) -> tuple[list[int] | None, int]:
        """Which items are neither stored nor prepared yet (their indices; None: all), in
        order, and the highest sequence after them (the prepared high-water mark)."""
        key = (job_id, stream)
        last = self._pending.get(key)
        if last is None:
            last = self._last.get(key)
            if last is None:
                last = self._last[key] = await self.backend.last_sequence(job_id, stream)
        if key not in self._unordered and sequences[0] > last:
            self._pending[key] = sequences[-1]
            return None, sequences[-1]  # rising, all new: the common case
        self._unordered.discard(key)
        keep = []
        for at, sequence in enumerate(sequences):
            if sequence > last:
                keep.append(at)
                last = sequence
        duplicates = len(sequences) - len(keep)
        if duplicates:
            self.metrics.duplicates.inc(duplicates)
        self._pending[key] = last
        return keep, last
