"""StateClient against a real ``joblet state`` process that gets killed, frozen and restarted."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from joblet_cluster.common.errors import StateUnavailable
from joblet_cluster.state import StateClient
from tests.support import (
    start_state,
    state_service,
    stop,
    wait_for_socket,
    wait_until,
    write_config,
)


def versions_of(uuid: str, count: int) -> list[dict[str, Any]]:
    base = {
        "uuid": uuid,
        "nodeId": "node-1",
        "command": "work",
        "createdAt": "2026-01-01T00:00:00.000000Z",
    }
    out = [{**base, "status": "INITIALIZING", "version": 1}]
    for v in range(2, count + 1):
        out.append({**base, "status": "RUNNING", "version": v, "pid": v})
    return out


@pytest.mark.slow
async def test_sigkill_and_restart_loses_nothing(sock_dir: Path) -> None:
    """10,000 changes over 1,000 jobs; the service is SIGKILLed mid-stream and restarted.

    With the memory backend the restarted service is empty: the client notices the new
    instance, restores its acknowledged jobs with sync, resends what was unanswered,
    and every job ends at its last version, exactly as last written.
    """
    config = write_config(sock_dir)
    sock = sock_dir / "run" / "state.sock"
    proc = start_state(config)
    wait_for_socket(sock, proc)
    jobs = [versions_of(f"job-{i:04d}", 10) for i in range(1000)]
    changes = [
        (("create" if v["version"] == 1 else "update"), v)
        for r in range(10)
        for versions in jobs
        for v in [versions[r]]
    ]
    assert len(changes) == 10_000
    answered = 0

    def count(_: asyncio.Future[Any]) -> None:
        nonlocal answered
        answered += 1

    async with StateClient(sock, node_id="node-1", max_in_flight=64, max_pending=2000) as client:

        async def produce() -> list[asyncio.Future[Any]]:
            futures = []
            for op, record in changes:
                future = await client.send(op, record)
                future.add_done_callback(count)
                futures.append(future)
            return futures

        producer = asyncio.create_task(produce())
        await wait_until(lambda: answered >= 3000, 30, "3,000 answers before the kill")
        stop(proc, signal.SIGKILL)
        killed_at = answered
        assert killed_at < 10_000, "the kill must land mid-stream"
        proc = start_state(config)
        wait_for_socket(sock, proc)
        futures = await asyncio.wait_for(producer, 60)
        results = await asyncio.wait_for(asyncio.gather(*futures), 60)
        assert all(r.version is not None for r in results)
        assert client.resyncs == 1
        assert client.reconnects >= 1
        async with StateClient(sock) as checker:
            stored = {j["uuid"]: j async for j in checker.list_all(nodeId="node-1")}
        assert len(stored) == 1000
        for versions in jobs:
            assert stored[versions[-1]["uuid"]] == versions[-1], "a job is not at its last version"
    assert stop(proc) == 0


async def test_a_frozen_service_pushes_back_instead_of_dropping(sock_dir: Path) -> None:
    config = write_config(sock_dir)
    sock = sock_dir / "run" / "state.sock"
    proc = start_state(config)
    wait_for_socket(sock, proc)
    try:
        async with StateClient(sock, node_id="node-1", max_in_flight=16, max_pending=100) as client:
            proc.send_signal(signal.SIGSTOP)
            records = [versions_of(f"bp-{i}", 1)[0] for i in range(500)]
            sent: list[asyncio.Future[Any]] = []

            async def produce() -> None:
                for record in records:
                    sent.append(await client.send("create", record))

            producer = asyncio.create_task(produce())
            await wait_until(lambda: len(sent) == 100, 10, "the queue to fill")
            stats = client.stats()
            assert stats["pending"] + stats["inFlight"] == 100
            assert not producer.done(), "a full queue must make the sender wait"
            assert len(sent) == 100
            proc.send_signal(signal.SIGCONT)
            await asyncio.wait_for(producer, 30)
            results = await asyncio.wait_for(asyncio.gather(*sent), 30)
            assert len(results) == 500 and all(r.applied for r in results)
    finally:
        proc.send_signal(signal.SIGCONT)
        assert stop(proc) == 0


async def test_start_fails_clearly_when_nothing_listens(sock_dir: Path) -> None:
    client = StateClient(sock_dir / "absent.sock", connect_timeout=0.3)
    with pytest.raises(StateUnavailable, match=r"absent\.sock"):
        await client.start()


async def test_reads_wait_for_a_restarted_service(sock_dir: Path) -> None:
    config = write_config(sock_dir)
    sock = sock_dir / "run" / "state.sock"
    proc = start_state(config)
    wait_for_socket(sock, proc)
    async with StateClient(sock, node_id="node-1") as client:
        await client.create(versions_of("r-1", 1)[0])
        stop(proc, signal.SIGKILL)
        pending_read = asyncio.create_task(client.get("r-1"))
        await wait_until(lambda: client.reconnects >= 1, 10, "the client to notice the loss")
        assert not pending_read.done()
        proc = start_state(config)
        wait_for_socket(sock, proc)
        restored = await asyncio.wait_for(pending_read, 15)
        assert restored is not None and restored["version"] == 1
    assert stop(proc) == 0


async def test_a_resync_restores_the_same_created_at(sock_dir: Path) -> None:
    """A job created without createdAt keeps the time it got, across a lossy restart."""
    config = write_config(sock_dir)
    sock = sock_dir / "run" / "state.sock"
    proc = start_state(config)
    wait_for_socket(sock, proc)
    async with StateClient(sock, node_id="node-1") as client:
        first = versions_of("ca-1", 2)
        for record in first:
            del record["createdAt"]
        await client.create(first[0])
        await client.update(first[1])
        created = (await client.get("ca-1"))["createdAt"]  # type: ignore[index]
        stop(proc, signal.SIGKILL)
        proc = start_state(config)
        wait_for_socket(sock, proc)
        await wait_until(lambda: client.resyncs == 1, 15, "the client to resync")
        restored = await asyncio.wait_for(client.get("ca-1"), 15)
        assert restored is not None
        assert restored["createdAt"] == created and restored["version"] == 2
    assert stop(proc) == 0


async def test_watch_ends_with_a_clear_error_when_the_service_stops(sock_dir: Path) -> None:
    config = write_config(sock_dir)
    sock = sock_dir / "run" / "state.sock"
    proc = start_state(config)
    wait_for_socket(sock, proc)
    async with StateClient(sock, node_id="node-1") as client, client.watch() as events:
        await client.create(versions_of("wa-1", 1)[0])
        event = await asyncio.wait_for(events.__anext__(), 5)
        assert event["job"]["uuid"] == "wa-1"
        assert stop(proc) == 0
        with pytest.raises(StateUnavailable):
            await asyncio.wait_for(events.__anext__(), 5)


async def test_send_many_puts_changes_on_the_wire_while_it_queues_the_rest(
    sock_dir: Path,
) -> None:
    """A long send_many lets the loop run: the first changes are answered before the last
    ones are even queued (queueing 33,000 in one go held the loop a third of a second)."""
    answered_while_queueing: list[int] = []
    with state_service(sock_dir) as (sock, _):
        async with StateClient(sock, node_id="node-1", max_pending=50_000) as client:

            def records() -> Any:
                for n in range(20_000):
                    if n % 1000 == 0:
                        stats = client.stats()
                        answered_while_queueing.append(n - stats["pending"] - stats["inFlight"])
                    yield versions_of(f"many-{n}", 1)[0]

            futures = await client.send_many("create", records())
            await client.flush(60)
            assert len(futures) == 20_000 and all(f.result().applied for f in futures)
    assert max(answered_while_queueing) > 0, answered_while_queueing
