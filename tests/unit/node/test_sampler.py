"""JobSampler on real process trees: a job whose child does the work, churns, or has ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from joblet_cluster.node.sampler import JobSampler
from joblet_cluster.proto.persist_pb2 import Metric

MB = 1 << 20
TIMEOUT = 30.0

#: The worker: writes a little, holds ~50 MB, burns CPU until told to stop (or gives up).
CHILD = """
import os, sys, time
stop, out = sys.argv[1:]
fd = os.open(out, os.O_WRONLY | os.O_CREAT)
for _ in range(100):
    os.write(fd, b"x" * 4096)
os.close(fd)
ballast = b"x" * (50 << 20)
deadline = time.monotonic() + 30
while not os.path.exists(stop) and time.monotonic() < deadline:
    sum(range(10_000))
"""

#: The job's root: runs the worker, then stays until released, as a shell script would.
ROOT = f"""
import os, subprocess, sys, time
stop, out, release = sys.argv[1:]
subprocess.run([sys.executable, "-c", {CHILD!r}, stop, out], check=True)
deadline = time.monotonic() + 30
while not os.path.exists(release) and time.monotonic() < deadline:
    time.sleep(0.01)
"""


@pytest.fixture
def job(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A job as the node starts one: a child in a session (and process group) of its own."""
    files = [str(tmp_path / name) for name in ("stop", "out", "release")]
    proc = subprocess.Popen([sys.executable, "-c", ROOT, *files], start_new_session=True)
    try:
        yield proc
    finally:
        for name in ("stop", "release"):
            (tmp_path / name).touch()
        proc.wait(timeout=TIMEOUT)


def sample_until(
    sampler: JobSampler, done: Callable[[Metric], bool], samples: list[Metric]
) -> Metric:
    """Sample every 50 ms, appending to ``samples``, until ``done`` holds (or time is up)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        metric = sampler.sample(len(samples) + 1)
        assert metric is not None, "the job's root ended early"
        samples.append(metric)
        if done(metric):
            return metric
        time.sleep(0.05)
    raise AssertionError(f"not reached in {TIMEOUT}s; last sample: {samples[-1]}")


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def assert_never_decrease(samples: list[Metric], *fields: str) -> None:
    for field in fields:
        values = [getattr(m, field) for m in samples]
        assert values == sorted(values), f"{field} went backwards: {values}"


def test_a_sample_covers_the_whole_tree(job: subprocess.Popen[bytes], tmp_path: Path) -> None:
    sampler = JobSampler(job.pid, "job-1", memory_limit_bytes=512 * MB)
    samples: list[Metric] = []

    busy = sample_until(sampler, lambda m: m.cpu_percent > 20 and m.memory_bytes > 40 * MB, samples)

    assert samples[0].cpu_percent == 0.0
    assert psutil.Process(job.pid).memory_info().rss < 40 * MB, "so the child's memory counted"
    assert busy.job_id == "job-1"
    assert busy.sequence == len(samples)
    assert busy.memory_limit == 512 * MB
    assert busy.io_write_ops >= 100
    assert busy.net_rx_bytes == busy.net_tx_bytes == busy.gpu_percent == 0
    assert abs(busy.timestamp - time.time_ns()) < 5 * 10**9


def test_io_totals_survive_the_child_ending(job: subprocess.Popen[bytes], tmp_path: Path) -> None:
    sampler = JobSampler(job.pid, "job-1")
    samples: list[Metric] = []
    sample_until(sampler, lambda m: m.memory_bytes > 40 * MB, samples)

    (tmp_path / "stop").touch()
    sample_until(sampler, lambda m: m.memory_bytes < 40 * MB, samples)
    wait_for(lambda: not psutil.Process(job.pid).children())
    last = sampler.sample(len(samples) + 1)
    assert last is not None
    samples.append(last)

    assert samples[-1].io_write_ops >= 100
    assert_never_decrease(
        samples, "io_read_bytes", "io_write_bytes", "io_read_ops", "io_write_ops", "sequence"
    )


def test_no_sample_once_the_job_has_ended(job: subprocess.Popen[bytes], tmp_path: Path) -> None:
    sampler = JobSampler(job.pid, "job-1")
    assert sampler.sample(1) is not None

    (tmp_path / "stop").touch()
    (tmp_path / "release").touch()
    job.wait(timeout=TIMEOUT)

    assert sampler.sample(2) is None
    assert JobSampler(job.pid, "job-1").sample(1) is None


def test_an_exited_but_unreaped_root_is_over() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    try:
        wait_for(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE)
        assert JobSampler(proc.pid, "job-1").sample(1) is None
    finally:
        proc.wait(timeout=TIMEOUT)


def test_children_that_come_and_go_never_break_a_sample() -> None:
    script = "while :; do /bin/true; /bin/true & wait; done"
    proc = subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True)
    try:
        sampler = JobSampler(proc.pid, "job-1")
        samples = [sampler.sample(sequence) for sequence in range(1, 201)]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)

    assert all(s is not None for s in samples)
    assert_never_decrease([s for s in samples if s is not None], "io_read_ops", "io_write_ops")
    assert sampler.sample(201) is None
