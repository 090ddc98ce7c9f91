"""The node's client for persist: numbered lines out, nothing lost on the way.

Every line gets the next sequence of its job and stream, goes into a bounded replay
buffer, and is sent in batches. Persist acknowledges, per job and stream, the highest
sequence it has durably stored; only then does a line leave the buffer. After a
reconnect (persist restarted, or the socket broke) everything unacknowledged is sent
again, in order: persist drops what it already has. A full buffer makes ``log`` wait
(back-pressure): a line is never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Coroutine, Iterable
from itertools import accumulate
from typing import Any

from joblet_cluster.common.aio import ServiceClient
from joblet_cluster.common.errors import JobletError
from joblet_cluster.persist._framing import FrameDecoder, FrameTooLarge, encode_frame
from joblet_cluster.persist.backends import METRICS, LogBlock
from joblet_cluster.proto.persist_pb2 import (
    ACK,
    END_OF_JOB,
    LOG_BATCH,
    METRIC_BATCH,
    Ack,
    IPCMessage,
    Metric,
    MetricBatch,
)

log = logging.getLogger("joblet.persist.client")

Key = tuple[str, int]
FINISHED_KEPT = 100_000


class PersistUnavailable(JobletError):
    """The persist service cannot be reached, or the client is closed."""


class PersistClient(ServiceClient):
    """Use as ``async with PersistClient(path) as persist: await persist.log(...)``.

    ``max_unacked`` bounds lines and samples held for replay; ``batch_lines`` bounds one
    frame. Lines of one job and stream must come from one client (it numbers them).
    """

    service = "persist service"
    unavailable = PersistUnavailable

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        max_unacked: int = 200_000,
        batch_lines: int = 2000,
        max_frame_bytes: int = 4 * 1024 * 1024,
        connect_timeout: float = 10.0,
        backoff_max: float = 2.0,
    ) -> None:
        super().__init__()
        self.socket_path = str(socket_path)
        self.max_unacked = max_unacked
        self.batch_lines = batch_lines
        self.max_frame_bytes = max_frame_bytes
        self.connect_timeout = connect_timeout
        self.backoff_max = backoff_max
        self.resends = 0
        self.reconnects = 0
        self._next: dict[Key, int] = {}
        # per job and stream, what was sent (runs of lines, samples) until acknowledged
        self._unacked: dict[Key, deque[LogBlock | Metric]] = {}
        self._count = 0
        # to send: runs of lines (one log_many call each), samples, or a job id (its end)
        self._queue: deque[LogBlock | Metric | str] = deque()
        self._ended: dict[str, None] = {}  # ends to resend after a reconnect
        self._finished: dict[str, None] = {}  # recently ended jobs: their numbering is gone
        self._room = asyncio.Event()
        self._room.set()
        self._work = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._protocol: _Protocol | None = None
        self._connected = asyncio.Event()

    def _background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._supervise(), self._send()]

    async def close(self, timeout: float = 10.0) -> None:
        """Give unacknowledged lines ``timeout`` seconds, then disconnect."""
        if self._state == "closed":
            return
        if self._state == "open" and timeout > 0 and not await self.flush(timeout):
            log.warning("persist client closing with %d lines unacknowledged", self._count)
        self._state = "closed"
        await self._stop_tasks()
        if self._protocol is not None:
            self._protocol.transport.close()
        self._room.set()

    def stats(self) -> dict[str, int]:
        return {
            "unacked": self._count,
            "queued": len(self._queue),
            "resends": self.resends,
            "reconnects": self.reconnects,
        }

    # -- writing ---------------------------------------------------------------------------
    async def log(
        self, job_id: str, stream: int, content: bytes, timestamp: int | None = None
    ) -> int:
        """Number one line and queue it; returns its sequence (for live followers)."""
        return await self.log_many(job_id, stream, (content,), timestamp)

    async def log_many(
        self, job_id: str, stream: int, contents: Iterable[bytes], timestamp: int | None = None
    ) -> int:
        """Number and queue lines of one job and stream, in order; returns the first
        sequence (line ``i`` of ``contents`` has sequence ``first + i``).

        Waits first while the replay buffer is full, then queues the whole call at once,
        so the numbering of one call is never interleaved with another's (the buffer may
        pass ``max_unacked`` by one call's lines).
        """
        if job_id in self._finished:
            raise ValueError(f"job {job_id}: its output was ended; no line may follow")
        if self._count >= self.max_unacked:
            await self._wait_for_room()
        key = (job_id, stream)
        first = self._next.get(key, 0) + 1
        contents = list(contents)
        lines = len(contents)
        if not lines:
            return first
        stamp = time.time_ns() if timestamp is None else timestamp
        run = LogBlock.of_contents(
            job_id,
            bytes((stream,)) * lines,
            [stamp] * lines,
            list(range(first, first + lines)),
            contents,
        )
        held = self._unacked.get(key)
        if held is None:
            held = self._unacked[key] = deque()
        held.append(run)
        self._queue.append(run)
        self._count += lines
        self._next[key] = first + lines - 1
        self._drained.clear()
        self._work.set()
        return first

    async def metric(self, sample: Metric) -> Metric:
        """Number one metric sample of its job and queue it."""
        if sample.job_id in self._finished:
            raise ValueError(f"job {sample.job_id}: its output was ended; no sample may follow")
        if self._count >= self.max_unacked:
            await self._wait_for_room()
        key = (sample.job_id, METRICS)
        sample.sequence = self._next.get(key, 0) + 1
        self._next[key] = sample.sequence
        held = self._unacked.get(key)
        if held is None:
            held = self._unacked[key] = deque()
        held.append(sample)
        self._queue.append(sample)
        self._count += 1
        self._drained.clear()
        self._work.set()
        return sample

    def end_job(self, job_id: str) -> None:
        """No more output for the job: persist lets followers of its logs finish.

        The job's numbering is dropped, so a line logged for it afterwards is refused
        (persist would take it for a duplicate); the last ``FINISHED_KEPT`` ended jobs
        are remembered for that check.
        """
        self._ended[job_id] = None
        self._finished[job_id] = None
        if len(self._finished) > FINISHED_KEPT:
            del self._finished[next(iter(self._finished))]
        self._queue.append(job_id)
        for key in [k for k in self._next if k[0] == job_id]:
            del self._next[key]
        self._work.set()

    async def _wait_for_room(self) -> None:
        while self._count >= self.max_unacked:
            if self._state != "open":
                raise PersistUnavailable("persist client is not open")
            self._room.clear()
            await self._room.wait()

    # -- acknowledgements ------------------------------------------------------------------
    def _acknowledged(self, ack: Ack) -> None:
        for entry in ack.streams:
            key = (entry.job_id, entry.stream)
            held = self._unacked.get(key)
            if held is None:
                continue
            upto = entry.sequence
            while held:
                item = held[0]
                if isinstance(item, Metric):
                    if item.sequence > upto:
                        break
                    held.popleft()
                    self._count -= 1
                    continue
                stored = upto - item.sequences[0] + 1  # lines of this run persist has
                if stored <= 0:
                    break
                if stored < len(item):
                    held[0] = item[stored:]
                    self._count -= stored
                    break
                held.popleft()
                self._count -= len(item)
            if not held:
                del self._unacked[key]
        if self._count < self.max_unacked:
            self._room.set()
        if not self._count and not self._queue:
            self._ended.clear()
            self._drained.set()

    # -- the connection --------------------------------------------------------------------
    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.02
        while True:
            try:
                _, protocol = await loop.create_unix_connection(
                    lambda: _Protocol(self), self.socket_path
                )
            except OSError as exc:
                log.debug("persist at %s not reachable: %s", self.socket_path, exc)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = 0.02
            self._protocol = protocol
            self._connected.set()
            self._work.set()
            await protocol.lost.wait()
            self._connected.clear()
            self._protocol = None
            self.reconnects += 1
            self._requeue()
            log.warning(
                "lost the persist connection; resending %d unacknowledged lines", self._count
            )

    def _requeue(self) -> None:
        """After a reconnect: everything unacknowledged, in order, then the end markers."""
        self._queue.clear()
        for held in self._unacked.values():
            self._queue.extend(held)
            self.resends += sum(len(item) if isinstance(item, LogBlock) else 1 for item in held)
        self._queue.extend(self._ended)

    async def _send(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            while self._queue:
                protocol = self._protocol
                if protocol is None or protocol.transport.is_closing():
                    break
                if protocol.paused:
                    await protocol.writable.wait()
                    continue
                protocol.transport.write(self._next_frame())

    def _next_frame(self) -> bytes:
        """One frame of queued items of one kind: lines of one job (runs of it that are
        next in the queue, as one columnar ``LogChunk``), samples, or an end."""
        queue = self._queue
        first = queue[0]
        if isinstance(first, str):
            queue.popleft()
            message = IPCMessage(version=1, type=END_OF_JOB, job_id=first, timestamp=time.time_ns())
            return encode_frame(message.SerializeToString())
        if isinstance(first, LogBlock):
            data = self._next_lines(first.job_id).encode()
            message_type = LOG_BATCH
        else:
            samples: list[Metric] = []
            while queue and len(samples) < self.batch_lines and isinstance(queue[0], Metric):
                samples.append(queue.popleft())  # type: ignore[arg-type]
            data = MetricBatch(metrics=samples).SerializeToString()
            message_type = METRIC_BATCH
        message = IPCMessage(version=1, type=message_type, timestamp=time.time_ns(), data=data)
        return encode_frame(message.SerializeToString())

    def _next_lines(self, job_id: str) -> LogBlock:
        """Runs of ``job_id`` from the head of the queue, up to a frame's worth; a run too
        long for what is left is cut, and its rest stays first in the queue."""
        queue = self._queue
        runs: list[LogBlock] = []
        lines = size = 0
        while queue and lines < self.batch_lines and size < self.max_frame_bytes:
            run = queue[0]
            if not isinstance(run, LogBlock) or run.job_id != job_id:
                break
            take = min(len(run), self.batch_lines - lines)
            room = self.max_frame_bytes - size
            if len(run.data) > room:  # cut by bytes too; a line longer than a frame goes alone
                take = bisect_right(list(accumulate(run.sizes[:take])), room) or int(not runs)
                if not take:
                    break
            if take < len(run):
                queue[0] = run[take:]
                run = run[:take]
            else:
                queue.popleft()
            runs.append(run)
            lines += len(run)
            size += len(run.data)
        return LogBlock.concat(runs)


class _Protocol(asyncio.Protocol):
    def __init__(self, client: PersistClient) -> None:
        self.client = client
        self.decoder = FrameDecoder(64 * 1024 * 1024)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.lost = asyncio.Event()
        self.writable = asyncio.Event()
        self.writable.set()
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.decoder.feed(data)
        except FrameTooLarge as exc:
            log.error("persist sent %s; reconnecting", exc)
            self.transport.close()
            return
        for frame in frames:
            message = IPCMessage.FromString(frame)
            if message.type == ACK:
                self.client._acknowledged(Ack.FromString(message.data))

    def pause_writing(self) -> None:
        self.paused = True
        self.writable.clear()

    def resume_writing(self) -> None:
        self.paused = False
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()
        self.lost.set()
