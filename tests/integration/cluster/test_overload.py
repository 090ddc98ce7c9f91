"""Offered load above what the cluster can commit is pushed back to the clients: they
get slower, nothing is lost, and the replicas do not diverge.

Three raft replicas, one state client each (as each node has one). The cluster's
capacity is measured first: committed changes/s with every client's pipeline full.
Then paced producers offer three times that for 30 s, each through its client's
``send``, which waits while ``max_pending`` changes are unanswered: that wait is the
push-back. Afterwards every acknowledged change must be on every replica, the replicas
must hold the same jobs, and the state services must have stayed alive and bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joblet_cluster.state import ChangeResult, StateClient, now
from tests.support import RaftReplicas, new_job

NODES = 3
JOBS_PER_NODE = 2000
MEASURE = 5.0  # s of capacity measurement (the first second is left out)
OVERLOAD = 30.0  # s
FACTOR = 3  # offered load, in multiples of the measured capacity
TICK = 0.005  # s between a paced producer's sends
RSS_LIMIT = 1 << 30  # bytes, per state service


def rss(pid: int) -> int:
    """Resident set size of a process, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


class Producer:
    """One node's jobs and the changes made to them through its client: each job moves
    one version on per change, round-robin over the jobs, so a job's changes are in
    flight in order on one connection. Acknowledgements are counted as they arrive."""

    def __init__(self, client: StateClient, node: str) -> None:
        self.client = client
        created = now()
        self.records = [
            new_job(f"{node}-{i:05d}", node, status="RUNNING", createdAt=created, pid=1)
            for i in range(JOBS_PER_NODE)
        ]
        self.next = 0
        self.sent = 0
        self.acked = 0
        self.acknowledged: dict[str, int] = {}  # job id: highest version acknowledged
        self.errors: list[str] = []
        self.resent_committed = 0  # answered stale at their own version
        self.held = 0.0  # s spent waiting in send() for room (push-back)

    async def create_all(self) -> None:
        futures = await self.client.send_many("create", self.records)
        for record, future in zip(self.records, futures, strict=True):
            future.add_done_callback(self._answered_for(record["uuid"], record["version"]))
        await self.client.flush(60)

    async def change(self) -> None:
        """Send the next change; the time ``send`` waited for room counts as held back."""
        record = self.records[self.next]
        record = {**record, "version": record["version"] + 1, "pid": record["version"] + 1}
        self.records[self.next] = record
        self.next = (self.next + 1) % len(self.records)
        started = time.perf_counter()
        future = await self.client.send("update", record)
        waited = time.perf_counter() - started
        if waited > 0.001:  # it waited for room (taking a change is microseconds)
            self.held += waited
        self.sent += 1
        future.add_done_callback(self._answered_for(record["uuid"], record["version"]))

    def _answered_for(self, uuid: str, version: int) -> Callable[[Any], None]:
        def answered(future: asyncio.Future[ChangeResult]) -> None:
            if future.cancelled() or future.exception() is not None:
                self.errors.append(f"{uuid} v{version}: {future!r}")
                return
            result = future.result()
            # not applied, at this very version: an earlier attempt committed it, and this
            # is its resend (after an ambiguous raft error the client sends again)
            if result.version != version:
                self.errors.append(f"{uuid} v{version}: {result}")
                return
            self.resent_committed += not result.applied
            self.acked += 1
            self.acknowledged[uuid] = max(version, self.acknowledged.get(uuid, 0))

        return answered

    async def flat_out(self, until: float) -> None:
        """As fast as the client takes changes (its pipeline stays full)."""
        while time.monotonic() < until:
            await self.change()
            if self.sent % 256 == 0:
                await asyncio.sleep(0)  # let answers in even while send never waits

    async def paced(self, rate: float, until: float) -> float:
        """Offer ``rate`` changes/s until ``until``: every TICK, send what the schedule
        says is due by now (a producer held back in ``send`` falls behind it). Returns
        how many changes were offered; ``sent`` counts those the client took."""
        start = time.monotonic()
        sent_before = self.sent
        while (moment := time.monotonic()) < until:
            due = (moment - start) * rate
            while self.sent - sent_before < due and time.monotonic() < until:
                await self.change()
            await asyncio.sleep(TICK)
        return (until - start) * rate


