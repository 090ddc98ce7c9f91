"""Client-side selection of jobs and metrics."""

from __future__ import annotations

import pytest

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.rnx.filters import (
    METRIC_FIELDS,
    Aggregate,
    aggregate_metrics,
    parse_statuses,
    select_jobs,
)


def job(
    uuid: str, status: str = "COMPLETED", start: str = "", node: str = "n1", **kw: str
) -> pb.Job:
    return pb.Job(uuid=uuid, status=status, start_time=start, node_id=node, **kw)


JOBS = [
    job("old", start="2025-01-01T00:00:00Z"),
    job("new", "FAILED", start="2025-01-03T00:00:00.5Z", node="n2"),
    job("mid", "RUNNING", start="2025-01-02T00:00:00+05:00"),
    job("later", "SCHEDULED", scheduled_time="2025-02-01T00:00:00Z"),
    job("never", "INITIALIZING"),
    job("garbled", start="yesterday"),
]


def uuids(jobs: list[pb.Job]) -> list[str]:
    return [j.uuid for j in jobs]


def test_newest_first_jobs_without_a_time_first() -> None:
    assert uuids(select_jobs(JOBS)) == ["never", "garbled", "later", "new", "mid", "old"]


def test_filters_combine_and_limit_counts_after_sorting() -> None:
    assert uuids(select_jobs(JOBS, statuses=frozenset({"COMPLETED", "FAILED"}))) == [
        "garbled",
        "new",
        "old",
    ]
    assert uuids(select_jobs(JOBS, node_id="n2")) == ["new"]
    assert uuids(select_jobs(JOBS, statuses=frozenset({"COMPLETED"}), limit=1)) == ["garbled"]
    assert select_jobs(JOBS, node_id="n3") == []


def test_statuses_are_repeatable_comma_lists_in_any_case() -> None:
    wanted = parse_statuses(["running,Failed", " completed ", ""])
    assert wanted == {"RUNNING", "FAILED", "COMPLETED"}
    assert parse_statuses([]) == frozenset()


def test_an_unknown_status_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown status DONE, NOPE .*known: INITIALIZING"):
        parse_statuses(["done,running", "nope"])


def sample(cpu: float, memory: int) -> pb.JobMetricsEvent:
    return pb.JobMetricsEvent(timestamp=1, cpu_percent=cpu, memory_bytes=memory)


@pytest.mark.parametrize(
    ("how", "cpu", "memory"),
    [("avg", 20.0, 200.0), ("min", 10.0, 100.0), ("max", 30.0, 300.0), ("sum", 60.0, 600.0)],
)
def test_aggregate(how: str, cpu: float, memory: float) -> None:
    samples = [sample(10, 300), sample(30, 100), sample(20, 200)]
    result = aggregate_metrics(samples, Aggregate(how))
    assert (result["cpu_percent"], result["memory_bytes"]) == (cpu, memory)
    assert set(result) == set(METRIC_FIELDS)


def test_aggregate_of_nothing_is_empty() -> None:
    assert aggregate_metrics([], Aggregate.AVG) == {}


def test_metric_fields_are_the_numbers_of_a_sample() -> None:
    assert "timestamp" not in METRIC_FIELDS
    assert "job_uuid" not in METRIC_FIELDS
    assert {"cpu_percent", "memory_bytes", "gpu_percent"} <= set(METRIC_FIELDS)
