"""``state.backend: raft`` with three real ``joblet state`` processes on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from joblet_cluster.state import StateClient, now, transition
from tests.support import RaftReplicas


@pytest.fixture
def three_replicas(sock_dir: Path) -> Iterator[list[Path]]:
    with RaftReplicas(sock_dir) as replicas:
        yield [replicas.socket(n) for n in range(3)]


async def test_a_change_through_one_node_is_on_every_replica_within_a_second(
    three_replicas: list[Path],
) -> None:
    first, second, third = three_replicas
    async with (
        StateClient(first, node_id="node-1") as one,
        StateClient(second) as two,
        StateClient(third) as three,
    ):
        # First every replica connected and caught up (peers connect a few seconds apart
        # at start); the one-second promise is about a cluster that is up.
        warm = {"uuid": "warm-up", "nodeId": "node-1", "status": "INITIALIZING", "version": 1}
        assert (await one.create({**warm, "createdAt": now()})).version == 1
        deadline = time.monotonic() + 30
        for replica in (two, three):
            while await replica.get("warm-up") is None:
                assert time.monotonic() < deadline, "a replica never caught up"
                await asyncio.sleep(0.05)
        job = {
            "uuid": "raft-job-1",
            "nodeId": "node-1",
            "status": "INITIALIZING",
            "version": 1,
            "createdAt": now(),
            "command": "echo",
        }
        assert (await one.create(job)).applied
        running = transition(job, "RUNNING", pid=42)
        assert (await one.update(running)).applied
        committed = time.monotonic()
        for replica in (two, three):
            while True:
                seen = await replica.get("raft-job-1")
                if seen is not None and seen["version"] == 2:
                    break
                assert time.monotonic() - committed < 1.0, f"replica still has {seen}"
                await asyncio.sleep(0.01)
            assert (seen["status"], seen["pid"]) == ("RUNNING", 42)
        listed, _ = await three.list(status="RUNNING")
        assert [j["uuid"] for j in listed] == ["raft-job-1"]
        stale = await two.update(running)  # the same change again, through another node
        assert not stale.applied and stale.version == 2
