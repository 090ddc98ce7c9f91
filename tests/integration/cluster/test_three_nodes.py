"""Three nodes, one Raft-replicated store: any node answers for every job, and calls on
a job go to the node that owns it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from joblet_cluster.node.dev import prepare
from joblet_cluster.proto import joblet_pb2 as pb
from tests.integration.node.conftest import Node

TERMINAL = {"COMPLETED", "FAILED", "STOPPED", "CANCELED"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[Node]]:
    nodes = [Node(tmp_path, spec) for spec in prepare(tmp_path, 3)]
    for node in nodes:
        node.start()
    try:
        yield nodes
    finally:
        for node in nodes:
            if node.process is not None and node.process.poll() is None:
                node.stop()


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
