"""``RaftBackend.health()`` on a real single-node pysyncobj replica whose tick loop is
made to fail, and what the node's watchdog concludes from it.

The faults are injected in-process (pysyncobj's poller, called at the end of every tick,
is replaced by one that raises): the tick failures the watchdog exists for (a follower
wedged at saturation, specs/pysyncobj-facts.md) cannot be provoked from outside on demand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from joblet_cluster.cluster import RaftBackend
from joblet_cluster.common.config import ClusterConfig
from joblet_cluster.node.dev import free_port
from joblet_cluster.node.watchdog import TICK_FAILURES, Limits, Sample, verdict
from tests.support import wait_until

LIMITS = Limits(timeout=10.0)


@pytest.fixture
async def backend(sock_dir: Path) -> AsyncIterator[RaftBackend]:
    replica = RaftBackend(
        ClusterConfig(
            raft_address=f"127.0.0.1:{free_port()}",
            data_dir=str(sock_dir / "raft"),
            election_timeout_min=0.05,
            election_timeout_max=0.1,
        )
    )
    try:
        await wait_until(lambda: replica.health()["role"] == "leader", 10, "the election")
        yield replica
    finally:
        await replica.close()


def judged(backend: RaftBackend) -> str | None:
    now = time.monotonic()
    return verdict([Sample.from_ping(now, {"raft": backend.health()})], now - 1, now, LIMITS)


async def test_health_counts_failed_ticks_until_a_tick_succeeds_again(
    backend: RaftBackend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    health = backend.health()
    assert health["tickThreadAlive"] is True
    assert health["tickFailures"] == 0
    assert health["secondsSinceTick"] < 1
    assert set(health) == {
        "tickThreadAlive",
        "tickFailures",
        "truncatedEntries",
        "divergedEntries",
        "secondsSinceTick",
        "lastApplied",
        "commitIndex",
        "leaderCommitIndex",
        "role",
        "leader",
    }
    assert health["leader"] is not None
    assert health["truncatedEntries"] == health["divergedEntries"] == 0
    assert health["lastApplied"] == health["commitIndex"] == health["leaderCommitIndex"]
    assert judged(backend) is None

    def failing(timeout: float) -> None:
        raise OSError("injected: the poller failed")

    caplog.set_level(logging.ERROR, logger="pysyncobj.syncobj")
    monkeypatch.setattr(backend.sync_obj._poller, "poll", failing)
    await wait_until(
        lambda: backend.health()["tickFailures"] >= TICK_FAILURES, 10, "the failures counted"
    )
    assert backend.health()["tickThreadAlive"] is True  # pysyncobj's loop carries on
    assert any("failed _onTick" in r.getMessage() for r in caplog.records)
    reason = judged(backend)
    assert reason is not None and "ticks in a row" in reason

    monkeypatch.undo()
    await wait_until(lambda: backend.health()["tickFailures"] == 0, 10, "a good tick")
    assert backend.health()["secondsSinceTick"] < 1
    assert judged(backend) is None


# the thread's end by an exception is the point: pytest's notice of it is expected
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_health_reports_a_dead_tick_thread(
    backend: RaftBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exiting(timeout: float) -> None:
        raise SystemExit  # not an Exception: pysyncobj's loop lets it end the thread

    monkeypatch.setattr(backend.sync_obj._poller, "poll", exiting)
    await wait_until(lambda: not backend.health()["tickThreadAlive"], 10, "the thread's end")
    reason = judged(backend)
    assert reason is not None and "tick thread is dead" in reason
    monkeypatch.undo()
    # What the tick thread would have done on close(): free the port and the journal.
    backend.sync_obj._doDestroy()
