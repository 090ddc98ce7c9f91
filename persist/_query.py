"""What QueryLogs and QueryMetrics compute over stored data, apart from any IO.

Filters, offset and limit apply to lines in the order they are returned; aggregation
folds samples into buckets of ``step`` ns (one bucket for the whole range when 0).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.proto.persist_pb2 import LogLine, Metric

CHUNK = 1000  # lines per streamed message
AGGREGATIONS = ("avg", "min", "max", "sum")
_FIELDS = (
    "cpu_percent",
    "memory_bytes",
    "io_read_bytes",
    "io_write_bytes",
    "memory_limit",
    "io_read_ops",
    "io_write_ops",
    "net_rx_bytes",
    "net_tx_bytes",
    "gpu_percent",
    "gpu_memory_bytes",
)
_FLOATS = frozenset({"cpu_percent", "gpu_percent"})


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


def aggregate(
    samples: Iterable[Metric], how: str, start: int, step: int, job_id: str
) -> list[Metric]:
    """Samples folded into buckets: each field's avg, min, max or sum per bucket."""
    if how not in AGGREGATIONS:
        raise InvalidInput(f"aggregation {how!r} is not one of {', '.join(AGGREGATIONS)}")
    if step < 0:
        raise InvalidInput("step must not be negative")
    buckets: dict[int, list[Metric]] = {}
    for sample in samples:
        bucket = 0 if step == 0 else (sample.timestamp - start) // step
        buckets.setdefault(bucket, []).append(sample)
    out = []
    for bucket in sorted(buckets):
        group = buckets[bucket]
        result = Metric(
            job_id=job_id, timestamp=group[0].timestamp if step == 0 else start + bucket * step
        )
        for name in _FIELDS:
            values = [getattr(s, name) for s in group]
            if how == "avg":
                value: float = sum(values) / len(values)
            elif how == "min":
                value = min(values)
            elif how == "max":
                value = max(values)
            else:
                value = sum(values)
            setattr(result, name, value if name in _FLOATS else round(value))
        out.append(result)
    return out
