"""The ingestion socket: length-prefixed IPCMessage frames in, ACK frames out.

One worker per connection hands every frame read so far to the ingestion core as one
run (many lines per backend write) and answers with one ACK frame once they are durably
stored. Reading pauses while a connection has more than ``MAX_PENDING_BYTES`` of frames
waiting, so a fast writer is slowed down, never dropped. A frame over
``max_message_size`` makes the stream untrustworthy: that connection is closed, with a
logged reason; an undecodable frame is counted and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path

from joblet_cluster.common.errors import JobletError
from joblet_cluster.common.unix import listen_unix, remove_socket
from joblet_cluster.persist._framing import FrameDecoder, FrameTooLarge, encode_frame
from joblet_cluster.persist._ingest import Ingestor, Prepared
from joblet_cluster.proto.persist_pb2 import ACK, IPCMessage

log = logging.getLogger("joblet.persist.ipc")

MAX_PENDING_BYTES = 32 * 1024 * 1024


class IngestServer:
    def __init__(
        self,
        ingestor: Ingestor,
        socket_path: str | os.PathLike[str],
        *,
        max_message_size: int,
        max_connections: int,
    ) -> None:
        self.ingestor = ingestor
        self.path = Path(socket_path)
        self.max_message_size = max_message_size
        self.max_connections = max_connections
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()

    async def start(self) -> None:
        if self._server is not None:
            raise JobletError("persist ingest server: start() called twice")
        self._server = await listen_unix(self.path, lambda: _Connection(self), "persist.ipc.socket")

    async def close(self) -> None:
        """Stop accepting, store what was read, then close every connection."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._connections):
            connection.finish()
        waiters = [asyncio.ensure_future(c.done.wait()) for c in self._connections]
        if waiters:
            _, pending = await asyncio.wait(waiters, timeout=10)
            for waiter in pending:
                waiter.cancel()
        for connection in list(self._connections):
            connection.transport.close()
        remove_socket(self.path)
        await self._server.wait_closed()


class _Connection(asyncio.Protocol):
    def __init__(self, server: IngestServer) -> None:
        self.server = server
        self.decoder = FrameDecoder(server.max_message_size)
        self.frames: list[bytes] = []
        self.pending_bytes = 0
        self.wakeup = asyncio.Event()
        self.done = asyncio.Event()
        self.closing = False
        self.paused = False
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.worker: asyncio.Task[None] | None = None
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.server._connections) >= self.server.max_connections:
            log.warning(
                "refusing an IPC connection: %d open (persist.ipc.max_connections)",
                len(self.server._connections),
            )
            self.transport.close()
            self.done.set()
            return
        self.server._connections.add(self)
        self.server.ingestor.metrics.connections.inc()
        self.worker = asyncio.get_running_loop().create_task(self._work())

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.server._connections:
            self.server._connections.discard(self)
            self.server.ingestor.metrics.connections.dec()
        self.closing = True
        self.wakeup.set()

    def data_received(self, data: bytes) -> None:
        self.server.ingestor.metrics.ipc_bytes.inc(len(data))
        try:
            frames = self.decoder.feed(data)
        except FrameTooLarge as exc:
            log.warning("closing an IPC connection: %s (persist.ipc.max_message_size)", exc)
            self.server.ingestor.metrics.rejected.labels("too_large").inc()
            self.finish()
            return
        if frames:
            self.frames.extend(frames)
            self.pending_bytes += sum(map(len, frames))
            self.wakeup.set()
        if self.pending_bytes + self.decoder.pending > MAX_PENDING_BYTES and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.finish()
        return True

    def finish(self) -> None:
        """Read nothing more; store and answer what was read, then close."""
        self.closing = True
        if not self.transport.is_closing():
            with contextlib.suppress(RuntimeError):
                self.transport.pause_reading()
        self.wakeup.set()

    async def _work(self) -> None:
        """Decode and check frames here while the writer stores the previous run."""
        ingestor = self.server.ingestor
        runs: asyncio.Queue[Prepared | None] = asyncio.Queue(maxsize=2)
        writer = asyncio.get_running_loop().create_task(self._store(runs))
        try:
            while not self.closing:
                await self.wakeup.wait()
                self.wakeup.clear()
                while self.frames and not writer.done():
                    frames, self.frames = self.frames, []
                    self.pending_bytes = 0
                    if self.paused and not self.closing:
                        self.paused = False
                        self.transport.resume_reading()
                    await runs.put(await ingestor.prepare(frames))
            await runs.put(None)
            await writer
        except Exception:
            log.exception("an IPC connection failed; its unacknowledged lines will be resent")
            ingestor.rollback()
        finally:
            writer.cancel()
            self.transport.close()
            self.done.set()

    async def _store(self, runs: asyncio.Queue[Prepared | None]) -> None:
        """Store prepared runs in order and acknowledge each; after a failed write, store
        nothing more on this connection (later runs would leave a gap) and close it."""
        ingestor = self.server.ingestor
        failed = False
        while (prepared := await runs.get()) is not None:
            if failed:
                ingestor.rollback()
                continue
            try:
                ack = await ingestor.commit(prepared)
            except Exception:
                log.exception("storing failed; closing the connection, the client will resend")
                ingestor.rollback()
                failed = True
                self.closing = True
                self.wakeup.set()
                self.transport.close()
                continue
            self._send_ack(ack.SerializeToString())

    def _send_ack(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self.sent += 1
        message = IPCMessage(
            version=1, type=ACK, timestamp=time.time_ns(), sequence=self.sent, data=data
        )
        self.transport.write(encode_frame(message.SerializeToString()))
