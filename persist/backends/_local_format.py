"""The local backend's file format: gzip members of JSON lines that describe themselves.

Every batch is written as one complete gzip member (RFC 1952), so a file is a plain
multi-member gzip file (``zcat`` reads it) that only ever grows by whole members. Each
member's header carries an extra field (FEXTRA, subfield ``JL``) with what the index needs:
the compressed length, the number of records and their content bytes, the first and last
sequence, the lowest and highest timestamp. That buys three things without decompressing:

* a file can be walked member by member by reading 65-byte headers, so the job index is
  rebuilt, and ``last_sequence`` recovered, from headers alone after a crash;
* a member cut short by a kill mid-write is recognised by its declared length, and only
  that torn tail is ignored;
* a query with a time window skips every member outside it.

The header's first 17 bytes never change, and no deflate stream contains them by chance, so
a reader that meets damage in the middle of a file (a bad checksum, garbage) resynchronises
at the next member instead of losing the rest of the file.

Records are JSON objects, keys snake_case, times in ns since the epoch. A log line is
``{"job_id", "stream", "timestamp", "sequence", "content"}``, with ``content_b64`` (base64)
instead of ``content`` when the line is not valid UTF-8; a metric sample holds every field
of ``Metric``.
"""

from __future__ import annotations

import base64
import logging
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from itertools import accumulate, chain, repeat
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec
import orjson

from joblet_cluster.persist.backends._block import LogBlock
from joblet_cluster.proto.persist_pb2 import Metric

log = logging.getLogger("joblet.persist.local")

_VERSION = 1
# body length, records, content bytes, first and last sequence, min and max timestamp
_FIELDS = struct.Struct("<IIQqqqq")
_TRAILER = struct.Struct("<II")  # CRC-32 and length of the uncompressed payload
#: The fixed start of every member: gzip magic, deflate, FEXTRA, no mtime, OS unknown,
#: XLEN, then subfield "JL", its length and the format version.
MAGIC = (
    b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff"
    + struct.pack("<H", 4 + 1 + _FIELDS.size)
    + b"JL"
    + struct.pack("<HB", 1 + _FIELDS.size, _VERSION)
)
HEADER_SIZE = len(MAGIC) + _FIELDS.size  # 65
MAX_MEMBER_RECORDS = 10_000  # a bigger batch is split, so one member always fits in memory
_SEARCH_BLOCK = 1 << 20

METRIC_FIELDS = tuple(field.name for field in Metric.DESCRIPTOR.fields)


class Member(NamedTuple):
    """One complete member of a file, as its header describes it."""

    offset: int
    size: int  # the whole member: header, compressed body, trailer
    records: int
    content_bytes: int
    first_sequence: int
    last_sequence: int
    min_time: int
    max_time: int


class FileScan(NamedTuple):
    """A whole file, summed from its member headers."""

    size: int
    records: int
    content_bytes: int
    last_sequence: int
    min_time: int  # 0 when the file holds no member
    max_time: int


# -- writing -------------------------------------------------------------------------------


def encode_logs(job_id: str, stream: str, lines: LogBlock) -> tuple[bytes, int, tuple[int, int]]:
    """JSON lines for ``lines`` (one object per line, newline-terminated), their content
    bytes and their lowest and highest timestamp.

    Written column by column rather than as a dict per line: msgspec quotes each content
    (a tenth of orjson's cost per call), orjson writes all timestamps and all sequences in
    one call each (a JSON array, cut at its commas), and one ``join`` interleaves the
    pieces with the fixed parts of each record.
    The output is byte for byte what ``orjson.dumps`` of each record would give.
    """
    if not lines:
        return b"", 0, (0, 0)
    timestamps = lines.timestamps
    size = len(lines.data)
    times = min(timestamps), max(timestamps)
    try:
        texts = _texts(lines)
    except UnicodeDecodeError:
        return _encode_records(job_id, stream, lines), size, times
    quoted = map(_quote, texts)
    numbers = orjson.dumps(timestamps)[1:-1].split(b",")
    sequences = orjson.dumps(lines.sequences)[1:-1].split(b",")
    head = b'{"job_id":%b,"stream":%b,"timestamp":' % (orjson.dumps(job_id), orjson.dumps(stream))
    parts = zip(
        repeat(head),
        numbers,
        repeat(b',"sequence":'),
        sequences,
        repeat(b',"content":'),
        quoted,
        repeat(b"}\n"),
    )
    return b"".join(chain.from_iterable(parts)), size, times


_quote = msgspec.json.Encoder().encode


