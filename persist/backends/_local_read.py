"""How the local backend turns stored members into chunks: re-cutting and merging.

Everything here runs on the backend's worker thread, as steps of a generator that the
event loop advances a few chunks at a time.
"""

from __future__ import annotations

import itertools
import os
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import TypeVar

from joblet_cluster.persist.backends import _local_format as fmt
from joblet_cluster.proto.persist_pb2 import LogLine

CHUNK = 1000  # lines (or samples) per chunk that reads yield
CHUNKS_PER_STEP = 4  # chunks a read produces per trip to the worker
NEVER = 1 << 64  # later than any timestamp

T = TypeVar("T")
OpenFiles = list[tuple[int, int, str]]  # descriptor, size when opened, path: oldest first


def take(reader: Iterator[list[T]]) -> list[list[T]]:
    """One step of a read: the next few chunks."""
    return list(itertools.islice(reader, CHUNKS_PER_STEP))


def close_all(files: OpenFiles) -> None:
    for fd, _, _ in files:
        os.close(fd)


def member_lines(
    files: OpenFiles, job_id: str, stream: int, start: int, end: int
) -> Iterator[list[LogLine]]:
    """One stream's lines in ``[start, end)``, a non-empty list per member, in file order."""
    for fd, limit, name in files:
        for found, payload in fmt.payloads(fd, limit, name, start, end):
            lines = fmt.log_lines(payload, job_id, stream, start, end, found)
            if lines:
                yield lines


def chunked(parts: Iterable[list[T]]) -> Iterator[list[T]]:
    """Lists of any size, re-cut into chunks of ``CHUNK`` (the last one shorter)."""
    pending: list[T] = []
    for part in parts:
        if not pending and len(part) == CHUNK:
            yield part
            continue
        pending.extend(part)
        if len(pending) >= CHUNK:
            whole = len(pending) - len(pending) % CHUNK
            for at in range(0, whole, CHUNK):
                yield pending[at : at + CHUNK]
            pending = pending[whole:]
    if pending:
        yield pending


_timestamp = attrgetter("timestamp")


def merge(
    stdout: Iterator[list[LogLine]], stderr: Iterator[list[LogLine]]
) -> Iterator[list[LogLine]]:
    """Both streams as one, by timestamp; ties: stdout first, then by sequence.

    Each stream arrives in sequence order, which is normally time order. What is buffered of
    both is released up to the lower of the two newest timestamps, past which neither
    stream can still deliver anything earlier (at exactly that time, stderr's lines wait
    while stdout may still have some). A stable sort of the two released runs, stdout's
    first, is then a merge done in C.
    """
    a: list[LogLine] = []
    b: list[LogLine] = []
    more_a = more_b = True
    while True:
        while more_a and not a:
            a = next(stdout, [])
            more_a = bool(a)
        while more_b and not b:
            b = next(stderr, [])
            more_b = bool(b)
        if not a and not b:
            return
        newest_a = a[-1].timestamp if more_a else NEVER
        newest_b = b[-1].timestamp if more_b else NEVER
        bound = min(newest_a, newest_b)
        whole_a = more_a and bound == newest_a
        cut_a = len(a) if whole_a else bisect_right(a, bound, key=_timestamp)
        if newest_a <= bound:  # stdout may still deliver lines at `bound`: stderr's wait
            cut_b = bisect_left(b, bound, key=_timestamp)
        elif more_b and bound == newest_b:
            cut_b = len(b)
        else:
            cut_b = bisect_right(b, bound, key=_timestamp)
        released = a[:cut_a] + b[:cut_b]
        released.sort(key=_timestamp)
        a, b = a[cut_a:], b[cut_b:]
        yield released
