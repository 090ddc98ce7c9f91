"""What QueryLogs computes over stored lines, apart from any IO.

Filters, offset and limit apply to lines in the order they are returned.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.persist.backends._base import Cuttable

CHUNK = 5000  # lines per streamed message at most
CHUNK_BYTES = 1 << 20  # content bytes per streamed message at most (gRPC readers accept 4 MiB)
C = TypeVar("C", bound=Cuttable)


def line_matcher(pattern: str, regex: bool) -> Callable[[bytes], bool] | None:
    """A predicate on a line's content for ``filter`` (substring, or regular expression),
    None when empty."""
    if not pattern:
        return None
    if regex:
        try:
            compiled = re.compile(pattern.encode())
        except re.error as exc:
            raise InvalidInput(f"filter is not a valid regular expression: {exc}") from None
        search = compiled.search
        return lambda content: search(content) is not None
    needle = pattern.encode()
    return lambda content: needle in content


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

    def take(self, lines: C) -> C:
        if self.skip:
            dropped = min(self.skip, len(lines))
            lines = lines[dropped:]
            self.skip -= dropped
        if self.left >= 0:
            lines = lines[: self.left]
            self.left -= len(lines)
        return lines


async def rechunk(chunks: AsyncIterator[C], size: int = CHUNK) -> AsyncIterator[C]:
    """Chunks of ``size`` items (the last one shorter), whatever size the source yields."""
    pending: C | None = None
    async for chunk in chunks:
        if pending is None and len(chunk) == size:
            yield chunk
            continue
        pending = chunk if pending is None else pending + chunk
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending
