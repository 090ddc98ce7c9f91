"""One node's replica of the job store, kept the same on every node by pysyncobj.

The replicated methods run on every node, in log order, on pysyncobj's thread: each
applies a whole batch of changes (group commit) under the same compare-and-set rules as
every other backend (:func:`~joblet_cluster.state._changes.decide`), so a retried batch
is harmless. A batch travels as one msgpack blob (:func:`pack_changes`): pysyncobj
pickles every argument into the log and unpickles it on every node, and pickling hundreds
of records one object at a time was most of a replica's work. Only the records are
serialised into snapshots; the indexes and the watchers are rebuilt or kept around a
snapshot that replaces the state.

The replica that sent an entry already holds its changes, decoded and checked: it keeps
them with the entry's bytes (:meth:`JobReplica.pack`) and applies those when the same
bytes come back through the log. The others decode only each change's head and keep the
record packed until it is read (:mod:`~joblet_cluster.state.backends._packed`): each
change travels as ``[op, job_id, record, nodeId, version, status, createdAt]``. A release
before the head was added reads the first three and ignores the rest; its entries (in a
journal, say) have no head and are decoded whole.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import msgspec
from pysyncobj import SyncObjConsumer, replicated

from joblet_cluster.state._changes import Change, Outcome
from joblet_cluster.state._record import JobRecord
from joblet_cluster.state.backends._base import SyncResult
from joblet_cluster.state.backends._memory import MemoryBackend
from joblet_cluster.state.backends._packed import PACKED, decode_record


class _Packed(msgspec.Struct, array_like=True, gc=False):
    """A change as a replica that did not send it decodes it: the record left packed."""

    op: str
    job_id: str
    record: msgspec.Raw
    node_id: str | None = None  # None: an entry from before heads, decoded whole
    version: int = 0
    status: str = ""
    created_at: str | None = None


_ENCODER = msgspec.msgpack.Encoder()
_ENTRY = msgspec.msgpack.Decoder(list[_Packed])
_RECORDS = msgspec.msgpack.Decoder(list[dict[str, Any]])


def pack_changes(changes: Sequence[Change]) -> bytes:
    return _ENCODER.encode(
        [
            (c.op, c.job_id, None)
            if (r := c.record) is None
            else (c.op, c.job_id, r, r["nodeId"], r["version"], r["status"], r.get("createdAt"))
            for c in changes
        ]
    )


def unpack_changes(packed: bytes) -> list[Change]:
    """:func:`pack_changes` undone, each record left packed."""
    changes: list[Change] = []
    append_change = changes.append
    for c in _ENTRY.decode(packed):
        record: Any
        if c.node_id is not None:
            record = {
                "uuid": c.job_id,
                "nodeId": c.node_id,
                "status": c.status,
                "version": c.version,
                # None when an update left it out: the store keeps its own. Always set,
                # as a sixth key added later would make the dict grow.
                "createdAt": c.created_at,
                PACKED: bytes(c.record),
            }
        elif c.op == "delete":
            record = None
        else:
            record = decode_record(c.record)  # an entry from before heads
        append_change(Change(c.op, c.job_id, record))  # type: ignore[arg-type]
    return changes


_NOT_SENT: tuple[bytes, Sequence[Change]] = (b"", ())  # no entry is empty


def _fingerprint(packed: bytes) -> bytes:
    """What the sender finds its own entries by. Keyed by the whole entry, each lookup
    hashed its ~250 KB (90 us) on every replica, a miss on the two that did not send
    it. The start names the entry's first job and the end its last change: the tail
    alone was shared by most entries (jobs of one node differ little at their end). The
    bytes are compared on a hit, so an entry that shares a fingerprint with another is
    only decoded, never mistaken for it."""
    return packed[:64] + packed[-32:]


def pack_records(records: Sequence[JobRecord]) -> bytes:
    return _ENCODER.encode(records)


class JobReplica(SyncObjConsumer):
    def __init__(self) -> None:
        # Set before SyncObjConsumer.__init__: not part of the replicated state.
        self.lock = threading.Lock()  # the loop thread reads while pysyncobj's thread applies
        self.store = MemoryBackend()
        # entries in flight from here, by _fingerprint, with their bytes
        self.sent: dict[bytes, tuple[bytes, Sequence[Change]]] = {}
        super().__init__()
        # Set after it: serialised into snapshots (plain records only).
        self.records: dict[str, JobRecord] = self.store._jobs
        self.registry: dict[str, dict[str, Any]] = self.store.registry

    def pack(self, changes: Sequence[Change]) -> bytes:
        """:func:`pack_changes`, remembered until :meth:`commit` applies it or the
        sender gives up on it (:meth:`forget`)."""
        packed = pack_changes(changes)
        self.sent[_fingerprint(packed)] = (packed, changes)
        return packed

    def forget(self, packed: bytes) -> None:
        """Once the sender stops waiting: an entry that commits after that (its wait
        timed out) is decoded like any other."""
        kept = self.sent.get(key := _fingerprint(packed))
        if kept is not None and kept[0] is packed:
            del self.sent[key]

    @replicated
    def commit(self, packed: bytes) -> list[Outcome]:
        """The changes :func:`pack_changes` packed, applied in order."""
        kept = self.sent.pop(_fingerprint(packed), _NOT_SENT)
        # not kept: another node's entry, or one that only shares a fingerprint with ours
        changes = kept[1] if kept[0] == packed else unpack_changes(packed)
        with self.lock:
            return self.store.apply_now(changes)

    @replicated
    def sync_node(self, node_id: str, packed: bytes) -> SyncResult:
        """``node_id``'s jobs, as :func:`pack_records` packed them."""
        jobs: list[JobRecord] = _RECORDS.decode(packed)  # type: ignore[assignment]
        with self.lock:
            return self.store.sync_now(node_id, jobs)

    @replicated
    def restore_jobs(self, packed: bytes, first: bool) -> None:
        """One part of a restored snapshot (:func:`pack_records`); ``first`` empties."""
        jobs: list[JobRecord] = _RECORDS.decode(packed)  # type: ignore[assignment]
        with self.lock:
            self.store.restore_now(jobs, first)

    @replicated
    def barrier(self) -> None:
        """Nothing: once applied here, every entry committed before it is applied too."""

    @replicated
    def register_node(self, node: dict[str, Any]) -> None:
        """The node's entry as it sent it; its heartbeat time is an argument, stamped by
        the state service that took the call, never read here."""
        with self.lock:
            self.registry[node["nodeId"]] = node

    def _deserialize(self, data: dict[str, Any]) -> None:
        """A snapshot replaces the records (the store rebuilds its indexes in place and
        keeps its watchers) and the registry."""
        with self.lock:
            self.store.restore_now(list(data["records"].values()), first=True)
            self.store.registry = self.registry = data.get("registry", {})
