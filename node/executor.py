"""Runs one attempt of a job as a child process and reports what it does.

The child gets its own session (so a stop reaches every process it started: SIGTERM to
the group, SIGKILL after the grace period), its environment and secrets, and a working
directory. Its stdout and stderr are read in blocks and cut into lines that keep their
stream; each batch of lines goes to persist, numbered per job and stream by the persist
client. Resource samples go to persist every ``metrics_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from joblet_cluster.node.limits import Cgroups
from joblet_cluster.node.sampler import JobSampler
from joblet_cluster.persist import STDERR, STDOUT, PersistClient
from joblet_cluster.proto.persist_pb2 import Metric

log = logging.getLogger("joblet.node.executor")

READ_BLOCK = 256 * 1024
MAX_LINE = 1024 * 1024  # a longer line is cut into pieces of this size
BASE_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "USER", "TMPDIR")


@dataclass
class Attempt:
    """One run of a job's command; ``returncode`` is set once it has exited."""

    job_id: str
    command: str
    args: list[str]
    work_dir: Path
    environment: Mapping[str, str]
    max_memory_mb: int = 0
    max_cpu_percent: int = 0
    pid: int | None = None
    cgroups: list[Path] = field(default_factory=list)
    returncode: int | None = None
    stop_requested: bool = False
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)


class Executor:
    def __init__(
        self,
        persist: PersistClient,
        metrics_interval: float,
        grace_seconds: float,
        cgroups: Cgroups | None = None,
        on_metric: Callable[[Metric], None] | None = None,
    ) -> None:
        self.persist = persist
        self.cgroups = cgroups
        self.metrics_interval = metrics_interval
        self.grace_seconds = grace_seconds
        self.on_metric = on_metric
        self.running: dict[str, Attempt] = {}

    async def start(self, attempt: Attempt) -> None:
        """Start the process; OSError (no such command, no permission) when it cannot."""
        env = {key: os.environ[key] for key in BASE_ENV if key in os.environ}
        env.update(attempt.environment)
        process = await asyncio.create_subprocess_exec(
            attempt.command,
            *attempt.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=attempt.work_dir,
            env=env,
            start_new_session=True,
            limit=READ_BLOCK,
        )
        attempt.process = process
        attempt.pid = process.pid
        self.running[attempt.job_id] = attempt
        try:
            self._limit(attempt)
        except OSError as exc:  # the process may already be gone; the job runs unlimited
            log.warning("job %s: limits not applied: %s", attempt.job_id, exc)

    def _limit(self, attempt: Attempt) -> None:
        """cgroups where the host allows (CPU and memory), else RLIMIT_AS for memory."""
        assert attempt.pid is not None
        if self.cgroups is not None and (attempt.max_cpu_percent or attempt.max_memory_mb):
            attempt.cgroups = self.cgroups.apply(
                attempt.job_id, attempt.pid, attempt.max_cpu_percent, attempt.max_memory_mb
            )
        memory_cgroup = self.cgroups is not None and self.cgroups.memory is not None
        if attempt.max_memory_mb > 0 and not memory_cgroup:
            limit = attempt.max_memory_mb * 1024 * 1024
            resource.prlimit(attempt.pid, resource.RLIMIT_AS, (limit, limit))

    async def wait(self, attempt: Attempt) -> int:
        """Forward output and samples until the process has exited and its pipes are
        drained; the exit code (128 + signal for a process killed by a signal)."""
        process = attempt.process
        assert process is not None and process.stdout is not None and process.stderr is not None
        sampler = asyncio.create_task(self._sample(attempt))
        try:
            await asyncio.gather(
                self._forward(attempt.job_id, STDOUT, process.stdout),
                self._forward(attempt.job_id, STDERR, process.stderr),
            )
            code = await process.wait()
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            self.running.pop(attempt.job_id, None)
            Cgroups.remove(attempt.cgroups)
        attempt.returncode = code if code >= 0 else 128 - code
        return attempt.returncode

    async def stop(self, job_id: str) -> bool:
        """SIGTERM to the job's process group, SIGKILL after the grace period; False when
        the job has no process here."""
        attempt = self.running.get(job_id)
        if attempt is None or attempt.pid is None:
            return False
        attempt.stop_requested = True
        _signal_group(attempt.pid, signal.SIGTERM)
        process = attempt.process
        try:
            if process is not None:
                await asyncio.wait_for(process.wait(), self.grace_seconds)
        except TimeoutError:
            log.info("job %s did not stop within %ss: SIGKILL", job_id, self.grace_seconds)
        _signal_group(attempt.pid, signal.SIGKILL)  # stragglers of the group, if any
        return True

    async def _forward(self, job_id: str, stream: int, pipe: asyncio.StreamReader) -> None:
        """Lines of one pipe to persist, in blocks: a partial last line waits for its end
        (or for EOF), so a line is never split by how the child's writes arrived."""
        partial = b""
        while True:
            block = await pipe.read(READ_BLOCK)
            if not block:
                break
            lines = (partial + block).split(b"\n")
            partial = lines.pop()
            while len(partial) > MAX_LINE:
                lines.append(partial[:MAX_LINE])
                partial = partial[MAX_LINE:]
            if lines:
                await self.persist.log_many(job_id, stream, _cut_long(lines))
        if partial:
            await self.persist.log_many(job_id, stream, [partial])

    async def _sample(self, attempt: Attempt) -> None:
        assert attempt.pid is not None
        sampler = JobSampler(
            attempt.pid, attempt.job_id, memory_limit_bytes=attempt.max_memory_mb * 1024 * 1024
        )
        while True:
            sample = await asyncio.to_thread(sampler.sample, 0)
            if sample is None:
                return
            sample = await self.persist.metric(sample)
            if self.on_metric is not None:
                self.on_metric(sample)
            await asyncio.sleep(self.metrics_interval)


def _cut_long(lines: list[bytes]) -> list[bytes]:
    if all(len(line) <= MAX_LINE for line in lines):
        return lines
    out: list[bytes] = []
    for line in lines:
        out.extend(line[at : at + MAX_LINE] for at in range(0, max(len(line), 1), MAX_LINE))
    return out


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def write_uploads(work_dir: Path, uploads: list[tuple[str, bytes, int, bool]]) -> None:
    """Files (path, content, mode, is_directory) into ``work_dir``; a path that is
    absolute or climbs out of it (``..``) is refused before anything is written."""
    root = work_dir.resolve()
    targets = []
    for path, content, mode, is_dir in uploads:
        target = (root / path).resolve()
        if Path(path).is_absolute() or not target.is_relative_to(root) or target == root:
            raise ValueError(f"upload path {path!r} is not a relative path inside the job")
        targets.append((target, content, mode, is_dir))
    for target, content, mode, is_dir in targets:
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod((mode & 0o7777) or 0o644)
