"""The state service's unix-socket server: NDJSON requests in, responses and watch events out.

Each connection parses lines as they arrive and hands them, in order, to one worker task.
The worker sends runs of consecutive writes to the backend as one batch (group commit),
so a pipelining client gets many changes per backend call, and does not wait for a batch
to commit before it sends the next (up to ``MAX_COMMITTING`` batches a connection): with
a backend whose commit takes a round trip (raft), one connection keeps several entries
in flight. Answers still leave in request order, and a read waits for the writes sent
before it, so a client reads its own writes. Every buffer is bounded: past
``MAX_INBOX`` unanswered requests, or while the peer is not reading its responses, the
connection stops reading, which pushes back on the client instead of dropping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import orjson

from joblet_cluster.common.errors import InvalidInput, JobletError, StateError
from joblet_cluster.common.unix import listen_unix, remove_socket
from joblet_cluster.state._changes import Change, Outcome
from joblet_cluster.state._protocol import (
    MAX_SYNC_JOBS,
    WRITE_OPS,
    ProtocolError,
    Request,
    encode,
    error_response,
    parse_request,
)
from joblet_cluster.state._record import now
from joblet_cluster.state._snapshot import write_snapshot
from joblet_cluster.state.backends import StateBackend, WatchEvent

log = logging.getLogger("joblet.state.server")

MAX_INBOX = 4096  # parsed requests waiting for the worker before reading pauses
WATCH_BUFFER_LIMIT = 16 * 1024 * 1024  # unsent watch bytes before the watch is cancelled
DRAIN_TIMEOUT = 5.0
MAX_COMMITTING = 8  # write batches of one connection awaiting their commit
_CLOSE = object()  # inbox marker: answer what came before, then close the connection


class _Reply:
    """An answer decided while reading (a protocol error), kept in order in the inbox."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class StateServer:
    """Serves one backend on one unix socket. An async context manager; start it once."""

    def __init__(
        self,
        backend: StateBackend,
        socket_path: str | os.PathLike[str],
        *,
        max_line_bytes: int = 10 * 1024 * 1024,
        max_connections: int = 64,
        node_id: str = "",
    ) -> None:
        self.backend = backend
        self.node_id = node_id  # named in the snapshots this service writes
        self.path = Path(socket_path)
        self.max_line_bytes = max_line_bytes
        self.max_connections = max_connections
        self.instance_id = uuid.uuid4().hex
        self.started_at = time.monotonic()
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        self._closed = asyncio.Event()

    async def __aenter__(self) -> StateServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._server is not None or self._closed.is_set():
            raise JobletError("state server: start() called twice")
        self._server = await listen_unix(self.path, lambda: _Connection(self), "state.socket")

    async def close(self) -> None:
        """Stop accepting, answer what was read, close the connections, remove the socket."""
        if self._server is None or self._closed.is_set():
            return
        self._server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.stop_reading()
        drains = [asyncio.ensure_future(c.drained()) for c in connections]
        if drains:
            _, pending = await asyncio.wait(drains, timeout=DRAIN_TIMEOUT)
            if pending:
                log.warning(
                    "%d connections still busy after %.0fs; closing them anyway",
                    len(pending),
                    DRAIN_TIMEOUT,
                )
                for waiter in pending:
                    waiter.cancel()
        for connection in connections:
            connection.abort()
        remove_socket(self.path)
        await self._server.wait_closed()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def ping_info(self, job_count: int) -> dict[str, Any]:
        info: dict[str, Any] = {
            "pong": True,
            "instanceId": self.instance_id,
            "backend": self.backend.name,
            "durable": self.backend.durable,
            "jobCount": job_count,
            "uptimeSeconds": round(time.monotonic() - self.started_at, 3),
            "connections": len(self._connections),
            "maxLineBytes": self.max_line_bytes,
        }
        # The raft backend's replication health: what the node's watchdog judges it by.
        health = getattr(self.backend, "health", None)
        if health is not None:
            info["raft"] = health()
        return info


