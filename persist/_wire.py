"""LogBatch entries encoded by hand, so the client never builds a message object per line.

A ``LogBatch`` is ``repeated LogLine lines = 1``: each entry is the tag byte 0x0A, the
line's length as a varint, and the LogLine's own bytes (fields 1-5 in order). Building
those bytes directly costs a fraction of constructing a ``LogLine`` and serialising it,
and a batch is then a plain ``b"".join`` of entries. A property test checks that protobuf
decodes every entry back to the same line.
"""

from __future__ import annotations

_SMALL = [bytes((n,)) for n in range(0x80)]
_MASK64 = (1 << 64) - 1


def varint(value: int) -> bytes:
    """Protobuf's base-128 varint; negative int64 values take ten bytes, as in protobuf."""
    if 0 <= value < 0x80:
        return _SMALL[value]
    if 0 < value < 0x200000:  # sequences and lengths: two or three bytes, no loop
        if value < 0x4000:
            return bytes(((value & 0x7F) | 0x80, value >> 7))
        return bytes(((value & 0x7F) | 0x80, ((value >> 7) & 0x7F) | 0x80, value >> 14))
    value &= _MASK64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def line_head(job_id: str, stream: int) -> bytes:
    """The fields every line of one job and stream shares: job_id (1) and stream (2)."""
    job = job_id.encode()
    return b"\x0a" + varint(len(job)) + job + b"\x10" + varint(stream)


def log_entry(head: bytes, content: bytes, stamp: bytes, sequence: int) -> bytes:
    """One LogBatch entry; ``stamp`` is ``b"\\x20" + varint(timestamp)``, shared by a call."""
    body = b"%b\x1a%b%b%b\x28%b" % (head, varint(len(content)), content, stamp, varint(sequence))
    return b"\x0a" + varint(len(body)) + body


def stamp_field(timestamp: int) -> bytes:
    """The timestamp field (4), encoded once for all lines that share it."""
    return b"\x20" + varint(timestamp) if timestamp else b""
