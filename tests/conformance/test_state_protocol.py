"""The state protocol's contract, written once and run against every backend.

Each test talks to a real StateServer over its unix socket, through StateClient or by
hand; the ``backend`` fixture is parametrised over every backend (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joblet_cluster.common.errors import (
    AlreadyExists,
    IllegalTransition,
    NotFound,
    StateError,
)
from joblet_cluster.state import JobStatus, StateClient, StateServer, transition
from tests.support import RawConnection

S = JobStatus


def job(
    uuid: str,
    node: str = "node-1",
    status: str = "INITIALIZING",
    version: int = 1,
    created: str = "2026-01-01T00:00:00.000000Z",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "nodeId": node,
        "status": status,
        "version": version,
        "createdAt": created,
        "command": "echo",
        **fields,
    }


def at(second: int) -> str:
    return f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}.000000Z"


# -- create, get, update, delete -------------------------------------------------------------
async def test_create_then_get_returns_the_record(client: StateClient) -> None:
    result = await client.create(job("a1", labels={"team": "x"}))
    assert result.applied and result.version == 1
    stored = await client.get("a1")
    assert stored is not None
    assert stored["uuid"] == "a1" and stored["labels"] == {"team": "x"}


async def test_create_without_created_at_is_stamped(client: StateClient) -> None:
    record = job("a2")
    del record["createdAt"]
    await client.create(record)
    stored = await client.get("a2")
    assert stored is not None and stored["createdAt"].endswith("Z")


async def test_secret_values_never_reach_the_store(client: StateClient) -> None:
    await client.create(job("sec", secretEnvironment={"TOKEN": "hunter2"}))
    stored = await client.get("sec")
    assert stored is not None and stored["secretEnvironment"] == {"TOKEN": "***"}
    page, _ = await client.list()
    assert "hunter2" not in str(page)


async def test_newer_version_applies_and_stale_one_is_reported(client: StateClient) -> None:
    first = job("v1")
    await client.create(first)
    running = transition(first, "RUNNING", pid=42)
    assert (await client.update(running)).applied
    retried = await client.update(running)
    assert retried.applied is False and retried.version == 2
    old = {**first, "version": 1, "status": "INITIALIZING"}
    assert (await client.update(old)).applied is False
    stored = await client.get("v1")
    assert stored is not None and stored["status"] == "RUNNING" and stored["version"] == 2


async def test_stale_update_is_answered_as_stale_on_the_wire(server: StateServer) -> None:
    raw = await RawConnection.open(server.path)
    try:
        await raw.request({"op": "create", "requestId": 1, "job": job("w1", version=5)})
        answer = await raw.request({"op": "update", "requestId": 2, "job": job("w1", version=3)})
        assert answer["success"] is False
        assert answer["error"].startswith("STALE_VERSION: ")
        assert answer["version"] == 5
    finally:
        await raw.close()


async def test_illegal_transition_names_both_statuses(client: StateClient) -> None:
    first = job("t1")
    await client.create(first)
    done = transition(transition(first, "RUNNING"), "COMPLETED")
    await client.update({**done, "version": 2, "status": "RUNNING"})
    await client.update(done)
    with pytest.raises(IllegalTransition, match="COMPLETED to RUNNING"):
        await client.update({**done, "version": 9, "status": "RUNNING"})
    stored = await client.get("t1")
    assert stored is not None and stored["status"] == "COMPLETED"


async def test_terminal_job_keeps_its_status_but_other_fields_may_change(
    client: StateClient,
) -> None:
    await client.create(job("t2", status="RUNNING"))
    await client.update(job("t2", status="FAILED", version=2, error="boom"))
    assert (await client.update(job("t2", status="FAILED", version=3, error="boom!"))).applied
    with pytest.raises(IllegalTransition, match="FAILED to COMPLETED"):
        await client.update(job("t2", status="COMPLETED", version=4))


async def test_update_of_unknown_job_is_not_found(client: StateClient) -> None:
    with pytest.raises(NotFound, match="nope"):
        await client.update(job("nope", version=2))


async def test_created_at_cannot_change(client: StateClient) -> None:
    await client.create(job("c1"))
    with pytest.raises(StateError, match="createdAt cannot change") as caught:
        await client.update(job("c1", version=2, created=at(30)))
    assert caught.value.code == "IMMUTABLE_FIELD"


async def test_create_of_another_nodes_job_is_refused(client: StateClient) -> None:
    await client.create(job("dup", node="node-1"))
    with pytest.raises(AlreadyExists, match="node-1"):
        await client.create(job("dup", node="node-2", version=7))


async def test_create_retry_is_harmless(client: StateClient) -> None:
    await client.create(job("r1"))
    again = await client.create(job("r1"))
    assert again.applied is False and again.version == 1


async def test_delete(client: StateClient) -> None:
    await client.create(job("d1"))
    assert (await client.delete("d1")).applied
    assert await client.get("d1") is None
    with pytest.raises(NotFound):
        await client.delete("d1")


async def test_invalid_records_are_refused_with_a_code(server: StateServer) -> None:
    raw = await RawConnection.open(server.path)
    try:
        cases = [
            ({"op": "create", "job": job("../x")}, "INVALID_ID"),
            ({"op": "create", "job": {**job("ok"), "status": "DONE"}}, "INVALID_REQUEST"),
            ({"op": "create", "job": {**job("ok"), "version": 0}}, "INVALID_REQUEST"),
            ({"op": "create", "job": {**job("ok"), "createdAt": "yesterday"}}, "INVALID_REQUEST"),
            ({"op": "create", "job": {**job("ok"), "args": "ls"}}, "INVALID_REQUEST"),
            ({"op": "create", "jobId": "other", "job": job("ok")}, "INVALID_REQUEST"),
            ({"op": "create"}, "INVALID_REQUEST"),
            ({"op": "get"}, "INVALID_REQUEST"),
            ({"op": "delete", "jobId": "a/b"}, "INVALID_ID"),
            ({"op": "list", "filter": {"status": "DONE"}}, "INVALID_REQUEST"),
            ({"op": "list", "filter": {"cursor": "!!"}}, "INVALID_CURSOR"),
            ({"op": "frobnicate"}, "UNKNOWN_OP"),
        ]
        for i, (message, code) in enumerate(cases):
            answer = await raw.request({**message, "requestId": i})
            assert answer["requestId"] == i
            assert answer["success"] is False, message
            assert answer["error"].startswith(f"{code}: "), (message, answer)
        assert (await raw.request({"op": "ping", "requestId": "p"}))["success"] is True
        assert (await raw.request({"op": "get", "requestId": 99, "jobId": "ok"}))[
            "success"
        ] is False
    finally:
        await raw.close()


# -- batch -------------------------------------------------------------------------------------
async def test_a_batch_applies_each_change_in_order_and_answers_each(server: StateServer) -> None:
    raw = await RawConnection.open(server.path)
    try:
        await raw.request({"op": "create", "requestId": 0, "job": job("b0")})
        answer = await raw.request(
            {
                "op": "batch",
                "requestId": "b",
                "changes": [
                    {"op": "create", "job": job("b1")},
                    {"op": "update", "job": job("b1", status="RUNNING", version=2)},
                    {"op": "update", "job": job("b0", version=1)},  # stale
                    {"op": "create", "job": {**job("b2"), "status": "DONE"}},  # invalid
                    {"op": "frobnicate"},
                    {"op": "delete", "jobId": "../b0"},
                    "not an object",
                    {"op": "delete", "jobId": "b0"},
                    {"op": "update", "job": job("b9", version=2)},  # no such job
                ],
            }
        )
        assert answer["requestId"] == "b" and answer["success"] is True
        results = answer["results"]
        assert results[:2] == [1, 2]
        assert results[2]["version"] == 1 and results[2]["error"].startswith("STALE_VERSION: ")
        assert results[3]["error"].startswith("INVALID_REQUEST: changes[3].job.status")
        assert results[4]["error"].startswith("UNKNOWN_OP: changes[4]: op 'frobnicate'")
        assert results[5]["error"].startswith("INVALID_ID: changes[5].jobId")
        assert results[6] == {"error": "INVALID_REQUEST: changes[6] must be a JSON object"}
        assert results[7] == 1
        assert results[8]["error"].startswith("NOT_FOUND: ")
        assert len(results) == 9
        stored = await raw.request({"op": "get", "requestId": 1, "jobId": "b1"})
        assert (stored["job"]["status"], stored["job"]["version"]) == ("RUNNING", 2)
        gone = await raw.request({"op": "get", "requestId": 2, "jobId": "b0"})
        assert gone["error"].startswith("NOT_FOUND: ")
        empty = await raw.request({"op": "batch", "requestId": 3, "changes": []})
        assert empty == {"requestId": 3, "success": True, "results": []}
    finally:
        await raw.close()


async def test_a_malformed_batch_is_refused_whole(server: StateServer) -> None:
    raw = await RawConnection.open(server.path)
    try:
        too_many = [{"op": "delete", "jobId": f"j{i}"} for i in range(1025)]
        cases = [
            ({"op": "batch", "requestId": 1}, "INVALID_REQUEST"),
            ({"op": "batch", "requestId": 2, "changes": {"op": "create"}}, "INVALID_REQUEST"),
            ({"op": "batch", "requestId": 3, "changes": too_many}, "INVALID_REQUEST"),
        ]
        for message, code in cases:
            answer = await raw.request(message)
            assert answer["requestId"] == message["requestId"] and answer["success"] is False
            assert answer["error"].startswith(f"{code}: "), answer
        answer = await raw.request({"op": "batch", "changes": []})
        assert answer["error"].startswith("INVALID_REQUEST: requestId is missing"), answer
    finally:
        await raw.close()


async def test_pipelined_changes_are_each_answered_in_their_place(client: StateClient) -> None:
    records = [job(f"q{i}") for i in range(600)]
    created = await asyncio.gather(*await client.send_many("create", records))
    assert all(r.applied and r.version == 1 for r in created)
    updates = [job(f"q{i}", status="RUNNING", version=2) for i in range(600)]
    updates[10] = job("q10", version=1)  # stale: answered in its place, the rest apply
    results = await asyncio.gather(*await client.send_many("update", updates))
    assert results[10] == (False, 1)
    assert all(r.applied and r.version == 2 for i, r in enumerate(results) if i != 10)
    assert len([j async for j in client.list_all(status="RUNNING")]) == 599
    assert client.stats()["resends"] == 0


async def test_records_are_kept_for_a_resync_only_when_the_store_is_not_durable(
    client: StateClient,
) -> None:
    await asyncio.gather(*await client.send_many("create", [job(f"k{i}") for i in range(50)]))
    await client.delete("k0")
    assert client.durable is not None
    assert client.stats()["kept"] == (0 if client.durable else 49)


# -- pipelining --------------------------------------------------------------------------------
async def test_many_requests_in_flight_on_one_connection(server: StateServer) -> None:
    raw = await RawConnection.open(server.path)
    try:
        ids = [f"req-{i}" for i in range(300)]
        raw.send(
            b"".join(
                orjson.dumps({"op": "create", "requestId": rid, "job": job(f"p{i}")}) + b"\n"
                for i, rid in enumerate(ids)
            )
        )
        answers = [await raw.read() for _ in ids]
        assert sorted(a["requestId"] for a in answers) == sorted(ids)
        assert all(a["success"] for a in answers)
    finally:
        await raw.close()


async def test_per_job_order_holds_under_pipelining(client: StateClient) -> None:
    records = [job(f"o{i}") for i in range(50)]
    await asyncio.gather(*[await client.send("create", r) for r in records])
    futures = []
    latest = {}
    for round_ in range(20):
        for record in records:
            nxt = {
                **record,
                "version": record["version"] + round_ + 1,
                "status": "RUNNING",
                "pid": round_,
            }
            latest[record["uuid"]] = nxt
            futures.append(await client.send("update", nxt))
    results = await asyncio.gather(*futures)
    assert all(r.applied for r in results), "in-order changes are never stale"
    for uuid, record in latest.items():
        assert await client.get(uuid) == record


# -- list ----------------------------------------------------------------------------------------
async def seed(client: StateClient) -> list[dict[str, Any]]:
    statuses = [s.value for s in JobStatus]
    records = [
        job(
            f"l{i:03d}",
            node=f"node-{i % 3}",
            status=statuses[i % len(statuses)],
            created=at(i),
            labels={"team": "a" if i % 2 else "b", "tier": str(i % 4)},
            startTime=at(100 - i) if i % 5 else None,
            updatedAt=at(200 + (i * 7) % 60),
        )
        for i in range(60)
    ]
    for record in records:
        if record.get("startTime") is None:
            record.pop("startTime")
    await asyncio.gather(*[await client.send("create", r) for r in records])
    return records


async def list_all(client: StateClient, **filter: Any) -> list[dict[str, Any]]:
    return [j async for j in client.list_all(**filter)]


async def test_list_filters(client: StateClient) -> None:
    records = await seed(client)

    async def uuids(**filter: Any) -> list[str]:
        return [j["uuid"] for j in await list_all(client, **filter)]

    def expect(pred: Any) -> list[str]:
        return [r["uuid"] for r in records if pred(r)]

    assert await uuids() == expect(lambda r: True)
    assert await uuids(status="RUNNING") == expect(lambda r: r["status"] == "RUNNING")
    assert await uuids(statuses=["FAILED", "STOPPED"]) == expect(
        lambda r: r["status"] in ("FAILED", "STOPPED")
    )
    assert await uuids(nodeId="node-2") == expect(lambda r: r["nodeId"] == "node-2")
    assert await uuids(nodeId="node-2", status="SCHEDULED") == expect(
        lambda r: r["nodeId"] == "node-2" and r["status"] == "SCHEDULED"
    )
    assert await uuids(labels="team=a,tier!=1") == expect(
        lambda r: r["labels"]["team"] == "a" and r["labels"]["tier"] != "1"
    )
    assert await uuids(labels={"tier": "2"}) == expect(lambda r: r["labels"]["tier"] == "2")
    assert await uuids(labels="!team") == []
    assert await uuids(createdAfter=at(10), createdBefore=at(20)) == expect(
        lambda r: at(10) <= r["createdAt"] < at(20)
    )
    assert await uuids(updatedAfter=at(230), updatedBefore=at(240)) == expect(
        lambda r: at(230) <= r["updatedAt"] < at(240)
    )
    assert await uuids(nodeId="node-9") == []


@pytest.mark.parametrize("sort_by", ["createdAt", "updatedAt", "startTime", "status"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_list_sorts_and_pages_without_gaps_or_repeats(
    client: StateClient, sort_by: str, order: str
) -> None:
    records = await seed(client)
    expected = sorted(
        records, key=lambda r: (r.get(sort_by) or "", r["uuid"]), reverse=order == "desc"
    )
    pages = []
    cursor = None
    while True:
        filter: dict[str, Any] = {"sortBy": sort_by, "order": order, "limit": 7}
        if cursor:
            filter["cursor"] = cursor
        page, cursor = await client.list(**filter)
        assert len(page) <= 7
        pages.append(page)
        if not cursor:
            break
    got = [j["uuid"] for page in pages for j in page]
    assert got == [r["uuid"] for r in expected]
    assert len(pages) == -(-len(records) // 7)


async def test_list_cursor_of_another_order_is_refused(client: StateClient) -> None:
    await seed(client)
    _, cursor = await client.list(limit=5)
    with pytest.raises(StateError, match="another sortBy or order") as caught:
        await client.list(limit=5, order="desc", cursor=cursor)
    assert caught.value.code == "INVALID_CURSOR"


async def test_list_sees_status_changes(client: StateClient) -> None:
    first = job("s1")
    await client.create(first)
    await client.update(transition(first, "RUNNING"))
    assert [j["uuid"] for j in await list_all(client, status="RUNNING")] == ["s1"]
    assert await list_all(client, status="INITIALIZING") == []


# -- sync ----------------------------------------------------------------------------------------
async def test_sync_replaces_one_nodes_jobs_only(client: StateClient) -> None:
    await client.create(job("mine-old", node="node-1"))
    await client.create(job("mine-kept", node="node-1", version=1))
    await client.create(job("mine-newer", node="node-1", version=5))
    await client.create(job("theirs", node="node-2"))
    result = await client.sync(
        "node-1",
        [
            job("mine-kept", node="node-1", version=2, status="RUNNING"),
            job("mine-newer", node="node-1", version=3),
            job("mine-new", node="node-1"),
        ],
    )
    assert (result["created"], result["updated"], result["deleted"]) == (1, 1, 1)
    assert result["stale"] == ["mine-newer"]
    assert await client.get("mine-old") is None
    assert (await client.get("mine-kept"))["version"] == 2  # type: ignore[index]
    assert (await client.get("mine-newer"))["version"] == 5  # type: ignore[index]
    assert await client.get("theirs") is not None


async def test_sync_in_parts(client: StateClient) -> None:
    records = [job(f"big{i:05d}", labels={"pad": "x" * 200}) for i in range(2500)]
    result = await client.sync("node-1", records)
    assert result["created"] == 2500
    assert len(await list_all(client, nodeId="node-1")) == 2500


async def test_sync_refuses_another_nodes_job(server: StateServer) -> None:
    raw = await RawConnection.open(server.path)
    try:
        answer = await raw.request(
            {"op": "sync", "requestId": 1, "nodeId": "node-1", "jobs": [job("x", node="node-2")]}
        )
        assert answer["error"].startswith("INVALID_REQUEST: ") and "node-2" in answer["error"]
    finally:
        await raw.close()


# -- watch ---------------------------------------------------------------------------------------
async def test_watch_streams_every_change_in_order(client: StateClient) -> None:
    async with client.watch() as events, client.watch(node_id="node-2") as node2_events:
        first = job("w-a")
        await client.create(first)
        await client.update(transition(first, "RUNNING"))
        await client.create(job("w-b", node="node-2"))
        await client.delete("w-a")
        seen = [await asyncio.wait_for(events.__anext__(), 5) for _ in range(4)]
        assert [(e["type"], e["job"]["uuid"], e["job"]["version"]) for e in seen] == [
            ("put", "w-a", 1),
            ("put", "w-a", 2),
            ("put", "w-b", 1),
            ("delete", "w-a", 2),
        ]
        revisions = [e["revision"] for e in seen]
        assert revisions == sorted(revisions) and len(set(revisions)) == 4
        only = await asyncio.wait_for(node2_events.__anext__(), 5)
        assert only["job"]["uuid"] == "w-b"


async def test_unwatch_stops_events(server: StateServer, client: StateClient) -> None:
    raw = await RawConnection.open(server.path)
    try:
        assert (await raw.request({"op": "watch", "requestId": "w"}))["watching"] is True
        await client.create(job("u1"))
        assert (await raw.read())["job"]["uuid"] == "u1"
        answer = await raw.request({"op": "unwatch", "requestId": 2, "watchId": "w"})
        assert answer == {"requestId": 2, "success": True}
        await client.create(job("u2"))
        ping = await raw.request({"op": "ping", "requestId": 3})
        assert ping["requestId"] == 3, "no event may arrive after unwatch"
        missing = await raw.request({"op": "unwatch", "requestId": 4, "watchId": "w"})
        assert missing["error"].startswith("NOT_FOUND: ")
    finally:
        await raw.close()


# -- the version rule, as a property --------------------------------------------------------------
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(versions=st.lists(st.integers(min_value=2, max_value=40), min_size=1, max_size=30))
async def test_store_ends_at_the_highest_version_whatever_the_order(
    client: StateClient, versions: list[int]
) -> None:
    uuid = f"prop-{abs(hash(tuple(versions))) % 10**9}"
    if await client.get(uuid) is None:
        await client.create(job(uuid, status="RUNNING"))
    current = (await client.get(uuid))["version"]  # type: ignore[index]
    for version in versions:
        result = await client.update(job(uuid, status="RUNNING", version=version, pid=version))
        assert result.applied == (version > current)
        current = max(current, version)
    stored = await client.get(uuid)
    assert stored is not None and stored["version"] == current
    if current > 1:
        assert stored["pid"] == current


async def test_ping_describes_the_service(client: StateClient, backend_name: str) -> None:
    info = await client.ping()
    assert info["backend"] == backend_name
    assert isinstance(info["instanceId"], str) and len(info["instanceId"]) == 32
    assert isinstance(info["durable"], bool)
    if backend_name == "raft":  # what the node's watchdog judges the replica by
        assert info["raft"]["tickThreadAlive"] is True
        assert info["raft"]["tickFailures"] == 0
        assert info["raft"]["role"] in ("follower", "candidate", "leader")
    else:
        assert "raft" not in info


async def test_sync_never_moves_created_at_and_keeps_indexes_whole(server: StateServer) -> None:
    raw = await RawConnection.open(server.path)
    try:
        for version in (1, 2):
            record = job("nc", version=version)
            del record["createdAt"]
            answer = await raw.request(
                {"op": "sync", "requestId": version, "nodeId": "node-1", "jobs": [record]}
            )
            assert answer["success"], answer
        stored = await raw.request({"op": "get", "requestId": 3, "jobId": "nc"})
        created = stored["job"]["createdAt"]
        page = await raw.request({"op": "list", "requestId": 4, "filter": {"nodeId": "node-1"}})
        assert [j["createdAt"] for j in page["jobs"]] == [created]
        assert (await raw.request({"op": "delete", "requestId": 5, "jobId": "nc"}))["success"]
        assert (await raw.request({"op": "list", "requestId": 6}))["jobs"] == []
    finally:
        await raw.close()


async def test_sync_leaves_another_nodes_job_alone(client: StateClient) -> None:
    await client.create(job("owned", node="node-2"))
    result = await client.sync("node-1", [job("owned", node="node-1", version=9)])
    assert result["conflicts"] == ["owned"] and result["created"] == 0
    stored = await client.get("owned")
    assert stored is not None and stored["nodeId"] == "node-2" and stored["version"] == 1
    assert [j["uuid"] for j in await list_all(client, nodeId="node-2")] == ["owned"]
    assert await list_all(client, nodeId="node-1") == []


async def test_refusals_carry_the_stored_version(client: StateClient) -> None:
    await client.create(job("rv", status="RUNNING", version=4))
    await client.update(job("rv", status="COMPLETED", version=5))
    with pytest.raises(IllegalTransition) as caught:
        await client.update(job("rv", status="RUNNING", version=6))
    assert caught.value.version == 5


async def test_a_watcher_that_stops_reading_is_cut_off_not_the_service(
    server: StateServer, client: StateClient
) -> None:
    """Watch output is bounded: a reader that falls 16 MiB behind loses its watch only."""
    loop = asyncio.get_running_loop()
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setblocking(False)
    await loop.sock_connect(stuck, str(server.path))
    try:
        await loop.sock_sendall(stuck, b'{"op":"watch","requestId":"slow"}\n')
        big = {"blob": "x" * 65_536}
        futures = [await client.send("create", job(f"big-{i}", labels=big)) for i in range(400)]
        results = await asyncio.gather(*futures)
        assert all(r.applied for r in results), "writers are never held back by a watcher"
        received = bytearray()
        deadline = loop.time() + 30
        while b"WATCH_OVERFLOW" not in received[-4096:]:  # drain what was queued for it
            assert loop.time() < deadline, "no WATCH_OVERFLOW for a reader 26 MB behind"
            received += await asyncio.wait_for(loop.sock_recv(stuck, 1 << 20), 30)
        last = orjson.loads(bytes(received).rstrip(b"\n").rsplit(b"\n", 1)[-1])
        assert last["requestId"] == "slow"
        assert last["error"].startswith("WATCH_OVERFLOW: ")
        events = received.count(b'"event":"put"')
        assert 0 < events < 400, "the watch was cut off part-way"
    finally:
        stuck.close()
    assert len(await list_all(client)) == 400
