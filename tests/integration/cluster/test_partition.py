"""A node cut off from the majority keeps its changes and commits them when it rejoins."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from joblet_cluster.state import StateClient, now, transition
from tests.support import RaftReplicas


@pytest.fixture
def replicas(sock_dir: Path) -> Iterator[list[tuple[Path, int]]]:
    with RaftReplicas(sock_dir, commit_timeout=1.0) as cluster:
        yield [(cluster.socket(n), cluster.processes[n].pid) for n in range(3)]


async def test_changes_wait_through_a_partition_and_commit_after_it(
    replicas: list[tuple[Path, int]],
) -> None:
    (first, _), (second, pid_two), (third, pid_three) = replicas
    async with StateClient(first, node_id="node-1", connect_timeout=30) as one:
        job = {
            "uuid": "cut-off-1",
            "nodeId": "node-1",
            "status": "INITIALIZING",
            "version": 1,
            "createdAt": now(),
            "command": "echo",
        }
        assert (await one.create(job)).applied
        for pid in (pid_two, pid_three):  # node 1 is now alone: no majority
            os.kill(pid, signal.SIGSTOP)
        running = transition(job, "RUNNING", pid=7)
        pending = await one.send("update", running)
        done, _ = await asyncio.wait({pending}, timeout=4)  # several commit timeouts pass
        assert not done, "a change was acknowledged without a majority"
        for pid in (pid_two, pid_three):
            os.kill(pid, signal.SIGCONT)
        result = await asyncio.wait_for(pending, 60)
        assert result.version == 2  # committed (or found committed when sent again)
        assert one.resends >= 1
    for socket in (first, second, third):
        async with StateClient(socket, connect_timeout=30) as replica:
            for _ in range(200):
                stored = await replica.get("cut-off-1")
                if stored is not None and stored["version"] == 2:
                    break
                await asyncio.sleep(0.05)
            assert stored is not None and (stored["status"], stored["pid"]) == ("RUNNING", 7)
