"""pysyncobj's tick loop made observable, for the node's watchdog, and its log kept whole.

pysyncobj drives a replica from one thread that calls ``_onTick`` every few milliseconds,
and when a tick raises it logs ``failed _onTick`` and simply tries again. A follower that
wedges (an ``IndexError`` on every tick, specs/pysyncobj-facts.md) therefore looks alive
from outside: it answers reads, from a state that no longer moves. Counting the failures
here, and when the last tick succeeded, lets the state service report it in ``ping`` and
the node restart the service, whose replica then reloads its journal and resyncs.

Its log is watched too: entries a follower deletes and takes again are counted, applied
ones are compared with what replaces them, and the leader no longer rewinds a follower
to entries already on their way to it (which made it delete and take them again).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pysyncobj import SyncObj

log = logging.getLogger("joblet.cluster")

ROLES = {0: "follower", 1: "candidate", 2: "leader"}  # pysyncobj's _RAFT_STATE


class WatchedSyncObj(SyncObj):
    """A ``SyncObj`` that counts consecutive failed ticks and times the last good one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before SyncObj.__init__: it starts the tick thread, which reads them, and
        # attributes that exist by then are left out of snapshots.
        self.tick_failures = 0
        self.last_good_tick = time.monotonic()
        self.on_tick: deque[Callable[[], None]] = deque()
        # applied entries pysyncobj deleted, by index: (term, command) until a replacement
        # arrives and is compared (specs/pysyncobj-facts.md: it can replace applied ones)
        self.replaced: dict[int, tuple[int, bytes]] = {}
        self.truncated = 0  # entries deleted from this replica's log to take others
        self.diverged = 0  # applied entries replaced by different ones
        super().__init__(*args, **kwargs)

    def _SyncObj__deleteEntriesFrom(self, fromIDx: int) -> None:
        """pysyncobj truncates a follower's log after ``prevLogIdx`` whenever an append
        overlaps what it holds, also entries it has applied, and logs that as a possible
        divergence. It is harmless when the leader sends the same entries again, and a
        broken replica when it sends others: remember the applied ones, so
        :meth:`_check_replaced` can tell which."""
        applied = self.raftLastApplied
        self.truncated += max(0, self._SyncObj__getCurrentLogIndex() - fromIDx + 1)
        if fromIDx <= applied:
            for command, index, term in self._SyncObj__getEntries(fromIDx, applied - fromIDx + 1):
                self.replaced[index] = (term, command)
        SyncObj._SyncObj__deleteEntriesFrom(self, fromIDx)  # type: ignore[attr-defined]

    def _SyncObj__onMessageReceived(self, node: Any, message: dict[str, Any]) -> None:
        """On a follower's acknowledgement, pysyncobj sets the next index it sends that
        follower from to the one acknowledged, even below entries already on their way.
        Entries leave as soon as they are queued (unbatched), so with several in flight
        every acknowledgement but the last rewound it, and the next send repeated entries
        the follower held: it truncated them, applied ones included, and took them again
        (a fifth of all entries sent twice, each a CRITICAL "may have diverged" in the log).
        What is on its way arrives in order over the one connection, and a follower that
        misses an entry answers with a reset, which still rewinds."""
        if message.get("type") == "next_node_idx" and message.get("success"):
            next_index: dict[Any, int] = self._SyncObj__raftNextIndex
            sent = next_index.get(node)
            SyncObj._SyncObj__onMessageReceived(self, node, message)  # type: ignore[attr-defined]
            if sent is not None and not message.get("reset") and next_index.get(node, sent) < sent:
                next_index[node] = sent
            return
        SyncObj._SyncObj__onMessageReceived(self, node, message)  # type: ignore[attr-defined]

    def _check_replaced(self) -> None:
        for index in sorted(self.replaced):
            entries = self._SyncObj__getEntries(index, 1)
            if not entries:
                if index < self._SyncObj__raftLog[0][1]:  # compacted away meanwhile
                    del self.replaced[index]
                return  # not received again yet
            term, command = self.replaced.pop(index)
            if (entries[0][2], entries[0][0]) != (term, command):
                self.diverged += 1
                log.error(
                    "raft entry %d was applied here and then replaced by a different one "
                    "(term %d, now %d): this replica's state may differ from the others'",
                    index,
                    term,
                    entries[0][2],
                )

    def call_on_tick(self, call: Callable[[], None]) -> None:
        """Run ``call`` on the tick thread: pysyncobj's methods that are not log commands
        (``transferLeadership``) touch raft state and sockets only that thread owns."""
        self.on_tick.append(call)
        self._SyncObj__pipeNotifier.notify()  # the thread may be waiting on its sockets

    def _onTick(self, timeToWait: float = 0.0) -> None:
        try:
            while self.on_tick:
                self.on_tick.popleft()()
            super()._onTick(timeToWait)
            if self.replaced:
                self._check_replaced()
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
            "truncatedEntries": self.truncated,
            "divergedEntries": self.diverged,
            "secondsSinceTick": round(time.monotonic() - self.last_good_tick, 3),
            "lastApplied": status.get("last_applied"),
            "commitIndex": status.get("commit_idx"),
            "leaderCommitIndex": status.get("leader_commit_idx"),
            "role": ROLES.get(status.get("state"), "?"),
            "leader": str(leader) if leader is not None else None,
        }
