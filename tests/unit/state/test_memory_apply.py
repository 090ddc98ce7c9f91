"""The memory store applies every change exactly as decide() rules, fast paths included.

``MemoryBackend.apply_now`` accepts the common create and update inline, without calling
:func:`decide`; these tests hold it to a model that applies each change through
``decide`` alone, for every kind of change, and check what a read sees afterwards.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.state import Change, decide
from joblet_cluster.state._lifecycle import STATUS_VALUES
from joblet_cluster.state._query import JobQuery
from joblet_cluster.state.backends._memory import MemoryBackend

CREATED = ["2026-11-22T10:00:00.000000Z", "2026-11-22T11:00:00.000000Z"]
STATUSES = sorted(STATUS_VALUES)

change = st.builds(
    lambda op, job, node, version, status, created: (op, job, node, version, status, created),
    st.sampled_from(["create", "create", "update", "update", "update", "delete"]),
    st.integers(0, 3),
    st.sampled_from(["node-1", "node-1", "node-2"]),
    st.integers(1, 6),
    st.sampled_from(STATUSES),
    st.sampled_from([*CREATED, "absent", None, ""]),  # an update may leave createdAt out
)


def _change(op: str, job: int, node: str, version: int, status: str, created: str | None) -> Change:
    job_id = f"job-{job}"
    if op == "delete":
        return Change("delete", job_id)
    record: dict[str, Any] = {"uuid": job_id, "nodeId": node, "status": status}
    record["version"] = version
    if op == "create":
        record["createdAt"] = created if created in CREATED else CREATED[0]  # always filled in
    elif created != "absent":
        record["createdAt"] = created
    return Change(op, job_id, record)  # type: ignore[arg-type]


def _model_apply(jobs: dict[str, dict[str, Any]], change: Change) -> object:
    """One change through decide() alone: the rule the store must follow."""
    stored = jobs.get(change.job_id)
    refusal = decide(stored, change)
    if refusal is not None:
        return (type(refusal), refusal.code, refusal.version)
    if change.record is None:
        assert stored is not None
        del jobs[change.job_id]
        return stored["version"]
    record = dict(change.record)
    if stored is not None:
        record["createdAt"] = stored["createdAt"]  # it never changes
    jobs[change.job_id] = record
    return record["version"]


def _seen(outcome: object) -> object:
    if isinstance(outcome, Exception):
        return (type(outcome), outcome.code, outcome.version)  # type: ignore[attr-defined]
    return outcome


@given(st.lists(st.lists(change, max_size=12), max_size=8))
def test_batches_apply_as_decide_rules_each_change(batches: list[list[tuple]]) -> None:
    store = MemoryBackend()
    events: list[dict[str, Any]] = []
    store.subscribe(events.append)
    model: dict[str, dict[str, Any]] = {}
    applied = 0
    for batch in batches:
        changes = [_change(*spec) for spec in batch]
        expected = [_model_apply(model, _change(*spec)) for spec in batch]
        assert [_seen(o) for o in store.apply_now(changes)] == expected
        applied += sum(1 for o in expected if isinstance(o, int))

    assert asyncio.run(store.snapshot()).jobs == list(model.values())
    for status in STATUSES:
        page = asyncio.run(store.list(JobQuery(statuses=frozenset({status}))))
        wanted = [j for j in model.values() if j["status"] == status]
        assert sorted(j["uuid"] for j in page.jobs) == sorted(j["uuid"] for j in wanted)
    for node in ("node-1", "node-2"):
        page = asyncio.run(store.list(JobQuery(node_id=node)))
        assert sorted(j["uuid"] for j in page.jobs) == sorted(
            j["uuid"] for j in model.values() if j["nodeId"] == node
        )
    assert [e["revision"] for e in events] == list(range(1, applied + 1))


def test_a_watcher_hears_every_applied_change_with_its_revision() -> None:
    store = MemoryBackend()
    store.apply_now([_change("create", 1, "node-1", 1, "INITIALIZING", CREATED[0])])
    events: list[dict[str, Any]] = []
    store.subscribe(events.append)

    outcomes = store.apply_now(
        [
            _change("update", 1, "node-1", 2, "RUNNING", "absent"),
            _change("update", 1, "node-1", 2, "RUNNING", "absent"),  # stale: not heard
            _change("create", 2, "node-2", 1, "SCHEDULED", CREATED[1]),
            _change("delete", 1, "node-1", 1, "RUNNING", "absent"),
        ]
    )

    assert _seen(outcomes[1])[1] == "STALE_VERSION"  # type: ignore[index]
    assert [(e["type"], e["job"]["uuid"], e["revision"]) for e in events] == [
        ("put", "job-1", 2),
        ("put", "job-2", 3),
        ("delete", "job-1", 4),
    ]
    assert events[0]["job"]["createdAt"] == CREATED[0]  # kept from the stored record
