"""Fixtures shared by every tier: short socket directories and the state service under test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from joblet_cluster.common.config import ClusterConfig, StateConfig
from joblet_cluster.node.dev import free_port
from joblet_cluster.state import StateClient, StateServer
from joblet_cluster.state.backends import StateBackend, open_backend

#: Every backend the conformance suite holds to the same contract.
BACKENDS = ["memory", "raft"]


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for unix sockets (their paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="jt-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def backend(backend_name: str, sock_dir: Path) -> AsyncIterator[StateBackend]:
    # raft: a cluster of one on loopback, elections quick so each test starts at once
    cluster = ClusterConfig(
        raft_address=f"127.0.0.1:{free_port()}",
        data_dir=str(sock_dir / "raft"),
        election_timeout_min=0.05,
        election_timeout_max=0.1,
    )
    opened = open_backend(StateConfig(backend=backend_name), cluster)  # type: ignore[arg-type]
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def server(backend: StateBackend, sock_dir: Path) -> AsyncIterator[StateServer]:
    """A state server on a real unix socket, in the test's own loop."""
    async with StateServer(backend, sock_dir / "run" / "state.sock") as started:
        yield started


@pytest.fixture
async def client(server: StateServer) -> AsyncIterator[StateClient]:
    async with StateClient(server.path, node_id="node-1") as connected:
        yield connected
