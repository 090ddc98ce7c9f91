"""The operator's commands on a real three-node cluster: ``rnx nodes`` from the registry,
``rnx cluster transfer-leader`` through any node, ``rnx cluster snapshot save`` and
``joblet state restore``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from joblet_cluster.state import StateClient
from tests.integration.node.conftest import Node


def run(home: Path, *args: str, tool: str = "rnx") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RNX_CONFIG": str(home / "rnx-config.yml")}
    module = "joblet_cluster.rnx" if tool == "rnx" else "joblet_cluster.node"
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def leader_of(home: Path, node: str) -> dict[str, str]:
    """The leading node, as ``rnx nodes`` through ``node`` shows it, once it shows one."""
    deadline = time.monotonic() + 30
    while True:
        shown = run(home, "--node", node, "--json", "nodes")
        assert shown.returncode == 0, shown.stderr
        leaders = [n for n in json.loads(shown.stdout) if n["role"] == "leader"]
        if len(leaders) == 1:
            return leaders[0]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, shown.stdout
        time.sleep(0.1)


def test_nodes_transfer_leader_snapshot_and_restore(cluster: list[Node]) -> None:
    home = cluster[0].home
    shown = run(home, "--json", "nodes")
    assert shown.returncode == 0, shown.stderr
    nodes = {n["node_id"]: n for n in json.loads(shown.stdout)}
    assert set(nodes) == {"node-1", "node-2", "node-3"}
    assert all(n["up"] and n["raft_address"] and n["address"] for n in nodes.values())
    table = run(home, "nodes")
    assert all(word in table.stdout for word in ("ROLE", "LAG", "leader", "node-3"))

    leader = leader_of(home, "node-1")
    follower = next(n for n in nodes if n != leader["node_id"])
    target = next(n for n in nodes if n not in (leader["node_id"], follower))
    moved = run(home, "--node", follower, "cluster", "transfer-leader", target)  # forwarded
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.strip() == f"leader: {nodes[target]['raft_address']}"
    assert leader_of(home, follower)["node_id"] == target

    for n in range(3):
        assert run(home, "--node", f"node-{n + 1}", "job", "run", "true").returncode == 0
    saved = home / "cluster.snapshot"
    taken = run(home, "--json", "cluster", "snapshot", "save", str(saved))
    assert taken.returncode == 0, taken.stderr
    summary = json.loads(taken.stdout)
    assert summary["jobs"] == 3 and len(summary["sha256"]) == 64
    again = run(home, "cluster", "snapshot", "save", str(saved))
    assert again.returncode == 2 and "never overwrites" in again.stderr

    socket = cluster[1].config["state"]["socket"]
    jobs = asyncio.run(_uuids(socket))
    assert run(home, "--node", "node-2", "job", "run", "true").returncode == 0
    config = str(cluster[1].spec.config)
    refused = run(home, "state", "restore", str(saved), "-c", config, tool="joblet")
    assert refused.returncode == 1  # no terminal to confirm on, no --yes: nothing restored
    restored = run(home, "state", "restore", str(saved), "-c", config, "--yes", tool="joblet")
    assert restored.returncode == 0, restored.stderr
    assert "restored 3 jobs" in restored.stdout
    for node in cluster:  # through the log: every replica holds the snapshot's jobs
        deadline = time.monotonic() + 10
        while asyncio.run(_uuids(node.config["state"]["socket"])) != jobs:
            assert time.monotonic() < deadline, node.spec.name
            time.sleep(0.1)
    damaged = home / "damaged.snapshot"
    damaged.write_bytes(saved.read_bytes().replace(b"true", b"tru3", 1))
    bad = run(home, "state", "restore", str(damaged), "-c", config, "--yes", tool="joblet")
    assert bad.returncode == 2 and "checksum mismatch" in bad.stderr


async def _uuids(socket: str) -> set[str]:
    async with StateClient(socket) as client:
        return {job["uuid"] async for job in client.list_all()}
