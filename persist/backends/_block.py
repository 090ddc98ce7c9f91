"""A run of one job's stored lines, held as columns.

Reads are the hot path of persist (QueryLogs, ``rnx job log``). Building a ``LogLine``
per line costs about 1 µs twice over (once from storage, once into the gRPC message),
which capped reads near 350,000 lines/s. A block keeps each field as one column, the
contents as one ``bytes`` with a list of sizes, and travels as one columnar ``LogChunk``
written by hand; so the per-line work is what C does inside comprehensions, slicing and
``join``, and the common read (a stream, unfiltered) never makes an object per content.
Iterating a block still gives ``LogLine`` messages, for the few places (tests, tools)
that want them one by one.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, chain
from operator import itemgetter
from typing import cast

from joblet_cluster.proto.persist_pb2 import LogChunk, LogLine, StreamType


class LogBlock:
    """Lines of one job: line ``i`` is ``streams[i]`` (1 stdout, 2 stderr),
    ``timestamps[i]``, ``sequences[i]``, and ``sizes[i]`` bytes of ``data`` after the
    lines before it."""

    __slots__ = ("data", "job_id", "sequences", "sizes", "streams", "timestamps")

    def __init__(
        self,
        job_id: str,
        streams: bytes,
        timestamps: list[int],
        sequences: list[int],
        sizes: list[int],
        data: bytes,
    ) -> None:
        self.job_id = job_id
        self.streams = streams
        self.timestamps = timestamps
        self.sequences = sequences
        self.sizes = sizes
        self.data = data

    @classmethod
    def of(cls, job_id: str, lines: Sequence[LogLine]) -> LogBlock:
        """A block of messages that already exist (live lines, CloudWatch events)."""
        return cls.of_contents(
            job_id,
            bytes(line.stream for line in lines),
            [line.timestamp for line in lines],
            [line.sequence for line in lines],
            [line.content for line in lines],
        )

    @classmethod
    def of_contents(
        cls,
        job_id: str,
        streams: bytes,
        timestamps: list[int],
        sequences: list[int],
        contents: list[bytes],
    ) -> LogBlock:
        return cls(
            job_id, streams, timestamps, sequences, list(map(len, contents)), b"".join(contents)
        )

    @classmethod
    def from_chunk(cls, chunk: LogChunk) -> LogBlock:
        """The block a ``LogChunk`` carries (the reading side of ``encode``); ValueError
        when its columns disagree on the number of lines or the content's length."""
        block = cls(
            chunk.job_id,
            chunk.streams,
            list(chunk.timestamps),
            list(chunk.sequences),
            list(chunk.sizes),
            chunk.contents,
        )
        lines = len(block.sizes)
        if not len(block.streams) == len(block.timestamps) == len(block.sequences) == lines:
            raise ValueError("a LogChunk's columns hold different numbers of lines")
        if sum(block.sizes) != len(block.data):
            raise ValueError("a LogChunk's sizes do not add up to its contents")
        return block

    @classmethod
    def concat(cls, blocks: Sequence[LogBlock]) -> LogBlock:
        """One block of several of the same job, in order (one copy, however many)."""
        if len(blocks) == 1:
            return blocks[0]
        return cls(
            blocks[0].job_id,
            b"".join(block.streams for block in blocks),
            list(chain.from_iterable(block.timestamps for block in blocks)),
            list(chain.from_iterable(block.sequences for block in blocks)),
            list(chain.from_iterable(block.sizes for block in blocks)),
            b"".join(block.data for block in blocks),
        )

    @property
    def contents(self) -> list[bytes]:
        """Each line's content (an object per line: for filters, not for the hot path)."""
        data = self.data
        ends = list(accumulate(self.sizes))
        return [data[end - size : end] for size, end in zip(self.sizes, ends, strict=True)]

    def encoded_chunks(self, max_bytes: int) -> Iterator[bytes]:
        """The block as serialised ``LogChunk`` messages of at most ``max_bytes`` of
        content each (a longer line travels alone), so a reader's message size limit
        bounds nothing but a line. Written column by column, not through protobuf
        objects: a third of the cost."""
        if len(self.data) <= max_bytes:
            if self.sizes:
                yield self.encode()
            return
        sizes, at, ends = self.sizes, 0, list(accumulate(self.sizes))
        while at < len(sizes):
            cut = max(bisect_right(ends, ends[at] - sizes[at] + max_bytes), at + 1)
            yield self[at:cut].encode()
            at = cut

    def encode(self) -> bytes:
        """The block as one serialised ``LogChunk`` (fields 1 to 6, see persist.proto):
        each field a tag, a length and bytes; the numeric columns packed fixed-width
        arrays, little-endian."""
        numbers = array("q", self.timestamps), array("q", self.sequences), array("I", self.sizes)
        if sys.byteorder == "big":
            for column in numbers:
                column.byteswap()
        fields = (
            self.job_id.encode(),
            self.streams,
            *(column.tobytes() for column in numbers),
            self.data,
        )
        out: list[bytes] = []
        for number, value in enumerate(fields, start=1):
            out += (_TAGS[number], _varint(len(value)), value)
        return b"".join(out)

    def __len__(self) -> int:
        return len(self.sizes)

    def __iter__(self) -> Iterator[LogLine]:
        job_id = self.job_id
        for stream, timestamp, sequence, content in zip(
            self.streams, self.timestamps, self.sequences, self.contents, strict=True
        ):
            yield LogLine(
                job_id=job_id,
                stream=cast(StreamType, stream),
                content=content,
                timestamp=timestamp,
                sequence=sequence,
            )

    def __getitem__(self, span: slice) -> LogBlock:
        start, _, step = span.indices(len(self.sizes))
        if step != 1:
            raise ValueError("a block slices only into runs of consecutive lines")
        skipped = sum(self.sizes[:start])
        sizes = self.sizes[span]
        return LogBlock(
            self.job_id,
            self.streams[span],
            self.timestamps[span],
            self.sequences[span],
            sizes,
            self.data[skipped : skipped + sum(sizes)],
        )

    def __add__(self, other: LogBlock) -> LogBlock:
        return LogBlock(
            self.job_id,
            self.streams + other.streams,
            self.timestamps + other.timestamps,
            self.sequences + other.sequences,
            self.sizes + other.sizes,
            self.data + other.data,
        )

    def __repr__(self) -> str:
        return f"LogBlock({self.job_id!r}, {len(self)} lines)"

    def pick(self, indices: list[int]) -> LogBlock:
        """The lines at ``indices``, in that order."""
        if not indices:
            return self[0:0]
        if len(indices) == 1:  # itemgetter of one index gives an item, not a tuple
            return self[indices[0] : indices[0] + 1]
        get = itemgetter(*indices)
        return LogBlock.of_contents(
            self.job_id,
            bytes(get(self.streams)),
            list(get(self.timestamps)),
            list(get(self.sequences)),
            list(get(self.contents)),
        )

    def where(self, keep: Callable[[bytes], bool]) -> LogBlock:
        """The lines whose content ``keep`` accepts."""
        return self.pick([i for i, content in enumerate(self.contents) if keep(content)])

    def by_time(self) -> LogBlock:
        """Lines in timestamp order; a stable sort, so equal times keep their order."""
        times = self.timestamps
        order = sorted(range(len(times)), key=times.__getitem__)
        if order == list(range(len(order))):
            return self
        return self.pick(order)

    def last_sequence(self, stream: int) -> int:
        """The sequence of the block's last line on ``stream`` (0: none)."""
        at = self.streams.rfind(stream)
        return self.sequences[at] if at >= 0 else 0


_TAGS = {number: bytes((number << 3 | 2,)) for number in range(1, 7)}  # length-delimited


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
