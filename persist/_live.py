"""Lines as they are stored, for followers of running jobs (``QueryLogs`` with follow).

The ingestion core publishes every line right after it is durably written; a follower
subscribes before it reads history, so nothing falls between the two. Each subscription
is bounded: a follower that falls too far behind is marked ``overflowed`` and goes back
to storage for what it missed, instead of making ingestion wait or dropping lines.
"""

from __future__ import annotations

import asyncio

from joblet_cluster.persist.backends import LogBlock

MAX_BUFFERED = 100_000  # lines held for one follower before it must re-read storage
ENDED_KEPT = 100_000  # ended jobs remembered, so a late follower of one finishes at once


class Subscription:
    def __init__(self, feed: LiveFeed, job_id: str) -> None:
        self._feed = feed
        self.job_id = job_id
        self.blocks: list[LogBlock] = []
        self.buffered = 0  # lines in `blocks`
        self.ended = False
        self.overflowed = False
        self._wakeup = asyncio.Event()

    def _push(self, block: LogBlock) -> None:
        if self.overflowed:
            return
        if self.buffered + len(block) > MAX_BUFFERED:
            self.overflowed = True
            self.blocks.clear()
            self.buffered = 0
        else:
            self.blocks.append(block)
            self.buffered += len(block)
        self._wakeup.set()

    def _end(self) -> None:
        self.ended = True
        self._wakeup.set()

    async def wait(self) -> None:
        """Until new lines, the end of the job, or an overflow."""
        if self.blocks or self.ended or self.overflowed:
            return
        self._wakeup.clear()
        await self._wakeup.wait()

    def take(self) -> list[LogBlock]:
        taken, self.blocks, self.buffered = self.blocks, [], 0
        return taken

    def close(self) -> None:
        self._feed._unsubscribe(self)


class LiveFeed:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._ended: dict[str, None] = {}  # the last ENDED_KEPT ended jobs, oldest first

    def subscribe(self, job_id: str) -> Subscription:
        subscription = Subscription(self, job_id)
        self._subscribers.setdefault(job_id, set()).add(subscription)
        if job_id in self._ended:
            subscription._end()
        return subscription

    def publish(self, job_id: str, block: LogBlock) -> None:
        for subscription in self._subscribers.get(job_id, ()):
            subscription._push(block)

    def end(self, job_id: str) -> None:
        """The job's output is complete: current and future followers finish."""
        self._ended[job_id] = None
        if len(self._ended) > ENDED_KEPT:  # a long-lived service ends millions of jobs
            del self._ended[next(iter(self._ended))]
        for subscription in self._subscribers.get(job_id, ()):
            subscription._end()

    def forget(self, job_id: str) -> None:
        """The job's data was deleted."""
        self._ended.pop(job_id, None)

    def _unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.job_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.job_id]
