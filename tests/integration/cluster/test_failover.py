"""The leader's state service is SIGKILLed twenty times while three clients keep changing
jobs, one through each node: a new leader commits within 2 s every time, and afterwards
every replica holds exactly the same jobs, each acknowledged change at its version or a
newer one."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

from joblet_cluster.state import StateClient, transition
from tests.support import RaftReplicas, new_job

ROUNDS = 20
LANES = 4  # jobs each client changes at once


async def keep_changing(
    socket: Path, node: str, acknowledged: dict[str, int], stopping: asyncio.Event
) -> None:
    """Create jobs and move each through versions, recording every acknowledged one."""
    async with StateClient(socket, node_id=node, connect_timeout=60) as client:

        async def lane(k: int) -> None:
            serial = 0
            while not stopping.is_set():
                job = new_job(f"{node}-{k}-{serial}", node)
                acknowledged[job["uuid"]] = (await client.create(job)).version or 1
                running = transition(job, "RUNNING", pid=serial)
                acknowledged[job["uuid"]] = (await client.update(running)).version or 2
                done = transition(running, "COMPLETED", exitCode=0)
                acknowledged[job["uuid"]] = (await client.update(done)).version or 3
                serial += 1

        await asyncio.gather(*(lane(k) for k in range(LANES)))
        await client.flush(60)


async def test_twenty_leader_kills_under_three_clients_lose_nothing(sock_dir: Path) -> None:
    with RaftReplicas(
        sock_dir, election_timeout_min=0.3, election_timeout_max=0.6, commit_timeout=0.5
    ) as replicas:
        acknowledged: dict[str, int] = {}
        stopping = asyncio.Event()
        clients = [
            asyncio.create_task(
                keep_changing(replicas.socket(n), f"node-{n + 1}", acknowledged, stopping)
            )
            for n in range(3)
        ]
        failovers = []
        for round_ in range(ROUNDS):
            took, version = await replicas.fail_over(f"probe-{round_}")
            failovers.append(took)
            acknowledged[f"probe-{round_}"] = version
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*clients), 120)
        print(
            f"failover over {ROUNDS} kills: median {statistics.median(failovers):.2f} s, "
            f"max {max(failovers):.2f} s; {len(acknowledged)} jobs changed"
        )
        assert max(failovers) < 2.0, failovers
        view = await replicas.agreed_view()
        lost = {k: (v, view.get(k)) for k, v in acknowledged.items() if view.get(k, 0) < v}
        assert not lost, f"acknowledged changes missing (acked, stored): {lost}"
        assert set(view) == set(acknowledged)
