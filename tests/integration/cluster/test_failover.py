"""The leader's state service is SIGKILLed while a client keeps changing jobs through
another node: a new leader commits within 2 s, every acknowledged change survives, and
the replicas agree."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from joblet_cluster.node.dev import free_port
from joblet_cluster.state import StateClient, now, transition
from tests.integration.cluster.conftest import replica_config
from tests.support import start_state, stop, wait_for_socket

ROUNDS = 5


async def leader_of(socket: Path) -> str:
    async with StateClient(socket, connect_timeout=30) as client:
        deadline = time.monotonic() + 10
        while True:
            leader = ((await client.nodes())["cluster"] or {}).get("leader")
            if leader:
                return str(leader)
            assert time.monotonic() < deadline, "no leader"
            await asyncio.sleep(0.05)


async def test_leader_kill_new_leader_within_two_seconds_nothing_acknowledged_lost(
    sock_dir: Path,
) -> None:
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    homes = [sock_dir / f"node-{n}" for n in range(1, 4)]
    configs = [
        replica_config(
            h,
            h.name,
            a,
            addresses,
            election_timeout_min=0.3,
            election_timeout_max=0.6,
            commit_timeout=0.5,
        )
        for h, a in zip(homes, addresses, strict=True)
    ]
    processes: dict[int, subprocess.Popen[bytes]] = {}
    try:
        for n, config in enumerate(configs):
            processes[n] = start_state(config)
        for n, home in enumerate(homes):
            wait_for_socket(home / "state.sock", processes[n])
        acknowledged: dict[str, int] = {}
        failovers = []
        for round_ in range(ROUNDS):
            leader = await leader_of(homes[0] / "state.sock")
            victim = addresses.index(leader)
            writer = homes[(victim + 1) % 3] / "state.sock"
            async with StateClient(writer, node_id=f"node-{(victim + 1) % 3 + 1}") as client:
                job = {
                    "uuid": f"failover-{round_}",
                    "nodeId": f"node-{(victim + 1) % 3 + 1}",
                    "status": "INITIALIZING",
                    "version": 1,
                    "createdAt": now(),
                    "command": "true",
                }
                created = await client.create(job)  # a resend may find it already there
                assert created.version == 1
                acknowledged[job["uuid"]] = 1
                os.kill(processes[victim].pid, signal.SIGKILL)
                processes[victim].wait()
                killed = time.monotonic()
                running = transition(job, "RUNNING")
                result = await asyncio.wait_for(client.update(running), 30)
                failovers.append(time.monotonic() - killed)
                acknowledged[job["uuid"]] = result.version or 2
            processes[victim] = start_state(configs[victim])  # back, from its journal
            wait_for_socket(homes[victim] / "state.sock", processes[victim])
        print(f"failover seconds: {', '.join(f'{f:.2f}' for f in failovers)}")
        assert max(failovers) < 2.0, failovers
        views = []
        for home in homes:
            async with StateClient(home / "state.sock", connect_timeout=30) as replica:
                deadline = time.monotonic() + 10
                while True:
                    jobs = {j["uuid"]: j["version"] async for j in replica.list_all()}
                    if all(jobs.get(k, 0) >= v for k, v in acknowledged.items()):
                        break
                    assert time.monotonic() < deadline, (home.name, jobs, acknowledged)
                    await asyncio.sleep(0.05)
                views.append(jobs)
        assert views[0] == views[1] == views[2]
    finally:
        for process in processes.values():
            if process.poll() is None:
                stop(process)
