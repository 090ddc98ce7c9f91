"""Folding metric samples into avg/min/max/sum per time bucket, for backends that keep
raw samples (a backend with statistics of its own, like CloudWatch, uses those)."""

from __future__ import annotations

from collections.abc import Iterable

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.proto.persist_pb2 import Metric

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
