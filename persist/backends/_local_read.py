"""How the local backend turns stored members into chunks: re-cutting and merging.

Everything here runs on the backend's worker thread, as steps of a generator that the
event loop advances a few chunks at a time.
"""

from __future__ import annotations

import itertools
import os
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import TypeVar

from joblet_cluster.persist.backends import _local_format as fmt
from joblet_cluster.persist.backends._base import Cuttable
from joblet_cluster.persist.backends._block import LogBlock

CHUNK = 5000  # lines (or samples) per chunk that reads yield
CHUNKS_PER_STEP = 4  # chunks a read produces per trip to the worker
NEVER = 1 << 64  # later than any timestamp

T = TypeVar("T")
C = TypeVar("C", bound=Cuttable)
OpenFiles = list[tuple[int, int, str]]  # descriptor, size when opened, path: oldest first


def take(reader: Iterator[T]) -> list[T]:
    """One step of a read: the next few chunks."""
    return list(itertools.islice(reader, CHUNKS_PER_STEP))


def close_all(files: OpenFiles) -> None:
    for fd, _, _ in files:
        os.close(fd)


def member_blocks(
    files: OpenFiles, job_id: str, stream: int, start: int, end: int
) -> Iterator[LogBlock]:
    """One stream's lines in ``[start, end)``, a non-empty block per member, in file order."""
    for fd, limit, name in files:
        for found, payload in fmt.payloads(fd, limit, name, start, end):
            block = fmt.log_block(payload, job_id, stream, start, end, found)
            if block:
                yield block


def chunked(parts: Iterable[C]) -> Iterator[C]:
    """Parts of any size, re-cut into chunks of ``CHUNK`` (the last one shorter)."""
    pending: C | None = None
    for part in parts:
        if pending is None:
            if len(part) == CHUNK:
                yield part
                continue
            pending = part
        else:
            pending = pending + part
        if len(pending) >= CHUNK:
            whole = len(pending) - len(pending) % CHUNK
            for at in range(0, whole, CHUNK):
                yield pending[at : at + CHUNK]
            pending = pending[whole:] if whole < len(pending) else None
    if pending:
        yield pending


def merge(stdout: Iterator[LogBlock], stderr: Iterator[LogBlock]) -> Iterator[LogBlock]:
    """Both streams as one, by timestamp; ties: stdout first, then by sequence.

    Each stream arrives in sequence order, which is normally time order. What is buffered of
    both is released up to the lower of the two newest timestamps, past which neither
    stream can still deliver anything earlier (at exactly that time, stderr's lines wait
    while stdout may still have some). A stable sort of the two released runs, stdout's
    first, is then a merge done in C.
    """
    a: LogBlock | None = None
    b: LogBlock | None = None
    more_a = more_b = True
    while True:
        while more_a and not a:
            a = next(stdout, None)
            more_a = a is not None
        while more_b and not b:
            b = next(stderr, None)
            more_b = b is not None
        if not a:
            if b:
                yield b
            yield from stderr
            return
        if not b:
            yield a
            yield from stdout
            return
        newest_a, newest_b = a.timestamps[-1], b.timestamps[-1]
        bound = min(newest_a, newest_b)
        cut_a = len(a) if bound == newest_a else bisect_right(a.timestamps, bound)
        if newest_a <= bound:  # stdout may still deliver lines at `bound`: stderr's wait
            cut_b = bisect_left(b.timestamps, bound)
        else:
            cut_b = len(b) if bound == newest_b else bisect_right(b.timestamps, bound)
        released = (a[:cut_a] + b[:cut_b]).by_time()
        a, b = a[cut_a:], b[cut_b:]
        if released:
            yield released
