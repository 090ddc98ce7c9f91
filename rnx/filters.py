"""Client-side selection: which jobs and metric values to show.

Joblet's API returns every job from ``ListJobs`` and raw samples from ``GetJobMetrics``;
the selections people ask for are applied here, as pure functions of what the node sent.
(Log lines are selected as they stream, in ``logs``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from joblet_cluster.common.durations import parse_rfc3339
from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.proto import joblet_pb2

STATUSES = ("INITIALIZING", "SCHEDULED", "RUNNING", "COMPLETED", "FAILED", "STOPPED", "CANCELED")
TERMINAL = frozenset({"COMPLETED", "FAILED", "STOPPED", "CANCELED"})

#: Every number a metrics sample carries (the sample's time and job excluded).
METRIC_FIELDS = tuple(
    field.name
    for field in joblet_pb2.JobMetricsEvent.DESCRIPTOR.fields
    if field.name not in ("timestamp", "job_uuid")
)


class Aggregate(StrEnum):
    """How ``job metrics --aggregate`` sums up the samples."""

    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"


def parse_statuses(values: Sequence[str]) -> frozenset[str]:
    """``--status`` values, each possibly a comma list, in any case, as known statuses."""
    wanted = {part.strip().upper() for value in values for part in value.split(",")}
    wanted.discard("")
    unknown = sorted(wanted.difference(STATUSES))
    if unknown:
        raise InvalidInput(f"unknown status {', '.join(unknown)} (known: {', '.join(STATUSES)})")
    return frozenset(wanted)


def job_time(job: joblet_pb2.Job) -> datetime | None:
    """When the job started, or is scheduled to start; ``None`` when the node says neither.

    A time the node wrote wrongly counts as none: a listing should not fail over one field.
    """
    text = job.start_time or job.scheduled_time
    try:
        return parse_rfc3339(text) if text else None
    except InvalidInput:
        return None


def select_jobs(
    jobs: Iterable[joblet_pb2.Job],
    *,
    statuses: frozenset[str] = frozenset(),
    node_id: str | None = None,
    limit: int | None = None,
) -> list[joblet_pb2.Job]:
    """The jobs that match, newest first (by start or schedule; jobs with neither first).

    An empty ``statuses`` set keeps every status; ``limit`` counts after sorting.
    """
    kept = [
        job
        for job in jobs
        if (not statuses or job.status in statuses) and (node_id is None or job.node_id == node_id)
    ]

    def newest_first(job: joblet_pb2.Job) -> tuple[bool, float]:
        moment = job_time(job)
        return (moment is not None, -moment.timestamp() if moment else 0.0)

    kept.sort(key=newest_first)
    return kept if limit is None else kept[:limit]


def aggregate_metrics(
    samples: Sequence[joblet_pb2.JobMetricsEvent], how: Aggregate
) -> dict[str, float]:
    """Each metric over ``samples`` as their average, minimum, maximum or sum ({} if none)."""
    if not samples:
        return {}
    result = {}
    for name in METRIC_FIELDS:
        values = [float(getattr(sample, name)) for sample in samples]
        if how == Aggregate.AVG:
            result[name] = sum(values) / len(values)
        elif how == Aggregate.MIN:
            result[name] = min(values)
        elif how == Aggregate.MAX:
            result[name] = max(values)
        else:
            result[name] = sum(values)
    return result
