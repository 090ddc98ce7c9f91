"""``joblet dev``: a local cluster on loopback in one command, to try the system.

Each node is a real ``joblet serve`` process with its own folder under DIR (config, run
sockets, data, job folders) and free ports; the certificates and an ``rnx-config.yml``
naming every node are written to DIR. The nodes' state services form one Raft cluster
(``state.backend: raft``), so every node sees every job. Ctrl-C stops every node, which
stops its jobs and services in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from joblet_cluster.node.certs import generate

READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class DevNode:
    name: str
    port: int
    config: Path


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(directory: Path, count: int) -> list[DevNode]:
    """Write certificates, ``rnx-config.yml`` and one config per node under ``directory``."""
    names = [f"node-{n}" for n in range(1, count + 1)]
    ports = {name: free_port() for name in names}
    raft = {name: f"127.0.0.1:{free_port()}" for name in names}
    files = generate(
        directory / "certs",
        ["127.0.0.1", "localhost"],
        nodes={name: f"127.0.0.1:{port}" for name, port in ports.items()},
    )
    (directory / "rnx-config.yml").write_bytes(files.rnx_config.read_bytes())
    (directory / "rnx-config.yml").chmod(0o600)
    nodes = []
    for name in names:
        home = directory / name
        home.mkdir(parents=True, exist_ok=True)
        config = {
            "server": {
                "nodeId": name,
                "address": "127.0.0.1",
                "port": ports[name],
                "jobs_dir": str(home / "jobs"),
                "metrics_interval": 1,
                "monitoring": {"port": 0},
            },
            "cluster": {
                "raft_address": raft[name],
                "peers": [address for other, address in raft.items() if other != name],
                "data_dir": str(home / "raft"),
            },
            "state": {"backend": "raft", "socket": str(home / "run" / "state.sock")},
            "persist": {
                "ipc": {"socket": str(home / "run" / "persist-ipc.sock")},
                "server": {"grpc_socket": str(home / "run" / "persist-grpc.sock")},
                "storage": {"base_dir": str(home / "data")},
                "monitoring": {"prometheus": {"port": 0}, "health": {"port": 0}},
            },
            "security": {
                "serverCert": str(files.server_cert),
                "serverKey": str(files.server_key),
                "caCert": str(files.ca_cert),
            },
        }
        path = home / "joblet-config.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        nodes.append(DevNode(name, ports[name], path))
    return nodes


def start(nodes: list[DevNode], log_dir: Path) -> list[subprocess.Popen[bytes]]:
    processes = []
    for node in nodes:
        log = (log_dir / node.name / "node.log").open("ab")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "joblet_cluster.node", "serve", "-c", str(node.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return processes


def wait_ready(nodes: list[DevNode], processes: list[subprocess.Popen[bytes]]) -> None:
    """Until every node accepts connections on its API port; RuntimeError naming the node
    that exited or did not come up in time."""
    deadline = time.monotonic() + READY_TIMEOUT
    for node, process in zip(nodes, processes, strict=True):
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{node.name} exited with {process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", node.port), timeout=0.5),
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node.name} did not open port {node.port} in time")
            time.sleep(0.1)


def stop(processes: list[subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def instructions(directory: Path, nodes: list[DevNode]) -> str:
    config = directory / "rnx-config.yml"
    lines = [f"{len(nodes)} node(s) up on loopback (logs: {directory}/<node>/node.log):"]
    lines += [f"  {node.name}  127.0.0.1:{node.port}" for node in nodes]
    lines += [
        "",
        "Point rnx at them:",
        f"  export RNX_CONFIG={config}",
        "  rnx job run echo hello",
        "  rnx job list",
        "",
        "Ctrl-C stops every node.",
    ]
    return "\n".join(lines)


def run_dev(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    nodes = prepare(directory, count)
    processes = start(nodes, directory)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        wait_ready(nodes, processes)
        print(instructions(directory, nodes), flush=True)
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.2)
    finally:
        print("stopping the nodes...", file=sys.stderr, flush=True)
        stop(processes)