@pytest.mark.slow
async def test_three_times_the_capacity_is_pushed_back_not_lost(sock_dir: Path) -> None:
    # elections as configured by default (the tests' quicker ones are for failover
    # timing): overload is about push-back, and a replica busy applying may be late
    with RaftReplicas(sock_dir, election_timeout_min=0.4, election_timeout_max=1.4) as replicas:
        await replicas.leader()
        pids = [replicas.processes[n].pid for n in range(NODES)]
        rss_before = [rss(p) for p in pids]
        clients = [
            StateClient(replicas.socket(n), node_id=f"node-{n + 1}", connect_timeout=30)
            for n in range(NODES)
        ]
        for client in clients:
            await client.start()
        try:
            producers = [Producer(c, f"node-{n + 1}") for n, c in enumerate(clients)]
            await asyncio.gather(*(p.create_all() for p in producers))

            # capacity: every pipeline full
            started = time.monotonic()
            measuring = asyncio.gather(*(p.flat_out(started + MEASURE) for p in producers))
            await asyncio.sleep(1.0)  # leave the ramp-up out of the measurement
            acked_from, from_time = sum(p.acked for p in producers), time.monotonic()
            await measuring
            capacity = (sum(p.acked for p in producers) - acked_from) / (
                time.monotonic() - from_time
            )
            await asyncio.gather(*(c.flush(60) for c in clients))
            for p in producers:
                p.held = 0.0

            # three times that, paced, for OVERLOAD seconds
            rate = FACTOR * capacity / NODES
            acked_before = sum(p.acked for p in producers)
            sent_before = sum(p.sent for p in producers)
            peak = list(rss_before)
            started = time.monotonic()
            until = started + OVERLOAD
            offering = asyncio.gather(*(p.paced(rate, until) for p in producers))
            while not offering.done():
                peak = [max(m, rss(p)) for m, p in zip(peak, pids, strict=True)]
                await asyncio.wait({offering}, timeout=1.0)
            offered = sum(await offering)
            elapsed = time.monotonic() - started
            achieved = (sum(p.acked for p in producers) - acked_before) / elapsed
            accepted = sum(p.sent for p in producers) - sent_before
            held = [p.held for p in producers]
            flushed = time.monotonic()
            await asyncio.gather(*(c.flush(120) for c in clients))
            drained = time.monotonic() - flushed
            rss_after = [rss(p) for p in pids]
        finally:
            for client in clients:
                await client.close()

        print(
            f"capacity {capacity:,.0f} changes/s (3 clients, pipelines full); offered "
            f"{offered / OVERLOAD:,.0f}/s for {OVERLOAD:.0f} s: clients took "
            f"{accepted / elapsed:,.0f}/s, committed {achieved:,.0f}/s; producers held back "
            f"{', '.join(f'{h:.1f}' for h in held)} s of {OVERLOAD:.0f}; the backlog drained "
            f"in {drained:.2f} s; {sum(p.resent_committed for p in producers)} answered as "
            "committed by an earlier attempt; RSS MB before/peak/after "
            + ", ".join(
                f"{b >> 20}/{m >> 20}/{a >> 20}"
                for b, m, a in zip(rss_before, peak, rss_after, strict=True)
            )
        )
        errors = [e for p in producers for e in p.errors]
        assert not errors, f"{len(errors)} changes failed, e.g. {errors[:3]}"
        # pushed back: senders waited for room, the offered rate was neither taken nor
        # committed, and what committed is about the capacity (this machine is shared:
        # the capacity measured just before can be off by some tens of per cent)
        assert all(h > OVERLOAD / 3 for h in held), held
        assert accepted < 0.7 * offered, (accepted, offered)
        assert achieved < 0.7 * offered / OVERLOAD, (achieved, offered / OVERLOAD)
        assert achieved < 2 * capacity, (achieved, capacity)
        # nothing lost, no divergence
        view = await replicas.agreed_view()
        expected = {r["uuid"]: r["version"] for p in producers for r in p.records}
        acknowledged = {k: v for p in producers for k, v in p.acknowledged.items()}
        behind = {k: (v, view.get(k)) for k, v in acknowledged.items() if view.get(k, 0) < v}
        assert not behind, f"acknowledged changes missing (acked, stored): {list(behind)[:5]}"
        assert view == expected
        # no replica had an applied entry truncated and sent again (pysyncobj resends
        # entries a follower holds when its next index is rewound: cluster/ticks.py)
        health = [await replicas.health(n) for n in range(NODES)]
        assert [(h["truncatedEntries"], h["divergedEntries"]) for h in health] == [(0, 0)] * 3
        assert all(process.poll() is None for process in replicas.processes.values())
        assert max(peak + rss_after) < RSS_LIMIT, (peak, rss_after)
