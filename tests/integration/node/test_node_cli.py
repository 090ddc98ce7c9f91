"""The ``joblet`` commands around a node: ``dev``, ``certs generate``, and a node with
one slot, where waiting jobs start by priority."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from joblet_cluster.proto import joblet_pb2 as pb
from tests.integration.node.conftest import make_node

TERMINAL = {"COMPLETED", "FAILED", "STOPPED", "CANCELED"}


def test_joblet_dev_brings_up_one_cluster_that_rnx_reaches_and_stops_it(tmp_path: Path) -> None:
    home = tmp_path / "dev"
    names = ("node-1", "node-2", "node-3")
    dev = subprocess.Popen(
        [sys.executable, "-m", "joblet_cluster.node", "dev", "--nodes", "3", "--dir", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert dev.stdout is not None
        lines = []
        deadline = time.monotonic() + 90
        while "Ctrl-C stops every node." not in lines:
            line = dev.stdout.readline()
            assert line or dev.poll() is None, "".join(lines)
            lines.append(line.strip())
            assert time.monotonic() < deadline, "".join(lines)
        assert f"export RNX_CONFIG={home / 'rnx-config.yml'}" in "\n".join(lines)
        env = {**os.environ, "RNX_CONFIG": str(home / "rnx-config.yml")}

        def rnx(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "joblet_cluster.rnx", *args],
                capture_output=True, text=True, env=env, timeout=60, check=False,
            )  # fmt: skip

        for name in names:
            ran = rnx("--node", name, "job", "run", "--follow", "echo", f"hello from {name}")
            assert ran.returncode == 0, ran.stderr
            assert f"hello from {name}" in ran.stdout
        # one Raft-replicated store: every node lists every node's jobs, at the same version
        deadline = time.monotonic() + 10
        while True:  # replicas apply a moment apart: until all three agree
            views = []
            for name in names:
                listed = rnx("--node", name, "--json", "job", "list")
                assert listed.returncode == 0, listed.stderr
                jobs = json.loads(listed.stdout)
                views.append(sorted((j["uuid"], j["node_id"], j["status"]) for j in jobs))
            if views[0] == views[1] == views[2]:
                break
            assert time.monotonic() < deadline, views
        assert sorted(node for _, node, _ in views[0]) == list(names)
    finally:
        dev.send_signal(signal.SIGINT)
        assert dev.wait(60) == 0
    for name in names:  # every node stopped its services: no socket left
        assert not (home / name / "run" / "state.sock").exists()


def test_certs_generate_writes_what_a_node_and_rnx_need(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "joblet_cluster.node", "certs", "generate", "--dir",
         str(tmp_path), "--address", "10.1.2.3", "--address", "node.example.com"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [
            "ca.pem", "ca-key.pem", "server-cert.pem", "server-key.pem", "admin-cert.pem",
            "admin-key.pem", "viewer-cert.pem", "viewer-key.pem", "rnx-config.yml",
        ]
    )  # fmt: skip
    config = yaml.safe_load((tmp_path / "rnx-config.yml").read_text())
    assert config["nodes"]["default"]["address"] == "10.1.2.3:50051"
    assert (tmp_path / "admin-key.pem").stat().st_mode & 0o777 == 0o600
    refused = subprocess.run(
        [sys.executable, "-m", "joblet_cluster.node", "certs", "generate", "--dir",
         str(tmp_path / "bad"), "--address", "not a host!"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.startswith("joblet: ") and refused.stderr.count("\n") == 1


def test_with_one_slot_waiting_jobs_start_by_priority_then_arrival(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    config = yaml.safe_load(node.spec.config.read_text())
    config["server"]["max_concurrent_jobs"] = 1
    node.spec.config.write_text(yaml.safe_dump(config))
    node.start()
    try:
        stub = node.jobs()
        first = stub.RunJob(pb.RunJobRequest(command="sleep", args=["1.5"]), timeout=10)
        node.wait_status(first.job_uuid, {"RUNNING"})
        waiting = [
            stub.RunJob(pb.RunJobRequest(command="true", priority=priority), timeout=10).job_uuid
            for priority in (0, 5, 0, 9)
        ]
        assert {
            stub.GetJobStatus(pb.GetJobStatusRequest(uuid=j), timeout=10).status for j in waiting
        } == {"INITIALIZING"}
        ended = [node.wait_status(j, TERMINAL) for j in waiting]
        assert all(job.status == "COMPLETED" for job in ended)
        by_start = [j for _, j in sorted((job.start_time, job.uuid) for job in ended)]
        assert by_start == [waiting[3], waiting[1], waiting[0], waiting[2]]
    finally:
        assert node.stop() == 0


def test_stream_job_metrics_gives_history_then_live_samples_until_the_end(
    tmp_path: Path,
) -> None:
    node = make_node(tmp_path)
    node.start()
    try:
        stub = node.jobs()
        job = stub.RunJob(pb.RunJobRequest(command="sleep", args=["4"]), timeout=10)
        node.wait_status(job.job_uuid, {"RUNNING"})
        time.sleep(1.5)  # some samples are history by the time the stream starts
        events = list(
            stub.StreamJobMetrics(pb.StreamJobMetricsRequest(job_uuid=job.job_uuid), timeout=30)
        )
        assert node.wait_status(job.job_uuid, TERMINAL).status == "COMPLETED"
        stamps = [event.timestamp for event in events]
        assert len(stamps) >= 3 and stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert all(event.job_uuid == job.job_uuid for event in events)
    finally:
        assert node.stop() == 0
