"""Three nodes, one Raft-replicated store: any node answers for every job, and calls on
a job go to the node that owns it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import grpc
import pytest

from joblet_cluster.proto import joblet_pb2 as pb
from tests.integration.node.conftest import Node

TERMINAL = {"COMPLETED", "FAILED", "STOPPED", "CANCELED"}

# ``cluster``: three running nodes (conftest.py)


def test_any_node_sees_a_job_and_can_follow_and_stop_another_nodes_job(
    cluster: list[Node],
) -> None:
    one, two, three = cluster
    program = "for i in $(seq 1 300); do echo line $i; sleep 0.05; done"
    job = two.jobs().RunJob(pb.RunJobRequest(command="sh", args=["-c", program]), timeout=10)
    started = time.monotonic()
    for node in (one, three):  # the store replicates the job to every node
        seen = node.wait_status(job.job_uuid, {"RUNNING"}, timeout=5)
        assert seen.node_id == "node-2"
    assert time.monotonic() - started < 5
    follow = three.jobs().GetJobLogs(pb.GetJobLogsRequest(uuid=job.job_uuid), timeout=60)
    received = []
    for chunk in follow:  # node-3 relays node-2's live output
        received += chunk.payload.decode().splitlines()
        if len(received) >= 5:
            break
    follow.cancel()
    assert received[:5] == [f"line {i}" for i in range(1, 6)]
    stopped = three.jobs().StopJob(pb.StopJobRequest(uuid=job.job_uuid), timeout=60)
    assert stopped.status == "STOPPED"
    assert one.wait_status(job.job_uuid, {"STOPPED"}, timeout=5).node_id == "node-2"


def test_a_call_on_a_down_nodes_job_says_which_node_is_down(cluster: list[Node]) -> None:
    one, two, _ = cluster
    job = two.jobs().RunJob(pb.RunJobRequest(command="true"), timeout=10)
    one.wait_status(job.job_uuid, {"COMPLETED"})
    assert two.stop() == 0
    deadline = time.monotonic() + 30
    while True:  # until node-2's heartbeat is old enough to call it down
        with pytest.raises(grpc.RpcError) as failed:
            one.jobs().DeleteJob(pb.DeleteJobRequest(uuid=job.job_uuid), timeout=10)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        if "is down" in failed.value.details():
            break
        assert time.monotonic() < deadline, failed.value.details()
        time.sleep(0.5)
    assert "node-2" in failed.value.details()
    status = one.jobs().GetJobStatus(pb.GetJobStatusRequest(uuid=job.job_uuid), timeout=10)
    assert status.status == "COMPLETED"  # reads still answer from the local replica


def test_run_on_a_chosen_node_or_the_least_loaded_one(cluster: list[Node]) -> None:
    one, _, three = cluster
    on_three = one.jobs().RunJob(pb.RunJobRequest(command="true", node="node-3"), timeout=30)
    assert three.wait_status(on_three.job_uuid, TERMINAL).node_id == "node-3"
    busy = [
        one.jobs().RunJob(pb.RunJobRequest(command="sleep", args=["30"]), timeout=30).job_uuid
        for _ in range(2)
    ]
    for job_id in busy:
        one.wait_status(job_id, {"RUNNING"})
    deadline = time.monotonic() + 10
    while True:  # once node-1's heartbeat reports its two running jobs
        anywhere = one.jobs().RunJob(pb.RunJobRequest(command="true", node="any"), timeout=30)
        placed = one.wait_status(anywhere.job_uuid, TERMINAL).node_id
        if placed != "node-1":
            break
        assert time.monotonic() < deadline, "'any' kept choosing the busy node"
    for job_id in busy:
        one.jobs().StopJob(pb.StopJobRequest(uuid=job_id), timeout=60)
    with pytest.raises(grpc.RpcError) as failed:
        one.jobs().RunJob(pb.RunJobRequest(command="true", node="node-9"), timeout=30)
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "node-9" in failed.value.details()


def test_rnx_cluster_status_shows_the_leader_and_every_node(cluster: list[Node]) -> None:
    env = {**os.environ, "RNX_CONFIG": str(cluster[0].rnx_config)}
    deadline = time.monotonic() + 20
    while True:  # until every node's heartbeat has reached node-3's replica
        done = subprocess.run(
            [sys.executable, "-m", "joblet_cluster.rnx", "--node", "node-3", "--json",
             "cluster", "status"],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        nodes = {node["node_id"]: node for node in status["nodes"]}
        if len(nodes) == 3:
            break
        assert time.monotonic() < deadline, status
    assert status["node_id"] == "node-3"
    assert status["raft"]["leader"] and int(status["raft"]["term"]) >= 1
    assert sorted(n.get("role") for n in nodes.values()) == ["follower", "follower", "leader"]
    assert all(n["up"] for n in nodes.values())
    # lag is counted in entries between heartbeats 2 s apart (each one an entry): small
    assert all(int(n.get("lag", 0)) < 50 for n in nodes.values()), nodes
    table = subprocess.run(
        [sys.executable, "-m", "joblet_cluster.rnx", "cluster", "status"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert table.returncode == 0 and "leader" in table.stdout and "node-2" in table.stdout
