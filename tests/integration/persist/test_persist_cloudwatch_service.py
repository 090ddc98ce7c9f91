"""``joblet persist`` with the CloudWatch backend, against a real moto server over HTTP."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import grpc
import yaml

from joblet_cluster.persist import STDERR, STDOUT, LogBlock, PersistClient
from joblet_cluster.proto import persist_pb2 as pb
from joblet_cluster.proto import persist_pb2_grpc
from tests.support import start_persist, stop, wait_for_socket


async def test_logs_and_statistics_through_the_service(sock_dir: Path, moto_endpoint: str) -> None:
    namespace = f"Joblet/Test-{uuid.uuid4().hex[:8]}"
    config = sock_dir / "joblet-config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"nodeId": "cw-node"},
                "persist": {
                    "ipc": {"socket": str(sock_dir / "run" / "ipc.sock")},
                    "server": {"grpc_socket": str(sock_dir / "run" / "query.sock")},
                    "storage": {
                        "type": "cloudwatch",
                        "cloudwatch": {
                            "region": "us-east-1",
                            "endpoint_url": moto_endpoint,
                            "log_group_prefix": f"/joblet-{uuid.uuid4().hex[:8]}",
                            "metric_namespace": namespace,
                        },
                    },
                    "monitoring": {"prometheus": {"enabled": False}, "health": {"enabled": False}},
                },
            }
        )
    )
    proc = start_persist(config)
    try:
        wait_for_socket(sock_dir / "run" / "query.sock", proc)
        async with PersistClient(sock_dir / "run" / "ipc.sock") as client:
            await client.log_many("cw-job", STDOUT, [b"out %d" % i for i in range(1, 4)])
            await client.log_many("cw-job", STDERR, [b"err 1"])
            base = (time.time_ns() // 60_000_000_000 - 5) * 60_000_000_000  # a whole minute
            for i, cpu in enumerate((10.0, 20.0, 60.0)):
                await client.metric(
                    pb.Metric(job_id="cw-job", timestamp=base + i * 10**9, cpu_percent=cpu)
                )
            assert await client.flush(30)
        async with grpc.aio.insecure_channel(f"unix:{sock_dir / 'run' / 'query.sock'}") as ch:
            stub = persist_pb2_grpc.PersistServiceStub(ch)
            lines = [
                ln
                async for c in stub.QueryLogs(pb.LogQuery(job_id="cw-job"))
                for ln in LogBlock.from_chunk(c)
            ]
            assert sorted((ln.stream, ln.content) for ln in lines) == [
                (STDOUT, b"out 1"),
                (STDOUT, b"out 2"),
                (STDOUT, b"out 3"),
                (STDERR, b"err 1"),
            ]
            expected = {"avg": 30.0, "min": 10.0, "max": 60.0, "sum": 90.0}
            for how, value in expected.items():
                chunks = [
                    c
                    async for c in stub.QueryMetrics(
                        pb.MetricQuery(
                            job_id="cw-job",
                            aggregation=how,
                            start_time=base,
                            end_time=base + 600 * 10**9,
                        )
                    )
                ]
                (only,) = [m for c in chunks for m in c.metrics]
                assert only.cpu_percent == value, how
    finally:
        assert stop(proc) == 0
