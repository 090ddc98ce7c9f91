"""How every joblet process runs its asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Coroutine
from typing import Any, Self, TypeVar

T = TypeVar("T")

try:
    import uvloop
except ImportError:  # not on every platform; the standard loop works, only slower
    uvloop = None  # type: ignore[assignment]


def stop_on_signals(log: logging.Logger) -> asyncio.Event:
    """An event set by the first SIGTERM or SIGINT; a second one exits at once.

    The first signal starts a clean shutdown (the caller stops accepting, drains, exits
    0); the second is for an operator who will not wait.
    """
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s: shutting down", signal.Signals(signum).name)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    return stop


GC_THRESHOLDS = (200_000, 50, 1000)


def collect_rarely() -> None:
    """For a process that holds many job records: the state service's store, the node's
    acknowledged records (kept for a resync), a benchmark standing in for nodes.

    Records are acyclic dicts freed by reference counting, but every one is a GC-tracked
    container: with the default thresholds the collector keeps walking a heap of hundreds
    of thousands of them, in pauses of 10 ms and more (and a fifth of a state client's
    time per change). Rarer young collections keep cycles (from asyncio's internals)
    collected; what exists at start-up is never walked again. A job's record is replaced
    a few times in its first seconds, and a young collection walks only what is still
    alive: one every 200,000 new containers, not 50,000, walked a third as much in the
    raft benchmark (one pause of 40-65 ms per 100,000 jobs instead of seven of up to
    40 ms; a collection that finds any cycle at all is rare).
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed: about a tenth more IPC throughput."""
    if uvloop is not None:
        return uvloop.run(main)
    return asyncio.run(main)


class ServiceClient:
    """What the clients of the local services share: start once, wait for the first
    connection (then reconnect in the background), flush, and stop their tasks.

    A subclass names its service and error, sets ``socket_path``, ``connect_timeout``,
    ``_connected`` (set while connected) and ``_drained`` (set while nothing is waiting for
    an answer), returns its background coroutines from :meth:`_background`, and writes
    ``close`` with :meth:`_stop_tasks`.
    """

    service = "service"
    unavailable: type[Exception] = ConnectionError
    socket_path: str
    connect_timeout: float
    _connected: asyncio.Event
    _drained: asyncio.Event

    def __init__(self) -> None:
        self._state = "new"
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect, retrying until ``connect_timeout``; then keep reconnecting in the background."""
        if self._state != "new":
            raise self.unavailable(f"{self.service} client: start() called twice")
        self._state = "open"
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(work) for work in self._background()]
        try:
            await asyncio.wait_for(asyncio.shield(self._connected.wait()), self.connect_timeout)
        except TimeoutError:
            await self.close(timeout=0)
            raise self.unavailable(
                f"cannot reach the {self.service} at {self.socket_path} "
                f"within {self.connect_timeout:g}s"
            ) from None

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything sent so far is answered; False if ``timeout`` ran out."""
        try:
            await asyncio.wait_for(self._drained.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 5.0) -> None:
        raise NotImplementedError

    def _background(self) -> list[Coroutine[Any, Any, None]]:
        raise NotImplementedError

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
