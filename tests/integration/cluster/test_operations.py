"""The cluster's operations through the state protocol, on three real raft replicas:
consistent reads, snapshots and restores, leadership transfer, membership refusals."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from joblet_cluster.common.errors import InvalidInput, StateError
from joblet_cluster.state import StateClient
from joblet_cluster.state._snapshot import read_snapshot
from tests.support import RaftReplicas, new_job


def job(n: int, node: str = "node-1") -> dict[str, object]:
    return new_job(f"op-{n}", node)


async def test_reads_say_how_fresh_and_consistent_reads_see_every_commit(sock_dir: Path) -> None:
    with RaftReplicas(sock_dir) as replicas:
        leader = await replicas.leader()
        follower = (leader + 1) % 3
        async with (
            StateClient(replicas.socket(leader), node_id="node-1") as writer,
            StateClient(replicas.socket(follower)) as reader,
        ):
            for n in range(50):
                await writer.create(job(n))
            # a consistent read through a follower sees the last commit at once
            assert await reader.get("op-49", consistent=True) is not None
            jobs, _ = await reader.list(consistent=True, limit=1000)
            assert len(jobs) == 50
            raw = await reader._request({"op": "get", "jobId": "op-1"})
            assert raw["replica"]["leader"] == replicas.addresses[leader]
            assert raw["replica"]["appliedIndex"] >= 50


async def test_a_snapshot_restores_into_a_fresh_cluster(sock_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "cluster.snapshot"
    with RaftReplicas(sock_dir / "old") as old:
        async with StateClient(old.socket(0), node_id="node-1") as client:
            for n in range(300):
                await client.create(job(n, f"node-{n % 3 + 1}"))
            taken = await client.snapshot(target)
            assert taken["jobs"] == 300 and taken["raftIndex"] >= 300
            with pytest.raises(StateError, match="never overwrites"):
                await client.snapshot(target)
            with pytest.raises(StateError, match="not absolute"):
                await client.snapshot("relative.snapshot")
        before = await old.agreed_view()
    header, jobs = read_snapshot(target)
    assert header["jobs"] == 300 and len(jobs) == 300
    with RaftReplicas(sock_dir / "new") as new:
        async with StateClient(new.socket(1)) as client:
            await client.create(job(9999))  # replaced by the restore
            assert await client.restore(jobs, part_size=128) == 300
        assert await new.agreed_view() == before


def test_a_damaged_snapshot_is_refused_before_anything_is_restored(tmp_path: Path) -> None:
    lines = [
        orjson.dumps({"format": "joblet-state-snapshot", "version": 1, "jobs": 1}),
        orjson.dumps(job(1)),
    ]
    body = b"\n".join(lines) + b"\n"
    path = tmp_path / "bad.snapshot"
    path.write_bytes(body + b'{"sha256": "00"}\n')
    with pytest.raises(InvalidInput, match="checksum mismatch"):
        read_snapshot(path)
    path.write_bytes(body)
    with pytest.raises(InvalidInput, match="cut short"):
        read_snapshot(path)


async def test_leadership_moves_on_request_and_membership_refuses_what_it_must(
    sock_dir: Path,
) -> None:
    with RaftReplicas(sock_dir) as replicas:
        leader = await replicas.leader()
        target = replicas.addresses[(leader + 2) % 3]
        async with StateClient(replicas.socket(leader), node_id="node-1") as client:
            await client.create(job(1))
            await replicas.caught_up((leader + 2) % 3)
            assert await client.transfer_leadership(target) == target
        assert replicas.addresses[await replicas.leader()] == target
        async with StateClient(replicas.socket(leader)) as client:
            with pytest.raises(StateError, match="NOT_LEADER"):
                await client.transfer_leadership()
            with pytest.raises(StateError, match="already a member"):
                await client.change_members("add", target)
            with pytest.raises(StateError, match="not a member"):
                await client.change_members("remove", "127.0.0.1:1")
            with pytest.raises(StateError, match="ask another node"):
                await client.change_members("remove", replicas.addresses[leader])
            with pytest.raises(StateError, match="INVALID_REQUEST"):
                await client._request({"op": "members", "action": "add", "address": "../x"})