def _texts(lines: LogBlock) -> list[str]:
    """Each line's content as text; UnicodeDecodeError when one is not valid UTF-8."""
    text = lines.data.decode()
    if len(text) != len(lines.data):  # not ASCII: a byte is not a character
        return [content.decode() for content in lines.contents]
    ends = accumulate(lines.sizes)
    return [text[end - size : end] for size, end in zip(lines.sizes, ends, strict=True)]


def _encode_records(job_id: str, stream: str, lines: LogBlock) -> bytes:
    """The general path, for a batch with a line that is not valid UTF-8: that line
    keeps its bytes as ``content_b64``."""
    records: list[dict[str, Any]] = []
    for timestamp, sequence, content in zip(
        lines.timestamps, lines.sequences, lines.contents, strict=True
    ):
        record: dict[str, Any] = {
            "job_id": job_id,
            "stream": stream,
            "timestamp": timestamp,
            "sequence": sequence,
        }
        text = _text(content)
        if text is None:
            record["content_b64"] = base64.b64encode(content).decode()
        else:
            record["content"] = text
        records.append(record)
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def _text(content: bytes) -> str | None:
    try:
        return content.decode()
    except UnicodeDecodeError:
        return None


def encode_metrics(job_id: str, samples: Sequence[Metric]) -> tuple[bytes, tuple[int, int]]:
    """JSON lines holding every field of each sample (the job id from the caller), and
    their lowest and highest timestamp."""
    records = []
    for sample in samples:
        record = {name: getattr(sample, name) for name in METRIC_FIELDS}
        record["job_id"] = job_id
        records.append(record)
    lines = [orjson.dumps(record) for record in records]
    lines.append(b"")
    return b"\n".join(lines), time_range(records)


def member(
    payload: bytes,
    level: int,
    records: int,
    content_bytes: int,
    sequences: tuple[int, int],
    times: tuple[int, int],
) -> bytes:
    """One complete gzip member holding ``payload``, compressed at ``level``."""
    body = zlib.compress(payload, level, -15)
    return b"".join(
        (
            MAGIC,
            _FIELDS.pack(len(body), records, content_bytes, *sequences, *times),
            body,
            _TRAILER.pack(zlib.crc32(payload), len(payload) & 0xFFFFFFFF),
        )
    )


def time_range(records: list[dict[str, Any]]) -> tuple[int, int]:
    times = list(map(itemgetter("timestamp"), records))
    return min(times), max(times)


# -- walking -------------------------------------------------------------------------------


def parse_header(raw: bytes, offset: int) -> Member | None:
    if len(raw) < HEADER_SIZE or not raw.startswith(MAGIC):
        return None
    body, records, content_bytes, first, last, low, high = _FIELDS.unpack_from(raw, len(MAGIC))
    return Member(
        offset, HEADER_SIZE + body + _TRAILER.size, records, content_bytes, first, last, low, high
    )


def next_member(fd: int, offset: int, limit: int, name: str) -> Member | None:
    """The first complete member at or after ``offset`` (below ``limit``), or None.

    Damage is skipped up to the next member's start; data after the last complete member
    (a member torn by a kill mid-write, or garbage) ends the walk. Both are logged.
    """
    while offset < limit:
        found = parse_header(os.pread(fd, HEADER_SIZE, offset), offset)
        if found is not None and offset + found.size <= limit:
            return found
        following = _find_magic(fd, offset + 1, limit)
        if following < 0:
            log.warning(
                "%s: ignoring %d bytes at offset %d: a torn or unreadable tail",
                name,
                limit - offset,
                offset,
            )
            return None
        log.warning(
            "%s: skipping %d unreadable bytes at offset %d", name, following - offset, offset
        )
        offset = following
    return None


def _find_magic(fd: int, start: int, limit: int) -> int:
    position = start
    while position < limit:
        block = os.pread(fd, min(_SEARCH_BLOCK, limit - position), position)
        at = block.find(MAGIC)
        if at >= 0:
            return position + at
        if not block or position + len(block) >= limit:
            return -1
        position += len(block) - len(MAGIC) + 1
    return -1


def payload_of(fd: int, found: Member) -> bytes | None:
    """The member's decompressed payload, or None (logged by the caller) when it is damaged."""
    blob = os.pread(fd, found.size - HEADER_SIZE, found.offset + HEADER_SIZE)
    if len(blob) != found.size - HEADER_SIZE:
        return None
    crc, length = _TRAILER.unpack_from(blob, len(blob) - _TRAILER.size)
    try:
        payload = zlib.decompress(memoryview(blob)[: -_TRAILER.size], -15, max(length, 1))
    except zlib.error:
        return None
    if zlib.crc32(payload) != crc or len(payload) & 0xFFFFFFFF != length:
        return None
    return payload


