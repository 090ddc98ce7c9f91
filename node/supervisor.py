"""Keeps the node's services (``joblet state``, ``joblet persist``) running as children.

Each child's output is passed on line by line with a prefix (``[STATE]``, ``[PERSIST]``)
so one terminal or journal shows the node. A child that exits while the node runs is
started again after a backoff that doubles from 1 s to 30 s (reset once it has run for a
minute); one restarted on purpose (:meth:`Child.restart`, the node's watchdog) starts again
at once.

The services run in sessions of their own and outlive a node that is killed: a memory-
backed state service holds the node's job history, which a restarted node must find
again. So a node that starts while its service still answers on its socket adopts it
(watching the socket) instead of starting a second one; a clean stop of the node stops
its services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path

log = logging.getLogger("joblet.node.supervisor")

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # seconds of running that reset the backoff
GONE_TIMEOUT = 5.0  # seconds a restart waits for the killed process to be gone


class Child:
    def __init__(self, service: str, config: Path, socket_path: str) -> None:
        self.service = service
        self.config = config
        self.socket_path = socket_path
        self.prefix = f"[{service.upper()}] ".encode()
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._restart = asyncio.Event()  # set: start the service again now, no backoff

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_running(), name=f"supervise-{self.service}")

    async def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (the service drains and exits 0), SIGKILL after ``timeout``. An adopted
        service (started by an earlier node) is stopped through its pid from the socket's
        peer credentials."""
        self._stopping = True
        if self.process is None and (pid := _socket_owner(self.socket_path)) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            await asyncio.to_thread(_wait_gone, pid, timeout)
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

    async def restart(self) -> int | None:
        """Start the service again now, without the crash backoff: for a service that runs
        but no longer works (the node's watchdog). SIGKILL, because a hung or stopped
        process would not act on SIGTERM; an adopted service is found through its socket.
        Returns the pid killed, or None when none was running (it is between restarts)."""
        if self._stopping:
            return None
        process = self.process
        if process is not None and process.returncode is None:
            self._restart.set()  # before the kill: _keep_running reads it when the process ends
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(TimeoutError):  # gone: nothing answers for it any more
                await asyncio.wait_for(process.wait(), GONE_TIMEOUT)
            return process.pid
        pid = await asyncio.to_thread(_socket_owner, self.socket_path)
        if pid is not None:  # adopted, not our child: wait until it is gone with its socket
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await asyncio.to_thread(_wait_gone, pid, GONE_TIMEOUT)
        self._restart.set()  # wakes the adopted loop, or cuts a crash backoff short
        return pid

    async def _keep_running(self) -> None:
        delay = BACKOFF_FIRST
        while not self._stopping:
            if await _answers(self.socket_path):
                log.info("%s is already running (%s): adopting it", self.service, self.socket_path)
                while True:
                    await self._pause(1.0)
                    if not await _answers(self.socket_path):
                        break
                if self._stopping:
                    return
                log.error("the adopted %s stopped answering; starting a new one", self.service)
            started = time.monotonic()
            code = await self._run_once()
            if self._stopping:
                return
            self.restarts += 1
            if self._restart.is_set():
                self._restart.clear()
                log.info("%s ended (%s) for a restart; starting it again now", self.service, code)
                continue
            if time.monotonic() - started > STABLE_AFTER:
                delay = BACKOFF_FIRST
            log.error("%s exited with %s; starting it again in %.0fs", self.service, code, delay)
            await self._pause(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _pause(self, seconds: float) -> None:
        """``seconds``, or less when :meth:`restart` asks for the service now."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._restart.wait(), seconds)
        self._restart.clear()

    async def _run_once(self) -> int:
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
            start_new_session=True,  # a Ctrl-C reaches the node, which stops them in order
        )
        assert self.process.stdout is not None
        out = sys.stdout.buffer
        async for line in self.process.stdout:
            out.write(self.prefix + line)
            out.flush()
        return await self.process.wait()


async def _answers(socket_path: str) -> bool:
    """Whether a service accepts connections on ``socket_path`` now."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(socket_path), 2.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _socket_owner(socket_path: str) -> int | None:
    """The pid of the process listening on a unix socket (SO_PEERCRED), if any."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(socket_path)
        credentials = probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    finally:
        probe.close()
    pid, _, _ = struct.unpack("3i", credentials)
    return pid or None


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
