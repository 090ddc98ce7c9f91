"""Whole clusters of real node daemons (``joblet serve``, each with its state and persist
services) on loopback, prepared the way ``joblet dev`` prepares them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from joblet_cluster.node.dev import prepare, wait_ready
from joblet_cluster.state import StateClient
from tests.integration.node.conftest import Node


@contextlib.contextmanager
def running_cluster(directory: Path, count: int = 3, **cluster: Any) -> Iterator[list[Node]]:
    """``count`` nodes under ``directory``, every one registered with every replica's
    store before it is handed over; ``cluster`` keys are added to each node's
    ``cluster:`` config section."""
    nodes = [Node(directory, spec) for spec in prepare(directory, count)]
    if cluster:
        for node in nodes:
            config = node.config
            config["cluster"].update(cluster)
            node.spec.config.write_text(yaml.safe_dump(config, sort_keys=False))
    for node in nodes:  # all at once: a node's store needs a majority to commit anything
        node.start(wait=False)
    try:
        wait_ready([n.spec for n in nodes], [n.process for n in nodes])  # type: ignore[misc]
        asyncio.run(all_registered(nodes[0], len(nodes)))
        yield nodes
    finally:  # all at once too, so each can still commit its jobs' last changes
        running = [n.process for n in nodes if n.process is not None and n.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(60)


async def all_registered(node: Node, count: int) -> None:
    """Until every node's registration has reached ``node``'s replica."""
    async with StateClient(node.config["state"]["socket"]) as state:
        deadline = time.monotonic() + 30
        while len((await state.nodes())["nodes"]) < count:
            assert time.monotonic() < deadline, await state.nodes()
            await asyncio.sleep(0.05)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Node]]:
    with running_cluster(tmp_path) as nodes:
        yield nodes
