"""``state.backend: raft``: the state service's store, replicated to every node.

Changes are group-committed: the batches every connection hands :meth:`RaftBackend.apply`
wait in one queue, and each replicated entry takes all that waits, up to
``ENTRY_CHANGES`` changes; a batch is answered only once its entry is committed and
applied here. At most ``MAX_IN_FLIGHT`` entries are in flight, so the store never drives
pysyncobj to the saturation where it misbehaves (specs/pysyncobj-facts.md): offered load
beyond what commits makes entries larger, then waits in the queue, which pushes back on
the connections (they stop reading). Reads answer from the local replica.

pysyncobj runs on its own thread: its callbacks come back to the loop with
``call_soon_threadsafe``, and watchers are called on the loop too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pysyncobj import FAIL_REASON, SyncObjConf

from joblet_cluster.cluster.compression import compression_level, use_compression
from joblet_cluster.cluster.pickling import use_binary_pickles
from joblet_cluster.cluster.replica import JobReplica, pack_records
from joblet_cluster.cluster.ticks import ROLES, WatchedSyncObj
from joblet_cluster.common.config import ClusterConfig
from joblet_cluster.common.errors import AlreadyExists, ConfigError, NotFound, StateError
from joblet_cluster.state._changes import Change, Outcome
from joblet_cluster.state._query import JobQuery
from joblet_cluster.state._record import JobRecord
from joblet_cluster.state.backends._base import (
    JobPage,
    NodeEntry,
    NodeList,
    StoreSnapshot,
    SyncResult,
    WatchCallback,
    WatchEvent,
)
from joblet_cluster.state.backends._packed import unpack

log = logging.getLogger("joblet.cluster")

SOCKET_BUFFER_BYTES = 2**21  # the kernel caps it at net.core.[rw]mem_max
MAX_IN_FLIGHT = 4  # replicated entries awaiting their commit
ENTRY_CHANGES = 1024  # changes one entry takes from the queue (a batch is never split)


class RaftUnavailable(StateError):
    """The batch was not committed in time (no leader, a minority partition)."""

    code = "UNAVAILABLE"


class RaftBackend:
    name = "raft"
    durable = True
    batch_limit = 256

    def __init__(self, cluster: ClusterConfig) -> None:
        _check(cluster)
        use_binary_pickles()
        use_compression(compression_level(cluster.compression_level, bool(cluster.secret)))
        data = Path(cluster.data_dir)
        data.mkdir(parents=True, exist_ok=True)
        self.replica = JobReplica()
        heartbeat = _heartbeat_period(cluster.election_timeout_min)
        conf = SyncObjConf(
            password=cluster.secret or None,
            bindAddress=cluster.raft_address,
            # Each entry leaves as soon as it is queued (a pipe wakes the tick thread) and
            # each commit is passed on as soon as it is applied, so the period is only
            # the heartbeat. Batching on a short period instead cost latency, and woke
            # every replica 1,000 times a second: a third of a core for an idle cluster
            # of three, now 5 %.
            # Our entries are few and large (group commit), far below the entry rates
            # at which immediate sends make pysyncobj truncate and resend (pysyncobj-facts).
            appendEntriesUseBatch=False,
            appendEntriesPeriod=heartbeat,
            # timers (elections, heartbeats, compaction) are checked on every tick: two
            # followers whose election timeouts end within one tick of each other both
            # stand, split the vote and wait another timeout (seen at 25 ms: a 2 s failover)
            autoTickPeriod=min(0.005, heartbeat / 2),
            raftMinTimeout=cluster.election_timeout_min,
            raftMaxTimeout=cluster.election_timeout_max,
            leaderFallbackTimeout=5.0,
            # a peer that comes back is reconnected within half a second (default 5 s,
            # during which a cluster of three that lost another node has no majority)
            connectionRetryTime=0.5,
            # an entry of ENTRY_CHANGES changes (~200 KB) travels whole, not in 64 KB parts
            appendEntriesBatchSizeBytes=2**20,
            # a whole uncompressed entry fits in the socket buffers and is read at once:
            # read 64 KB at a time (the default), it was joined again from parts
            sendBufferSize=SOCKET_BUFFER_BYTES,
            recvBufferSize=SOCKET_BUFFER_BYTES,
            journalFile=str(data / "journal"),
            fullDumpFile=str(data / "dump"),
            logCompactionMinEntries=cluster.log_compaction_entries,
            logCompactionMinTime=cluster.log_compaction_seconds,
            logCompactionSplit=True,
            dynamicMembershipChange=True,
        )
        self.sync_obj = WatchedSyncObj(
            cluster.raft_address, list(cluster.peers), conf=conf, consumers=[self.replica]
        )
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._commit_timeout = cluster.commit_timeout
        self._queue: deque[tuple[list[Change], asyncio.Future[list[Outcome]]]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._entries: set[asyncio.Task[None]] = set()
        self._membership = asyncio.Lock()  # one change at a time from here; the leader
        # refuses a second one cluster-wide until the first is committed
        self.address = cluster.raft_address

    async def apply(self, changes: Sequence[Change]) -> list[Outcome]:
        done: asyncio.Future[list[Outcome]] = asyncio.get_running_loop().create_future()
        self._queue.append((list(changes), done))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._send_entries(), name="raft-group-commit")
        return await done

    async def _send_entries(self) -> None:
        """Whenever an entry slot is free, send everything queued (up to ENTRY_CHANGES)
        as one entry; batches leave in the order they came, so a connection's changes
        are applied in its order."""
        queue = self._queue
        while queue:
            await self._slots.acquire()
            changes: list[Change] = []
            parts: list[tuple[int, asyncio.Future[list[Outcome]]]] = []
            while queue and (not parts or len(changes) + len(queue[0][0]) <= ENTRY_CHANGES):
                batch, done = queue.popleft()
                changes.extend(batch)
                parts.append((len(batch), done))
            entry = asyncio.create_task(self._commit_entry(changes, parts))
            self._entries.add(entry)
            entry.add_done_callback(self._entries.discard)

    async def _commit_entry(
        self, changes: list[Change], parts: list[tuple[int, asyncio.Future[list[Outcome]]]]
    ) -> None:
        packed = self.replica.pack(changes)
        try:
            outcomes: list[Outcome] = await self._committed(self.replica.commit, packed)
        except StateError as exc:
            for _, done in parts:
                if not done.done():
                    done.set_exception(exc)
            return
        finally:
            self.replica.forget(packed)  # applied here already, or given up on
            self._slots.release()
        start = 0
        for size, done in parts:
            if not done.done():
                done.set_result(outcomes[start : start + size])
            start += size

    async def sync(self, node_id: str, jobs: Sequence[JobRecord]) -> SyncResult:
        result: SyncResult = await self._replicate(
            self.replica.sync_node, node_id, pack_records(jobs)
        )
        return result

    async def get(self, job_id: str) -> JobRecord | None:
        with self.replica.lock:
            return await self.replica.store.get(job_id)

    async def list(self, query: JobQuery) -> JobPage:
        with self.replica.lock:
            return await self.replica.store.list(query)

    async def count(self) -> int:
        return len(self.replica.records)

    async def register_node(self, node: NodeEntry) -> None:
        await self._replicate(self.replica.register_node, node)

    async def nodes(self) -> NodeList:
        with self.replica.lock:
            return await self.replica.store.nodes()

    def cluster_status(self) -> dict[str, Any]:
        """Leader, term, commit and applied index, and each peer's connection."""
        status = self.sync_obj.getStatus()
        leader = status.get("leader")
        return {
            "self": str(status.get("self")),
            "leader": str(leader) if leader is not None else None,
            "role": ROLES.get(status.get("state"), "?"),
            "term": status.get("raft_term"),
            "commitIndex": status.get("commit_idx"),
            "lastApplied": status.get("last_applied"),
            "peers": {
                key[len("partner_node_status_server_") :]: "connected" if value == 2 else "down"
                for key, value in status.items()
                if key.startswith("partner_node_status_server_")
            },
        }

    def freshness(self) -> dict[str, Any]:
        """Cheap enough for every read: who leads, and how far this replica applied."""
        leader = self.sync_obj._getLeader()
        return {
            "leader": str(leader) if leader is not None else None,
            "appliedIndex": self.sync_obj.raftLastApplied,
        }

    async def read_barrier(self) -> None:
        await self._replicate(self.replica.barrier)

    async def snapshot(self) -> StoreSnapshot:
        await self.read_barrier()
        with self.replica.lock:  # applying holds it: the copy is at one log index
            jobs = list(self.replica.records.values())
            index = self.sync_obj.raftLastApplied
        # decoded outside the lock: a stored record is replaced, never changed in place
        jobs = [unpack(record) for record in jobs]
        return StoreSnapshot(jobs, index, self.sync_obj.raftCurrentTerm)

    async def restore(self, jobs: Sequence[JobRecord], first: bool) -> None:
        await self._replicate(self.replica.restore_jobs, pack_records(jobs), first)

    def members(self) -> Sequence[str]:
        """Every raft member's address, this one first."""
        return [self.address, *self.cluster_status()["peers"]]

    async def change_membership(self, action: str, address: str) -> None:
        members = self.members()
        if action == "add" and address in members:
            raise AlreadyExists(f"{address} is already a member of the cluster")
        if action == "remove" and address not in members:
            raise NotFound(f"{address} is not a member (members: {', '.join(members)})")
        if action == "remove" and address == self.address:
            raise StateError(
                f"{address} is the node asked: ask another node to remove it", "INVALID_REQUEST"
            )
        if self._membership.locked():
            raise StateError("another membership change is in progress", "CONFLICT")
        method = self.sync_obj.addNodeToCluster
        if action == "remove":
            method = self.sync_obj.removeNodeFromCluster
        async with self._membership:
            try:
                await self._replicate(method, address)
            except RaftUnavailable as exc:
                if "request denied" in exc.args[0]:
                    raise StateError(
                        "the leader refused: another membership change is not committed yet",
                        "CONFLICT",
                    ) from None
                raise
        log.warning("raft membership: %s %s", "added" if action == "add" else "removed", address)

    async def transfer_leadership(self, address: str | None) -> str:
        """Ask the leader (this replica must be it) to hand over, and wait until a new
        leader is known."""
        before = self.sync_obj._getLeader()
        if before is None or str(before) != self.address:
            raise StateError(
                f"this node is not the leader (the leader is {before or 'unknown'})", "NOT_LEADER"
            )
        if address is not None and address not in self.members()[1:]:
            raise NotFound(f"{address} is not another member of the cluster")
        try:
            await self._committed(self._transfer, address)
        except RaftUnavailable as exc:
            raise StateError(
                f"the leader refused the transfer ({exc.args[0]}): the target must be "
                "connected and fully caught up",
                "CONFLICT",
            ) from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._commit_timeout
        while (leader := self.sync_obj._getLeader()) is None or str(leader) == self.address:
            if loop.time() > deadline:
                raise RaftUnavailable(f"no new leader within {self._commit_timeout:g}s")
            await asyncio.sleep(0.02)
        return str(leader)

    def _transfer(self, address: str | None, callback: Callable[[Any, int], None]) -> None:
        self.sync_obj.call_on_tick(lambda: self.sync_obj.transferLeadership(address, callback))

    def health(self) -> dict[str, Any]:
        """pysyncobj's tick loop and how far this replica applies, for ``ping`` and the
        node's watchdog (cluster/ticks.py)."""
        return self.sync_obj.health()

    def subscribe(self, callback: WatchCallback, node_id: str | None = None) -> Callable[[], None]:
        """Watchers hear every change applied here, from any node, on the loop's thread."""
        loop = asyncio.get_running_loop()

        def forward(event: WatchEvent) -> None:
            loop.call_soon_threadsafe(callback, event)

        return self.replica.store.subscribe(forward, node_id)

    async def close(self) -> None:
        await asyncio.to_thread(self.sync_obj.destroy)

    async def _replicate(self, method: Callable[..., Any], *args: Any) -> Any:
        """One replicated call outside the group commit, in an entry slot of its own."""
        await self._slots.acquire()
        try:
            return await self._committed(method, *args)
        finally:
            self._slots.release()

    async def _committed(self, method: Callable[..., Any], *args: Any) -> Any:
        """Call ``method`` through the log; its result once committed and applied here."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()

        def finished(result: Any, error: int) -> None:
            loop.call_soon_threadsafe(_settle, done, result, error)

        method(*args, callback=finished)
        try:
            return await asyncio.wait_for(done, self._commit_timeout)
        except TimeoutError:
            raise RaftUnavailable(
                f"not committed within {self._commit_timeout:g}s: no leader reachable "
                "(is a majority of the cluster up?)"
            ) from None


def _settle(done: asyncio.Future[Any], result: Any, error: int) -> None:
    if done.done():
        return
    if error == FAIL_REASON.SUCCESS:
        done.set_result(result)
    else:  # ambiguous: the entry may still commit; changes are versioned, retries are safe
        done.set_exception(RaftUnavailable(f"raft: {_REASONS.get(error, error)}; retry"))


_REASONS = {
    FAIL_REASON.QUEUE_FULL: "the commit queue is full",
    FAIL_REASON.MISSING_LEADER: "no leader",
    FAIL_REASON.DISCARDED: "the entry was discarded",
    FAIL_REASON.NOT_LEADER: "this node is not the leader",
    FAIL_REASON.LEADER_CHANGED: "the leader changed",
    FAIL_REASON.REQUEST_DENIED: "request denied",
}


def _heartbeat_period(election_timeout_min: float) -> float:
    """Well inside the shortest election timeout (pysyncobj requires under a third),
    and no more often than 20 times a second."""
    return min(0.05, election_timeout_min / 8)


def _check(cluster: ClusterConfig) -> None:
    if not cluster.raft_address:
        raise ConfigError("cluster.raft_address: required with state.backend raft")
    addresses = [cluster.raft_address, *cluster.peers]
    if not cluster.secret and not all(_loopback(a) for a in addresses):
        raise ConfigError(
            "cluster.secret: required unless every raft address is loopback "
            "(pysyncobj accepts pickled messages from anyone who can reach its port)"
        )
    if not 0 < cluster.election_timeout_min < cluster.election_timeout_max:
        raise ConfigError("cluster.election_timeout_min and _max: need 0 < min < max (seconds)")


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
