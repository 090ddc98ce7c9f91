"""The node's watchdog over its raft state service.

pysyncobj fails in ways its process survives (specs/pysyncobj-facts.md): a follower can
wedge with an error on every tick, its tick thread can die, and a stopped or hung process
keeps its socket open. Each leaves a state service that answers nothing, or answers from
a replica that no longer moves. The supervisor only sees processes that exit, so the node
pings the service every second and restarts it when :func:`verdict` finds it unhealthy.
The new process reloads its journal and catches up from the leader; its data dir is kept,
because Raft's safety rests on the log a replica has persisted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from joblet_cluster.common.errors import StateError
from joblet_cluster.node.supervisor import Child
from joblet_cluster.state import StateClient

log = logging.getLogger("joblet.node.watchdog")

INTERVAL = 1.0  # seconds between pings
# A healthy replica fails no tick at all; a wedged one fails every tick, up to 200 a
# second (pysyncobj retries after one autoTickPeriod, at most 5 ms: cluster/backend.py).
# 100 in a row is half a second or more of nothing but failures, which no passing fault
# (one bad message, one slow disk write) reaches.
TICK_FAILURES = 100
# A (re)started service opens its socket only once pysyncobj has read its whole
# journal, which takes seconds for a large one: its first answer gets this long.
STARTUP_GRACE = 60.0


@dataclass(frozen=True)
class Limits:
    """``timeout`` (``cluster.watchdog_timeout``, 10 s) bounds the time-based rules: an
    election (under 3 s at the default timeouts) and a follower's catch-up (2-4 s for
    100k jobs) both end well inside it."""

    timeout: float
    tick_failures: int = TICK_FAILURES
    startup: float = STARTUP_GRACE


@dataclass(frozen=True)
class Sample:
    """One answer to ``ping``: when it arrived and what the raft backend reported."""

    at: float  # time.monotonic() when the answer arrived
    tick_thread_alive: bool = True
    tick_failures: int = 0
    seconds_since_tick: float = 0.0
    last_applied: int | None = None
    leader_commit_index: int | None = None

    @classmethod
    def from_ping(cls, at: float, answer: dict[str, Any]) -> Sample:
        """A service without raft health (another backend) is judged on answering alone."""
        raft = answer.get("raft") or {}
        return cls(
            at,
            tick_thread_alive=raft.get("tickThreadAlive", True),
            tick_failures=raft.get("tickFailures", 0),
            seconds_since_tick=raft.get("secondsSinceTick", 0.0),
            last_applied=raft.get("lastApplied"),
            leader_commit_index=raft.get("leaderCommitIndex"),
        )


def verdict(samples: Sequence[Sample], since: float, now: float, limits: Limits) -> str | None:
    """Why the state service must be restarted, or None while it is healthy.

    ``samples`` are the answers received since ``since`` (when watching began, or the
    last restart), oldest first, covering at least the last ``limits.timeout`` seconds.
    Only the latest answer speaks for the tick loop: a failure that has stopped is over.
    """
    if not samples:
        if now - since > limits.startup:
            return (
                f"no answer to ping in the {now - since:.0f}s since it started "
                f"(limit {limits.startup:g}s)"
            )
        return None
    last = samples[-1]
    if now - last.at > limits.timeout:
        return (
            f"no answer to ping for {now - last.at:.1f}s (limit {limits.timeout:g}s): "
            "the process is hung or stopped"
        )
    if not last.tick_thread_alive:
        return "pysyncobj's tick thread is dead: the replica neither replicates nor applies"
    if last.tick_failures >= limits.tick_failures:
        return (
            f"pysyncobj failed its last {last.tick_failures} ticks in a row "
            f"(limit {limits.tick_failures}; 'failed _onTick' in the state service's log)"
        )
    if last.seconds_since_tick > limits.timeout:
        return (
            f"pysyncobj has not completed a tick for {last.seconds_since_tick:.1f}s "
            f"(limit {limits.timeout:g}s): its tick thread is stuck"
        )
    return _stalled(samples, limits)


def _stalled(samples: Sequence[Sample], limits: Limits) -> str | None:
    """A replica that applies nothing while the leader commits more: it has fallen out
    of the cluster without knowing it. A replica that applies, however slowly, is
    catching up; one that hears of no new commit is in a quiet cluster or cut off, which
    a restart would not mend."""
    last = samples[-1]
    if last.last_applied is None or last.leader_commit_index is None:
        return None
    if last.leader_commit_index <= last.last_applied:
        return None
    first = last  # the oldest answer since which last_applied has not moved
    for sample in reversed(samples):
        if sample.last_applied != last.last_applied:
            break
        first = sample
    if first.leader_commit_index is None or first.leader_commit_index >= last.leader_commit_index:
        return None
    if last.at - first.at <= limits.timeout:
        return None
    return (
        f"the replica has applied nothing for {last.at - first.at:.0f}s (limit "
        f"{limits.timeout:g}s; last applied {last.last_applied}) while the leader's commit "
        f"index went from {first.leader_commit_index} to {last.leader_commit_index}"
    )


class Watchdog:
    """Pings the state service (:meth:`StateClient.probe`: not behind the node's writes,
    which may wait for a commit as long as ``cluster.commit_timeout``), restarts it
    through its :class:`Child` on a verdict, and counts the restarts with ``on_restart``."""

    def __init__(
        self,
        state: StateClient,
        child: Child,
        limits: Limits,
        on_restart: Callable[[], None],
    ) -> None:
        self.state = state
        self.child = child
        self.limits = limits
        self.on_restart = on_restart

    async def run(self) -> None:
        """Until cancelled. At most one ping is in flight: a slow answer still counts
        when it comes, so only silence, not slowness, reads as a hung service."""
        since = time.monotonic()
        samples: deque[Sample] = deque()
        ping: asyncio.Task[Sample | None] | None = None
        try:
            while True:
                if ping is None:
                    ping = asyncio.create_task(self._ping(), name="watchdog-ping")
                await asyncio.wait({ping}, timeout=INTERVAL)
                if ping.done():
                    sample = ping.result()
                    ping = None
                    if sample is not None:
                        samples.append(sample)
                now = time.monotonic()
                # keep what the rules look back on, and always the latest answer
                while len(samples) > 1 and samples[0].at < now - 3 * self.limits.timeout:
                    samples.popleft()
                reason = verdict(samples, since, now, self.limits)
                if reason is not None:
                    await self._restart(reason)
                    since = time.monotonic()
                    samples.clear()
                elif ping is None:
                    await asyncio.sleep(INTERVAL)
        finally:
            if ping is not None:
                ping.cancel()

    async def _ping(self) -> Sample | None:
        try:
            answer = await self.state.probe(self.limits.timeout)
        except StateError as exc:
            log.debug("state service ping failed: %s", exc)
            return None
        return Sample.from_ping(time.monotonic(), answer)

    async def _restart(self, reason: str) -> None:
        pid = await self.child.restart()
        self.on_restart()
        done = f"killed it (pid {pid})" if pid else "it was not running"
        log.warning(
            "the state service is unhealthy: %s. Restarting it (%s); its replica reloads "
            "its journal and catches up from the leader",
            reason,
            done,
        )
