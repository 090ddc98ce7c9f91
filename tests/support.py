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

from joblet_cluster.node.dev import free_port
from joblet_cluster.state import StateClient, now, transition


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


def _start(service: str, config: Path, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``joblet SERVICE -c CONFIG`` from the interpreter running us, so the venv is the same.
    Its output goes to ``log`` (appended), or to a pipe the caller reads."""
    output = log.open("ab") if log is not None else subprocess.PIPE
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "joblet_cluster.node", service, "-c", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log is not None:
            output.close()  # type: ignore[union-attr]


def start_state(config: Path, log: Path | None = None) -> subprocess.Popen[bytes]:
    return _start("state", config, log)


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


def new_job(uuid: str, node_id: str, **fields: Any) -> dict[str, Any]:
    """A job as its node first stores it: INITIALIZING at version 1, created now."""
    return {
        "uuid": uuid,
        "nodeId": node_id,
        "status": "INITIALIZING",
        "version": 1,
        "createdAt": now(),
        "command": "true",
        **fields,
    }


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def loop_step_ns() -> float:
    """A yardstick for the CPU: the same machine kind ran these benchmarks twice as fast
    one day as another (BENCHMARKS.md), and a figure means little without it. Best of
    three runs of a fixed pure-Python loop, in nanoseconds per step."""
    steps = 1_000_000
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(steps):
            total += i
        best = min(best, time.perf_counter() - start)
    return best / steps * 1e9


def machine() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"yardstick {loop_step_ns():.0f} ns per pure-Python loop step"
    )


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


def replica_config(
    home: Path, node_id: str, address: str, addresses: list[str], **cluster: Any
) -> Path:
    """``home/joblet-config.yml`` for a raft replica at ``address`` among ``addresses``,
    with quick elections and the ``cluster`` keys given."""
    config = {
        "server": {"nodeId": node_id},
        "cluster": {
            "raft_address": address,
            "peers": [a for a in addresses if a != address],
            "data_dir": str(home / "raft"),
            "election_timeout_min": 0.2,
            "election_timeout_max": 0.5,
            **cluster,
        },
        "state": {"backend": "raft", "socket": str(home / "state.sock")},
        "logging": {"level": "WARNING"},
    }
    home.mkdir(parents=True, exist_ok=True)
    path = home / "joblet-config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


# a replica that applied an entry later replaced by another (cluster/ticks.py), or whose
# tick fails; not pysyncobj's own "may have diverged", logged also when the leader sends
# the same entries again (it truncates on every append), which the replicas survive
PYSYNCOBJ_ALARMS = ("replaced by a different one", "failed _onTick")


class RaftReplicas:
    """``count`` ``joblet state`` processes on loopback forming one raft cluster; replicas
    are numbered from 0. Used as a context manager: every process it started is stopped
    (and thawed first, if a test froze it) on the way out."""

    def __init__(self, directory: Path, count: int = 3, **cluster: Any) -> None:
        self.addresses = [f"127.0.0.1:{free_port()}" for _ in range(count)]
        self.homes = [directory / f"node-{n}" for n in range(1, count + 1)]
        self.configs = [
            replica_config(home, home.name, address, self.addresses, **cluster)
            for home, address in zip(self.homes, self.addresses, strict=True)
        ]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> RaftReplicas:
        for n in range(len(self.homes)):
            self.processes[n] = start_state(self.configs[n], self.log(n))
        for n in range(len(self.homes)):
            wait_for_socket(self.socket(n), self.processes[n], timeout=30)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)
                stop(process)
        lines = [
            f"{log.parent.name}: {line.strip()}"
            for log in map(self.log, range(len(self.homes)))
            if log.exists()
            for line in log.read_text(errors="replace").splitlines()
        ]
        print("\n".join(lines[-40:]))  # the replicas' warnings, shown when a test fails
        if exc_type is None:  # pysyncobj's own alarms (specs/pysyncobj-facts.md) fail the test
            alarms = [line for line in lines if any(a in line for a in PYSYNCOBJ_ALARMS)]
            assert not alarms, "pysyncobj reported:\n" + "\n".join(alarms[:20])

    def socket(self, n: int) -> Path:
        return self.homes[n] / "state.sock"

    def log(self, n: int) -> Path:
        """Replica ``n``'s output, every start of it (a pipe nobody read could fill and
        stall it)."""
        return self.homes[n] / "state.log"

    def kill(self, n: int) -> None:
        self.processes[n].kill()
        self.processes[n].wait()

    def restart(self, n: int, wipe: bool = False) -> None:
        """Start replica ``n`` again (it must be stopped), from its journal or, with
        ``wipe``, from nothing: it then catches up from the others."""
        if wipe:
            shutil.rmtree(self.homes[n] / "raft", ignore_errors=True)
        self.processes[n] = start_state(self.configs[n], self.log(n))
        wait_for_socket(self.socket(n), self.processes[n], timeout=30)

    async def leader(self, timeout: float = 15.0) -> int:
        """The replica that leads, as every live replica that knows a leader sees it."""
        deadline = time.monotonic() + timeout
        live = [n for n, p in self.processes.items() if p.poll() is None]
        while True:
            seen = {n: await self.replication(n) for n in live}
            leaders = {view.get("leader") for view in seen.values()}
            if len(leaders) == 1 and (leader := leaders.pop()) in self.addresses:
                return self.addresses.index(leader)
            if time.monotonic() > deadline:
                raise AssertionError(f"no leader all replicas agree on after {timeout}s: {seen}")
            await asyncio.sleep(0.05)

    async def fail_over(self, probe: str) -> tuple[float, int]:
        """SIGKILL the leader and time it until a change through another replica commits,
        then start the victim again from its journal and wait until it caught up.
        Returns the seconds and the version the probe job ``probe`` committed at (it is
        created at version 1 before the kill)."""
        victim = await self.leader()
        survivor = (victim + 1) % len(self.homes)
        async with StateClient(self.socket(survivor), node_id="probe") as client:
            job = new_job(probe, "probe")
            await client.create(job)  # a resend may find it already there
            self.kill(victim)
            killed = time.monotonic()
            result = await asyncio.wait_for(client.update(transition(job, "RUNNING")), 30)
            took = time.monotonic() - killed
        self.restart(victim)
        await self.caught_up(victim, timeout=120)
        return took, result.version or 2

    async def replication(self, n: int) -> dict[str, Any]:
        """Replica ``n``'s raft view: leader, term, commit and applied index, peers."""
        async with StateClient(self.socket(n), connect_timeout=30) as client:
            return (await client.nodes())["cluster"] or {}

    async def health(self, n: int) -> dict[str, Any]:
        """Replica ``n``'s replication health, as the node's watchdog reads it."""
        async with StateClient(self.socket(n), connect_timeout=30) as client:
            return (await client.probe(10))["raft"]  # type: ignore[no-any-return]

    async def caught_up(self, n: int, timeout: float = 30.0) -> float:
        """Seconds until replica ``n`` has applied what the leader had committed when
        asked."""
        start = time.monotonic()
        target = (await self.replication(await self.leader(timeout)))["commitIndex"]
        while (await self.replication(n)).get("lastApplied", 0) < target:
            if time.monotonic() - start > timeout:
                raise AssertionError(f"replica {n} not caught up with {target} after {timeout}s")
            await asyncio.sleep(0.02)
        return time.monotonic() - start

    async def view(self, n: int) -> dict[str, int]:
        """Replica ``n``'s jobs: id to version."""
        async with StateClient(self.socket(n), connect_timeout=30) as client:
            return {job["uuid"]: job["version"] async for job in client.list_all()}

    async def agreed_view(self, timeout: float = 30.0) -> dict[str, int]:
        """Every live replica's jobs once they are all the same (replicas apply a moment
        apart); fail naming the differences at the deadline."""
        deadline = time.monotonic() + timeout
        live = [n for n, p in self.processes.items() if p.poll() is None]
        while True:
            views = [await self.view(n) for n in live]
            if all(v == views[0] for v in views):
                return views[0]
            if time.monotonic() > deadline:
                differ = {
                    live[i]: {k: v for k, v in view.items() if views[0].get(k) != v}
                    for i, view in enumerate(views[1:], start=1)
                }
                raise AssertionError(f"replicas still differ after {timeout}s: {differ}")
            await asyncio.sleep(0.1)
