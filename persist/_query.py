"""What QueryLogs computes over stored lines, apart from any IO.

Filters, offset and limit apply to lines in the order they are returned.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.proto.persist_pb2 import LogLine

CHUNK = 1000  # lines per streamed message


def line_matcher(pattern: str, regex: bool) -> Callable[[LogLine], bool] | None:
    """A predicate for ``filter`` (substring, or regular expression), None when empty."""
    if not pattern:
        return None
    if regex:
        try:
            compiled = re.compile(pattern.encode())
        except re.error as exc:
            raise InvalidInput(f"filter is not a valid regular expression: {exc}") from None
        search = compiled.search
        return lambda line: search(line.content) is not None
    needle = pattern.encode()
    return lambda line: needle in line.content


class Window:
    """Skips ``offset`` matching lines, then passes at most ``limit`` (0: no limit)."""

    def __init__(self, offset: int, limit: int) -> None:
        if offset < 0 or limit < 0:
            raise InvalidInput("offset and limit must not be negative")
        self.skip = offset
        self.left = limit if limit > 0 else -1

    @property
    def full(self) -> bool:
        return self.left == 0

    def take(self, lines: list) -> list:
        if self.skip:
            dropped = min(self.skip, len(lines))
            lines = lines[dropped:]
            self.skip -= dropped
        if self.left >= 0:
            lines = lines[: self.left]
            self.left -= len(lines)
        return lines


async def rechunk(chunks: AsyncIterator[list], size: int = CHUNK) -> AsyncIterator[list]:
    """Chunks of about ``size`` items, whatever size the source yields."""
    pending: list = []
    async for chunk in chunks:
        pending.extend(chunk)
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending
