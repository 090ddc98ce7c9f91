"""The local backend's job index and file names (the why of it is in ``_local``'s docstring).

``job_index.json`` holds, per job and stream (``stdout``, ``stderr``, ``metrics``), a
``Stream`` entry, and is only ever replaced whole: temp file, fsync, rename, fsync of the
folder. Each entry keeps the signature of the stream's files as they were when it was
saved, which is how a stale entry is recognised after a crash.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import msgspec

from joblet_cluster.common.ids import is_safe_id
from joblet_cluster.persist.backends import _local_format as fmt
from joblet_cluster.persist.backends._base import JobSummary

log = logging.getLogger("joblet.persist.local")

INDEX_NAME = "job_index.json"
STEMS = {"stdout": "stdout.log", "stderr": "stderr.log", "metrics": "metrics.jsonl"}

Files = list[tuple[str, int, int, int]]  # name, inode, size, mtime (ns); oldest file first


class Stream(msgspec.Struct):
    """What the index knows of one stream of a job, all its files together."""

    last_sequence: int = 0
    lines: int = 0  # records stored now: a rolled file that rotation deletes takes its own
    bytes: int = 0  # their content bytes (0 for metrics)
    disk: int = 0  # bytes of its files
    first_time: int = 0  # ns; 0: nothing stored
    last_time: int = 0
    files: Files = []  # as they are now: the index records them to detect staleness


class _IndexFile(msgspec.Struct):
    version: int
    jobs: dict[str, dict[str, Stream]]


NO_STREAM = Stream()  # never modified: what a missing stream reads as


def load(path: Path) -> dict[str, dict[str, Stream]]:
    """The saved index; empty (every job then recounted from its files) when missing or bad."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        index = msgspec.json.decode(raw, type=_IndexFile)
    except msgspec.DecodeError as exc:
        log.warning("%s is unreadable (%s): recounting jobs from their files", path, exc)
        return {}
    if index.version != 1:
        log.warning("%s has version %r: recounting jobs from their files", path, index.version)
        return {}
    return {
        job_id: {kind: stream for kind, stream in streams.items() if kind in STEMS}
        for job_id, streams in index.jobs.items()
        if is_safe_id(job_id)
    }


def save(path: Path, jobs: dict[str, dict[str, Stream]]) -> None:
    """Replace the index atomically: a crash leaves the old one or the new one, whole."""
    data = msgspec.json.encode(_IndexFile(version=1, jobs=jobs))
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def recount(directory: Path, kind: str) -> Stream:
    """A stream's entry from its files' member headers (the files are the truth: what they
    hold is what is durably stored); a torn tail of the current file is cut off."""
    stream = Stream()
    current = file_name(kind, 0)
    for name in stream_files(listing(directory), kind):
        scan = fmt.scan_file(str(directory / name), repair=name == current)
        stream.lines += scan.records
        stream.bytes += scan.content_bytes
        stream.disk += scan.size
        stream.last_sequence = max(stream.last_sequence, scan.last_sequence)
        if scan.min_time and (not stream.first_time or scan.min_time < stream.first_time):
            stream.first_time = scan.min_time
        stream.last_time = max(stream.last_time, scan.max_time)
    stream.files = signature(directory, kind, listing(directory))  # after any repair
    return stream


def summary(job_id: str, streams: dict[str, Stream]) -> JobSummary:
    out = streams.get("stdout", NO_STREAM)
    err = streams.get("stderr", NO_STREAM)
    return JobSummary(
        job_id,
        first_time=min((s.first_time for s in streams.values() if s.first_time), default=0),
        last_time=max((s.last_time for s in streams.values()), default=0),
        stdout_lines=out.lines,
        stderr_lines=err.lines,
        stdout_bytes=out.bytes,
        stderr_bytes=err.bytes,
        metric_samples=streams.get("metrics", NO_STREAM).lines,
    )


# -- files ---------------------------------------------------------------------------------


def file_name(kind: str, number: int) -> str:
    """``stdout.log.gz`` (the current file, 0), ``stdout.log.<number>.gz`` (rolled)."""
    return f"{STEMS[kind]}.gz" if number == 0 else f"{STEMS[kind]}.{number}.gz"


def rolled(names: Iterable[str], kind: str) -> list[int]:
    """Numbers of the stream's rolled files, oldest (highest) first."""
    prefix = STEMS[kind] + "."
    numbers = []
    for name in names:
        if name.startswith(prefix) and name.endswith(".gz"):
            middle = name[len(prefix) : -3]
            if middle.isascii() and middle.isdigit() and middle == str(int(middle)) != "0":
                numbers.append(int(middle))
    return sorted(numbers, reverse=True)


def stream_files(names: list[str], kind: str) -> list[str]:
    """The stream's files in the order they were written: rolled oldest first, current last."""
    ordered = [file_name(kind, number) for number in rolled(names, kind)]
    if file_name(kind, 0) in names:
        ordered.append(file_name(kind, 0))
    return ordered


def signature(directory: Path, kind: str, names: list[str]) -> Files:
    files = []
    for name in stream_files(names, kind):
        try:
            info = os.stat(directory / name, follow_symlinks=False)
        except FileNotFoundError:
            continue
        files.append((name, info.st_ino, info.st_size, info.st_mtime_ns))
    return files


def listing(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []


def tree_size(directory: Path) -> int | None:
    """Bytes of the files in a job folder, None when there is no folder."""
    try:
        with os.scandir(directory) as entries:
            return sum(entry.stat(follow_symlinks=False).st_size for entry in entries)
    except (FileNotFoundError, NotADirectoryError):
        return None


def drop(path: Path) -> fmt.FileScan:
    """Delete a file, returning what it held (from its headers)."""
    scan = fmt.scan_file(str(path))
    path.unlink()
    return scan
