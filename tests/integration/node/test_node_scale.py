"""Many jobs on one node: 1,000 at once all complete, and listing 10,000 stays fast."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import urllib.request

import grpc
import pytest

from joblet_cluster.common.tls import channel_credentials, channel_options
from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.proto import joblet_pb2_grpc
from joblet_cluster.state import StateClient, now
from tests.integration.node.conftest import Node

JOBS = 1000
LISTED = 10_000


def aio_channel(node: Node) -> grpc.aio.Channel:
    folder = node.home / "certs"
    credentials = channel_credentials(
        (folder / "ca.pem").read_bytes(),
        (folder / "admin-cert.pem").read_bytes(),
        (folder / "admin-key.pem").read_bytes(),
    )
    return grpc.aio.secure_channel(node.address, credentials, options=channel_options())


@pytest.mark.slow
async def test_a_thousand_jobs_at_once_all_complete_and_ten_thousand_list_fast(
    node: Node,
) -> None:
    async with aio_channel(node) as channel:
        stub = joblet_pb2_grpc.JobServiceStub(channel)
        submitted = await asyncio.gather(
            *(
                stub.RunJob(pb.RunJobRequest(command="echo", args=[str(n)]), timeout=60)
                for n in range(JOBS)
            )
        )
        ids = {answer.job_uuid for answer in submitted}
        assert len(ids) == JOBS
        deadline = time.monotonic() + 240
        while True:
            jobs = (await stub.ListJobs(pb.EmptyRequest(), timeout=30)).jobs
            statuses = [job.status for job in jobs if job.uuid in ids]
            if statuses.count("COMPLETED") == JOBS:
                break
            assert "FAILED" not in statuses, [j for j in jobs if j.status == "FAILED"][:3]
            assert time.monotonic() < deadline, f"{statuses.count('COMPLETED')} of {JOBS} done"
            await asyncio.sleep(0.5)

        # Fill the store up to 10,000 finished jobs, as a busy node's history would be.
        present = len(jobs)
        async with StateClient(node.config["state"]["socket"]) as state:
            futures = await state.send_many(
                "create",
                (
                    {
                        "uuid": f"history-{n:05d}",
                        "nodeId": "node-1",
                        "status": "COMPLETED",
                        "version": 1,
                        "createdAt": now(),
                        "command": "echo",
                        "args": [str(n)],
                        "exitCode": 0,
                    }
                    for n in range(LISTED - present)
                ),
            )
            await asyncio.gather(*futures)
        latencies = []
        for _ in range(7):
            started = time.perf_counter()
            listed = await stub.ListJobs(pb.EmptyRequest(), timeout=30)
            latencies.append(time.perf_counter() - started)
        assert len(listed.jobs) >= LISTED
        assert statistics.median(latencies) <= 0.3, latencies


def test_node_metrics_and_health(node: Node) -> None:
    job = node.jobs().RunJob(pb.RunJobRequest(command="true"), timeout=10)
    node.wait_status(job.job_uuid, {"COMPLETED"})
    log = node.log_text()
    port = int(log.split("/metrics and /health on 127.0.0.1:")[1].split()[0])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
        assert (answer.status, answer.read()) == (200, b"ok\n")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    assert re.search(r'joblet_jobs\{status="COMPLETED"\} [1-9]', text), text
    assert re.search(r'joblet_job_duration_seconds_count\{status="COMPLETED"\} [1-9]', text)
    assert re.search(r'joblet_client\{client="persist",counter="unacked"\} 0', text), text
