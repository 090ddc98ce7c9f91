"""The raft-replicated state store on three nodes, beside a three-member etcd cluster.

    python -m tests.benchmarks.bench_raft            # full run (figures in BENCHMARKS.md)
    python -m tests.benchmarks.bench_raft --smoke    # seconds; what CI runs

Against three real ``joblet state`` processes (``state.backend: raft``, journal and dump
files on, election timeouts at the config defaults) on loopback, measures:
  * committed job changes/s: three StateClients, one per node, each keeping its pipeline
    full of compare-and-set creates, then updates, of its node's jobs; a change counts
    once its node's state service has answered it (it is committed);
  * commit latency p50/p99 at moderate load: a few callers per node, each waiting for its
    answer before it sends the next change;
  * leader failover: the leader's state service SIGKILLed N times, the time from the kill
    to the first change committed through another node (the victim is restarted and
    caught up between kills);
  * catch-up: a follower restarted from its journal, and from a wiped data dir, until it
    has applied what the leader had committed (the store then holds every job loaded).
In the same run, for reference, the same create/update pattern against a three-member
etcd cluster (Debian's ``etcd-server``) through a Python gRPC client built the same way
(tests/benchmarks/_etcd.py), reported as a ratio; and the bare pysyncobj setup the
issue's target was set from (tests/benchmarks/_bare_raft.py), which tells a slow day's
machine from slow code.
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

from joblet_cluster.common import aio
from joblet_cluster.state import StateClient
from tests.benchmarks._bare_raft import GROUP, IN_FLIGHT, bare_pysyncobj_rate
from tests.benchmarks._etcd import etcd_changes, etcd_cluster, job_changes
from tests.benchmarks.bench_state_ipc import lanes_by_job, make_jobs, percentile, updates_for
from tests.support import RaftReplicas, loop_step_ns, machine

NODES = 3


async def committed_rate(
    clients: list[StateClient], op: str, per_node: list[list[dict[str, Any]]]
) -> float:
    """Changes/s with every client's pipeline full; fails if any change is refused."""
    start = time.perf_counter()
    futures = await asyncio.gather(
        *(c.send_many(op, records) for c, records in zip(clients, per_node, strict=True))
    )
    await asyncio.gather(*(c.flush(600) for c in clients))
    elapsed = time.perf_counter() - start
    outcomes = [f for node in futures for f in node]
    refused = [f for f in outcomes if f.exception() is not None or not f.result().applied]
    assert not refused, f"every change must commit; first refusal: {refused[0]}"
    return len(outcomes) / elapsed


async def paced_latencies(
    clients: list[StateClient], per_node: list[list[dict[str, Any]]], callers: int
) -> tuple[float, list[float]]:
    """Send-to-commit times with ``callers`` per node, each waiting for its answer."""
    samples: list[float] = []
    clock = time.perf_counter

    async def caller(client: StateClient, mine: list[dict[str, Any]]) -> None:
        for record in mine:
            sent = clock()
            result = await client.update(record)
            samples.append(clock() - sent)
            assert result.applied

    lanes = []
    for client, records in zip(clients, per_node, strict=True):
        lanes.extend(caller(client, lane) for lane in lanes_by_job(records, callers))
    start = clock()
    await asyncio.gather(*lanes)
    return len(samples) / (clock() - start), samples


async def failovers(replicas: RaftReplicas, kills: int) -> list[float]:
    """Seconds from SIGKILL of the leader to the next change committed elsewhere."""
    return [(await replicas.fail_over(f"failover-{k}"))[0] for k in range(kills)]


async def catch_up(replicas: RaftReplicas, wipe: bool) -> float:
    """Stop a follower, start it again (``wipe``: with an empty data dir), and time until
    it has applied everything the leader had committed."""
    leader = await replicas.leader()
    follower = (leader + 1) % NODES
    replicas.processes[follower].terminate()
    replicas.processes[follower].wait()
    start = time.perf_counter()
    replicas.restart(follower, wipe=wipe)
    await replicas.caught_up(follower, timeout=300)
    return time.perf_counter() - start


