"""The watchdog's verdict: which ping answers make the node restart its state service,
and the normal cluster life (elections, catch-ups, quiet times) that must not."""

from __future__ import annotations

from typing import Any

import pytest

from joblet_cluster.node.watchdog import TICK_FAILURES, Limits, Sample, verdict

LIMITS = Limits(timeout=10.0)


def healthy(at: float, applied: int = 5, leader_commit: int | None = 5, **raft: Any) -> Sample:
    return Sample(at, last_applied=applied, leader_commit_index=leader_commit, **raft)


def every_second(until: float, **raft: Any) -> list[Sample]:
    return [healthy(float(t), **raft) for t in range(int(until) + 1)]


# -- (a) no answer ------------------------------------------------------------------------
def test_a_service_silent_for_longer_than_the_timeout_is_restarted() -> None:
    samples = every_second(20)
    assert verdict(samples, 0.0, 30.0, LIMITS) is None  # 10 s since the last answer
    reason = verdict(samples, 0.0, 30.5, LIMITS)
    assert reason is not None and "no answer to ping for 10.5s" in reason


def test_a_started_service_gets_the_startup_grace_for_its_first_answer() -> None:
    assert verdict([], 100.0, 100.0 + LIMITS.startup, LIMITS) is None
    reason = verdict([], 100.0, 101.0 + LIMITS.startup, LIMITS)
    assert reason is not None and "since it started" in reason


def test_a_service_that_answers_is_not_judged_on_answering() -> None:
    assert verdict(every_second(60), 0.0, 60.9, LIMITS) is None


# -- (b) tick failures --------------------------------------------------------------------
def test_a_tick_loop_failing_tick_after_tick_is_restarted() -> None:
    samples = [*every_second(5), healthy(6.0, tick_failures=TICK_FAILURES)]
    reason = verdict(samples, 0.0, 6.0, LIMITS)
    assert reason is not None and f"last {TICK_FAILURES} ticks" in reason


def test_a_few_failed_ticks_or_failures_that_stopped_are_tolerated() -> None:
    few = [*every_second(5), healthy(6.0, tick_failures=TICK_FAILURES - 1)]
    assert verdict(few, 0.0, 6.0, LIMITS) is None
    over = [healthy(5.0, tick_failures=10 * TICK_FAILURES), healthy(6.0, tick_failures=0)]
    assert verdict(over, 0.0, 6.0, LIMITS) is None


# -- (c) the tick thread ------------------------------------------------------------------
def test_a_dead_tick_thread_is_restarted() -> None:
    reason = verdict([healthy(1.0, tick_thread_alive=False)], 0.0, 1.0, LIMITS)
    assert reason is not None and "tick thread is dead" in reason


def test_a_tick_thread_stuck_in_one_tick_is_restarted_after_the_timeout() -> None:
    assert verdict([healthy(1.0, seconds_since_tick=9.9)], 0.0, 1.0, LIMITS) is None
    reason = verdict([healthy(1.0, seconds_since_tick=10.1)], 0.0, 1.0, LIMITS)
    assert reason is not None and "stuck" in reason


# -- (d) a replica that stopped applying --------------------------------------------------
def test_a_replica_that_applies_nothing_while_the_leader_commits_is_restarted() -> None:
    samples = [healthy(float(t), applied=40, leader_commit=40 + 10 * t) for t in range(12)]
    assert verdict(samples[:11], 0.0, 10.0, LIMITS) is None  # 10 s: not yet over
    reason = verdict(samples, 0.0, 11.0, LIMITS)
    assert reason is not None
    assert "applied nothing for 11s" in reason and "from 40 to 150" in reason


def test_a_follower_catching_up_is_not_restarted_however_far_behind() -> None:
    # restarted with the leader 100k entries ahead, applying 2k a second
    samples = [
        healthy(float(t), applied=1 + 2000 * t, leader_commit=100_000 + 50 * t) for t in range(40)
    ]
    assert verdict(samples, 0.0, 39.0, LIMITS) is None


def test_an_election_without_a_leader_for_two_seconds_is_not_a_fault() -> None:
    before = [healthy(float(t), applied=80, leader_commit=80) for t in range(10)]
    # no leader: nothing commits, the old leader's commit index is all this replica knows
    election = [healthy(10.0 + t / 2, applied=80, leader_commit=80) for t in range(1, 5)]
    after = [healthy(13.0, applied=81, leader_commit=81)]
    for seen in (before + election, before + election + after):
        assert verdict(seen, 0.0, seen[-1].at, LIMITS) is None


def test_a_quiet_cluster_where_nothing_advances_is_not_a_fault() -> None:
    samples = every_second(120, applied=7, leader_commit=7)
    assert verdict(samples, 0.0, 120.0, LIMITS) is None


def test_a_replica_cut_off_from_the_leader_is_not_restarted() -> None:
    # behind, but it hears of no new commit: a restart would not bring the leader closer
    samples = [healthy(float(t), applied=30, leader_commit=50) for t in range(60)]
    assert verdict(samples, 0.0, 59.0, LIMITS) is None


@pytest.mark.parametrize("leader_commit", [None, 12])
def test_a_replica_that_never_heard_a_leader_or_is_level_is_not_stalled(
    leader_commit: int | None,
) -> None:
    samples = [healthy(float(t), applied=12, leader_commit=leader_commit) for t in range(30)]
    assert verdict(samples, 0.0, 29.0, LIMITS) is None


def test_another_backend_is_judged_on_answering_alone() -> None:
    sample = Sample.from_ping(3.0, {"success": True, "pong": True, "backend": "memory"})
    assert sample == Sample(3.0)
    assert verdict([sample], 0.0, 3.0, LIMITS) is None


def test_a_ping_answer_becomes_a_sample() -> None:
    answer = {
        "success": True,
        "raft": {
            "tickThreadAlive": False,
            "tickFailures": 3,
            "secondsSinceTick": 1.5,
            "lastApplied": 9,
            "commitIndex": 9,
            "leaderCommitIndex": 11,
            "role": "follower",
            "leader": "127.0.0.1:7001",
        },
    }
    assert Sample.from_ping(2.0, answer) == Sample(2.0, False, 3, 1.5, 9, 11)
