"""The in-memory reference backend: what every other backend is measured against.

Jobs sit in one dict; sorted indexes by status and by node hold ``(createdAt, uuid)``
keys, so a filtered list walks only matching jobs, in order, and stops at its limit. The
indexes put themselves in order when read, not on every write (:mod:`._index`).
``createdAt`` never changes, so an update that keeps its status touches no index. An
unfiltered list merges the nodes' indexes: an index of every job would cost every create
one more sorted insert, on every raft replica. A raft replica stores other nodes' records
packed (:mod:`._packed`); every read here hands out records whole.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence

from joblet_cluster.common.errors import StateError
from joblet_cluster.state._changes import Change, Outcome, decide
from joblet_cluster.state._lifecycle import may_move
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
from joblet_cluster.state.backends._index import DeferredIndex, Key
from joblet_cluster.state.backends._packed import PACKED, unpack

log = logging.getLogger("joblet.state.memory")

# Aliases, because inside the class `list` names the method, not the type.
Indexes = list[DeferredIndex]
Walks = list[Iterable[Key]]


class MemoryBackend:
    name = "memory"
    durable = False
    batch_limit = 32

    def __init__(self) -> None:
        self._jobs: dict[str, JobRecord] = {}
        self._by_status: defaultdict[str, DeferredIndex] = defaultdict(DeferredIndex)
        self._by_node: defaultdict[str, DeferredIndex] = defaultdict(DeferredIndex)
        self._watchers: dict[int, tuple[WatchCallback, str | None]] = {}
        self._watcher_ids = itertools.count()
        self._revision = 0
        self.registry: dict[str, NodeEntry] = {}

    async def apply(self, changes: Sequence[Change]) -> list[Outcome]:
        return self.apply_now(changes)

    def apply_now(self, changes: Sequence[Change]) -> list[Outcome]:
        """:meth:`apply` without a loop: the raft replica applies committed entries on
        pysyncobj's thread.

        Every replica runs this for every change, so the loop makes no call for the two
        changes every job makes: the create of a new job, which :func:`decide` always
        accepts, and the plain update (a newer version from the same node, ``createdAt``
        kept or left out, a status the lifecycle allows), which is exactly the update it
        accepts. Their index upkeep is :meth:`_insert`'s and :meth:`_replace`'s written
        out: with those calls and :func:`decide`'s, applying an update took 3.0 us, and
        2.4 us without. Every other change goes through :func:`decide`; the tests hold
        this loop to it for every kind of change.
        """
        outcomes: list[Outcome] = []
        outcome = outcomes.append
        jobs = self._jobs
        by_status, by_node = self._by_status, self._by_node
        watched = bool(self._watchers)  # a watcher that comes in meanwhile hears the next batch
        unwatched = 0  # applied changes nobody heard of, counted into the revision at the end
        for change in changes:
            job_id, record = change.job_id, change.record
            stored = jobs.get(job_id)
            op = change.op
            if stored is None and op == "create":
                assert record is not None
                key = (record["createdAt"] or "", job_id)
                jobs[job_id] = record
                by_status[record["status"]].add(key)
                by_node[record["nodeId"]].add(key)
            elif (
                op == "update"
                and stored is not None
                and record is not None
                and record["version"] > stored["version"]
                and record["nodeId"] == stored["nodeId"]
                and (
                    record.get("createdAt", created := stored["createdAt"]) == created
                    or record["createdAt"] is None  # as good as left out
                )
                and may_move(old := stored["status"], new := record["status"])
            ):
                record["createdAt"] = created
                jobs[job_id] = record
                if old != new:
                    by_status[old].move((created or "", job_id), by_status[new])
            else:
                refusal = decide(stored, change)
                if refusal is not None:
                    outcome(refusal)
                    continue
                assert stored is not None and record is None  # decide() accepted a delete
                outcome(stored["version"])
                self._remove(stored)
                self._publish("delete", stored)
                continue
            outcome(record["version"])
            if watched:
                self._revision += 1
                self._notify("put", record)
            else:
                unwatched += 1
        self._revision += unwatched
        return outcomes

    async def get(self, job_id: str) -> JobRecord | None:
        record = self._jobs.get(job_id)
        return None if record is None else self._whole(record)

    async def list(self, query: JobQuery) -> JobPage:
        wanted = query.limit + 1
        if query.sort_by == "createdAt":
            found = list(itertools.islice(self._walk_created(query), wanted))
        else:
            candidates = (
                job
                for job in self._candidates(query)
                if query.matches(job) and query.past_cursor(query.sort_key(job))
            )
            pick = heapq.nlargest if query.descending else heapq.nsmallest
            found = pick(wanted, candidates, key=query.sort_key)
        if len(found) > query.limit:
            found = found[: query.limit]
            return JobPage(found, query.cursor_after(found[-1]))
        return JobPage(found)

    async def sync(self, node_id: str, jobs: Sequence[JobRecord]) -> SyncResult:
        return self.sync_now(node_id, jobs)

    def sync_now(self, node_id: str, jobs: Sequence[JobRecord]) -> SyncResult:
        result = SyncResult()
        incoming = {job["uuid"]: job for job in jobs}
        for key in list(self._by_node.get(node_id, ())):
            if key[1] not in incoming:
                gone = self._jobs[key[1]]
                self._remove(gone)
                self._publish("delete", gone)
                result.deleted += 1
        for job_id, record in incoming.items():
            stored = self._jobs.get(job_id)
            if stored is None:
                self._insert(record)
                result.created += 1
            elif stored["nodeId"] != node_id:
                result.conflicts.append(job_id)
                continue
            elif record["version"] < stored["version"]:
                result.stale.append(job_id)
                continue
            elif record["version"] == stored["version"]:
                result.unchanged += 1
                continue
            else:
                record["createdAt"] = stored["createdAt"]  # never changes, not even by sync
                self._replace(stored, record)
                result.updated += 1
            self._publish("put", record)
        return result

    async def count(self) -> int:
        return len(self._jobs)

    async def register_node(self, node: NodeEntry) -> None:
        self.registry[node["nodeId"]] = node

    async def nodes(self) -> NodeList:
        return sorted(self.registry.values(), key=lambda node: node["nodeId"])

    def cluster_status(self) -> NodeEntry | None:
        return None

    def freshness(self) -> NodeEntry | None:
        return None

    async def read_barrier(self) -> None:
        return None  # one copy: every read is current

    async def snapshot(self) -> StoreSnapshot:
        return StoreSnapshot([unpack(record) for record in self._jobs.values()])

    async def restore(self, jobs: Sequence[JobRecord], first: bool) -> None:
        self.restore_now(jobs, first)

    def restore_now(self, jobs: Sequence[JobRecord], first: bool) -> None:
        """:meth:`restore` without a loop (the raft replica's). Watchers are not told:
        a restore replaces history, it does not happen in it."""
        if first:
            self._jobs.clear()
            self._by_status.clear()
            self._by_node.clear()
        for record in jobs:
            stored = self._jobs.get(record["uuid"])
            if stored is not None:
                self._remove(stored)
            self._insert(record)
        self._revision += 1

    async def change_membership(self, action: str, address: str) -> None:
        raise _no_cluster()

    async def transfer_leadership(self, address: str | None) -> str:
        raise _no_cluster()

    def subscribe(self, callback: WatchCallback, node_id: str | None = None) -> Callable[[], None]:
        watcher = next(self._watcher_ids)
        self._watchers[watcher] = (callback, node_id)

        def unsubscribe() -> None:
            self._watchers.pop(watcher, None)

        return unsubscribe

    async def close(self) -> None:
        self._watchers.clear()

    def _publish(self, kind: str, record: JobRecord) -> None:
        self._revision += 1
        if self._watchers:
            self._notify(kind, record)

    def _notify(self, kind: str, record: JobRecord) -> None:
        event: WatchEvent | None = None
        for callback, node_id in list(self._watchers.values()):
            if node_id is None or node_id == record["nodeId"]:
                if event is None:
                    event = {"type": kind, "job": unpack(record), "revision": self._revision}
                try:
                    callback(event)
                except Exception:
                    log.exception("watch callback failed; the change itself is committed")

    def _whole(self, record: JobRecord) -> JobRecord:
        """``record`` as a read hands it out: decoded if it was packed, and kept decoded."""
        if PACKED not in record:
            return record
        whole = self._jobs[record["uuid"]] = unpack(record)
        return whole

    def _insert(self, record: JobRecord) -> None:
        key = _key(record)
        self._jobs[record["uuid"]] = record
        self._by_status[record["status"]].add(key)
        self._by_node[record["nodeId"]].add(key)

    def _replace(self, stored: JobRecord, record: JobRecord) -> None:
        """``createdAt`` never changes, so only a new status moves the job in an index."""
        if "createdAt" not in record:
            record["createdAt"] = stored["createdAt"]
        self._jobs[record["uuid"]] = record
        old, new = stored["status"], record["status"]
        if old != new:
            self._by_status[old].move(_key(stored), self._by_status[new])

    def _remove(self, stored: JobRecord) -> None:
        key = _key(stored)
        self._by_status[stored["status"]].remove(key)
        self._by_node[stored["nodeId"]].remove(key)
        del self._jobs[stored["uuid"]]

    def _sources(self, query: JobQuery) -> Indexes:
        """The smallest set of indexes whose union holds every job the query can match."""
        by_status = None
        if query.statuses is not None:
            by_status = [self._by_status[s] for s in query.statuses if s in self._by_status]
        by_node = None
        if query.node_id is not None:
            node_index = self._by_node.get(query.node_id)
            by_node = [node_index] if node_index is not None else []
        options = [s for s in (by_status, by_node) if s is not None]
        if not options:
            return list(self._by_node.values())
        return min(options, key=lambda lists: sum(map(len, lists)))

    def _candidates(self, query: JobQuery) -> Iterator[JobRecord]:
        jobs, whole = self._jobs, self._whole
        for index in self._sources(query):
            for _, uuid in index:
                yield whole(jobs[uuid])

    def _walk_created(self, query: JobQuery) -> Iterator[JobRecord]:
        """Jobs matching ``query`` in createdAt order, starting after its cursor."""
        low: Key | None = (query.created_after, "") if query.created_after else None
        high: Key | None = (query.created_before, "") if query.created_before else None
        if query.after is not None:
            if query.descending:
                high = query.after if high is None else min(high, query.after)
            else:
                low = query.after if low is None else max(low, query.after)
        walks: Walks = [
            index.irange(low, high, inclusive=(True, False), reverse=query.descending)
            for index in self._sources(query)
        ]
        keys: Iterable[Key] = (
            walks[0] if len(walks) == 1 else heapq.merge(*walks, reverse=query.descending)
        )
        jobs, whole = self._jobs, self._whole
        after = query.after
        for key in keys:
            if key == after:
                continue
            job = whole(jobs[key[1]])
            if query.matches(job):
                yield job


def _key(record: JobRecord) -> Key:
    """A stored record always has its ``createdAt``: it is filled in where it came in."""
    return (record["createdAt"] or "", record["uuid"])


def _no_cluster() -> StateError:
    return StateError(
        "state.backend memory has no cluster: membership needs state.backend raft",
        "NOT_SUPPORTED",
    )
