"""A node's state service is frozen (SIGSTOP) for 30 s while the node keeps running its
jobs: the other two nodes keep serving; after SIGCONT the frozen node's queued changes
are committed and every replica holds the same jobs at the same versions.

The frozen service is the raft leader's, so the other two also elect a new leader and
the thawed one rejoins as a deposed leader. Only the state service stops: the node
daemon runs on, its jobs' processes end during the freeze, and each change it makes
waits in its state client (the node awaits every change) until the service answers.
The node's watchdog (node/watchdog.py) restarts a state service that does not answer
for ``cluster.watchdog_timeout`` seconds (10 by default); the test sets that well past
the freeze, so what it exercises is the freeze itself, and it checks that the same
process serves afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from joblet_cluster.common.config import ClusterConfig
from joblet_cluster.node.supervisor import _socket_owner
from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.state import StateClient, format_time, is_terminal
from tests.integration.cluster.conftest import running_cluster
from tests.integration.node.conftest import Node, make_node

FREEZE = 30.0  # seconds
SLEEPS = (5, 10, 15, 20)  # jobs running on the frozen node end this far into the freeze
SCHEDULED_IN = 8  # s: a job of the frozen node falls due during the freeze
SERVE_WITHIN = 5.0  # s: a job run through another node during the freeze is seen done
RECOVER_WITHIN = 30.0  # s after SIGCONT until every replica agrees and the jobs ended


def _watchdog_past_the_freeze() -> dict[str, Any]:
    """``cluster.watchdog_timeout`` well past the freeze, where the key exists (the
    watchdog was being built when this test was written; without it nothing restarts
    a frozen service anyway)."""
    keys = {f.metadata.get("key") for f in dataclasses.fields(ClusterConfig)}
    return {"watchdog_timeout": 10 * FREEZE} if "watchdog_timeout" in keys else {}


@pytest.fixture
def nodes(sock_dir: Path) -> Iterator[list[Node]]:
    with running_cluster(sock_dir, **_watchdog_past_the_freeze()) as started:
        yield started


def socket_of(node: Node) -> str:
    return str(node.config["state"]["socket"])


async def replica_jobs(node: Node) -> dict[str, dict[str, Any]]:
    """Every job in ``node``'s replica, read through its state socket."""
    async with StateClient(socket_of(node), connect_timeout=10) as client:
        return {job["uuid"]: job async for job in client.list_all()}


async def leader_node(nodes: list[Node]) -> Node:
    """The node whose state service leads the raft cluster, as every replica sees it."""
    by_address = {n.config["cluster"]["raft_address"]: n for n in nodes}
    deadline = time.monotonic() + 15
    while True:
        seen = set()
        for node in nodes:
            async with StateClient(socket_of(node), connect_timeout=10) as client:
                seen.add(((await client.nodes())["cluster"] or {}).get("leader"))
        if len(seen) == 1 and (leader := seen.pop()) in by_address:
            return by_address[leader]
        assert time.monotonic() < deadline, f"no leader every replica agrees on: {seen}"
        await asyncio.sleep(0.05)


def run(node: Node, *command: str, timeout: float = 10.0, **fields: Any) -> str:
    """RunJob through ``node``'s API; the job's id."""
    request = pb.RunJobRequest(command=command[0], args=list(command[1:]), **fields)
    return str(node.jobs().RunJob(request, timeout=timeout).job_uuid)


