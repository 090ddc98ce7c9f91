"""One node end to end: jobs submitted at once until all complete, and ListJobs latency.

    python -m tests.benchmarks.bench_node            # full run (figures in BENCHMARKS.md)
    python -m tests.benchmarks.bench_node --smoke    # seconds; what CI runs

A real node (``joblet serve``, prepared as ``joblet dev`` prepares one, mTLS) runs in a
temporary folder. The benchmark submits ``--jobs`` ``echo`` jobs concurrently over gRPC
and times until ListJobs shows them all COMPLETED (jobs/s). Then it fills the store up to
``--listed`` finished jobs and times ListJobs (what ``rnx job list`` waits for), p50 and
p99 over ``--repeat`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import grpc

from joblet_cluster.common import aio
from joblet_cluster.common.tls import channel_credentials, channel_options
from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.proto import joblet_pb2_grpc
from joblet_cluster.state import StateClient, now
from tests.integration.node.conftest import Node, make_node
from tests.support import machine


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-node-", dir="/tmp") as tmp:
        node = make_node(Path(tmp))
        node.start()
        try:
            folder = node.home / "certs"
            credentials = channel_credentials(
                (folder / "ca.pem").read_bytes(),
                (folder / "admin-cert.pem").read_bytes(),
                (folder / "admin-key.pem").read_bytes(),
            )
            async with grpc.aio.secure_channel(
                node.address, credentials, options=channel_options()
            ) as channel:
                stub = joblet_pb2_grpc.JobServiceStub(channel)
                rate = await complete(stub, args.jobs)
                latencies = await list_latency(node, stub, args.listed, args.repeat)
        finally:
            node.stop()
    ordered = sorted(latencies)
    print(f"machine: {machine()}")
    print(f"{args.jobs:,} echo jobs submitted at once, all COMPLETED: {rate:,.0f} jobs/s")
    print(
        f"ListJobs over {args.listed:,} jobs: p50 {statistics.median(ordered) * 1000:.0f} ms, "
        f"p99 {ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000:.0f} ms "
        f"({len(ordered)} calls)"
    )


async def complete(stub: joblet_pb2_grpc.JobServiceStub, count: int) -> float:
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(
            stub.RunJob(pb.RunJobRequest(command="echo", args=[str(n)]), timeout=120)
            for n in range(count)
        )
    )
    ids = {answer.job_uuid for answer in answers}
    while True:
        jobs = (await stub.ListJobs(pb.EmptyRequest(), timeout=60)).jobs
        if sum(1 for job in jobs if job.uuid in ids and job.status == "COMPLETED") == count:
            return count / (time.perf_counter() - started)
        await asyncio.sleep(0.2)


async def list_latency(
    node: Node, stub: joblet_pb2_grpc.JobServiceStub, listed: int, repeat: int
) -> list[float]:
    present = len((await stub.ListJobs(pb.EmptyRequest(), timeout=60)).jobs)
    async with StateClient(node.config["state"]["socket"]) as state:
        futures = await state.send_many(
            "create",
            (
                {
                    "uuid": f"history-{n:06d}",
                    "nodeId": "node-1",
                    "status": "COMPLETED",
                    "version": 1,
                    "createdAt": now(),
                    "command": "echo",
                    "args": [str(n)],
                    "exitCode": 0,
                }
                for n in range(max(listed - present, 0))
            ),
        )
        await asyncio.gather(*futures)
    latencies = []
    for _ in range(repeat):
        started = time.perf_counter()
        await stub.ListJobs(pb.EmptyRequest(), timeout=60)
        latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds; checks it runs")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--listed", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.listed, args.repeat = 20, 200, 3
    aio.run(run(args))


if __name__ == "__main__":
    main()
