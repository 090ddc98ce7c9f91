"""A job's resource use, sampled over its whole process tree for the persist service.

A job runs as a child of the node, in its own process group, and may fork; a sample covers
its root process and every descendant, found again each time since children come and go.
Sampling never sleeps: it reads ``/proc`` once per process (the listing of descendants reads
the process table), so it is cheap enough to call every few seconds per job.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import psutil

from joblet_cluster.proto import persist_pb2


class _IO(NamedTuple):
    read_bytes: int = 0
    write_bytes: int = 0
    read_ops: int = 0
    write_ops: int = 0


@dataclass(frozen=True, slots=True)
class _Usage:
    """One process's reading: CPU seconds and I/O are cumulative since it started."""

    cpu_seconds: float
    rss: int
    io: _IO


class JobSampler:
    """Samples one job: CPU, memory and I/O summed over its process tree.

    - ``cpu_percent`` is the tree's CPU time since the previous sample over the wall time
      between them (100 is one core busy); the first sample has no previous one and says 0.0.
      A process that started since the previous sample counts from zero; one that ended
      takes its last interval with it.
    - ``memory_bytes`` is the sum of resident set sizes (pages shared by forked processes
      count once per process, as ``ps`` would show them).
    - I/O (storage bytes and read/write calls) is cumulative. The kernel adds a child's I/O to
      its parent's when the parent reaps it, so the sum over the live tree keeps what ended
      children did; the totals reported are a running maximum of that sum, so they never go
      back even when a process ends unreaped by the tree (its I/O is then no longer seen).
    - network bytes stay 0: Linux counts traffic per interface, not per process, and a job
      has interfaces of its own only when it runs in its own network namespace.
    - GPU figures stay 0: no GPU accounting here.
    """

    def __init__(self, pid: int, job_id: str, memory_limit_bytes: int = 0) -> None:
        """``memory_limit_bytes`` is the job's memory limit as given to it (0: unlimited)."""
        self.job_id = job_id
        self.memory_limit_bytes = memory_limit_bytes
        self._root = _find(pid)
        self._cpu_seconds: dict[psutil.Process, float] = {}
        self._sampled_at: float | None = None
        self._io = _IO()

    def sample(self, sequence: int) -> persist_pb2.Metric | None:
        """The tree's use now, or None once the root process has ended (the job is over)."""
        now = time.monotonic()
        tree = self._tree()
        if tree is None:
            return None
        usages = {proc: usage for proc in tree if (usage := _read(proc)) is not None}
        self._io = _IO(*map(max, self._io, _io_sum(u.io for u in usages.values())))
        io = self._io
        return persist_pb2.Metric(
            job_id=self.job_id,
            timestamp=time.time_ns(),
            sequence=sequence,
            cpu_percent=self._cpu_percent(usages, now),
            memory_bytes=sum(u.rss for u in usages.values()),
            memory_limit=self.memory_limit_bytes,
            io_read_bytes=io.read_bytes,
            io_write_bytes=io.write_bytes,
            io_read_ops=io.read_ops,
            io_write_ops=io.write_ops,
        )

    def _tree(self) -> list[psutil.Process] | None:
        """The root and its descendants; None once the root has exited (reaped or a zombie).

        A zombie root has no children left (they were handed to init when it exited).
        """
        root = self._root
        try:
            if root is None or not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
                return None
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:  # also when its pid now belongs to another process
            return None

    def _cpu_percent(self, usages: dict[psutil.Process, _Usage], now: float) -> float:
        """CPU time per process (a Process is keyed by pid and start time) since last time."""
        busy = sum(u.cpu_seconds - self._cpu_seconds.get(p, 0.0) for p, u in usages.items())
        elapsed = now - self._sampled_at if self._sampled_at is not None else 0.0
        self._cpu_seconds = {p: u.cpu_seconds for p, u in usages.items()}
        self._sampled_at = now
        return 100.0 * busy / elapsed if elapsed > 0 else 0.0


def _find(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:  # the job ended before sampling began
        return None


def _read(proc: psutil.Process) -> _Usage | None:
    try:
        with proc.oneshot():
            times = proc.cpu_times()
            rss = proc.memory_info().rss
    except psutil.Error:  # ended since the tree was listed, or not ours to read
        return None
    return _Usage(times.user + times.system, rss, _read_io(proc))


def _read_io(proc: psutil.Process) -> _IO:
    try:
        counters = proc.io_counters()
    except psutil.Error:  # ended meanwhile, or /proc/<pid>/io is not ours to read
        return _IO()
    return _IO(counters.read_bytes, counters.write_bytes, counters.read_count, counters.write_count)


def _io_sum(ios: Iterable[_IO]) -> _IO:
    total = _IO()
    for io in ios:
        total = _IO(*(a + b for a, b in zip(total, io, strict=True)))
    return total
