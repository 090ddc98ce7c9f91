"""Start the real services that tests and benchmarks talk to, as separate processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml


def wait_for_socket(path: Path, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Until a unix socket accepts connections (the service is up), or fail with its output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {path}")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            return
        except OSError:
            time.sleep(0.02)
        finally:
            probe.close()
    raise TimeoutError(f"nothing listening on {path} after {timeout}s")


def write_config(directory: Path, node_id: str = "node-1", **state: object) -> Path:
    config = {
        "server": {"nodeId": node_id},
        "state": {"socket": str(directory / "run" / "state.sock"), **state},
        "logging": {"level": "WARNING"},
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "joblet-config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(service: str, config: Path) -> subprocess.Popen[bytes]:
    """``joblet SERVICE -c CONFIG`` from the interpreter running us, so the venv is the same."""
    return subprocess.Popen(
        [sys.executable, "-m", "joblet_cluster.node", service, "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def start_state(config: Path) -> subprocess.Popen[bytes]:
    return _start("state", config)


def start_persist(config: Path) -> subprocess.Popen[bytes]:
    return _start("persist", config)


def persist_config(directory: Path, **local: Any) -> Path:
    """A persist config under ``directory``: local storage with ``local`` settings, HTTP
    monitoring on ports the OS picks."""
    config = {
        "server": {"nodeId": "node-1"},
        "persist": {
            "ipc": {"socket": str(directory / "run" / "ipc.sock")},
            "server": {"grpc_socket": str(directory / "run" / "query.sock")},
            "storage": {"type": "local", "base_dir": str(directory / "data"), "local": local},
            "monitoring": {"prometheus": {"port": 0}, "health": {"port": 0}},
        },
        "logging": {"level": "INFO"},
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "joblet-config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a cheap condition until it holds; fail naming ``what`` at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextlib.contextmanager
def state_service(
    directory: Path, **state: object
) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    config = write_config(directory, **state)
    proc = start_state(config)
    sock = directory / "run" / "state.sock"
    try:
        wait_for_socket(sock, proc)
        yield sock, proc
    finally:
        stop(proc)


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[Path]:
    """A throwaway ``redis-server`` on a unix socket, no persistence, no TCP port."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    sock = directory / "redis.sock"
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_socket(sock, proc)
        yield sock
    finally:
        stop(proc)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


class RawConnection:
    """The state protocol by hand: raw lines out, parsed lines back, for protocol tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, path: Path) -> RawConnection:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=64 * 1024 * 1024)
        return cls(reader, writer)

    def send(self, message: dict[str, Any] | bytes) -> None:
        data = message if isinstance(message, bytes) else orjson.dumps(message) + b"\n"
        self.writer.write(data)

    async def read(self, timeout: float = 10.0) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            raise EOFError("the service closed the connection")
        return orjson.loads(line)  # type: ignore[no-any-return]

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        self.send(message)
        return await self.read()

    async def closed_by_peer(self, timeout: float = 10.0) -> bool:
        """True once the service has closed this connection (reads hit end of file)."""
        data = await asyncio.wait_for(self.reader.read(), timeout)
        return data == b"" or self.reader.at_eof()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
