"""``state.backend: raft`` with three real ``joblet state`` processes on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from joblet_cluster.state import StateClient, now, transition
from joblet_cluster.state._snapshot import read_snapshot
from tests.support import RaftReplicas, new_job


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


async def test_another_nodes_records_are_read_whole_from_every_replica(
    three_replicas: list[Path], tmp_path: Path
) -> None:
    """Replicas that did not write a change keep its record packed until it is read
    (state/backends/_packed.py): every read must hand out exactly what the writer holds."""
    first, second, third = three_replicas
    async with (
        StateClient(first, node_id="node-1") as one,
        StateClient(second) as two,
        StateClient(third) as three,
    ):
        async with three.watch() as events:
            job = {
                **new_job("packed-1", "node-1", command="python3", args=["-c", "pass"]),
                "labels": {"team": "a", "tier": "web"},
                "environment": {"MODE": "test"},
            }
            assert (await one.create(job)).applied
            running = transition(job, "RUNNING", pid=7)
            del running["createdAt"]  # an update may leave it out: the store keeps its own
            assert (await one.update(running)).applied
            written = await one.get("packed-1")
            assert written is not None and written["createdAt"] == job["createdAt"]
            for replica in (two, three):  # a consistent read: after the update, wherever
                assert await replica.get("packed-1", consistent=True) == written
                listed, _ = await replica.list(labels="team=a", status="RUNNING")
                assert listed == [written]
            put = [await asyncio.wait_for(events.__anext__(), 10) for _ in range(2)]
            assert [e["job"]["version"] for e in put] == [1, 2]
            assert put[1]["job"] == written
            assert (await one.delete("packed-1")).applied
            gone = await asyncio.wait_for(events.__anext__(), 10)
            assert (gone["type"], gone["job"]) == ("delete", written)
        await one.create(new_job("packed-2", "node-1", labels={"team": "b"}))
        await one.get("packed-2", consistent=True)
        await one.snapshot(tmp_path / "writer.snapshot")
        await two.snapshot(tmp_path / "follower.snapshot")
    _, from_writer = read_snapshot(tmp_path / "writer.snapshot")
    _, from_follower = read_snapshot(tmp_path / "follower.snapshot")
    assert from_follower == from_writer and [j["uuid"] for j in from_writer] == ["packed-2"]


async def test_encrypted_replicas_at_different_compression_levels_agree(sock_dir: Path) -> None:
    """Any zlib level is read by any replica (an older release sends at 3): one replica at
    9, one at 0, one automatic (1, with a secret), all encrypting with the secret."""
    replicas = RaftReplicas(sock_dir, secret="the-cluster-secret")
    for n, level in ((0, 9), (1, 0)):
        config = yaml.safe_load(replicas.configs[n].read_text())
        config["cluster"]["compression_level"] = level
        replicas.configs[n].write_text(yaml.safe_dump(config))
    with replicas:
        clients = [StateClient(replicas.socket(n), node_id=f"node-{n + 1}") for n in range(3)]
        for client in clients:
            await client.start()
        try:
            for n, client in enumerate(clients):
                job = new_job(f"mixed-{n}", f"node-{n + 1}", labels={"from": str(n)})
                assert (await client.create(job)).applied
            for n in range(3):
                written = await clients[n].get(f"mixed-{n}")
                for reader in clients:
                    assert await reader.get(f"mixed-{n}", consistent=True) == written
        finally:
            for client in clients:
                await client.close()
