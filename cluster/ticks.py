"""pysyncobj's tick loop made observable, for the node's watchdog.

pysyncobj drives a replica from one thread that calls ``_onTick`` every few milliseconds,
and when a tick raises it logs ``failed _onTick`` and simply tries again. A follower that
wedges (an ``IndexError`` on every tick, specs/pysyncobj-facts.md) therefore looks alive
from outside: it answers reads, from a state that no longer moves. Counting the failures
here, and when the last tick succeeded, lets the state service report it in ``ping`` and
the node restart the service, whose replica then reloads its journal and resyncs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pysyncobj import SyncObj

ROLES = {0: "follower", 1: "candidate", 2: "leader"}  # pysyncobj's _RAFT_STATE


class WatchedSyncObj(SyncObj):
    """A ``SyncObj`` that counts consecutive failed ticks and times the last good one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before SyncObj.__init__: it starts the tick thread, which reads them, and
        # attributes that exist by then are left out of snapshots.
        self.tick_failures = 0
        self.last_good_tick = time.monotonic()
        self.on_tick: deque[Callable[[], None]] = deque()
        super().__init__(*args, **kwargs)

    def call_on_tick(self, call: Callable[[], None]) -> None:
        """Run ``call`` on the tick thread: pysyncobj's methods that are not log commands
        (``transferLeadership``) touch raft state and sockets only that thread owns."""
        self.on_tick.append(call)

    def _onTick(self, timeToWait: float = 0.0) -> None:
        try:
            while self.on_tick:
                self.on_tick.popleft()()
            super()._onTick(timeToWait)
        except Exception:
            self.tick_failures += 1
            raise  # pysyncobj's loop logs it and ticks again, as it always has
        self.tick_failures = 0
        self.last_good_tick = time.monotonic()

    def health(self) -> dict[str, Any]:
        """Whether the tick loop runs and succeeds, and how far this replica has applied
        against what the leader last said it committed: the watchdog's evidence."""
        status = self.getStatus()
        leader = status.get("leader")
        return {
            "tickThreadAlive": self.tick_thread_alive(),
            "tickFailures": self.tick_failures,
            "secondsSinceTick": round(time.monotonic() - self.last_good_tick, 3),
            "lastApplied": status.get("last_applied"),
            "commitIndex": status.get("commit_idx"),
            "leaderCommitIndex": status.get("leader_commit_idx"),
            "role": ROLES.get(status.get("state"), "?"),
            "leader": str(leader) if leader is not None else None,
        }