def moment(rfc3339: str | None) -> float:
    assert rfc3339, "time not recorded"
    return datetime.fromisoformat(rfc3339).timestamp()


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, not yet reaped, has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def agreed(nodes: list[Node], ended: set[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Every replica's jobs, once they hold the same jobs at the same versions and the
    jobs in ``ended`` are terminal; fail naming what differs at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        views = [await replica_jobs(n) for n in nodes]
        versions = [{k: job["version"] for k, job in view.items()} for view in views]
        same = all(v == versions[0] for v in versions)
        if same and all(is_terminal(views[0].get(j, {}).get("status", "")) for j in ended):
            return views[0]
        if time.monotonic() > deadline:
            differ = [{k: v for k, v in vs.items() if versions[0].get(k) != v} for vs in versions]
            left = {j: views[0].get(j, {}).get("status") for j in ended}
            raise AssertionError(f"after {timeout}s: replicas differ by {differ}; jobs {left}")
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_a_frozen_state_service_loses_nothing_while_the_others_serve(
    nodes: list[Node],
) -> None:
    frozen = await leader_node(nodes)
    two, three = [n for n in nodes if n is not frozen]
    pid = _socket_owner(socket_of(frozen))
    assert pid is not None and frozen.process is not None and pid != frozen.process.pid

    sleepers = [run(frozen, "sleep", str(s)) for s in SLEEPS]
    for job_id in sleepers:
        frozen.wait_status(job_id, {"RUNNING"}, timeout=10)
    due = format_time(datetime.now(UTC) + timedelta(seconds=SCHEDULED_IN))
    scheduled = run(frozen, "sh", "-c", "echo due; sleep 1", schedule=due)
    before = await agreed(nodes, set(), timeout=10)
    assert before[scheduled]["status"] == "SCHEDULED"
    pids = {job_id: before[job_id]["pid"] for job_id in sleepers}

    os.kill(pid, signal.SIGSTOP)
    frozen_at = time.time()
    try:
        # its API takes the call, but cannot answer before the job is stored
        with pytest.raises(grpc.RpcError) as gave_up:
            await asyncio.to_thread(run, frozen, "echo", "abandoned", timeout=2)
        assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        late = asyncio.create_task(asyncio.to_thread(run, frozen, "echo", "late", timeout=120))

        served: list[float] = []  # s from RunJob on node two to the job listed done on three
        served_jobs = []
        while time.time() < frozen_at + FREEZE - SERVE_WITHIN - 1:
            started = time.monotonic()
            job_id = await asyncio.to_thread(run, two, "echo", "served")
            await asyncio.to_thread(three.wait_status, job_id, {"COMPLETED"}, SERVE_WITHIN)
            listed = await asyncio.to_thread(three.jobs().ListJobs, pb.EmptyRequest(), timeout=5)
            assert job_id in {job.uuid for job in listed.jobs}
            served.append(time.monotonic() - started)
            served_jobs.append(job_id)
            await asyncio.sleep(1.0)  # pace: about one job a second
        while any(alive(p) for p in pids.values()):  # sleep 20 ends 20 s in
            assert time.time() < frozen_at + FREEZE - 1, f"still running: {pids}"
            await asyncio.sleep(0.1)
        # their processes ended, but the node's changes wait for its state service
        during = await replica_jobs(three)
        assert {during[j]["status"] for j in sleepers} == {"RUNNING"}
        assert during[scheduled]["status"] == "SCHEDULED"
        assert not late.done(), "a job of the frozen node was stored without its service"
        await asyncio.sleep(frozen_at + FREEZE - time.time())  # the rest of the freeze
    finally:
        os.kill(pid, signal.SIGCONT)
    thawed_at = time.time()

    late_job = await asyncio.wait_for(late, RECOVER_WITHIN)
    answered = time.time() - thawed_at
    final = await agreed(nodes, {*sleepers, scheduled, late_job}, RECOVER_WITHIN)
    recovered = time.time() - thawed_at
    for job_id in sleepers:  # ended during the freeze, recorded after it
        job = final[job_id]
        assert (job["status"], job["exitCode"], job["version"]) == ("COMPLETED", 0, 3), job
        assert frozen_at < moment(job["endTime"]) < thawed_at, job
    job = final[scheduled]  # the node started it during the freeze
    assert (job["status"], job["exitCode"]) == ("COMPLETED", 0), job
    assert frozen_at < moment(job["startTime"]) < thawed_at, job
    job = final[late_job]
    assert (job["status"], job["exitCode"]) == ("COMPLETED", 0), job
    assert {final[j]["status"] for j in served_jobs} == {"COMPLETED"}
    assert _socket_owner(socket_of(frozen)) == pid  # the frozen process itself came back
    assert all(n.process is not None and n.process.poll() is None for n in nodes)
    print(
        f"froze the leader's state service ({frozen.spec.name}) for {FREEZE:.0f} s: "
        f"{len(served)} jobs run through {two.spec.name} and listed through "
        f"{three.spec.name} during it, median {statistics.median(served):.2f} s, max "
        f"{max(served):.2f} s; after SIGCONT the waiting RunJob answered in {answered:.2f} s "
        f"and every replica agreed on {len(final)} jobs in {recovered:.2f} s"
    )


async def test_a_run_call_given_up_during_a_freeze_leaves_no_job_that_never_runs(
    sock_dir: Path,
) -> None:
    node = make_node(sock_dir)
    node.start()
    try:
        pid = _socket_owner(socket_of(node))
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:  # a freeze of 4 s; the caller gives up after 1
            with pytest.raises(grpc.RpcError) as gave_up:
                await asyncio.to_thread(run, node, "echo", "abandoned", timeout=1)
            assert gave_up.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            await asyncio.sleep(3)
        finally:
            os.kill(pid, signal.SIGCONT)
        # the job may have been stored (its caller cannot know) or not; a stored one runs
        deadline = time.monotonic() + 5
        while True:
            jobs = [j for j in (await replica_jobs(node)).values() if j["args"] == ["abandoned"]]
            if jobs and all(is_terminal(j["status"]) for j in jobs):
                break
            if time.monotonic() > deadline:
                assert not jobs, f"stored but never run: {jobs}"
                break
            await asyncio.sleep(0.1)
    finally:
        assert node.stop() == 0, node.log_text()[-3000:]
