"""A real moto server over HTTP, shared by the session, and backends pointed at it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from joblet_cluster.common.config import CloudWatchConfig
from joblet_cluster.persist.backends._cloudwatch import CloudWatchBackend

MOTO_START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_answering(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll until the server answers HTTP, with a deadline (no fixed sleeps)."""
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"moto server exited with {proc.returncode}: {log.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1) as answer:
                answer.read()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise TimeoutError(f"moto server not answering at {url} after {MOTO_START_TIMEOUT}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server by its PID: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m moto.server`` on a free port, with fake credentials in the environment."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
            env.delenv(name, raising=False)
        with log.open("wb") as output:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_answering(url, proc, log)
            yield url
        finally:
            _stop(proc)


@pytest.fixture
def cw_config(moto_endpoint: str) -> Callable[..., CloudWatchConfig]:
    """Configs with a prefix and namespace of their own, so tests never see each other."""
    unique = uuid.uuid4().hex[:10]

    def make(**overrides: Any) -> CloudWatchConfig:
        values: dict[str, Any] = {
            "region": "us-east-1",
            "log_group_prefix": f"/jt-{unique}",
            "metric_namespace": f"JobletTest/{unique}",
            "endpoint_url": moto_endpoint,
        }
        values.update(overrides)
        return CloudWatchConfig(**values)

    return make


@pytest.fixture
async def open_cw_backend(
    cw_config: Callable[..., CloudWatchConfig],
) -> AsyncIterator[Callable[..., Any]]:
    """``await open_cw_backend(node_id=..., config=..., **kwargs)``: opened, closed at the end."""
    opened: list[CloudWatchBackend] = []

    async def make(
        node_id: str = "node-1", config: CloudWatchConfig | None = None, **kwargs: Any
    ) -> CloudWatchBackend:
        backend = CloudWatchBackend(config or cw_config(), node_id, **kwargs)
        opened.append(backend)
        await backend.open()
        return backend

    try:
        yield make
    finally:
        for backend in opened:
            await backend.close()


@pytest.fixture
async def cw_backend(open_cw_backend: Callable[..., Any]) -> CloudWatchBackend:
    """An opened backend of node-1 with the test's own config."""
    return await open_cw_backend()
