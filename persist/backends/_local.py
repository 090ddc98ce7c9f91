"""Job logs and metrics in local files: persist's default backend.

Layout (DESIGN.md); ``logs.directory`` / ``metrics.directory`` replace the two folders::

    <base>/logs/<job>/stdout.log.gz  stderr.log.gz   (+ stdout.log.1.gz ... once rolled)
    <base>/metrics/<job>/metrics.jsonl.gz            (+ metrics.jsonl.1.gz ...)
    <base>/job_index.json

Files are gzip JSON lines (``_local_format``). Every batch is one complete gzip member,
written with one ``write`` on an unbuffered descriptor: it is with the OS when ``write_*``
returns, and a kill can at worst tear the member being written, which readers skip and the
next append cuts off.

The index holds per job and stream the line and byte counts, first and last time and last
sequence. It is replaced atomically (temp file, fsync, rename), but not per batch (that
would be an fsync per batch): at most every ``INDEX_SAVE_SECONDS`` while writes come in,
after deletes and retention, and at close. So after a SIGKILL it can be stale, and each
stream's entry also records its files (name, inode, size, mtime) as they were when it was
saved. The first time a job is touched in a process, its files are compared with that (a
listing and a few stats); a stream whose files differ is recounted from its member headers,
without decompressing, and a torn tail is cut off. So ``last_sequence`` is exact after any
restart, and costs no log reading when the index is current.

Threads: every file operation runs on one worker thread per backend. One file's writes stay
in order and the index has one writer, without locks; zlib and file IO release the GIL, so
compression overlaps with the event loop's own work. Reads advance a few chunks per step,
so a long query never holds the worker (and writes) for long.

Open files: appends go through an LRU of at most ``max_open_files`` descriptors (and at most
half of RLIMIT_NOFILE); a query holds its stream's files open while it runs, so a rotation
or a delete meanwhile does not disturb it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from joblet_cluster.common.config import PersistLocalConfig, PersistStorageConfig
from joblet_cluster.common.errors import ConfigError, InvalidInput
from joblet_cluster.common.ids import check_id, is_safe_id
from joblet_cluster.persist.backends import _local_format as fmt
from joblet_cluster.persist.backends import _local_index as idx
from joblet_cluster.persist.backends import _local_read as rd
from joblet_cluster.persist.backends._aggregate import aggregate
from joblet_cluster.persist.backends._base import (
    METRICS,
    STDERR,
    STDOUT,
    CleanupResult,
    JobSummary,
)
from joblet_cluster.persist.backends._block import LogBlock
from joblet_cluster.proto.persist_pb2 import Metric

log = logging.getLogger("joblet.persist.local")

INDEX_SAVE_SECONDS = 5.0
_DAY_NS = 86_400 * 10**9
_MB = 1024 * 1024

_KINDS = {STDOUT: "stdout", STDERR: "stderr", METRICS: "metrics"}
_STREAMS = {"stdout": STDOUT, "stderr": STDERR}
_LOG_KINDS = ("stdout", "stderr")
_ALL_KINDS = ("stdout", "stderr", "metrics")

T = TypeVar("T")


class LocalBackend:
    """The local-files backend: see the module docstring."""

    name = "local"

    def __init__(self, config: PersistStorageConfig) -> None:
        local = config.local
        _check(local)
        self.base_dir = Path(config.base_dir)
        self.logs_dir = Path(local.logs.directory or self.base_dir / "logs")
        self.metrics_dir = Path(local.metrics.directory or self.base_dir / "metrics")
        self.index_path = self.base_dir / idx.INDEX_NAME
        self.max_open_files = _descriptor_budget(local.max_open_files)
        self._level = local.compression_level
        self._rotate_at = local.rotation.max_size_mb * _MB
        self._keep = local.rotation.max_files
        self._retention = local.retention
        self._writers: OrderedDict[tuple[str, str], list[int]] = OrderedDict()  # [fd, size]
        self._jobs: dict[str, dict[str, idx.Stream]] = {}
        self._verified: set[str] = set()  # jobs checked against their files in this process
        self._changed = False  # since the index was last saved
        self._saved_at = 0.0
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="persist-local")
        self._opened = self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(self._open)
        self._opened = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._opened:
                await self._run(self._close)
        finally:
            self._worker.shutdown(wait=True)

    # -- writes ------------------------------------------------------------------------------

    async def last_sequence(self, job_id: str, stream: int) -> int:
        kind = _kind(stream, _ALL_KINDS)
        check_id(job_id)
        if job_id in self._verified:  # no trip to the worker: dict reads are atomic
            return self._jobs.get(job_id, {}).get(kind, idx.NO_STREAM).last_sequence
        return await self._call(self._last_sequence, job_id, kind)

    async def write_logs(self, job_id: str, stream: int, lines: LogBlock) -> None:
        kind = _kind(stream, _LOG_KINDS)
        check_id(job_id)
        if lines:
            await self._call(self._write_logs, job_id, kind, lines)

    async def write_metrics(self, job_id: str, samples: Sequence[Metric]) -> None:
        check_id(job_id)
        if samples:
            await self._call(self._write_metrics, job_id, samples)

    # -- reads -------------------------------------------------------------------------------

    def read_logs(
        self, job_id: str, stream: int, start: int = 0, end: int = 0
    ) -> AsyncIterator[LogBlock]:
        check_id(job_id)
        if stream not in (0, STDOUT, STDERR):
            raise InvalidInput(f"stream must be 0 (both), 1 or 2, not {stream!r}")
        return self._drain(self._log_reader(job_id, stream, start, end))

    def read_metrics(
        self, job_id: str, start: int = 0, end: int = 0
    ) -> AsyncIterator[list[Metric]]:
        """Samples in the order they were stored: by sequence, which is a sampler's time order."""
        check_id(job_id)
        return self._drain(self._metric_reader(job_id, start, end))

    async def aggregate_metrics(
        self, job_id: str, start: int = 0, end: int = 0, aggregation: str = "avg", step: int = 0
    ) -> list[Metric]:
        """Stored samples folded per ``step`` ns (the whole range when 0)."""
        samples = [s async for chunk in self.read_metrics(job_id, start, end) for s in chunk]
        first = start or (samples[0].timestamp if samples else 0)
        return aggregate(samples, aggregation, first, step, job_id)

    async def job_info(self, job_id: str) -> JobSummary | None:
        check_id(job_id)
        return await self._call(self._job_info, job_id)

    async def list_jobs(self) -> list[JobSummary]:
        return await self._call(self._list_jobs)

    async def delete_job(self, job_id: str) -> bool:
        check_id(job_id)
        return await self._call(self._delete_job, job_id)

    async def cleanup(self, now: int) -> CleanupResult:
        return await self._call(self._cleanup, now)

    async def stored_bytes(self) -> int:
        return await self._call(self._stored_bytes)

    def check_writable(self) -> str | None:
        for directory in (self.base_dir, self.logs_dir, self.metrics_dir):
            try:
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=directory)
                try:
                    os.write(fd, b"x")
                finally:
                    os.close(fd)
                    os.unlink(probe)
                if os.statvfs(directory).f_bavail == 0:
                    return f"{directory}: no space left on the device"
            except OSError as exc:
                return f"{directory} is not writable: {exc.strerror or exc}"
        return None

    # -- the worker's side -------------------------------------------------------------------

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if not self._opened:  # else close() would save an index missing every older job
            raise RuntimeError("LocalBackend used before open()")
        return await self._run(function, *args)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    def _open(self) -> None:
        for directory in (self.base_dir, self.logs_dir, self.metrics_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._jobs = idx.load(self.index_path)
        for directory in (self.logs_dir, self.metrics_dir):
            for name in idx.listing(directory):  # jobs written after the index was last saved
                if name not in self._jobs and is_safe_id(name):
                    self._jobs[name] = {}
        self._saved_at = time.monotonic()
        log.info("local storage in %s: %d jobs", self.base_dir, len(self._jobs))

    def _close(self) -> None:
        while self._writers:
            self._evict()
        if self._changed:
            self._save_index()

    def _last_sequence(self, job_id: str, kind: str) -> int:
        return self._ensure(job_id).get(kind, idx.NO_STREAM).last_sequence

    def _write_logs(self, job_id: str, kind: str, lines: LogBlock) -> None:
        members = []
        size = 0
        low, high = rd.NEVER, 0
        step = fmt.MAX_MEMBER_RECORDS
        for at in range(0, len(lines), step):
            part = lines if len(lines) <= step else lines[at : at + step]
            payload, content_bytes, times = fmt.encode_logs(job_id, kind, part)
            sequences = (part.sequences[0], part.sequences[-1])
            members.append(
                fmt.member(payload, self._level, len(part), content_bytes, sequences, times)
            )
            size += content_bytes
            low, high = min(low, times[0]), max(high, times[1])
        self._append(
            job_id, kind, b"".join(members), len(lines), size, lines.sequences[-1], low, high
        )

    def _write_metrics(self, job_id: str, samples: Sequence[Metric]) -> None:
        payload, times = fmt.encode_metrics(job_id, samples)
        sequences = (samples[0].sequence, samples[-1].sequence)
        data = fmt.member(payload, self._level, len(samples), 0, sequences, times)
        self._append(job_id, "metrics", data, len(samples), 0, sequences[1], *times)

    def _append(
        self,
        job_id: str,
        kind: str,
        data: bytes,
        records: int,
        content_bytes: int,
        last_sequence: int,
        low: int,
        high: int,
    ) -> None:
        streams = self._ensure(job_id)
        if not streams:
            streams = self._jobs.setdefault(job_id, streams)
        stream = streams.get(kind)
        if stream is None:
            stream = streams[kind] = idx.Stream()
        writer = self._writer(job_id, kind)
        fd, before = writer
        try:
            idx.write_all(fd, data)
        except OSError:  # leave no partial member behind: the batch is refused as a whole
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)
            self._close_writer(job_id, kind)
            raise
        writer[1] = before + len(data)
        info = os.fstat(fd)  # the file as the index will record it
        current = (idx.file_name(kind, 0), info.st_ino, info.st_size, info.st_mtime_ns)
        if stream.files and stream.files[-1][0] == current[0]:
            stream.files[-1] = current
        else:
            stream.files.append(current)
        stream.disk += len(data)
        stream.lines += records
        stream.bytes += content_bytes
        stream.last_sequence = max(stream.last_sequence, last_sequence)
        if not stream.first_time or low < stream.first_time:
            stream.first_time = low
        stream.last_time = max(stream.last_time, high)
        self._changed = True
        try:  # the batch is stored: what follows must not fail it (it would be sent again)
            if self._rotate_at and writer[1] >= self._rotate_at:
                self._rotate(job_id, kind, stream)
            if time.monotonic() - self._saved_at >= INDEX_SAVE_SECONDS:
                self._save_index()
        except OSError:
            log.exception("%s: rotating or saving the index failed; tried again later", job_id)

    def _rotate(self, job_id: str, kind: str, stream: idx.Stream) -> None:
        """Roll the current file: .N → .N+1 (beyond ``max_files``: deleted), current → .1."""
        self._close_writer(job_id, kind)
        directory = self._dir(job_id, kind)
        freed = []
        # oldest (highest number) first, so no rename lands on a file still to be moved
        for number in idx.rolled(idx.listing(directory), kind):
            path = directory / idx.file_name(kind, number)
            if number >= self._keep:
                freed.append(idx.drop(path))
            else:
                os.replace(path, directory / idx.file_name(kind, number + 1))
        current = directory / idx.file_name(kind, 0)
        if self._keep:
            os.replace(current, directory / idx.file_name(kind, 1))
        else:
            freed.append(idx.drop(current))
        for scan in freed:
            stream.lines -= scan.records
            stream.bytes -= scan.content_bytes
            stream.disk -= scan.size
        names = idx.listing(directory)
        stream.files = idx.signature(directory, kind, names)
        if freed:
            remaining = idx.stream_files(names, kind)
            stream.first_time = fmt.first_time(str(directory / remaining[0])) if remaining else 0
            if not remaining:
                stream.last_time = 0
        log.debug("%s: rolled %s (%d files dropped)", job_id, kind, len(freed))

    # -- descriptors -------------------------------------------------------------------------

    def _writer(self, job_id: str, kind: str) -> list[int]:
        key = (job_id, kind)
        writer = self._writers.get(key)
        if writer is not None:
            self._writers.move_to_end(key)
            return writer
        while len(self._writers) >= self.max_open_files:
            self._evict()
        directory = self._dir(job_id, kind)
        path = directory / idx.file_name(kind, 0)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            fd = self._open_fd(path, flags)
        except FileNotFoundError:  # the job's first write: its folder comes first
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = self._open_fd(path, flags)
        writer = self._writers[key] = [fd, os.fstat(fd).st_size]
        return writer

    def _open_fd(self, path: Path, flags: int) -> int:
        flags |= os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            return os.open(path, flags, 0o600)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE) or not self._writers:
                raise
        log.warning("out of file descriptors: closing half of %d open files", len(self._writers))
        for _ in range((len(self._writers) + 1) // 2):
            self._evict()
        return os.open(path, flags, 0o600)

    def _evict(self) -> None:
        _, (fd, _) = self._writers.popitem(last=False)
        os.close(fd)

    def _close_writer(self, job_id: str, kind: str) -> None:
        writer = self._writers.pop((job_id, kind), None)
        if writer is not None:
            os.close(writer[0])

    # -- the index ---------------------------------------------------------------------------

    def _dir(self, job_id: str, kind: str) -> Path:
        return (self.metrics_dir if kind == "metrics" else self.logs_dir) / job_id

    def _dirs(self, job_id: str) -> tuple[tuple[Path, tuple[str, ...]], ...]:
        return ((self.logs_dir / job_id, _LOG_KINDS), (self.metrics_dir / job_id, ("metrics",)))

    def _ensure(self, job_id: str) -> dict[str, idx.Stream]:
        """The job's streams, checked against its files once per process (module docstring)."""
        if job_id in self._verified:
            return self._jobs.get(job_id) or {}
        if job_id not in self._jobs:  # open() listed every job folder: this job has none
            self._verified.add(job_id)
            return {}
        known = self._jobs[job_id]
        fresh: dict[str, idx.Stream] = {}
        for directory, kinds in self._dirs(job_id):
            names = idx.listing(directory)
            for kind in kinds:
                files = idx.signature(directory, kind, names)
                stream = known.get(kind)
                if stream is not None and stream.files == files:
                    fresh[kind] = stream
                elif files:
                    log.info("%s: %s changed since the index was saved; recounting", job_id, kind)
                    fresh[kind] = idx.recount(directory, kind)
        if fresh.keys() != known.keys() or any(fresh[k] is not known.get(k) for k in fresh):
            self._changed = True
        if fresh:
            self._jobs[job_id] = fresh
        else:
            self._jobs.pop(job_id, None)
        self._verified.add(job_id)
        return fresh

    def _save_index(self) -> None:
        idx.save(self.index_path, self._jobs)
        self._changed = False
        self._saved_at = time.monotonic()

    # -- queries, deletes, retention ---------------------------------------------------------

    def _job_info(self, job_id: str) -> JobSummary | None:
        streams = self._ensure(job_id)
        return idx.summary(job_id, streams) if streams else None

    def _list_jobs(self) -> list[JobSummary]:
        for job_id in list(self._jobs):
            self._ensure(job_id)
        return [idx.summary(job_id, streams) for job_id, streams in sorted(self._jobs.items())]

    def _stored_bytes(self) -> int:
        for job_id in list(self._jobs):
            self._ensure(job_id)
        return sum(stream.disk for streams in self._jobs.values() for stream in streams.values())

    def _delete_job(self, job_id: str) -> bool:
        known = bool(self._ensure(job_id))
        found, _ = self._remove(job_id, _ALL_KINDS)
        self._save_index()
        return known or found

    def _cleanup(self, now: int) -> CleanupResult:
        """Drop logs whose last line is older than ``logs_days``, and metrics whose last
        sample is older than ``metrics_days`` (0: kept forever). A job counts as removed when
        any of its data went."""
        days = self._retention
        logs_before = now - days.logs_days * _DAY_NS if days.logs_days > 0 else None
        metrics_before = now - days.metrics_days * _DAY_NS if days.metrics_days > 0 else None
        result = CleanupResult()
        for job_id in sorted(self._jobs):
            streams = self._ensure(job_id)
            logs = [streams[kind].last_time for kind in _LOG_KINDS if kind in streams]
            metrics = streams.get("metrics")
            kinds: tuple[str, ...] = ()
            if logs_before is not None and logs and max(logs) < logs_before:
                kinds += _LOG_KINDS
            if metrics_before is not None and metrics and metrics.last_time < metrics_before:
                kinds += ("metrics",)
            if kinds:
                _, freed = self._remove(job_id, kinds)
                result.jobs_removed += 1
                result.bytes_freed += freed
                result.removed.append(job_id)
        if result.removed:
            self._save_index()
            log.info("retention: %d jobs, %d bytes freed", result.jobs_removed, result.bytes_freed)
        return result

    def _remove(self, job_id: str, kinds: tuple[str, ...]) -> tuple[bool, int]:
        """Delete the folders holding ``kinds`` of a job: whether any existed, bytes freed."""
        found, freed = False, 0
        for kind in kinds:
            self._close_writer(job_id, kind)
        for directory, held in self._dirs(job_id):
            if not set(held) <= set(kinds):
                continue
            size = idx.tree_size(directory)
            if size is not None:
                shutil.rmtree(directory)
                found, freed = True, freed + size
        streams = self._jobs.get(job_id)
        if streams is not None:
            for kind in kinds:
                streams.pop(kind, None)
            if not streams:
                del self._jobs[job_id]
        self._changed = True
        return found, freed

    # -- reading -----------------------------------------------------------------------------

    async def _drain(self, reader: Generator[T, None, None]) -> AsyncIterator[T]:
        """The reader's chunks, one step ahead: the worker reads (and inflates, without
        the GIL) the next step while the caller sends this one."""
        step = asyncio.ensure_future(self._call(rd.take, reader))
        done = False
        try:
            while not done:
                chunks = await step
                done = len(chunks) < rd.CHUNKS_PER_STEP  # a short step: the reader is through
                if not done:
                    step = asyncio.ensure_future(self._call(rd.take, reader))
                for chunk in chunks:
                    yield chunk
        finally:
            step.cancel()
            if not done:
                try:  # after the step that may still run on the worker, never beside it
                    self._worker.submit(reader.close)
                except RuntimeError:  # the backend is closed: nothing runs the reader now
                    reader.close()

    def _open_stream(self, job_id: str, kind: str) -> list[tuple[int, int, str]]:
        """Descriptors of a stream's files, oldest first, each with its size now."""
        if kind not in self._ensure(job_id):
            return []
        directory = self._dir(job_id, kind)
        opened: list[tuple[int, int, str]] = []
        try:
            for name in idx.stream_files(idx.listing(directory), kind):
                path = directory / name
                try:
                    fd = self._open_fd(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue
                opened.append((fd, os.fstat(fd).st_size, str(path)))
        except BaseException:
            rd.close_all(opened)
            raise
        return opened

    def _log_reader(
        self, job_id: str, stream: int, start: int, end: int
    ) -> Generator[LogBlock, None, None]:
        kinds = _LOG_KINDS if stream == 0 else (_KINDS[stream],)
        opened: list[list[tuple[int, int, str]]] = []
        try:
            for kind in kinds:
                opened.append(self._open_stream(job_id, kind))
            parts = [
                rd.member_blocks(files, job_id, _STREAMS[kind], start, end)
                for files, kind in zip(opened, kinds, strict=True)
            ]
            yield from rd.chunked(parts[0] if len(parts) == 1 else rd.merge(*parts))
        finally:
            for files in opened:
                rd.close_all(files)

    def _metric_reader(
        self, job_id: str, start: int, end: int
    ) -> Generator[list[Metric], None, None]:
        files = self._open_stream(job_id, "metrics")
        try:
            yield from rd.chunked(
                samples
                for fd, limit, name in files
                for _, payload in fmt.payloads(fd, limit, name, start, end)
                if (samples := fmt.metric_samples(payload, job_id, start, end))
            )
        finally:
            rd.close_all(files)


# -- helpers -------------------------------------------------------------------------------


def _check(local: PersistLocalConfig) -> None:
    key = "persist.storage.local."
    for name, folder in (("logs", local.logs), ("metrics", local.metrics)):
        if folder.format != "jsonl.gz":
            raise ConfigError(f"{key}{name}.format: only 'jsonl.gz' is supported")
    if not -1 <= local.compression_level <= 9:
        raise ConfigError(f"{key}compression_level: {local.compression_level} is not in 0-9")
    if local.max_open_files < 1:
        raise ConfigError(f"{key}max_open_files: must be at least 1")
    for name, value in (
        ("rotation.max_size_mb", local.rotation.max_size_mb),
        ("rotation.max_files", local.rotation.max_files),
        ("retention.logs_days", local.retention.logs_days),
        ("retention.metrics_days", local.retention.metrics_days),
    ):
        if value < 0:
            raise ConfigError(f"{key}{name}: {value} is negative")


def _descriptor_budget(wanted: int) -> int:
    """``max_open_files``, but never more than half of the process's descriptor limit:
    the rest is for sockets, queries and everything else."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or wanted <= soft // 2:
        return wanted
    budget = max(8, soft // 2)
    log.warning(
        "max_open_files %d is over half of RLIMIT_NOFILE (%d): using %d", wanted, soft, budget
    )
    return budget


def _kind(stream: int, allowed: tuple[str, ...]) -> str:
    kind = _KINDS.get(stream)
    if kind not in allowed:
        numbers = [number for number, name in _KINDS.items() if name in allowed]
        raise InvalidInput(f"stream must be one of {numbers}, not {stream!r}")
    return kind  # type: ignore[return-value]