async def raft_side(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """Every raft figure, from one three-replica cluster."""
    figures: dict[str, Any] = {}
    with RaftReplicas(directory, election_timeout_min=0.4, election_timeout_max=1.4) as replicas:
        await replicas.leader()
        clients = [
            StateClient(
                replicas.socket(n),
                node_id=f"node-{n + 1}",
                max_in_flight=args.depth,
                max_pending=50_000,
                connect_timeout=30,
            )
            for n in range(NODES)
        ]
        for client in clients:
            await client.start()
        share = args.jobs // NODES
        jobs = [make_jobs(share, f"node-{n + 1}", f"n{n + 1}") for n in range(NODES)]
        # the machine's speed drifts within minutes: the yardstick beside each phase
        # tells a slow phase from a slow spell
        figures["yardsticks"] = [loop_step_ns()]
        figures["create"] = await committed_rate(clients, "create", jobs)
        updates = [updates_for(mine, 1) for mine in jobs]
        figures["yardsticks"].append(loop_step_ns())
        figures["update"] = await committed_rate(clients, "update", updates)
        figures["yardsticks"].append(loop_step_ns())
        paced = [updates_for(mine, 1)[: args.latency_changes // NODES] for mine in updates]
        figures["paced"] = await paced_latencies(clients, paced, args.callers)
        for client in clients:
            await client.close()
        figures["restart"] = await catch_up(replicas, wipe=False)
        figures["wiped"] = await catch_up(replicas, wipe=True)
        figures["failovers"] = await failovers(replicas, args.kills)
    return figures


async def etcd_side(args: argparse.Namespace, directory: Path, rate: float) -> dict[str, Any]:
    """The same creates and updates through etcd, and latency at our paced rate."""
    with etcd_cluster(directory) as endpoints:
        creates, updates = job_changes(args.etcd_jobs)
        light = job_changes(args.latency_changes)[0]
        paced = await etcd_changes(endpoints, light, window=64, clients=NODES, rate=rate)
        window = args.etcd_window
        create = await etcd_changes(endpoints, creates, window=window, clients=NODES)
        update = await etcd_changes(endpoints, updates, window=window, clients=NODES)
    for result in (paced, create, update):
        assert not result.failed, f"etcd refused changes: {dict(result.errors)}"
    return {"create": create, "update": update, "paced": paced}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


async def run(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    print(
        f"3 raft replicas on loopback, journal + dump on; {args.jobs:,} jobs: {args.jobs:,} "
        f"creates then {args.jobs:,} updates, pipeline {args.depth} per node (3 clients)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-raft-") as tmp:
        ours = await raft_side(args, Path(tmp) / "raft")
        paced_rate, latency = ours["paced"]
        theirs = await etcd_side(args, Path(tmp) / "etcd", paced_rate)
    bare = await asyncio.to_thread(bare_pysyncobj_rate, args.bare_seconds)
    print(f"{'':<44}{'ours (raft)':>16}{'etcd':>16}{'ratio':>8}")
    for op in ("create", "update"):
        mine, other = ours[op], theirs[op].rate
        print(
            f"{'committed ' + op + 's, changes/s':<44}{mine:>16,.0f}{other:>16,.0f}"
            f"{mine / other:>8.1f}"
        )
    before, between, after = (f"{ns:.0f}" for ns in ours["yardsticks"])
    print(
        f"  (yardstick before creates / between / after updates: {before} / {between} / {after} ns)"
    )
    other = theirs["paced"]
    print(
        f"{'commit latency p50 / p99 at moderate load':<44}"
        f"{ms(percentile(latency, 0.5)) + ' / ' + ms(percentile(latency, 0.99)):>24}"
        f"{ms(other.percentile(0.5)) + ' / ' + ms(other.percentile(0.99)):>24}"
    )
    print(
        f"  (ours: {args.callers} callers per node each waiting, {paced_rate:,.0f} changes/s; "
        f"etcd: paced at that rate, {other.rate:,.0f} changes/s; etcd window "
        f"{args.etcd_window} for the throughput rows, {args.etcd_jobs:,} jobs)"
    )
    print(
        f"bare pysyncobj, the issue's reference (3 processes, {GROUP} compare-and-set "
        f"changes a call, {IN_FLIGHT} calls in flight each, no state service): "
        f"{bare:,.0f} changes/s; ours is {ours['create'] / bare:.0%} of it (creates)"
    )
    times = ours["failovers"]
    print(
        f"leader failover over {len(times)} kills: median {statistics.median(times):.2f} s, "
        f"max {max(times):.2f} s"
    )
    print(
        f"catch-up of a follower holding {args.jobs:,} jobs: restarted "
        f"{ours['restart']:.2f} s, wiped data dir {ours['wiped']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds; checks it runs")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--depth", type=int, default=4096, help="pipeline depth per client")
    parser.add_argument("--callers", type=int, default=4, help="latency callers per node")
    parser.add_argument("--latency-changes", type=int, default=6_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--bare-seconds", type=float, default=10.0, help="bare pysyncobj run")
    parser.add_argument("--etcd-window", type=int, default=64, help="etcd in flight per client")
    parser.add_argument(
        "--etcd-jobs",
        type=int,
        default=30_000,
        help="etcd's creates and updates (its rate is steady; fewer keep the run short)",
    )
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.latency_changes, args.kills, args.etcd_jobs = 3_000, 300, 2, 3_000
        args.bare_seconds = 1.0
    os.environ.setdefault("PYTHONHASHSEED", "0")
    aio.collect_rarely()  # as the node daemons this stands in for do
    aio.run(run(args))


if __name__ == "__main__":
    main()
