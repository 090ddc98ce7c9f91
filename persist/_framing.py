"""Frames on the persist IPC socket: a 4-byte big-endian length, then that many bytes.

Pure code, no IO: the server and the client feed it bytes and get whole frames back.
"""

from __future__ import annotations

import struct

HEADER = struct.Struct(">I")


class FrameTooLarge(Exception):
    """A header announced more than the configured maximum; the stream cannot be trusted."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


def encode_frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Accumulates bytes and cuts them into frames of at most ``max_size`` bytes."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Every frame completed by ``data``; raises :class:`FrameTooLarge` on a bad header."""
        buffer = self._buffer
        buffer += data
        frames = []
        start = 0
        end = len(buffer)
        while end - start >= 4:
            (size,) = HEADER.unpack_from(buffer, start)
            if size > self.max_size:
                raise FrameTooLarge(size, self.max_size)
            if end - start - 4 < size:
                break
            frames.append(bytes(buffer[start + 4 : start + 4 + size]))
            start += 4 + size
        if start:
            del buffer[:start]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame waiting for the rest."""
        return len(self._buffer)
