"""The node's client for the state service: the only way the rest of the code reaches it.

One pipelined connection carries every request. Writes leave in the order they were
made and are kept until the service answers, so per-job order holds and nothing is lost:
after a reconnect the unanswered ones go out again, in order (versions make the repeats
harmless). When the service comes back as a new, non-durable instance (the memory
backend after a restart), the client first restores every job it had been acknowledged,
with ``sync``, then resends. It keeps those records only while the service says it is
not durable: a durable store (raft) keeps them itself. A full queue makes callers wait
(back-pressure); it never drops a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from typing import Any, NamedTuple

import msgspec
import orjson

from joblet_cluster.common.aio import ServiceClient
from joblet_cluster.common.errors import NotFound, StateError, StateUnavailable
from joblet_cluster.state._record import JobRecord, now

log = logging.getLogger("joblet.state.client")

SYNC_CHUNK_JOBS = 1000
SYNC_CHUNK_BYTES = 4 * 1024 * 1024
BATCH_CHANGES = 256  # consecutive changes sent as one batch request, at most
BATCH_BYTES = 256 * 1024  # and of about this size, or half the service's longest line
CHANGE_OPS = frozenset({"create", "update", "delete"})


class ChangeResult(NamedTuple):
    """The service's answer to a change.

    ``applied`` is False when the store already held this version or a newer one (a
    retried change, or one overtaken by a newer change): the job's state is at least
    as new as the change, so nothing is lost. ``version`` is the stored version.
    """

    applied: bool
    version: int | None


def _change_result(applied: bool, version: int | None) -> ChangeResult:
    """One per change answered: ``tuple.__new__`` directly skips the NamedTuple's own
    ``__new__``, a Python function, and takes 0.4 us where calling the class took 0.7."""
    return _TUPLE_NEW(ChangeResult, (applied, version))


_TUPLE_NEW: Any = tuple.__new__


class _Call(msgspec.Struct):
    """One request; ``line`` is its JSON without the newline (a change's also travels
    as an element of a batch, where its requestId is ignored). A Struct: one is made
    per change, and its constructor runs in C (a slotted class's took 0.4 us more)."""

    request_id: int
    op: str
    line: bytes
    future: asyncio.Future[Any]
    job_id: str | None
    record: JobRecord | None
    internal: bool
    retried: bool = False


# Aliases, because inside the class `list` names the method, not the type.
Calls = list[_Call]
Lines = list[bytes]


class StateClient(ServiceClient):
    """Pipelined, reconnecting, back-pressured client. Use as ``async with StateClient(...)``.

    ``max_in_flight`` bounds requests on the wire (the pipeline depth); ``max_pending``
    bounds everything not yet answered, after which callers wait. ``node_id`` names the
    node whose jobs this client writes: those are restored after a restart that lost them.
    """

    service = "state service"
    unavailable = StateUnavailable

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        node_id: str | None = None,
        max_in_flight: int = 256,
        max_pending: int = 10_000,
        connect_timeout: float = 10.0,
        backoff_initial: float = 0.02,
        backoff_max: float = 2.0,
        max_line_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        super().__init__()
        self.socket_path = str(socket_path)
        self.node_id = node_id
        self.max_in_flight = max_in_flight
        self.max_pending = max_pending
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_line_bytes = max_line_bytes
        self.instance_id: str | None = None
        self.durable: bool | None = None
        self.resends = 0
        self.reconnects = 0
        self.resyncs = 0
        self._ids = itertools.count(1)
        self._queue: deque[_Call] = deque()
        self._inflight: dict[int, _Call] = {}
        self._batches: dict[int, Calls] = {}  # a batch's requestId: its changes' calls
        self._batch_bytes = 0  # set by the handshake, from the service's line limit
        self._acked: dict[str, JobRecord] = {}
        self._outstanding = 0
        self._room = asyncio.Event()
        self._room.set()
        self._drained = asyncio.Event()
        self._drained.set()
        self._idle = True  # mirrors _drained without a method call on the hot path
        self._protocol: _ClientProtocol | None = None
        self._pump_scheduled = False
        self._connected = asyncio.Event()

    # -- life cycle ------------------------------------------------------------------------
    def _background(self) -> list[Coroutine[Any, Any, None]]:
        return [self._supervise()]

    async def close(self, timeout: float = 5.0) -> None:
        """Give unanswered requests ``timeout`` seconds, then fail what is left and disconnect."""
        if self._state == "closed":
            return
        if self._state == "open" and timeout > 0:
            await self.flush(timeout)
        self._state = "closed"
        await self._stop_tasks()
        if self._protocol is not None:
            self._protocol.transport.close()
        left = list(self._inflight.values()) + list(self._queue)
        self._inflight.clear()
        self._batches.clear()
        self._queue.clear()
        if left:
            log.warning("state client closed with %d requests unanswered", len(left))
        for call in left:
            if not call.future.done():
                call.future.set_exception(StateUnavailable("state client closed"))
        self._room.set()
        self._idle = True
        self._drained.set()

    def stats(self) -> dict[str, int]:
        """Figures for the node's /metrics: queue depth and how often it had to resend."""
        return {
            "pending": len(self._queue),
            "inFlight": len(self._inflight),
            "resends": self.resends,
            "reconnects": self.reconnects,
            "resyncs": self.resyncs,
            "kept": len(self._acked),  # acknowledged records held for a resync
        }

    # -- writes ----------------------------------------------------------------------------
    async def create(self, record: JobRecord) -> ChangeResult:
        return await (await self.send("create", record))

    async def update(self, record: JobRecord) -> ChangeResult:
        return await (await self.send("update", record))

    async def delete(self, job_id: str) -> ChangeResult:
        return await (await self.send("delete", job_id))

    async def send(self, op: str, target: JobRecord | str) -> asyncio.Future[ChangeResult]:
        """Queue a change once there is room; the returned future resolves on its answer.

        This is the pipelining entry point: a caller may send many changes and await
        their futures later. ``target`` is the record (create, update) or the job id.
        """
        if self._outstanding >= self.max_pending:
            await self._wait_for_room()
        self._check_open()
        return self._enqueue_change(op, target)

    async def send_many(
        self, op: str, targets: Iterable[JobRecord | str]
    ) -> list[asyncio.Future[ChangeResult]]:
        """:meth:`send` for a batch: each change still travels and is answered on its own.

        Every ``BATCH_CHANGES`` changes it lets the loop run, so the first ones are on the
        wire while later ones are queued: queueing 33,000 changes in one go held the loop
        a third of a second, with nothing sent and the services idle.
        """
        futures = []
        enqueue = self._enqueue_change
        self._check_open()
        for count, target in enumerate(targets, 1):
            if self._outstanding >= self.max_pending:
                await self._wait_for_room()
                self._check_open()  # only an await lets close() run
            elif count % BATCH_CHANGES == 0:
                await asyncio.sleep(0)
                self._check_open()
            futures.append(enqueue(op, target))
        return futures

    def _enqueue_change(self, op: str, target: JobRecord | str) -> asyncio.Future[ChangeResult]:
        if op in ("update", "create"):
            assert isinstance(target, dict)
            if op == "create" and "createdAt" not in target:
                target = {**target, "createdAt": now()}  # so a resync restores the same time
            return self._enqueue({"op": op, "job": target}, op, target["uuid"], target)
        if op == "delete":
            assert isinstance(target, str)
            return self._enqueue({"op": op, "jobId": target}, op, target)
        raise ValueError(f"a change is create, update or delete, not {op!r}")

    async def _wait_for_room(self) -> None:
        while self._outstanding >= self.max_pending:
            self._check_open()
            self._room.clear()
            await self._room.wait()

    # -- reads and the rest ----------------------------------------------------------------
    async def get(self, job_id: str, consistent: bool = False) -> JobRecord | None:
        """The job as this replica holds it; ``consistent``: after every change committed
        anywhere before the call (one trip through the raft log)."""
        try:
            response = await self._request({"op": "get", "jobId": job_id, "consistent": consistent})
        except NotFound:
            return None
        return response["job"]  # type: ignore[no-any-return]

    async def list(
        self, consistent: bool = False, **filter: Any
    ) -> tuple[list[JobRecord], str | None]:
        """One page: ``(jobs, next_cursor)``. Filters as in the protocol (``status``, ...)."""
        response = await self._request({"op": "list", "filter": filter, "consistent": consistent})
        return response["jobs"], response.get("nextCursor")

    async def list_all(self, **filter: Any) -> AsyncIterator[JobRecord]:
        """Every matching job, fetching page after page."""
        while True:
            jobs, cursor = await self.list(**filter)
            for job in jobs:
                yield job
            if not cursor:
                return
            filter["cursor"] = cursor

    async def ping(self) -> dict[str, Any]:
        return await self._request({"op": "ping"})

    async def probe(self, timeout: float) -> dict[str, Any]:
        """``ping`` on a connection of its own: whether the service itself answers now.
        A ping sent through this client would wait behind its writes (a connection is
        answered in order), which wait for their commit, up to ``cluster.commit_timeout``
        while a raft node is cut off. :class:`StateUnavailable` past ``timeout``."""
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
                writer.write(orjson.dumps({"op": "ping", "requestId": "probe"}) + b"\n")
                line = await reader.readline()
        except (OSError, TimeoutError, ValueError) as exc:
            raise StateUnavailable(
                f"no answer to ping at {self.socket_path} within {timeout:g}s: {exc!r}"
            ) from None
        finally:
            if writer is not None:
                writer.close()
        if not line:
            raise StateUnavailable(f"the state service at {self.socket_path} closed the probe")
        answer: dict[str, Any] = orjson.loads(line)
        if not answer.get("success"):
            raise StateError.from_wire(str(answer.get("error", "INTERNAL: no error given")))
        return answer

    async def register(self, node: dict[str, Any]) -> None:
        """This node's registry entry (``nodeId``, ``address``, ``version``,
        ``runningJobs``); the service stamps the heartbeat."""
        await self._request({"op": "register", "node": node})

    async def nodes(self) -> dict[str, Any]:
        """``{"nodes": [...], "cluster": {...} or None}``: the registry and the
        replication's view from this node."""
        return await self._request({"op": "nodes"})

    async def change_members(self, action: str, address: str) -> dict[str, Any]:
        """Add (``action`` "add") or remove the raft member at ``address``; once committed,
        the replication's view."""
        answer = await self._request({"op": "members", "action": action, "address": address})
        return answer["cluster"]  # type: ignore[no-any-return]

    async def transfer_leadership(self, address: str | None = None) -> str:
        """Ask this node, which must lead, to hand over (to ``address``, or the most
        caught-up peer); the new leader's raft address."""
        return str((await self._request({"op": "transfer", "address": address}))["leader"])

    async def snapshot(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Write every job, consistent and current, to the absolute ``path`` (which must
        not exist): ``{"path", "jobs", "raftIndex", "raftTerm", "sha256"}``."""
        return await self._request({"op": "snapshot", "path": os.fspath(path)})

    async def restore(self, jobs: Sequence[JobRecord], part_size: int = 5000) -> int:
        """Replace every job of the store with ``jobs`` (disaster recovery), in parts."""
        for start in range(0, max(len(jobs), 1), part_size):
            part = list(jobs[start : start + part_size])
            await self._request({"op": "restore", "jobs": part, "first": start == 0})
        return len(jobs)

    async def sync(self, node_id: str, jobs: Sequence[JobRecord]) -> dict[str, Any]:
        """Make ``node_id``'s jobs in the store exactly ``jobs``; sent in parts when large."""
        futures = [self._enqueue(m, "sync") for m in _sync_messages(node_id, jobs)]
        results = await asyncio.gather(*futures)
        return results[-1]  # type: ignore[no-any-return]

    def watch(self, node_id: str | None = None) -> Watch:
        """Every committed change (of ``node_id``'s jobs, or all) on a connection of its own."""
        return Watch(self.socket_path, node_id, self.max_line_bytes)

    async def _request(self, message: dict[str, Any]) -> Any:
        if self._outstanding >= self.max_pending:
            await self._wait_for_room()
        self._check_open()
        return await self._enqueue(message, message["op"])

    def _check_open(self) -> None:
        if self._state != "open":
            raise StateUnavailable("state client is not open")

    # -- the queue -------------------------------------------------------------------------
    def _enqueue(
        self,
        message: dict[str, Any],
        op: str,
        job_id: str | None = None,
        record: JobRecord | None = None,
        *,
        internal: bool = False,
        front: bool = False,
    ) -> asyncio.Future[Any]:
        request_id = next(self._ids)
        message["requestId"] = request_id
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        call = _Call(request_id, op, orjson.dumps(message), future, job_id, record, internal)
        if front:
            self._queue.appendleft(call)
        else:
            self._queue.append(call)
        if not internal:
            self._outstanding += 1
        if self._idle:
            self._idle = False
            self._drained.clear()
        if not self._pump_scheduled:
            self._pump_scheduled = True
            loop.call_soon(self._pump)
        return future

    def _pump(self) -> None:
        self._pump_scheduled = False
        protocol = self._protocol
        if protocol is None or not protocol.ready or not self._queue:
            return
        room = self.max_in_flight - len(self._inflight)
        if room <= 0:
            return
        queue, inflight = self._queue, self._inflight
        out: Lines = []
        run: Calls = []  # consecutive changes: one batch request
        size = 0
        while room and queue:
            call = queue.popleft()
            inflight[call.request_id] = call
            room -= 1
            if call.op in CHANGE_OPS:
                if run and (len(run) == BATCH_CHANGES or size + len(call.line) > self._batch_bytes):
                    self._write_changes(run, out)
                    run, size = [], 0
                run.append(call)
                size += len(call.line)
            else:
                if run:
                    self._write_changes(run, out)
                    run, size = [], 0
                out += (call.line, b"\n")
        if run:
            self._write_changes(run, out)
        protocol.transport.write(b"".join(out))

    def _write_changes(self, calls: Calls, out: Lines) -> None:
        """Several changes go as one batch: the service parses, commits and answers
        them together, which costs both ends a fraction of a line per change."""
        if len(calls) == 1:
            out += (calls[0].line, b"\n")
            return
        batch_id = next(self._ids)
        self._batches[batch_id] = calls
        out += (
            b'{"op":"batch","requestId":%d,"changes":[' % batch_id,
            b",".join([call.line for call in calls]),
            b"]}\n",
        )

    def _complete(self, message: dict[str, Any]) -> None:
        request_id = message.get("requestId")
        if self._batches:
            batch = self._batches.pop(request_id, None)  # type: ignore[arg-type]
            if batch is not None:
                self._complete_batch(batch, message)
                return
        call = self._inflight.pop(request_id, None)  # type: ignore[arg-type]
        if call is None:
            if message.get("success") is False:
                log.warning("state service: %s", message.get("error"))
            return
        success = bool(message.get("success"))
        self._settle(call, success, message.get("version"), message.get("error"), message)

    def _complete_batch(self, calls: Calls, message: dict[str, Any]) -> None:
        results = message.get("results")
        if not message.get("success"):  # the whole batch (not committed in time, ...)
            results = [{"error": message.get("error")}] * len(calls)
        elif not isinstance(results, list) or len(results) != len(calls):
            text = f"INTERNAL: a batch of {len(calls)} changes answered without their results"
            results = [{"error": text}] * len(calls)
        inflight = self._inflight
        durable = self.durable  # nothing to remember for a resync: the answer is all
        applied = 0
        for call, result in zip(calls, results, strict=True):
            if inflight.pop(call.request_id, None) is None:
                continue
            if type(result) is int and durable:
                future = call.future  # what _settle does for it, inline: one per change
                if not future.done():
                    future.set_result(_change_result(True, result))
                applied += 1
            elif type(result) is int:
                self._settle(call, True, result, None, None)
            elif isinstance(result, dict):
                self._settle(call, False, result.get("version"), result.get("error"), None)
            else:
                self._settle(call, False, None, f"INTERNAL: result {result!r}", None)
        if applied:
            self._answered(applied)

    def _settle(
        self,
        call: _Call,
        success: bool,
        version: int | None,
        error_text: str | None,
        message: dict[str, Any] | None,
    ) -> None:
        """Resolve ``call`` with the service's answer (``message``: the whole answer of a
        request that is not a change)."""
        future = call.future
        if success:
            if call.op in ("create", "update"):
                if not self.durable and self.node_id:
                    self._remember(call.job_id, call.record)  # type: ignore[arg-type]
                result: Any = _change_result(True, version)
            elif call.op == "delete":
                self._acked.pop(call.job_id, None)  # type: ignore[arg-type]
                result = _change_result(True, version)
            else:
                result = message
            if not future.done():
                future.set_result(result)
        else:
            error = StateError.from_wire(str(error_text or "INTERNAL: no error given"), version)
            if call.op in ("create", "update", "delete") and error.code == "UNAVAILABLE":
                # The store could not commit it (a node cut off from the majority of a
                # raft cluster): keep it, reconnect, and send it again with everything
                # after it, in order; a change that did commit meanwhile comes back stale.
                self._inflight[call.request_id] = call
                if self._protocol is not None:
                    self._protocol.transport.close()
                return
            if call.op in ("create", "update", "delete") and (
                error.code == "STALE_VERSION"
                or (call.op == "delete" and error.code == "NOT_FOUND" and call.retried)
            ):
                if call.op == "delete":
                    self._acked.pop(call.job_id, None)  # type: ignore[arg-type]
                if not future.done():
                    future.set_result(_change_result(False, version))
            elif not future.done():
                future.set_exception(error)
        if call.internal:
            if future.done() and not future.cancelled() and future.exception() is not None:
                log.error("state client: internal %s failed: %s", call.op, future.exception())
            self._answered(0)
        else:
            self._answered(1)

    def _answered(self, count: int) -> None:
        """``count`` callers' requests are settled: room for more, or all done."""
        self._outstanding -= count
        if not self._room.is_set() and self._outstanding < self.max_pending:
            self._room.set()
        if not self._inflight and not self._queue:
            self._idle = True
            self._drained.set()

    def _remember(self, job_id: str, record: JobRecord) -> None:
        """Keep the acknowledged record for a resync, with the createdAt the store holds."""
        if "createdAt" not in record:
            previous = self._acked.get(job_id)
            if previous is not None and "createdAt" in previous:
                record = {**record, "createdAt": previous["createdAt"]}
        self._acked[job_id] = record

    # -- the connection --------------------------------------------------------------------
    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.backoff_initial
        while True:
            try:
                _, protocol = await loop.create_unix_connection(
                    lambda: _ClientProtocol(self), self.socket_path
                )
            except OSError as exc:
                log.debug("state service at %s not reachable: %s", self.socket_path, exc)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.backoff_max)
                continue
            try:
                await self._handshake(protocol)
            except (StateError, OSError, TimeoutError) as exc:
                log.warning("state service handshake failed: %s; retrying", exc)
                protocol.transport.close()
                await protocol.lost.wait()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_initial
            self._connected.set()
            await protocol.lost.wait()
            self._connected.clear()
            self.reconnects += 1
            log.warning(
                "lost the state service connection; %d requests to resend", len(self._queue)
            )

    async def _handshake(self, protocol: _ClientProtocol) -> None:
        """Ping first; a new, non-durable instance means the store lost what we had written."""
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        call = _Call(
            request_id,
            "ping",
            orjson.dumps({"op": "ping", "requestId": request_id}),
            future,
            None,
            None,
            True,
        )
        self._inflight[request_id] = call
        protocol.transport.write(call.line + b"\n")
        # A connection can be lost before its answer: one accepted into the backlog of a
        # service that is being killed is reset when the process ends. Waiting out
        # connect_timeout then would leave the service unused that long after a restart.
        lost = asyncio.ensure_future(protocol.lost.wait())
        try:
            await asyncio.wait(
                (future, lost), timeout=self.connect_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            lost.cancel()
            self._inflight.pop(request_id, None)
        if not future.done():
            if call in self._queue:  # put back for a resend when the connection was lost
                self._queue.remove(call)
            if protocol.lost.is_set():
                raise OSError("the connection closed before the handshake's answer")
            raise TimeoutError(f"no answer to the handshake within {self.connect_timeout:g}s")
        info = future.result()
        restarted = self.instance_id is not None and info["instanceId"] != self.instance_id
        self.instance_id = info["instanceId"]
        self.durable = bool(info.get("durable"))
        if self.durable:
            self._acked.clear()  # the store keeps them: nothing to restore from here
        self._batch_bytes = min(BATCH_BYTES, int(info.get("maxLineBytes") or 0) // 2)
        if restarted and not self.durable and self.node_id and self._acked:
            self.resyncs += 1
            log.warning(
                "state service restarted without its data; restoring %d jobs of node %s",
                len(self._acked),
                self.node_id,
            )
            messages = list(_sync_messages(self.node_id, list(self._acked.values())))
            for message in reversed(messages):
                self._enqueue(message, "sync", internal=True, front=True)
        protocol.ready = True
        self._pump()

    def _connection_lost(self) -> None:
        """Put what was on the wire back at the head of the queue, in its original order."""
        self._protocol = None
        self._batches.clear()
        if self._inflight:
            calls = sorted(self._inflight.values(), key=lambda c: c.request_id)
            self._inflight.clear()
            self.resends += len(calls)
            for call in calls:
                call.retried = True
            self._queue.extendleft(reversed(calls))
        for call in self._queue:
            call.retried = True


class _ClientProtocol(asyncio.Protocol):
    def __init__(self, client: StateClient) -> None:
        self.client = client
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buffer = bytearray()
        self.ready = False
        self.lost = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.client._protocol = self

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        complete = self.client._complete
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            try:
                message = orjson.loads(buffer[start:end])
            except orjson.JSONDecodeError:
                log.error("state service sent a line that is not JSON; reconnecting")
                self.transport.close()
                return
            start = end + 1
            if isinstance(message, dict):
                complete(message)
        del buffer[:start]
        if len(buffer) > self.client.max_line_bytes:
            log.error(
                "state service sent a line over %d bytes; reconnecting", self.client.max_line_bytes
            )
            self.transport.close()
            return
        if self.ready:
            self.client._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client._protocol is self:
            self.client._connection_lost()
        self.lost.set()


def _sync_messages(node_id: str, jobs: Sequence[JobRecord]) -> Iterable[dict[str, Any]]:
    """A sync split into parts that each fit comfortably in one line."""
    sync_id = f"sync-{uuid.uuid4().hex}"
    parts: list[list[JobRecord]] = [[]]
    size = 0
    for job in jobs:
        encoded = len(orjson.dumps(job))
        if parts[-1] and (len(parts[-1]) >= SYNC_CHUNK_JOBS or size + encoded > SYNC_CHUNK_BYTES):
            parts.append([])
            size = 0
        parts[-1].append(job)
        size += encoded
    for i, part in enumerate(parts):
        yield {
            "op": "sync",
            "nodeId": node_id,
            "jobs": part,
            "syncId": sync_id,
            "more": i < len(parts) - 1,
        }


class Watch:
    """An open watch: ``async with client.watch() as w: async for event in w: ...``.

    Each event is ``{"type": "put"|"delete", "job": record, "revision": n}``. If the
    connection drops the iteration raises :class:`StateUnavailable`: list again, then
    watch again (events in between are not replayed).
    """

    def __init__(self, socket_path: str, node_id: str | None, max_line_bytes: int) -> None:
        self.socket_path = socket_path
        self.node_id = node_id
        self.max_line_bytes = max_line_bytes
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Watch:
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(
                self.socket_path, limit=self.max_line_bytes
            )
        except OSError as exc:
            raise StateUnavailable(f"cannot watch: {self.socket_path}: {exc}") from exc
        message: dict[str, Any] = {"op": "watch", "requestId": "watch"}
        if self.node_id:
            message["nodeId"] = self.node_id
        self._writer.write(orjson.dumps(message) + b"\n")
        answer = await self._read()
        if not answer.get("success"):
            raise StateError.from_wire(str(answer.get("error")))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> dict[str, Any]:
        message = await self._read()
        if "event" not in message:
            raise StateError.from_wire(str(message.get("error", "WATCH_ENDED: watch ended")))
        return {"type": message["event"], "job": message["job"], "revision": message["revision"]}

    async def _read(self) -> dict[str, Any]:
        assert self._reader is not None
        try:
            line = await self._reader.readline()
        except (OSError, ValueError) as exc:
            raise StateUnavailable(f"watch connection failed: {exc}") from exc
        if not line:
            raise StateUnavailable("the state service closed the watch connection")
        return orjson.loads(line)  # type: ignore[no-any-return]
