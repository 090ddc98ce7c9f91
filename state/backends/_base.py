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


class StateBackend(Protocol):
    """Where job records live. Writes arrive in batches so a backend can group-commit."""

    name: str
    durable: bool  # survives a restart of the state service
    #: requests of one connection served between two writes of answers, and so the
    #: most changes one :meth:`apply` gets: small where applying is instant (answers
    #: leave sooner, the client refills its pipeline meanwhile), large where a commit
    #: has latency (raft: more changes share each round trip)
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

    def subscribe(self, callback: WatchCallback, node_id: str | None = None) -> Callable[[], None]:
        """Call ``callback`` for every committed change; returns the unsubscribe function."""

    async def close(self) -> None: ...
