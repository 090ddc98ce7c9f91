"""The local persist backend alone: write and read lines/s, compression, and plain gzip.

    python -m tests.benchmarks.bench_local_backend            # full run
    python -m tests.benchmarks.bench_local_backend --smoke    # seconds; what CI runs

Straight through ``LocalBackend`` (no sockets, no service): ``write_logs`` of 100-byte lines
in batches of 1000, round robin over the jobs, each batch awaited (so durable) before the
next, alternately on stdout and stderr; then ``read_logs`` of every line back, one stream at
a time and both streams merged. The lines are built before the clock starts, as the
ingestion core hands them over. Compression: content bytes, and JSON-lines bytes, per byte
on disk. The ceiling: the same JSON lines written by the benchmark itself with
``gzip.open`` at the same level, in the same blocks of 1000, reported as a ratio.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from joblet_cluster.common import aio
from joblet_cluster.common.config import PersistLocalConfig, PersistStorageConfig
from joblet_cluster.persist.backends._base import STDERR, STDOUT
from joblet_cluster.persist.backends._block import LogBlock
from joblet_cluster.persist.backends._local import LocalBackend
from joblet_cluster.proto.persist_pb2 import LogLine
from tests.support import machine

BATCH = 1000
T0 = 1_790_000_000_000_000_000


def contents(count: int) -> list[bytes]:
    """100-byte lines that look like log output (numbers change, text repeats)."""
    return [
        (
            b"%012d INFO worker[%d] processed batch %d in %d ms; queue depth %d"
            % (i, i % 8, i // 8, i % 97, i % 1000)
        ).ljust(100, b".")
        for i in range(count)
    ]


def batches(texts: list[bytes], jobs: int) -> list[tuple[str, int, list[LogLine]]]:
    """(job, stream, lines) in write order: blocks of 1000, round robin over the jobs, each
    job's blocks alternately stdout and stderr, sequences per job and stream from 1."""
    out = []
    per_job = len(texts) // jobs
    next_sequence: dict[tuple[int, int], int] = {}
    for block, at in enumerate(range(0, per_job, BATCH)):
        stream = STDOUT if block % 2 == 0 else STDERR
        for job in range(jobs):
            first = next_sequence.get((job, stream), 1)
            part = texts[job * per_job + at : job * per_job + min(at + BATCH, per_job)]
            lines = [
                LogLine(
                    job_id=f"bench-{job}",
                    stream=stream,
                    content=content,
                    timestamp=T0 + (at + n) * 1000,
                    sequence=first + n,
                )
                for n, content in enumerate(part)
            ]
            next_sequence[(job, stream)] = first + len(lines)
            out.append((f"bench-{job}", stream, lines))
    return out


async def write(backend: LocalBackend, work: list[tuple[str, int, list[LogLine]]]) -> float:
    blocks = [(job, stream, LogBlock.of(job, lines)) for job, stream, lines in work]
    start = time.perf_counter()
    for job, stream, block in blocks:
        await backend.write_logs(job, stream, block)
    return sum(len(lines) for _, _, lines in work) / (time.perf_counter() - start)


async def read(backend: LocalBackend, jobs: int, streams: tuple[int, ...], expected: int) -> float:
    start = time.perf_counter()
    received = 0
    for job in range(jobs):
        for stream in streams:
            async for chunk in backend.read_logs(f"bench-{job}", stream):
                received += len(chunk)
    elapsed = time.perf_counter() - start
    assert received == expected, f"read back {received} of {expected} lines"
    return received / elapsed


def ceiling(
    directory: Path, work: list[tuple[str, int, list[LogLine]]], level: int
) -> tuple[float, int, int]:
    """The same JSON lines, gzip'd straight to one file: lines/s, raw bytes, gzip bytes."""
    path = directory / "ceiling.jsonl.gz"
    start = time.perf_counter()
    raw = count = 0
    with gzip.open(path, "wb", compresslevel=level) as out:
        for job, stream, lines in work:
            name = "stdout" if stream == STDOUT else "stderr"
            data = b"".join(
                orjson.dumps(
                    {
                        "job_id": job,
                        "stream": name,
                        "timestamp": line.timestamp,
                        "sequence": line.sequence,
                        "content": line.content.decode(),
                    }
                )
                + b"\n"
                for line in lines
            )
            out.write(data)
            raw += len(data)
            count += len(lines)
    return count / (time.perf_counter() - start), raw, path.stat().st_size


async def run(args: argparse.Namespace) -> None:
    work = batches(contents(args.lines), args.jobs)
    total = sum(len(lines) for _, _, lines in work)
    content_bytes = sum(len(line.content) for _, _, lines in work for line in lines)
    write_rates, read_rates, merged_rates = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-local-", dir="/tmp") as tmp:
        root = Path(tmp)
        for attempt in range(args.repeat):
            config = PersistStorageConfig(
                base_dir=str(root / f"run-{attempt}"),
                local=PersistLocalConfig(compression_level=args.level),
            )
            backend = LocalBackend(config)
            await backend.open()
            try:
                write_rates.append(await write(backend, work))
                read_rates.append(await read(backend, args.jobs, (STDOUT, STDERR), total))
                merged_rates.append(await read(backend, args.jobs, (0,), total))
                stored = await backend.stored_bytes()
            finally:
                await backend.close()
        top, raw, gz = ceiling(root, work, args.level)

    def runs(rates: list[float]) -> str:
        return ", ".join(f"{rate:,.0f}" for rate in rates)

    written, read_back = statistics.median(write_rates), statistics.median(read_rates)
    merged = statistics.median(merged_rates)
    print(f"machine: {machine()}")
    print(
        f"{total:,} lines of 100 bytes over {args.jobs} jobs, batches of {BATCH}, "
        f"x{args.repeat} runs; gzip level {args.level}"
    )
    print(f"write_logs, durable on return:   {written:>12,.0f} lines/s (runs: {runs(write_rates)})")
    print(
        f"read_logs, one stream at a time: {read_back:>12,.0f} lines/s (runs: {runs(read_rates)})"
    )
    print(f"read_logs, both streams merged:  {merged:>12,.0f} lines/s (runs: {runs(merged_rates)})")
    print(
        f"ceiling, gzip.open of the same JSON lines: {top:,.0f} lines/s; "
        f"write_logs/ceiling {written / top:.2f}"
    )
    print(
        f"compression: content {content_bytes / stored:.1f}x, JSON lines {raw / stored:.1f}x "
        f"({stored:,} bytes on disk; the ceiling's file: {raw / gz:.1f}x)"
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
