"""How a batch of changes travels in a raft entry, and how a replica that did not send it
reads it back: heads decoded, records left packed until read."""

from __future__ import annotations

import asyncio
import gc

import msgspec

from joblet_cluster.cluster.replica import JobReplica, pack_changes, unpack_changes
from joblet_cluster.state._changes import Change
from joblet_cluster.state._query import JobQuery
from joblet_cluster.state.backends._memory import MemoryBackend
from joblet_cluster.state.backends._packed import PACKED, unpack
from tests.support import new_job

CREATED = new_job("job-1", "node-1", labels={"team": "a"}, args=["-c", "pass"])
UPDATED = {**CREATED, "status": "RUNNING", "version": 2, "pid": 7}
del UPDATED["createdAt"]  # left out: the store keeps the one it holds


async def test_records_stay_packed_until_read_and_read_back_whole() -> None:
    changes = unpack_changes(
        pack_changes(
            [
                Change("create", "job-1", CREATED),
                Change("update", "job-1", UPDATED),
                Change("delete", "job-2"),
            ]
        )
    )
    assert [(c.op, c.job_id) for c in changes] == [
        ("create", "job-1"),
        ("update", "job-1"),
        ("delete", "job-2"),
    ]
    created, updated, deleted = (c.record for c in changes)
    assert deleted is None
    assert PACKED in created and not gc.is_tracked(created)  # nothing for the collector
    assert updated["createdAt"] is None  # as good as left out
    assert unpack(created) == CREATED

    store = MemoryBackend()
    assert store.apply_now(changes[:2]) == [1, 2]
    assert PACKED in store._jobs["job-1"]
    whole = {**UPDATED, "createdAt": CREATED["createdAt"]}
    assert (await store.snapshot()).jobs == [whole]
    assert PACKED in store._jobs["job-1"]  # a snapshot copies, it does not keep
    page = await store.list(JobQuery.from_wire({"labels": "team=a", "status": "RUNNING"}))
    assert page.jobs == [whole]
    assert store._jobs["job-1"] == whole  # read once, kept whole
    assert await store.get("job-1") == whole


def test_an_entry_from_a_release_without_heads_is_decoded_whole() -> None:
    old = msgspec.msgpack.encode([Change("create", "job-1", CREATED), Change("delete", "job-1")])
    create, delete = unpack_changes(old)
    assert create.record == CREATED and PACKED not in create.record
    assert delete.record is None


def test_the_sender_applies_its_own_changes_and_a_shared_fingerprint_is_only_decoded() -> None:
    replica = JobReplica()
    first = [Change("create", "job-1", dict(CREATED))]
    packed = replica.pack(first)
    # what comes back through the log is an equal entry, not the same object
    assert replica.commit(bytes(bytearray(packed)), _doApply=True) == [1]
    assert replica.store._jobs["job-1"] is first[0].record  # kept, not decoded again
    assert replica.sent == {}

    # an entry that starts and ends like one in flight, but is another: decoded only
    update = Change("update", "job-1", dict(UPDATED))
    job_2 = new_job("job-2", "node-1", labels={"team": "a"})
    mine = replica.pack([Change("create", "job-2", job_2), update])
    other_job_2 = {**job_2, "labels": {"team": "b"}}
    other = pack_changes([Change("create", "job-2", other_job_2), update])
    assert other != mine and (other[:64], other[-32:]) == (mine[:64], mine[-32:])
    assert replica.commit(other, _doApply=True) == [1, 2]
    assert PACKED in replica.store._jobs["job-1"]  # the decoded head, not my record
    assert asyncio.run(replica.store.get("job-2")) == other_job_2
    replica.forget(mine)
    assert replica.sent == {}