def payloads(
    fd: int, limit: int, name: str, start: int = 0, end: int = 0
) -> Iterator[tuple[Member, bytes]]:
    """Decompressed members of an open file up to ``limit``, skipping, unread, those wholly
    outside ``[start, end)`` (0: unbounded) and, logged, any that are damaged."""
    offset = 0
    while (found := next_member(fd, offset, limit, name)) is not None:
        offset = found.offset + found.size
        if (start and found.max_time < start) or (end and found.min_time >= end):
            continue
        payload = payload_of(fd, found)
        if payload is None:
            log.warning("%s: skipping a damaged member at offset %d", name, found.offset)
            offset = found.offset + 1
            continue
        yield found, payload


def scan_file(path: str, repair: bool = False) -> FileScan:
    """Sum a file's members from their headers (the last one is checked in full, since only
    it can be torn). With ``repair``, a torn or unreadable tail is cut off, so the next
    append starts at a member boundary."""
    fd = os.open(path, (os.O_RDWR if repair else os.O_RDONLY) | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        size = os.fstat(fd).st_size
        members = []
        offset = 0
        while (found := next_member(fd, offset, size, path)) is not None:
            members.append(found)
            offset = found.offset + found.size
        if members and payload_of(fd, members[-1]) is None:
            log.warning("%s: the last member at offset %d is damaged", path, members[-1].offset)
            members.pop()
        end = members[-1].offset + members[-1].size if members else 0
        if repair and end < size:
            log.warning("%s: cutting %d bytes of torn data after offset %d", path, size - end, end)
            os.ftruncate(fd, end)
            size = end
    finally:
        os.close(fd)
    return FileScan(
        size,
        sum(m.records for m in members),
        sum(m.content_bytes for m in members),
        max((m.last_sequence for m in members), default=0),
        min((m.min_time for m in members), default=0),
        max((m.max_time for m in members), default=0),
    )


def first_time(path: str) -> int:
    """The lowest timestamp of the file's first member (0: none): where its data begins."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return 0
    try:
        found = next_member(fd, 0, os.fstat(fd).st_size, path)
    finally:
        os.close(fd)
    return found.min_time if found is not None else 0


# -- reading -------------------------------------------------------------------------------


class _LogRecord(msgspec.Struct, gc=False):
    timestamp: int
    sequence: int
    content: str | None = None
    content_b64: str | None = None


_decode_logs = msgspec.json.Decoder(_LogRecord).decode_lines
_decode_metrics = msgspec.json.Decoder(dict[str, Any]).decode_lines


def log_block(
    payload: bytes, job_id: str, stream: int, start: int, end: int, found: Member
) -> LogBlock:
    """The member's lines, keeping those in ``[start, end)`` (0: unbounded)."""
    records = _decode_logs(payload)
    if (start and found.min_time < start) or (end and found.max_time >= end):
        stop = end or 1 << 64
        records = [r for r in records if start <= r.timestamp < stop]
    streams = bytes((stream,)) * len(records)
    timestamps = [r.timestamp for r in records]
    sequences = [r.sequence for r in records]
    texts = [r.content for r in records]
    try:
        joined = "".join(texts)  # type: ignore[arg-type]
    except TypeError:  # a line stored as content_b64: the slower path for this member
        contents = [
            r.content.encode() if r.content is not None else base64.b64decode(r.content_b64 or "")
            for r in records
        ]
        return LogBlock.of_contents(job_id, streams, timestamps, sequences, contents)
    data = joined.encode()
    if len(data) == len(joined):  # ASCII: a character is a byte, so sizes come from the texts
        sizes = list(map(len, texts))  # type: ignore[arg-type]
    else:
        sizes = [len(text.encode()) for text in texts]  # type: ignore[union-attr]
    return LogBlock(job_id, streams, timestamps, sequences, sizes, data)


def metric_samples(payload: bytes, job_id: str, start: int, end: int) -> list[Metric]:
    """The member's samples as messages, keeping those in ``[start, end)`` (0: unbounded)."""
    stop = end or 1 << 64
    out = []
    for record in _decode_metrics(payload):
        if start <= record.get("timestamp", 0) < stop:
            fields = {name: record[name] for name in METRIC_FIELDS if name in record}
            fields["job_id"] = job_id
            out.append(Metric(**fields))
    return out
