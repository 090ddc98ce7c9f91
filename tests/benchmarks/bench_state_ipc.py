"""State service throughput and latency through its real IPC socket, beside redis-server.

    python -m tests.benchmarks.bench_state_ipc            # full run (figures in BENCHMARKS.md)
    python -m tests.benchmarks.bench_state_ipc --smoke    # seconds; what CI runs

Measures, against a real ``joblet state`` process (memory backend):
  * create and update ops/s from one StateClient keeping 64 requests on the wire
    (pipeline depth 64), and p50/p99 from send to answer with 64 callers each
    waiting for its answer (so at most 64 in flight: the same window as redis below);
  * p50/p99 of ``list`` filtered by status (limit 100) over a store of 100,000 jobs;
and, in the same run, the same pattern against a local redis-server: SET of the same
JSON documents at the same pipeline depth, from a client built the same way (one unix
connection, a sliding window of requests in flight), reported as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from joblet_cluster.common import aio
from joblet_cluster.state import JobStatus, StateClient, now
from tests.support import machine, redis_server, state_service

STATUSES = list(JobStatus)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_jobs(count: int, node_id: str = "node-1", prefix: str = "job") -> list[dict[str, Any]]:
    created = now()
    return [
        {
            "uuid": f"{prefix}-{i:07d}",
            "nodeId": node_id,
            "status": "INITIALIZING",
            "version": 1,
            "command": "python3",
            "args": ["-c", "print('hello')"],
            "name": f"bench {i}",
            "createdAt": created,
            "labels": {"team": "bench", "shard": str(i % 16)},
        }
        for i in range(count)
    ]


def updates_for(jobs: list[dict[str, Any]], rounds: int) -> list[dict[str, Any]]:
    """``rounds`` successive versions of every job, interleaved across jobs."""
    out = []
    current = {job["uuid"]: job for job in jobs}
    for r in range(rounds):
        for uuid, job in list(current.items()):
            nxt = {**job, "version": job["version"] + 1, "status": "RUNNING", "pid": 1000 + r}
            current[uuid] = nxt
            out.append(nxt)
    return out


def lanes_by_job(records: list[dict[str, Any]], count: int) -> list[list[dict[str, Any]]]:
    """``records`` dealt to ``count`` callers; one job's versions stay with one caller, in
    order, so no caller's change can arrive before the version it follows."""
    by_job: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_job.setdefault(record["uuid"], []).append(record)
    lanes: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    for i, versions in enumerate(by_job.values()):
        lanes[i % count].extend(versions)
    return lanes


async def throughput(client: StateClient, op: str, records: list[dict[str, Any]]) -> float:
    """Changes/s with the client's pipeline full: queue everything, wait for every answer."""
    start = time.perf_counter()
    futures = await client.send_many(op, records)
    await client.flush()
    elapsed = time.perf_counter() - start
    refused = [f for f in futures if f.exception() is not None or not f.result().applied]
    assert not refused, f"every change must be applied; first refusal: {refused[0]}"
    return len(records) / elapsed


async def latencies(
    client: StateClient, op: str, records: list[dict[str, Any]], depth: int
) -> list[float]:
    """Send-to-answer times with exactly ``depth`` callers, each waiting for its answer."""
    samples: list[float] = []
    clock = time.perf_counter

    async def caller(mine: list[dict[str, Any]]) -> None:
        for record in mine:
            sent = clock()
            result = await (await client.send(op, record))
            samples.append(clock() - sent)
            assert result.applied

    await asyncio.gather(*(caller(lane) for lane in lanes_by_job(records, depth)))
    return samples


