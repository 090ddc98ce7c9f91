"""A real node (``joblet serve`` with its state and persist services) for API tests.

The node is prepared the way ``joblet dev`` prepares one (certificates, rnx-config.yml,
its config with free ports) and runs as a separate process, its output in a log file.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml

from joblet_cluster.common.tls import channel_credentials, channel_options
from joblet_cluster.node.dev import DevNode, prepare, wait_ready
from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.proto import joblet_pb2_grpc


@dataclass
class Node:
    home: Path  # the dev folder: certs/, rnx-config.yml, node-1/
    spec: DevNode
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.spec.port}"

    @property
    def rnx_config(self) -> Path:
        return self.home / "rnx-config.yml"

    @property
    def config(self) -> dict:
        return yaml.safe_load(self.spec.config.read_text())

    def start(self, wait: bool = True) -> None:
        log = (self.spec.config.parent / "node.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "joblet_cluster.node", "serve", "-c", str(self.spec.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            wait_ready([self.spec], [self.process])

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(60)

    def channel(self, role: str = "admin", certs: Path | None = None) -> grpc.Channel:
        folder = certs or self.home / "certs"
        credentials = channel_credentials(
            (folder / "ca.pem").read_bytes(),
            (folder / f"{role}-cert.pem").read_bytes(),
            (folder / f"{role}-key.pem").read_bytes(),
        )
        return grpc.secure_channel(self.address, credentials, options=channel_options())

    def jobs(self, role: str = "admin") -> joblet_pb2_grpc.JobServiceStub:
        return joblet_pb2_grpc.JobServiceStub(self.channel(role))

    def wait_status(
        self, job_id: str, statuses: set[str], timeout: float = 30.0
    ) -> pb.GetJobStatusResponse:
        """Until the job has one of ``statuses`` here; a job created through another node
        may reach this node's replica a moment later, so NOT_FOUND is waited out too."""
        stub = self.jobs()
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = stub.GetJobStatus(pb.GetJobStatusRequest(uuid=job_id), timeout=5)
                now = status.status
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                now = "not here yet"
            else:
                if now in statuses:
                    return status
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} is {now}, not {statuses}")
            time.sleep(0.05)

    def log_text(self) -> str:
        return (self.spec.config.parent / "node.log").read_text(errors="replace")


def make_node(home: Path) -> Node:
    (spec,) = prepare(home, 1)
    return Node(home, spec)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    running = make_node(tmp_path_factory.mktemp("node"))
    running.start()
    yield running
    if running.process is not None and running.process.poll() is None:
        assert running.stop() == 0, running.log_text()[-3000:]