class _Connection(asyncio.Protocol):
    def __init__(self, server: StateServer) -> None:
        self.server = server
        self.backend = server.backend
        self.max_line = server.max_line_bytes
        self.transport: asyncio.Transport | None = None
        self.tail = b""  # the start of a line whose end has not arrived yet
        self.inbox: list[Any] = []
        self.wakeup = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self.worker: asyncio.Task[None] | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.refused = False
        self.watches: dict[Any, Any] = {}
        self.syncs: dict[str, list[Any]] = {}
        # write batches sent to the backend, oldest first, answered as they commit
        self.committing: deque[tuple[list[Request], asyncio.Future[list[Any]]]] = deque()

    # -- transport callbacks -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        if len(self.server._connections) >= self.server.max_connections:
            self.refused = True
            log.warning(
                "refusing connection: %d connections open (state.max_connections)",
                len(self.server._connections),
            )
            transport.write(
                error_response(
                    None,
                    "TOO_MANY_CONNECTIONS",
                    f"the state service already has {self.server.max_connections} connections",
                )
            )
            transport.close()
            return
        self.server._connections.add(self)
        self.worker = asyncio.get_running_loop().create_task(self._work())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.refused:
            return
        self.server._connections.discard(self)
        for unsubscribe in self.watches.values():
            unsubscribe()
        self.watches.clear()
        self.syncs.clear()
        self.inbox.clear()
        if self.worker is not None:
            self.worker.cancel()
        self.idle.set()

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if len(self.inbox) < MAX_INBOX:
            self._resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.tail:
            data = self.tail + data
        lines = data.split(b"\n")
        self.tail = lines.pop()
        inbox = self.inbox
        if lines and max(map(len, lines)) > self.max_line:
            for i, line in enumerate(lines):
                if len(line) > self.max_line:
                    inbox.extend(lines[:i])  # what came before the oversized line is answered
                    self._too_long(len(line))
                    return
        inbox.extend(lines)
        if len(self.tail) > self.max_line:
            self._too_long(len(self.tail))
            return
        if inbox:
            self.idle.clear()
            self.wakeup.set()
            if len(inbox) >= MAX_INBOX:
                self._pause_reading()

    def eof_received(self) -> bool:
        self.inbox.append(_CLOSE)
        self.idle.clear()
        self.wakeup.set()
        return True  # keep the write side open until the worker has answered everything

    # -- control ---------------------------------------------------------------------------
    def stop_reading(self) -> None:
        self._pause_reading()
        self.inbox.append(_CLOSE)
        self.idle.clear()
        self.wakeup.set()

    async def drained(self) -> None:
        await self.idle.wait()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _too_long(self, size: int) -> None:
        log.warning(
            "closing a connection: a request line of %d bytes exceeds state.max_line_bytes (%d)",
            size,
            self.max_line,
        )
        self.tail = b""
        self._pause_reading()
        self.inbox.append(
            _Reply(
                error_response(
                    None,
                    "LINE_TOO_LONG",
                    f"request line exceeds {self.max_line} bytes (state.max_line_bytes); closing",
                )
            )
        )
        self.inbox.append(_CLOSE)
        self.idle.clear()
        self.wakeup.set()

    def _pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            with contextlib.suppress(RuntimeError):
                self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.reading_paused and self.transport is not None and not self.transport.is_closing():
            self.reading_paused = False
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()

    # -- the worker --------------------------------------------------------------------
    async def _work(self) -> None:
        inbox = self.inbox
        limit = self.backend.batch_limit
        try:
            while True:
                await self.wakeup.wait()
                self.wakeup.clear()
                while inbox:
                    batch = inbox[:limit]
                    del inbox[:limit]
                    if not self.writing_paused and len(inbox) < MAX_INBOX // 2:
                        self._resume_reading()
                    if not await self._process(batch):
                        return
                if not self.committing:
                    self.idle.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("state connection worker failed; closing the connection")
            self.abort()
        finally:
            self.idle.set()

    async def _process(self, batch: list[Any]) -> bool:
        """Answer ``batch`` in order; False once the connection is to close.

        Answers leave after each slice, not after everything read: the client refills its
        pipeline while the next slice is being served, so both ends work at once.
        """
        items: list[Any] = []
        for entry in batch:
            if type(entry) is not bytes:
                items.append(entry)
            elif entry:
                try:
                    items.append(parse_request(entry))
                except ProtocolError as exc:
                    items.append(_Reply(error_response(exc.request_id, exc.code, str(exc))))
        out: list[bytes] = []
        limit = self.backend.batch_limit
        i = 0
        while i < len(items):
            item = items[i]
            if type(item) is Request and item.op in WRITE_OPS:
                j, size = i + 1, _size(item)
                while (
                    j < len(items)
                    and size < limit
                    and type(items[j]) is Request
                    and items[j].op in WRITE_OPS
                ):
                    size += _size(items[j])
                    j += 1
                self._write(out)
                out = []
                await self._start_writes(items[i:j])
                i = j
                continue
            if self.committing:  # whatever follows a write is answered after it
                self._write(out)
                out = []
                await self._settle_writes(0)
            if item is _CLOSE:
                self._write(out)
                self.abort()
                return False
            if type(item) is _Reply:
                out.append(item.data)
                i += 1
                continue
            if item.op == "watch":
                self._write(out)
                out = []
                self._watch(item)
            else:
                out.append(await self._answer(item))
            i += 1
        self._write(out)
        return True

    def _write(self, out: list[bytes]) -> None:
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    async def _start_writes(self, requests: list[Request]) -> None:
        await self._settle_writes(MAX_COMMITTING - 1)
        changes: list[Change] = []
        for request in requests:
            if request.changes is None:
                changes.append(request.change)  # type: ignore[arg-type]
            else:
                changes.extend(request.changes)
        applying = asyncio.ensure_future(self.backend.apply(changes))
        self.committing.append((requests, applying))
        applying.add_done_callback(self._answer_committed)

    async def _settle_writes(self, keep: int) -> None:
        """Until at most ``keep`` write batches await their commit, answered in order."""
        while len(self.committing) > keep:
            await asyncio.wait([self.committing[0][1]])
            self._answer_committed()

    def _answer_committed(self, _: object = None) -> None:
        committing = self.committing
        while committing and committing[0][1].done():
            requests, applying = committing.popleft()
            self._write(self._write_answers(requests, applying))
        if not committing and not self.inbox:
            self.idle.set()

    def _write_answers(
        self, requests: list[Request], applying: asyncio.Future[list[Any]]
    ) -> list[bytes]:
        if applying.cancelled():
            return [error_response(r.request_id, "UNAVAILABLE", "cancelled") for r in requests]
        exc = applying.exception()
        if isinstance(exc, StateError):  # the backend's refusal (raft: not committed in time)
            log.warning("batch of %d changes not applied: %s", len(requests), exc)
            return [error_response(r.request_id, exc.code, exc.args[0]) for r in requests]
        if exc is not None:
            log.error("backend failed on a batch of %d changes", len(requests), exc_info=exc)
            return [error_response(r.request_id, "BACKEND_ERROR", _describe(exc)) for r in requests]
        outcomes = iter(applying.result())
        responses = []
        dumps = orjson.dumps
        for request in requests:
            if request.changes is not None:
                responses.append(_batch_answer(request, outcomes))
                continue
            outcome = next(outcomes)
            if isinstance(outcome, int):
                responses.append(
                    b'{"requestId":%b,"success":true,"version":%d}\n'
                    % (dumps(request.request_id), outcome)
                )
            else:
                responses.append(
                    encode({"requestId": request.request_id, "success": False, **_refusal(outcome)})
                )
        return responses

    async def _answer(self, request: Request) -> bytes:
        rid = request.request_id
        try:
            if request.op in ("get", "list"):
                return await self._read(request)
            if request.op == "ping":
                count = await self.backend.count()
                return encode({"requestId": rid, "success": True, **self.server.ping_info(count)})
            if request.op == "sync":
                return await self._sync(request)
            if request.op == "register":
                node = {**(request.node or {}), "heartbeat": now()}
                await self.backend.register_node(node)
                return encode({"requestId": rid, "success": True})
            if request.op == "nodes":
                nodes = await self.backend.nodes()
                return encode(
                    {
                        "requestId": rid,
                        "success": True,
                        "nodes": nodes,
                        "cluster": self.backend.cluster_status(),
                    }
                )
            if request.op == "unwatch":
                unsubscribe = self.watches.pop(request.watch_id, None)
                if unsubscribe is None:
                    return error_response(
                        rid, "NOT_FOUND", f"no watch {request.watch_id!r} on this connection"
                    )
                unsubscribe()
                return encode({"requestId": rid, "success": True})
            if request.op == "members":
                await self.backend.change_membership(request.action, request.address)  # type: ignore[arg-type]
                status = self.backend.cluster_status()
                return encode({"requestId": rid, "success": True, "cluster": status})
            if request.op == "transfer":
                leader = await self.backend.transfer_leadership(request.address)
                return encode({"requestId": rid, "success": True, "leader": leader})
            if request.op == "snapshot":
                return await self._snapshot(request)
            if request.op == "restore":
                await self.backend.restore(request.jobs or [], request.first)
                restored = len(request.jobs or [])
                return encode({"requestId": rid, "success": True, "restored": restored})
        except StateError as exc:  # the backend's answer (not committed, not a member...)
            return error_response(rid, exc.code, exc.args[0])
        except InvalidInput as exc:
            return error_response(rid, exc.code, str(exc))
        except Exception as exc:
            log.exception("backend failed on %s", request.op)
            return error_response(rid, "BACKEND_ERROR", _describe(exc))
        raise AssertionError(f"unhandled op {request.op}")

    async def _read(self, request: Request) -> bytes:
        """A get or list from the local store, saying how fresh it is (raft: the leader
        and the index applied); ``consistent`` reads first wait for a write barrier."""
        rid = request.request_id
        if request.consistent:
            await self.backend.read_barrier()
        answer: dict[str, Any] = {"requestId": rid, "success": True}
        if request.op == "get":
            job = await self.backend.get(request.job_id)  # type: ignore[arg-type]
            if job is None:
                return error_response(rid, "NOT_FOUND", f"job {request.job_id} does not exist")
            answer["job"] = job
        else:
            page = await self.backend.list(request.query)  # type: ignore[arg-type]
            answer["jobs"] = page.jobs
            answer["nextCursor"] = page.next_cursor
        replica = self.backend.freshness()
        if replica is not None:
            answer["replica"] = replica
        return encode(answer)

    async def _snapshot(self, request: Request) -> bytes:
        """Write every job, as of now, to ``request.path``, which must not exist."""
        path = Path(request.path)  # type: ignore[arg-type]
        snapshot = await self.backend.snapshot()
        checksum = await asyncio.to_thread(
            write_snapshot, path, snapshot, self.server.node_id, now()
        )
        return encode(
            {
                "requestId": request.request_id,
                "success": True,
                "path": str(path),
                "jobs": len(snapshot.jobs),
                "raftIndex": snapshot.index,
                "raftTerm": snapshot.term,
                "sha256": checksum,
            }
        )

    async def _sync(self, request: Request) -> bytes:
        rid = request.request_id
        jobs = request.jobs or []
        if request.sync_id is not None:
            parts = self.syncs.setdefault(request.sync_id, [])
            if len(parts) + len(jobs) > MAX_SYNC_JOBS:
                del self.syncs[request.sync_id]
                return error_response(
                    rid, "SYNC_TOO_LARGE", f"a sync may carry at most {MAX_SYNC_JOBS} jobs"
                )
            parts.extend(jobs)
            if request.more:
                return encode({"requestId": rid, "success": True, "received": len(parts)})
            jobs = self.syncs.pop(request.sync_id)
        result = await self.backend.sync(request.node_id, jobs)  # type: ignore[arg-type]
        return encode(
            {
                "requestId": rid,
                "success": True,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "deleted": result.deleted,
                "stale": result.stale,
                "conflicts": result.conflicts,
            }
        )

    def _watch(self, request: Request) -> None:
        rid = request.request_id
        if rid in self.watches:
            self._write(
                [
                    error_response(
                        rid, "INVALID_REQUEST", f"a watch with requestId {rid!r} is already open"
                    )
                ]
            )
            return
        transport = self.transport
        assert transport is not None

        def deliver(event: WatchEvent) -> None:
            if transport.is_closing():
                return
            if transport.get_write_buffer_size() > WATCH_BUFFER_LIMIT:
                cancel = self.watches.pop(rid, None)
                if cancel is not None:
                    cancel()
                log.warning(
                    "cancelling watch %r: its reader is %d bytes behind",
                    rid,
                    transport.get_write_buffer_size(),
                )
                transport.write(
                    error_response(
                        rid,
                        "WATCH_OVERFLOW",
                        "this watch fell too far behind and was cancelled; list again and re-watch",
                    )
                )
                return
            transport.write(
                encode(
                    {
                        "requestId": rid,
                        "event": event["type"],
                        "job": event["job"],
                        "revision": event["revision"],
                    }
                )
            )

        transport.write(encode({"requestId": rid, "success": True, "watching": True}))
        self.watches[rid] = self.backend.subscribe(deliver, request.node_id)


def _size(request: Request) -> int:
    """Changes a write request brings."""
    return 1 if request.changes is None else len(request.changes)


def _refusal(outcome: StateError) -> dict[str, Any]:
    """A change the store refused: its error, and the version stored when there is one."""
    if outcome.version is None:
        return {"error": str(outcome)}
    return {"error": str(outcome), "version": outcome.version}


def _batch_answer(request: Request, outcomes: Iterator[Outcome]) -> bytes:
    """One line for the batch: a result per change, in order, each the version stored
    (applied) or ``{"error", "version"}`` (refused, by the store or before it)."""
    refused = request.refused or {}
    results: list[Any] = []
    for _ in range(len(request.changes or ()) + len(refused)):
        error = refused.get(len(results))
        if error is not None:
            results.append({"error": f"{error.code}: {error}"})
            continue
        outcome = next(outcomes)
        results.append(outcome if isinstance(outcome, int) else _refusal(outcome))
    return encode({"requestId": request.request_id, "success": True, "results": results})


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
