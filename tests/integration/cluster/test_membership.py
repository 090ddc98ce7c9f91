"""A fourth node joins the raft cluster and leaves it again, with ``rnx cluster add`` and
``rnx cluster remove``, while a client keeps changing jobs: nothing acknowledged is lost
and the replicas agree."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from joblet_cluster.node.dev import prepare, wait_ready
from joblet_cluster.state import StateClient, transition
from tests.integration.cluster.conftest import all_registered
from tests.integration.node.conftest import Node
from tests.support import new_job


def rnx(directory: Path, node: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RNX_CONFIG": str(directory / "rnx-config.yml")}
    return subprocess.run(
        [sys.executable, "-m", "joblet_cluster.rnx", "--node", node, *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


async def keep_changing(socket: str, acknowledged: dict[str, int], stop: asyncio.Event) -> None:
    async with StateClient(socket, node_id="node-1", connect_timeout=30) as client:
        serial = 0
        while not stop.is_set():
            job = new_job(f"load-{serial}", "node-1")
            acknowledged[job["uuid"]] = (await client.create(job)).version or 1
            running = transition(job, "RUNNING", pid=serial)
            acknowledged[job["uuid"]] = (await client.update(running)).version or 2
            serial += 1


async def views(nodes: list[Node]) -> list[dict[str, int]]:
    found = []
    for node in nodes:
        async with StateClient(node.config["state"]["socket"]) as client:
            found.append({j["uuid"]: j["version"] async for j in client.list_all()})
    return found


async def holds(node: Node, acknowledged: dict[str, int], timeout: float = 30) -> None:
    """Until ``node``'s replica holds every acknowledged change (or a newer one)."""
    deadline = time.monotonic() + timeout
    while True:
        (view,) = await views([node])
        if all(view.get(k, 0) >= v for k, v in acknowledged.items()):
            return
        assert time.monotonic() < deadline, f"{node.spec.name} never caught up"
        await asyncio.sleep(0.1)


async def agreed(nodes: list[Node], timeout: float = 30) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        seen = await views(nodes)
        if all(view == seen[0] for view in seen):
            return seen[0]
        assert time.monotonic() < deadline, "replicas still differ"
        await asyncio.sleep(0.1)


async def test_a_fourth_node_joins_and_leaves_under_load(tmp_path: Path) -> None:
    nodes = [Node(tmp_path, spec) for spec in prepare(tmp_path, 4)]
    fourth = nodes[3]
    fourth_raft = fourth.config["cluster"]["raft_address"]
    for node in nodes[:3]:  # the cluster as it was before the fourth node
        config = node.config
        config["cluster"]["peers"].remove(fourth_raft)
        node.spec.config.write_text(yaml.safe_dump(config, sort_keys=False))
    for node in nodes[:3]:
        node.start(wait=False)
    try:
        wait_ready([n.spec for n in nodes[:3]], [n.process for n in nodes[:3]])  # type: ignore[misc]
        await all_registered(nodes[0], 3)
        acknowledged: dict[str, int] = {}
        stop = asyncio.Event()
        load = asyncio.create_task(
            keep_changing(nodes[0].config["state"]["socket"], acknowledged, stop)
        )
        added = await asyncio.to_thread(rnx, tmp_path, "node-2", "cluster", "add", fourth_raft)
        assert added.returncode == 0, added.stderr
        again = await asyncio.to_thread(rnx, tmp_path, "node-3", "cluster", "add", fourth_raft)
        assert again.returncode == 1 and "already a member" in again.stderr, again.stderr
        fourth.start(wait=False)
        await asyncio.to_thread(wait_ready, [fourth.spec], [fourth.process])
        await all_registered(nodes[0], 4)
        status = await asyncio.to_thread(rnx, tmp_path, "node-4", "--json", "cluster", "status")
        assert status.returncode == 0, status.stderr
        assert len(json.loads(status.stdout)["raft"]["peers"]) == 3  # the other three
        await holds(fourth, dict(acknowledged))  # the new replica caught up, load and all
        removed = await asyncio.to_thread(rnx, tmp_path, "node-1", "cluster", "remove", fourth_raft)
        assert removed.returncode == 0, removed.stderr
        fourth.stop()
        before = len(acknowledged)
        deadline = time.monotonic() + 30
        while len(acknowledged) < before + 20:  # three nodes keep committing without it
            assert time.monotonic() < deadline, "no commits after the fourth node left"
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(load, 60)
        view = await agreed(nodes[:3])
        lost = {k: v for k, v in acknowledged.items() if view.get(k, 0) < v}
        assert not lost, f"acknowledged changes missing: {lost}"
        status = await asyncio.to_thread(rnx, tmp_path, "node-1", "--json", "cluster", "status")
        assert set(json.loads(status.stdout)["raft"]["peers"]) == {
            n.config["cluster"]["raft_address"] for n in nodes[1:3]
        }
    finally:
        running = [n.process for n in nodes if n.process is not None and n.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(60)
