"""Keeps the node's services (``joblet state``, ``joblet persist``) running as children.

Each child's output is passed on line by line with a prefix (``[STATE]``, ``[PERSIST]``)
so one terminal or journal shows the node. A child that exits while the node runs is
started again after a backoff that doubles from 1 s to 30 s (reset once it has run for a
minute). A child learns that the node died through ``JOBLET_SUPERVISOR_PID``: it stops
when its parent changes, so a killed node leaves no orphan services holding the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("joblet.node.supervisor")

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # seconds of running that reset the backoff
SUPERVISOR_ENV = "JOBLET_SUPERVISOR_PID"


class Child:
    def __init__(self, service: str, config: Path) -> None:
        self.service = service
        self.config = config
        self.prefix = f"[{service.upper()}] ".encode()
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_running(), name=f"supervise-{self.service}")

    async def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (the service drains and exits 0), SIGKILL after ``timeout``."""
        self._stopping = True
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                log.warning("%s did not stop within %ss: SIGKILL", self.service, timeout)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _keep_running(self) -> None:
        delay = BACKOFF_FIRST
        while not self._stopping:
            started = time.monotonic()
            code = await self._run_once()
            if self._stopping:
                return
            if time.monotonic() - started > STABLE_AFTER:
                delay = BACKOFF_FIRST
            self.restarts += 1
            log.error("%s exited with %s; starting it again in %.0fs", self.service, code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _run_once(self) -> int:
        env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "joblet_cluster.node",
            self.service,
            "-c",
            str(self.config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C reaches the node, which stops them in order
        )
        assert self.process.stdout is not None
        out = sys.stdout.buffer
        async for line in self.process.stdout:
            out.write(self.prefix + line)
            out.flush()
        return await self.process.wait()


def watch_parent() -> None:
    """In a supervised service: stop (SIGTERM to itself) once the node that started it
    is gone. Runs on a daemon thread; a service started by hand is left alone."""
    parent = os.environ.get(SUPERVISOR_ENV)
    if not parent:
        return

    def watch() -> None:
        while os.getppid() == int(parent):
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
