"""The contract every state backend fulfils; the conformance suite holds each to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from joblet_cluster.state._changes import Change, Outcome
from joblet_cluster.state._query import JobQuery
from joblet_cluster.state._record import JobRecord

#: ``{"type": "put"|"delete", "job": record, "revision": n}``: one committed change.
WatchEvent = dict[str, Any]
WatchCallback = Callable[[WatchEvent], None]
#: ``{"nodeId", "address", "version", "runningJobs", "heartbeat"}``: one registered node.
NodeEntry = dict[str, Any]
NodeList = list[NodeEntry]  # an alias: inside the backends, ``list`` names a method


@dataclass(slots=True)
class JobPage:
    jobs: list[JobRecord]
    next_cursor: str | None = None


@dataclass(slots=True)
class SyncResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    stale: list[str] = field(default_factory=list)  # jobs the store holds at a newer version
    conflicts: list[str] = field(default_factory=list)  # ids stored as another node's jobs


@dataclass(slots=True)
class StoreSnapshot:
    """Every job at one point of the store's history (a raft log index, when replicated)."""

    jobs: list[JobRecord]
    index: int | None = None  # the raft index applied when it was taken
    term: int | None = None


class StateBackend(Protocol):
    """Where job records live. Writes arrive in batches so a backend can group-commit."""

    name: str
    durable: bool  # survives a restart of the state service
    #: requests of one connection served between two writes of answers, and the changes
    #: one :meth:`apply` gets (a batch request is never split, so one may bring up to
    #: ``MAX_BATCH_CHANGES`` more): small where applying is instant (answers leave
    #: sooner, the client refills its pipeline meanwhile), large where a commit has
    #: latency (raft: more changes share each round trip)
    batch_limit: int

    async def apply(self, changes: Sequence[Change]) -> list[Outcome]:
        """Apply each change in order under :func:`~joblet_cluster.state._changes.decide`."""

    async def get(self, job_id: str) -> JobRecord | None: ...

    async def list(self, query: JobQuery) -> JobPage: ...

    async def sync(self, node_id: str, jobs: Sequence[JobRecord]) -> SyncResult:
        """Make ``node_id``'s jobs exactly ``jobs``: the owner's word, without lifecycle checks.

        Newer stored versions are kept (``stale``), ``createdAt`` never changes, and an id
        stored as another node's job is left alone (``conflicts``).
        """

    async def count(self) -> int: ...

    async def register_node(self, node: NodeEntry) -> None:
        """Record a node in the registry (its id, API address, version, heartbeat)."""

    async def nodes(self) -> NodeList:
        """Every registered node, as last registered."""

    def cluster_status(self) -> dict[str, Any] | None:
        """The replication's view (leader, term, commit index, peers); None without one."""

    def freshness(self) -> dict[str, Any] | None:
        """How current a local read is (the leader, the replica's applied index); None
        where every read is current."""

    async def read_barrier(self) -> None:
        """Return once a read here sees every change committed before the call
        (``consistent: true`` reads)."""

    async def snapshot(self) -> StoreSnapshot:
        """Every job, consistent (one point of history) and at least as fresh as the call."""

    async def restore(self, jobs: Sequence[JobRecord], first: bool) -> None:
        """Disaster recovery: ``first`` empties the store, then ``jobs`` are stored as they
        are (parts of one snapshot follow with ``first`` False)."""

    async def change_membership(self, action: str, address: str) -> None:
        """Add (``action`` "add") or remove a raft member; StateError where there is none."""

    async def transfer_leadership(self, address: str | None) -> str:
        """Hand leadership to ``address`` (None: the most caught-up peer); the new leader."""

    def subscribe(self, callback: WatchCallback, node_id: str | None = None) -> Callable[[], None]:
        """Call ``callback`` for every committed change; returns the unsubscribe function."""

    async def close(self) -> None: ...
