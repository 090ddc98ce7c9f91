"""Persist end to end: lines/s stored, lines/s queried back, and the compression ratio.

    python -m tests.benchmarks.bench_persist            # full run (figures in BENCHMARKS.md)
    python -m tests.benchmarks.bench_persist --smoke    # seconds; what CI runs

A real ``joblet persist`` process (local backend) receives 100-byte lines from the
project's PersistClient over its IPC socket; ingest lines/s is measured until every line
is acknowledged (durably written, gzip on disk). QueryLogs lines/s is measured by a gRPC
client reading every line back over the query socket, each chunk unpacked into a
``LogBlock`` (every line's content, timestamp and sequence in hand), as many times as
runs. For reference, in the same run, the benchmark writes the same lines as gzip JSON
lines straight to a file itself: the ceiling, reported as a ratio.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import time
from pathlib import Path

import grpc

from joblet_cluster.common import aio
from joblet_cluster.persist import STDOUT, LogBlock, PersistClient
from joblet_cluster.proto import persist_pb2 as pb
from joblet_cluster.proto import persist_pb2_grpc
from tests.benchmarks.bench_local_backend import batches, ceiling, contents
from tests.support import machine, persist_config, start_persist, stop, wait_for_socket


async def ingest(client: PersistClient, names: list[str], lines: list[bytes]) -> float:
    start = time.perf_counter()
    per_job = len(lines) // len(names)
    for offset in range(0, per_job, 1000):
        for job, name in enumerate(names):
            chunk = lines[job * per_job + offset : job * per_job + min(offset + 1000, per_job)]
            await client.log_many(name, STDOUT, chunk)
    assert await client.flush(300), "lines were not acknowledged"
    return len(lines) / (time.perf_counter() - start)


async def query(socket: Path, names: list[str], expected: int) -> float:
    async with grpc.aio.insecure_channel(
        f"unix:{socket}", options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)]
    ) as channel:
        stub = persist_pb2_grpc.PersistServiceStub(channel)
        start = time.perf_counter()
        received = 0
        for name in names:
            async for chunk in stub.QueryLogs(pb.LogQuery(job_id=name, stream=STDOUT)):
                received += len(LogBlock.from_chunk(chunk))
        elapsed = time.perf_counter() - start
    assert received == expected, f"read back {received} of {expected} lines"
    return received / elapsed


def stored_bytes(base: Path) -> int:
    return sum(p.stat().st_size for p in (base / "logs").rglob("*.gz"))


async def run(args: argparse.Namespace) -> None:
    lines = contents(args.lines)
    with tempfile.TemporaryDirectory(prefix="bench-persist-", dir="/tmp") as tmp:
        root = Path(tmp)
        config = persist_config(root / "svc", compression_level=args.level)
        ipc, query_socket = root / "svc" / "run" / "ipc.sock", root / "svc" / "run" / "query.sock"
        proc = start_persist(config)
        try:
            wait_for_socket(ipc, proc)
            rates = []
            names = []
            for attempt in range(args.repeat):  # new jobs each run: sequences start over
                run_names = [f"bench-{attempt}-{job}" for job in range(args.jobs)]
                names.extend(run_names)
                async with PersistClient(ipc, max_unacked=400_000) as client:
                    rates.append(await ingest(client, run_names, lines))
            wait_for_socket(query_socket, proc)
            query_rates = [
                await query(query_socket, names, len(lines) * args.repeat)
                for _ in range(args.repeat)
            ]
            on_disk = stored_bytes(root / "svc" / "data")
        finally:
            stop(proc, signal.SIGTERM)
        top, raw, gz = ceiling(root, batches(lines, 1), args.level)
    ingest_rate = statistics.median(rates)
    print(f"machine: {machine()}")
    print(
        f"{len(lines):,} lines of 100 bytes over {args.jobs} jobs, x{args.repeat} runs; "
        f"gzip level {args.level}"
    )
    print(
        f"ingest, client -> socket -> gzip on disk: {ingest_rate:>12,.0f} lines/s "
        f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    print(
        f"QueryLogs to a gRPC client:               {statistics.median(query_rates):>12,.0f} "
        f"lines/s (runs: {', '.join(f'{r:,.0f}' for r in query_rates)})"
    )
    print(
        f"ceiling, gzip JSON lines by the benchmark: {top:>11,.0f} lines/s; "
        f"ingest/ceiling {ingest_rate / top:.2f}"
    )
    print(
        f"compression: {raw / gz:.1f}x (ceiling file); stored {on_disk:,} bytes for "
        f"{len(lines) * args.repeat * 100:,} bytes of content"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds; checks it runs")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--level", type=int, default=1, help="gzip level (the config default)")
    args = parser.parse_args()
    if args.smoke:
        args.lines, args.jobs, args.repeat = 20_000, 4, 1
    aio.run(run(args))


if __name__ == "__main__":
    main()
