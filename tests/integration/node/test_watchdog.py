"""The watchdog of a real node: a raft state service frozen with SIGSTOP (its socket still
open, answering nothing) is killed and started again, and the node serves on.

Both ways a node holds its state service are covered: one it started itself, and one it
adopted (a service already answering on its socket when the node started)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from joblet_cluster.node.supervisor import _socket_owner
from joblet_cluster.proto import joblet_pb2 as pb
from tests.integration.node.conftest import Node, make_node
from tests.support import start_state, stop, wait_for_socket

WATCHDOG_TIMEOUT = 2  # seconds of silence before a restart (10 by default)


@pytest.mark.parametrize("adopted", [False, True], ids=["started", "adopted"])
def test_a_frozen_state_service_is_restarted_and_the_node_serves_on(
    tmp_path: Path, adopted: bool
) -> None:
    node = make_node(tmp_path)
    config = yaml.safe_load(node.spec.config.read_text())
    assert config["state"]["backend"] == "raft"
    config["cluster"]["watchdog_timeout"] = WATCHDOG_TIMEOUT
    node.spec.config.write_text(yaml.safe_dump(config, sort_keys=False))
    socket_path = config["state"]["socket"]
    earlier: subprocess.Popen[bytes] | None = None
    if adopted:  # as a killed node leaves it behind
        earlier = start_state(node.spec.config)
        wait_for_socket(Path(socket_path), earlier, timeout=30)
    node.start()
    assert node.process is not None
    frozen = _socket_owner(socket_path)
    assert frozen is not None
    parent = _parent(frozen)
    assert (frozen, parent) == (earlier.pid, os.getpid()) if earlier else parent == node.process.pid
    try:
        job = node.jobs().RunJob(pb.RunJobRequest(command="echo", args=["before"]), timeout=10)
        node.wait_status(job.job_uuid, {"COMPLETED"})
        os.kill(frozen, signal.SIGSTOP)
        deadline = time.monotonic() + 20  # the timeout, a ping, a restart of the service
        while True:  # until another process answers on the socket
            owner = _socket_owner(socket_path)
            if owner is not None and owner != frozen:
                break
            assert time.monotonic() < deadline, node.log_text()[-3000:]
            time.sleep(0.05)
        if earlier is not None:
            assert earlier.wait(10) == -signal.SIGKILL
        else:
            deadline = time.monotonic() + 10
            while Path(f"/proc/{frozen}").exists():  # killed and reaped by the node
                assert time.monotonic() < deadline, f"pid {frozen} is still there"
                time.sleep(0.05)

        warning = _wait_for_line(node, "the state service is unhealthy: ")
        assert "no answer to ping for" in warning and f"killed it (pid {frozen})" in warning
        after = node.jobs().RunJob(pb.RunJobRequest(command="echo", args=["after"]), timeout=30)
        node.wait_status(after.job_uuid, {"COMPLETED"})
        listed = {j.uuid for j in node.jobs().ListJobs(pb.EmptyRequest(), timeout=10).jobs}
        assert {job.job_uuid, after.job_uuid} <= listed  # the replica kept its journal
        port = int(node.log_text().split("/metrics and /health on 127.0.0.1:")[1].split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            metrics = answer.read().decode()
        assert re.search(r"^joblet_state_watchdog_restarts_total 1\.0$", metrics, re.M), metrics
        assert node.stop() == 0, node.log_text()[-3000:]
    finally:
        _leave_nothing(node, frozen, earlier)


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _wait_for_line(node: Node, text: str, timeout: float = 10.0) -> str:
    """The node's first log line holding ``text``, once it is written."""
    deadline = time.monotonic() + timeout
    while True:
        for line in node.log_text().splitlines():
            if text in line:
                return line
        assert time.monotonic() < deadline, f"no {text!r} in\n{node.log_text()[-3000:]}"
        time.sleep(0.05)


def _leave_nothing(node: Node, frozen: int, earlier: subprocess.Popen[bytes] | None) -> None:
    """Thaw and kill the frozen service if the watchdog did not, then stop the node."""
    if earlier is not None:
        with contextlib.suppress(ProcessLookupError):
            earlier.send_signal(signal.SIGCONT)
        stop(earlier, signal.SIGKILL)
    elif Path(f"/proc/{frozen}").exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(frozen, signal.SIGKILL)
    if node.process is not None and node.process.poll() is None:
        node.stop()