class RespWindow(asyncio.Protocol):
    """A minimal Redis client: SETs with a sliding window of ``depth`` replies outstanding."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.outstanding = 0
        self.pending: list[bytes] = []
        self.sent_at: list[float] = []
        self.latencies: list[float] = []
        self.replies = 0
        self.done = asyncio.get_running_loop().create_future()
        self.total = 0
        self.transport: asyncio.Transport | None = None
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def run(self, commands: list[bytes]) -> None:
        self.pending = commands[::-1]
        self.total = len(commands)
        self.fill()

    def fill(self) -> None:
        chunk = []
        now_ = time.perf_counter()
        while self.outstanding < self.depth and self.pending:
            chunk.append(self.pending.pop())
            self.sent_at.append(now_)
            self.outstanding += 1
        if chunk:
            assert self.transport is not None
            self.transport.write(b"".join(chunk))

    def data_received(self, data: bytes) -> None:
        data = self.tail + data
        n = data.count(b"\r\n")
        cut = data.rfind(b"\r\n") + 2
        self.tail = data[cut:]
        if b"-" in data[:cut] and b"-ERR" in data[:cut]:
            raise RuntimeError(data[:200])
        now_ = time.perf_counter()
        first = self.replies
        self.latencies.extend(now_ - t for t in self.sent_at[first : first + n])
        self.replies += n
        self.outstanding -= n
        if self.replies >= self.total:
            self.done.set_result(None)
        else:
            self.fill()


def resp_set(key: str, value: bytes) -> bytes:
    k = key.encode()
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(value), value)


async def redis_sets(
    sock: Path, records: list[dict[str, Any]], depth: int
) -> tuple[float, list[float]]:
    """SETs/s and per-request latency with a window of ``depth`` requests outstanding."""
    loop = asyncio.get_running_loop()
    commands = [resp_set(f"job:{r['uuid']}", orjson.dumps(r)) for r in records]
    _, protocol = await loop.create_unix_connection(lambda: RespWindow(depth), str(sock))
    start = time.perf_counter()
    protocol.run(commands)
    await protocol.done
    elapsed = time.perf_counter() - start
    protocol.transport.close()
    return len(records) / elapsed, protocol.latencies


async def list_latencies(client: StateClient, total: int, queries: int) -> list[float]:
    """Load ``total`` jobs spread over every status, then time filtered lists."""
    jobs = make_jobs(total, node_id="node-2", prefix="list")
    for i, job in enumerate(jobs):
        job["status"] = STATUSES[i % len(STATUSES)].value
    await throughput(client, "create", jobs)
    samples = []
    for i in range(queries):
        status = STATUSES[i % len(STATUSES)].value
        start = time.perf_counter()
        page, _ = await client.list(status=status, limit=100)
        samples.append(time.perf_counter() - start)
        assert len(page) == 100 and all(j["status"] == status for j in page)
    return samples


def line(name: str, rate: float | None, latencies: list[float]) -> str:
    rate_text = f"{rate:>12,.0f} ops/s" if rate is not None else " " * 18
    return (
        f"{name:<44}{rate_text}   p50 {percentile(latencies, 0.5) * 1e3:7.3f} ms"
        f"   p99 {percentile(latencies, 0.99) * 1e3:7.3f} ms"
    )


async def run(args: argparse.Namespace) -> None:
    depth = args.depth
    with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
        tmpdir = Path(tmp)
        jobs = make_jobs(args.jobs)
        updates = updates_for(jobs, args.rounds)
        print(f"machine: {machine()}")
        print(
            f"pipeline depth {depth}; {len(jobs):,} creates, {len(updates):,} updates; "
            f"list over {args.list_jobs:,} jobs"
        )
        with state_service(tmpdir / "state") as (sock, _proc):
            async with StateClient(
                sock, node_id="node-1", max_in_flight=depth, max_pending=20_000
            ) as client:
                create_rate = await throughput(client, "create", jobs)
                update_rates = []
                for _ in range(args.repeat):  # the machine's speed wanders: take the median
                    update_rates.append(await throughput(client, "update", updates))
                    updates = updates_for(updates[-len(jobs) :], args.rounds)
                update_rate = statistics.median(update_rates)
                more = updates_for(updates[-len(jobs) :], args.latency_rounds)
                update_lat = await latencies(client, "update", more, depth)
                create_lat = await latencies(
                    client, "create", make_jobs(len(jobs), "node-3", "lat"), depth
                )
                list_lat = await list_latencies(client, args.list_jobs, args.list_queries)
        with redis_server(tmpdir) as redis_sock:
            redis_rate, redis_lat = await redis_sets(redis_sock, updates, depth)
        print(line("state create (IPC, memory backend)", create_rate, create_lat))
        print(line("state update (IPC, memory backend)", update_rate, update_lat))
        print(line(f"redis-server SET same JSON, depth {depth}", redis_rate, redis_lat))
        print(line(f"state list status=X limit 100 of {args.list_jobs:,}", None, list_lat))
        print(
            f"update runs: {', '.join(f'{r:,.0f}' for r in update_rates)} ops/s "
            f"(median above, best {max(update_rates):,.0f})"
        )
        print(f"ratio update/redis SET: {update_rate / redis_rate:.2f}")
        print(f"mean list latency: {statistics.fmean(list_lat) * 1e3:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds; checks it runs")
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10, help="updates per job")
    parser.add_argument("--repeat", type=int, default=5, help="update throughput runs")
    parser.add_argument(
        "--latency-rounds", type=int, default=2, help="updates per job in the latency pass"
    )
    parser.add_argument("--list-jobs", type=int, default=100_000)
    parser.add_argument("--list-queries", type=int, default=2000)
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.rounds, args.list_jobs, args.list_queries = 200, 5, 2000, 50
        args.latency_rounds, args.repeat = 1, 1
    os.environ.setdefault("PYTHONHASHSEED", "0")
    aio.run(run(args))


if __name__ == "__main__":
    main()
