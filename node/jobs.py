"""The node's jobs from submission to their end: scheduling, the slot limit, retries.

Every status change goes through the state client and is awaited, so what the API
answers is what the store holds. Jobs waiting for a slot sit INITIALIZING in a queue
ordered by priority, then by arrival; a job with a future ``schedule`` sits SCHEDULED on
a timer. After a restart, :meth:`JobManager.reconcile` puts the store right: jobs that
were running are FAILED (their process died with the node), waiting ones are queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from joblet_cluster.common.durations import parse_duration, parse_rfc3339
from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.node.executor import Attempt, Executor
from joblet_cluster.node.records import later, resources, seconds_until
from joblet_cluster.persist import PersistClient
from joblet_cluster.state import JobRecord, JobStatus, StateClient, is_terminal, now, transition

log = logging.getLogger("joblet.node.jobs")


@dataclass
class Job:
    """What the node holds of a job beyond its record: the secrets, which are never
    stored anywhere, and the task that runs it."""

    record: JobRecord
    secrets: dict[str, str] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class JobManager:
    def __init__(
        self,
        node_id: str,
        state: StateClient,
        persist: PersistClient,
        executor: Executor,
        max_concurrent: int,
        on_end: Callable[[str, float], None] | None = None,
    ) -> None:
        self.node_id = node_id
        self.state = state
        self.persist = persist
        self.executor = executor
        self.max_concurrent = max_concurrent
        self.on_end = on_end  # (status, seconds run) of each job that ends
        self.jobs: dict[str, Job] = {}
        self._queue: list[tuple[int, int, str]] = []  # (-priority, arrival, job id)
        self._arrivals = itertools.count()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._submitting: set[asyncio.Future[None]] = set()  # submits their callers left
        self._active = 0  # jobs holding a slot
        self._closing = False

    # -- submission ------------------------------------------------------------------------
    async def submit(self, record: JobRecord, secrets: dict[str, str]) -> JobRecord:
        """Store the new job, then schedule it; returns the stored record.

        A caller that gives up (a deadline, while the state service is slow) does not stop
        this half-way: the create is queued by then and will commit, so the job must run.
        """
        job = Job(record, secrets)
        self.jobs[record["uuid"]] = job
        storing = asyncio.ensure_future(self._store_and_schedule(job))
        self._submitting.add(storing)
        storing.add_done_callback(self._submitting.discard)
        await asyncio.shield(storing)
        return job.record

    async def _store_and_schedule(self, job: Job) -> None:
        await self.state.create(job.record)
        self._schedule(job)

    def _schedule(self, job: Job) -> None:
        record = job.record
        if record["status"] == JobStatus.SCHEDULED:
            delay = seconds_until(record.get("scheduledTime") or now())
            loop = asyncio.get_running_loop()
            self._timers[record["uuid"]] = loop.call_later(delay, self._due, record["uuid"])
            return
        self._enqueue(job)

    def _due(self, job_id: str) -> None:
        self._timers.pop(job_id, None)
        job = self.jobs.get(job_id)
        if job is not None and job.record["status"] == JobStatus.SCHEDULED:
            self._enqueue(job)

    def _enqueue(self, job: Job) -> None:
        priority = int(resources(job.record).get("priority", 0))
        heapq.heappush(self._queue, (-priority, next(self._arrivals), job.record["uuid"]))
        self._fill_slots()

    def _fill_slots(self) -> None:
        while self._queue and self._active < self.max_concurrent and not self._closing:
            _, _, job_id = heapq.heappop(self._queue)
            job = self.jobs.get(job_id)
            if job is None or is_terminal(job.record["status"]):
                continue
            self._active += 1
            job.task = asyncio.create_task(self._run(job), name=f"job-{job_id}")

    # -- running ---------------------------------------------------------------------------
    async def _run(self, job: Job) -> None:
        try:
            await self._attempts(job)
        except Exception as exc:
            log.exception("job %s: the node failed running it", job.record["uuid"])
            if not is_terminal(job.record["status"]):
                with contextlib.suppress(Exception):
                    await self._move(
                        job, JobStatus.FAILED, error=f"node error: {exc}", endTime=now()
                    )
        finally:
            self._active -= 1
            job.done.set()
            self.persist.end_job(job.record["uuid"])
            self._fill_slots()

    async def _attempts(self, job: Job) -> None:
        extra = resources(job.record)
        retries = int(extra.get("maxRetries", 0))
        delay = parse_duration(extra.get("retryDelay") or "0").total_seconds()
        for attempt_number in range(1, retries + 2):
            try:
                code, error = await self._attempt(job, attempt_number)
            except _Ended:
                return
            if job.record["status"] == JobStatus.STOPPED or code == 0:
                return
            if attempt_number > retries:
                break
            log.info(
                "job %s: attempt %d failed (%s); retrying",
                job.record["uuid"],
                attempt_number,
                error,
            )
            await self._move(
                job,
                None,
                error=f"attempt {attempt_number} failed: {error}; retry at {later(delay)}",
            )
            await asyncio.sleep(delay)
            if job.record["status"] == JobStatus.STOPPED:
                return
        await self._move(job, JobStatus.FAILED, endTime=now())

    async def _attempt(self, job: Job, number: int) -> tuple[int, str]:
        """One run; leaves the record RUNNING (the caller decides what a failure means)
        unless the job was stopped, which ends it STOPPED."""
        record = job.record
        extra = resources(record)
        attempt = Attempt(
            job_id=record["uuid"],
            command=record.get("command") or "",
            args=list(record.get("args") or []),
            work_dir=Path(extra["workDir"]),
            environment={**(record.get("environment") or {}), **job.secrets},
            max_memory_mb=int(extra.get("maxMemory", 0)),
            max_cpu_percent=int(extra.get("maxCpu", 0)),
        )
        try:
            attempt.work_dir.mkdir(parents=True, exist_ok=True)
            await self.executor.start(attempt)
        except OSError as exc:
            reason = f"cannot start {attempt.command!r}: {exc.strerror or exc}"
            await self._move(job, JobStatus.FAILED, error=reason, exitCode=127, endTime=now())
            raise _Ended from None
        started = {"startTime": now()} if number == 1 else {}
        await self._move(
            job,
            JobStatus.RUNNING,
            pid=attempt.pid,
            resources={**extra, "attempt": number},
            **started,
        )
        code = await self.executor.wait(attempt)
        if attempt.stop_requested:
            await self._move(job, JobStatus.STOPPED, exitCode=code, endTime=now())
            return code, "stopped"
        if code == 0:
            await self._move(job, JobStatus.COMPLETED, exitCode=0, endTime=now(), error=None)
            return 0, ""
        await self._move(job, None, exitCode=code)
        return code, f"exit code {code}"

    async def _move(self, job: Job, status: str | None, **fields: Any) -> None:
        job.record = transition(job.record, status, **fields)
        result = await self.state.update(job.record)
        record = job.record
        if self.on_end is not None and status is not None and is_terminal(status):
            started, ended = record.get("startTime"), record.get("endTime")
            if started and ended:
                seconds = (parse_rfc3339(ended) - parse_rfc3339(started)).total_seconds()
                self.on_end(status, seconds)
        if result.version is not None and result.version > job.record["version"]:
            log.warning("job %s: the store holds a newer version", job.record["uuid"])

    # -- operations ------------------------------------------------------------------------
    async def stop(self, job_id: str) -> JobRecord:
        job = self._local(job_id)
        status = job.record["status"]
        if is_terminal(status):
            return job.record
        if status in (JobStatus.SCHEDULED, JobStatus.INITIALIZING) and job.task is None:
            self._forget_waiting(job_id)
            await self._move(job, JobStatus.STOPPED, endTime=now())
            self.persist.end_job(job_id)
            job.done.set()
            return job.record
        if not await self.executor.stop(job_id):  # between attempts: no process
            await self._move(job, JobStatus.STOPPED, endTime=now())
        await job.done.wait()
        return job.record

    async def cancel(self, job_id: str) -> JobRecord:
        job = self._local(job_id)
        if job.record["status"] != JobStatus.SCHEDULED:
            raise InvalidInput(
                f"job {job_id} is {job.record['status']}: only a SCHEDULED job can be canceled"
            )
        self._forget_waiting(job_id)
        await self._move(job, JobStatus.CANCELED, endTime=now())
        self.persist.end_job(job_id)
        job.done.set()
        return job.record

    async def delete(self, record: JobRecord) -> None:
        """Remove a job that is not running: its record, and its working folder when the
        node made it (a ``work_dir`` the user named is theirs)."""
        job_id = record["uuid"]
        if not is_terminal(record["status"]):
            raise InvalidInput(f"job {job_id} is {record['status']}: stop it before deleting it")
        await self.state.delete(job_id)
        self.jobs.pop(job_id, None)
        extra = resources(record)
        if extra.get("ownWorkDir"):
            await asyncio.to_thread(shutil.rmtree, extra["workDir"], True)

    def _local(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise InvalidInput(f"job {job_id} is not active on node {self.node_id}")
        return job

    def _forget_waiting(self, job_id: str) -> None:
        timer = self._timers.pop(job_id, None)
        if timer is not None:
            timer.cancel()
        # a queued entry is skipped when popped: its job is terminal by then

    # -- restart ---------------------------------------------------------------------------
    async def reconcile(self) -> tuple[int, int]:
        """After a restart: this node's running jobs FAILED (their processes are killed
        if they outlived the node), waiting ones queued again. Returns (failed, queued)."""
        failed = queued = 0
        async for record in self.state.list_all(nodeId=self.node_id):
            status = record["status"]
            if status == JobStatus.RUNNING:
                _kill_leftover(record)
                job = Job(record)
                self.jobs[record["uuid"]] = job
                await self._move(
                    job,
                    JobStatus.FAILED,
                    error="the node restarted while the job ran",
                    endTime=now(),
                )
                job.done.set()
                self.persist.end_job(record["uuid"])
                failed += 1
            elif status in (JobStatus.SCHEDULED, JobStatus.INITIALIZING):
                job = Job(record)
                self.jobs[record["uuid"]] = job
                if record.get("secretEnvironment"):
                    await self._move(
                        job,
                        JobStatus.FAILED,
                        error="secret environment values are never stored, so they did not "
                        "survive the node's restart: submit the job again",
                        endTime=now(),
                    )
                    job.done.set()
                    failed += 1
                    continue
                self._schedule(job)
                queued += 1
        return failed, queued

    async def close(self) -> None:
        """Stop accepting, stop every running job (recorded STOPPED), drop the timers."""
        self._closing = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        running = [
            job for job in self.jobs.values() if job.task is not None and not job.done.is_set()
        ]
        await asyncio.gather(
            *(self.stop(job.record["uuid"]) for job in running), return_exceptions=True
        )

    def counts(self) -> dict[str, int]:
        by_status: dict[str, int] = {}
        for job in self.jobs.values():
            by_status[job.record["status"]] = by_status.get(job.record["status"], 0) + 1
        return by_status


class _Ended(Exception):
    """The attempt ended the job already (it could not start)."""


def _kill_leftover(record: JobRecord) -> None:
    """A job whose node died may still be running: its process group is killed, if the
    pid still names a process of the same command (pids are reused)."""
    pid = record.get("pid")
    if not pid:
        return
    with contextlib.suppress(psutil.Error, OSError):
        process = psutil.Process(pid)
        command = Path(record.get("command") or "").name
        if command and process.cmdline() and Path(process.cmdline()[0]).name == command:
            os.killpg(pid, signal.SIGKILL)
