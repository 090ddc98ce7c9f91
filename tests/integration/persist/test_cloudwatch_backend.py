"""The CloudWatch persist backend against a real moto server over HTTP.

moto stores what real CloudWatch would refuse (PutLogEvents over 10,000 events or 1 MiB,
spanning more than 24 h; PutMetricData over 1000 data), so the batching tests record every
call the backend makes (botocore's ``provide-client-params`` event, on the backend's own
clients), hold each call to the API's limits, and then read everything back from moto.
"""

from __future__ import annotations

import asyncio
import base64
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from joblet_cluster.common.config import CloudWatchConfig
from joblet_cluster.common.errors import ConfigError, InvalidInput, JobletError
from joblet_cluster.persist.backends import METRICS, STDERR, STDOUT, LogBlock
from joblet_cluster.persist.backends._cloudwatch import CloudWatchBackend, CloudWatchError
from joblet_cluster.persist.backends._cloudwatch_aws import (
    IMDS_TIMEOUT,
    detect_ec2_region,
    resolve_region,
    translate,
)
from joblet_cluster.proto.persist_pb2 import LogLine, Metric

NS = 1_000_000_000
MS = 1_000_000
HOUR = 3600 * NS
MiB = 1024 * 1024

Opener = Callable[..., Any]


# -- helpers ---------------------------------------------------------------------------


def make_lines(
    count: int,
    job: str = "job-1",
    stream: int = STDOUT,
    first: int = 1,
    t0: int | None = None,
    step: int = 1000,
    content: Callable[[int], bytes] = lambda seq: f"line {seq}".encode(),
) -> list[LogLine]:
    t0 = time.time_ns() if t0 is None else t0
    return [
        LogLine(
            job_id=job,
            stream=stream,  # type: ignore[arg-type]
            content=content(seq),
            timestamp=t0 + (seq - first) * step,
            sequence=seq,
        )
        for seq in range(first, first + count)
    ]


def make_sample(seq: int, at: int, job: str = "job-1", **fields: Any) -> Metric:
    return Metric(job_id=job, timestamp=at, sequence=seq, **fields)


async def collect(chunks: AsyncIterator[list[Any]]) -> list[Any]:
    return [item async for chunk in chunks for item in chunk]


def triples(lines: list[LogLine]) -> list[tuple[int, int, bytes, int]]:
    return [(line.stream, line.sequence, line.content, line.timestamp) for line in lines]


class Recorder:
    """Every call of one operation the backend makes, with its parameters."""

    def __init__(self, client: Any, operation: str) -> None:
        self.calls: list[dict[str, Any]] = []
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"provide-client-params.{service}.{operation}", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(dict(params))

    def sizes(self, key: str) -> list[int]:
        return [len(call[key]) for call in self.calls]


def assert_valid_put_log_events(params: dict[str, Any]) -> None:
    """The PutLogEvents constraints of the CloudWatch Logs API reference."""
    events = params["logEvents"]
    assert 1 <= len(events) <= 10_000
    assert sum(len(e["message"].encode()) + 26 for e in events) <= 1_048_576
    assert all(len(e["message"].encode()) + 26 <= 256 * 1024 for e in events)
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps), "events of one call must be in chronological order"
    assert stamps[-1] - stamps[0] < 24 * 3600 * 1000, "one call may not span 24 hours"


def raw_events(backend: CloudWatchBackend, stream_name: str) -> list[dict[str, Any]]:
    """What CloudWatch holds, read past the backend (one page is enough here)."""
    return backend.logs_client.get_log_events(
        logGroupName=backend.log_group, logStreamName=stream_name, startFromHead=True
    )["events"]


# -- layout and format -----------------------------------------------------------------


async def test_group_per_node_streams_per_job_and_json_messages(
    cw_backend: CloudWatchBackend,
) -> None:
    t0 = time.time_ns()
    await cw_backend.write_logs(
        "job-1", STDOUT, LogBlock.of("job-1", make_lines(3, t0=t0 + 123_456))
    )
    await cw_backend.write_logs(
        "job-1", STDERR, LogBlock.of("job-1", make_lines(1, stream=STDERR, t0=t0))
    )

    prefix = cw_backend.config.log_group_prefix
    assert cw_backend.log_group == f"{prefix}/node-1/jobs"
    groups = cw_backend.logs_client.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [f"{prefix}/node-1/jobs"]
    streams = cw_backend.logs_client.describe_log_streams(logGroupName=cw_backend.log_group)
    assert sorted(s["logStreamName"] for s in streams["logStreams"]) == [
        "job-1-stderr",
        "job-1-stdout",
    ]
    events = raw_events(cw_backend, "job-1-stdout")
    bodies = [orjson.loads(e["message"]) for e in events]
    assert [(b["sequence"], b["content"]) for b in bodies] == [
        (1, "line 1"),
        (2, "line 2"),
        (3, "line 3"),
    ]
    for event, body in zip(events, bodies, strict=True):
        assert body["timestamp"] == t0 + 123_456 + (body["sequence"] - 1) * 1000  # ns kept
        assert event["timestamp"] == body["timestamp"] // MS  # event time in ms


async def test_non_utf8_content_is_stored_as_base64_and_read_back(
    cw_backend: CloudWatchBackend,
) -> None:
    contents = [b"\xff\xfe binary \x00", b"", "unicodé ✓".encode(), b"\x80"]
    lines = make_lines(4, content=lambda seq: contents[seq - 1])
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines))

    bodies = [orjson.loads(e["message"]) for e in raw_events(cw_backend, "job-1-stdout")]
    assert base64.b64decode(bodies[0]["content_b64"]) == contents[0]
    assert bodies[1]["content"] == "" and bodies[2]["content"] == "unicodé ✓"
    assert "content" not in bodies[3]
    assert triples(await collect(cw_backend.read_logs("job-1", STDOUT))) == triples(lines)


async def test_line_larger_than_an_event_is_split_and_joined(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    config = cw_config()
    backend = await open_cw_backend(config=config)
    puts = Recorder(backend.logs_client, "PutLogEvents")
    big_text = ("0123456789abcdef" * 45_000).encode()  # 720,000 bytes of text
    big_binary = bytes(range(256)) * 1500  # 384,000 bytes, not UTF-8
    escaped = b'"\\\x01' * 70_000  # JSON escapes make this grow up to 6x
    sizes = [b"a", big_text, big_binary, escaped, b"z"]
    lines = make_lines(5, content=lambda seq: sizes[seq - 1])
    await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines))

    for call in puts.calls:
        assert_valid_put_log_events(call)
    assert sum(puts.sizes("logEvents")) > 5  # the big lines took several events
    assert triples(await collect(backend.read_logs("job-1", STDOUT))) == triples(lines)

    fresh = await open_cw_backend(config=config)  # nothing remembered: reads the stream's end
    assert await fresh.last_sequence("job-1", STDOUT) == 5
    info = await fresh.job_info("job-1")
    assert info is not None
    assert info.stdout_bytes == sum(len(c) for c in sizes)


# -- batching within the API limits ----------------------------------------------------


async def test_put_log_events_stops_at_10000_events_and_reads_span_pages(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    backend = await open_cw_backend(config=cw_config(log_batch_size=50_000))  # above the API
    puts = Recorder(backend.logs_client, "PutLogEvents")
    gets = Recorder(backend.logs_client, "GetLogEvents")
    lines = make_lines(10_050, content=lambda seq: b"")  # small: 10,000 fit in 1 MiB
    await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines))

    assert puts.sizes("logEvents") == [10_000, 50]
    for call in puts.calls:
        assert_valid_put_log_events(call)
    got = await collect(backend.read_logs("job-1", STDOUT))
    assert [line.sequence for line in got] == list(range(1, 10_051))
    assert triples(got) == triples(lines)
    assert len(gets.calls) >= 2  # more than one page of 10,000


async def test_log_batch_size_is_an_upper_bound(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    backend = await open_cw_backend(config=cw_config(log_batch_size=100))
    puts = Recorder(backend.logs_client, "PutLogEvents")
    await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines(250)))
    assert puts.sizes("logEvents") == [100, 100, 50]


async def test_put_log_events_stops_before_1_mib(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    backend = await open_cw_backend(config=cw_config(log_batch_size=10_000))
    puts = Recorder(backend.logs_client, "PutLogEvents")
    lines = make_lines(30, content=lambda seq: bytes([97 + seq % 26]) * 100_000)
    await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines))

    assert len(puts.calls) >= 3
    for index, call in enumerate(puts.calls):
        assert_valid_put_log_events(call)
        if index + 1 < len(puts.calls):  # full: one more event would have crossed 1 MiB
            size = sum(len(e["message"].encode()) + 26 for e in call["logEvents"])
            following = puts.calls[index + 1]["logEvents"][0]
            assert size + len(following["message"].encode()) + 26 > 1_048_576
    assert sum(puts.sizes("logEvents")) == 30
    assert triples(await collect(backend.read_logs("job-1", STDOUT))) == triples(lines)


async def test_put_log_events_never_spans_24_hours(cw_backend: CloudWatchBackend) -> None:
    puts = Recorder(cw_backend.logs_client, "PutLogEvents")
    now = time.time_ns()
    stamps = [now - 30 * HOUR, now - 29 * HOUR, now - 5 * HOUR, now - HOUR, now]
    lines = [
        LogLine(job_id="job-1", stream=STDOUT, content=b"x", timestamp=t, sequence=i + 1)
        for i, t in enumerate(stamps)
    ]
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines))

    assert puts.sizes("logEvents") == [2, 3]
    for call in puts.calls:
        assert_valid_put_log_events(call)
    assert triples(await collect(cw_backend.read_logs("job-1", STDOUT))) == triples(lines)


async def test_event_times_stay_chronological_when_the_clock_steps_back(
    cw_backend: CloudWatchBackend,
) -> None:
    """moto refuses a PutLogEvents call out of time order, like CloudWatch."""
    puts = Recorder(cw_backend.logs_client, "PutLogEvents")
    now = time.time_ns()
    stamps = [now, now - 5 * NS, now - 10 * NS, now + 1 * NS]  # the job's clock went back
    lines = [
        LogLine(job_id="job-1", stream=STDOUT, content=b"x", timestamp=t, sequence=i + 1)
        for i, t in enumerate(stamps)
    ]
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines[:2]))
    await cw_backend.write_logs(
        "job-1", STDOUT, LogBlock.of("job-1", lines[2:])
    )  # and across calls too

    for call in puts.calls:
        assert_valid_put_log_events(call)
    stored = [e["timestamp"] for e in raw_events(cw_backend, "job-1-stdout")]
    assert stored == sorted(stored)
    got = await collect(cw_backend.read_logs("job-1", STDOUT))
    assert triples(got) == triples(lines)  # sequence order, the lines' own timestamps


async def test_put_metric_data_stops_at_1000_and_at_metric_batch_size(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    now = time.time_ns()
    samples = [make_sample(i + 1, now - (150 - i) * NS, cpu_percent=float(i)) for i in range(150)]

    big = await open_cw_backend(config=cw_config(metric_batch_size=5000))  # above the API
    big_puts = Recorder(big.metrics_client, "PutMetricData")
    await big.write_metrics("job-1", samples)
    assert big_puts.sizes("MetricData") == [1000, 350]  # 150 samples x 9 metrics

    small = await open_cw_backend(node_id="node-2", config=cw_config(metric_batch_size=20))
    small_puts = Recorder(small.metrics_client, "PutMetricData")
    await small.write_metrics("job-1", samples[:3])
    assert small_puts.sizes("MetricData") == [20, 7]

    got = await collect(big.read_metrics("job-1"))
    assert [(m.sequence, m.cpu_percent) for m in got] == [
        (s.sequence, s.cpu_percent) for s in samples
    ]


# -- metrics ---------------------------------------------------------------------------


async def test_nine_metrics_with_units_and_dimensions(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    config = cw_config(metric_dimensions={"Environment": "test", "Cluster": "c1"})
    backend = await open_cw_backend(config=config)
    puts = Recorder(backend.metrics_client, "PutMetricData")
    now = time.time_ns()
    sample = make_sample(
        1,
        now,
        cpu_percent=42.5,
        memory_bytes=3 * MiB,
        gpu_percent=7.25,
        io_read_bytes=1000,
        io_write_bytes=2000,
        io_read_ops=3,
        io_write_ops=4,
        net_rx_bytes=5 * 1024,
        net_tx_bytes=6 * 1024,
        memory_limit=8 * MiB,
    )
    await backend.write_metrics("job-1", [sample])

    (call,) = puts.calls
    assert call["Namespace"] == config.metric_namespace
    sent = {d["MetricName"]: (d["Value"], d["Unit"]) for d in call["MetricData"]}
    assert sent == {
        "CPUUsage": (42.5, "Percent"),
        "MemoryUsage": (3.0, "Megabytes"),
        "GPUUsage": (7.25, "Percent"),
        "DiskReadBytes": (1000.0, "Bytes"),
        "DiskWriteBytes": (2000.0, "Bytes"),
        "DiskReadOps": (3.0, "Count"),
        "DiskWriteOps": (4.0, "Count"),
        "NetworkRxBytes": (5.0, "Kilobytes"),
        "NetworkTxBytes": (6.0, "Kilobytes"),
    }
    dims = [
        {"Name": "JobID", "Value": "job-1"},
        {"Name": "NodeID", "Value": "node-1"},
        {"Name": "Cluster", "Value": "c1"},
        {"Name": "Environment", "Value": "test"},
    ]
    assert all(d["Dimensions"] == dims for d in call["MetricData"])

    listed = backend.metrics_client.list_metrics(
        Namespace=config.metric_namespace, Dimensions=[{"Name": "JobID", "Value": "job-1"}]
    )["Metrics"]
    assert {m["MetricName"] for m in listed} == set(sent)
    assert all(
        sorted(m["Dimensions"], key=lambda d: d["Name"]) == sorted(dims, key=lambda d: d["Name"])
        for m in listed
    )

    (stored,) = await collect(backend.read_metrics("job-1"))
    assert stored == sample  # every field, memory_limit included, from the metrics stream


async def test_read_metrics_in_time_order_within_bounds(cw_backend: CloudWatchBackend) -> None:
    now = time.time_ns()
    samples = [make_sample(i + 1, now + i * 10 * MS, cpu_percent=i) for i in range(20)]
    await cw_backend.write_metrics("job-1", samples[:10])
    await cw_backend.write_metrics("job-1", samples[5:])  # a resend overlapping the first
    assert await collect(cw_backend.read_metrics("job-1")) == samples
    window = await collect(
        cw_backend.read_metrics("job-1", samples[3].timestamp, samples[8].timestamp)
    )
    assert window == samples[3:8]
    assert await cw_backend.last_sequence("job-1", METRICS) == 20


@pytest.mark.parametrize(
    ("aggregation", "reduce"),
    [
        ("avg", lambda values: sum(values) / len(values)),
        ("min", min),
        ("max", max),
        ("sum", sum),
    ],
)
async def test_aggregates_use_cloudwatch_statistics(
    cw_backend: CloudWatchBackend, aggregation: str, reduce: Callable[[list[float]], float]
) -> None:
    gets = Recorder(cw_backend.metrics_client, "GetMetricStatistics")
    now = time.time_ns()
    samples = [
        make_sample(
            i + 1,
            now - (4 - i) * NS,
            cpu_percent=value,
            gpu_percent=value / 2,
            memory_bytes=int(value) * MiB,
            io_read_bytes=int(value) * 10,
            io_write_bytes=int(value) * 20,
            io_read_ops=int(value),
            io_write_ops=int(value) + 1,
            net_rx_bytes=int(value) * 1024,
            net_tx_bytes=int(value) * 2048,
        )
        for i, value in enumerate([10.0, 40.0, 20.0, 30.0])
    ]
    await cw_backend.write_metrics("job-1", samples)

    (result,) = await cw_backend.aggregate_metrics(
        "job-1", now - 60 * NS, now + 60 * NS, aggregation=aggregation
    )
    for field in (
        "cpu_percent",
        "gpu_percent",
        "memory_bytes",
        "io_read_bytes",
        "io_write_bytes",
        "io_read_ops",
        "io_write_ops",
        "net_rx_bytes",
        "net_tx_bytes",
    ):
        expected = reduce([getattr(s, field) for s in samples])
        assert getattr(result, field) == pytest.approx(expected), field
    statistic = {"avg": "Average", "min": "Minimum", "max": "Maximum", "sum": "Sum"}[aggregation]
    assert len(gets.calls) == 9
    assert all(statistic in call["Statistics"] for call in gets.calls)


async def test_aggregates_per_step(cw_backend: CloudWatchBackend) -> None:
    now = time.time_ns()
    stamps = [now - 300 * NS, now - 180 * NS, now - 60 * NS]  # one per minute-long period
    samples = [make_sample(i + 1, t, cpu_percent=10.0 * (i + 1)) for i, t in enumerate(stamps)]
    await cw_backend.write_metrics("job-1", samples)

    series = await cw_backend.aggregate_metrics(
        "job-1", now - 600 * NS, now + 60 * NS, aggregation="max", step=60 * NS
    )
    assert [m.cpu_percent for m in series] == [10.0, 20.0, 30.0]
    assert [m.timestamp for m in series] == sorted({m.timestamp for m in series})
    gets = Recorder(cw_backend.metrics_client, "GetMetricStatistics")
    two_days = await cw_backend.aggregate_metrics(  # 2880 periods: two calls per metric
        "job-1", now + 60 * NS - 48 * HOUR, now + 60 * NS, aggregation="max", step=60 * NS
    )
    assert two_days == series
    assert len(gets.calls) == 18
    assert all(call["Period"] == 60 for call in gets.calls)
    whole = await cw_backend.aggregate_metrics("job-1", aggregation="sum")  # start: first sample
    assert [m.cpu_percent for m in whole] == [60.0]
    assert await cw_backend.aggregate_metrics("nothing-here", aggregation="avg") == []
    with pytest.raises(InvalidInput):
        await cw_backend.aggregate_metrics("job-1", aggregation="median")


# -- retention -------------------------------------------------------------------------


@pytest.mark.parametrize(("configured", "expected"), [(7, 7), (0, 7), (30, 30), (3653, 3653)])
async def test_retention_policy_on_the_group(
    open_cw_backend: Opener,
    cw_config: Callable[..., CloudWatchConfig],
    configured: int,
    expected: int,
) -> None:
    backend = await open_cw_backend(config=cw_config(log_retention_days=configured))
    (group,) = backend.logs_client.describe_log_groups(logGroupNamePrefix=backend.log_group)[
        "logGroups"
    ]
    assert group["retentionInDays"] == expected


async def test_retention_minus_one_never_expires(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    first = await open_cw_backend(config=cw_config(log_retention_days=30))
    again = await open_cw_backend(config=cw_config(log_retention_days=-1))  # same group
    (group,) = again.logs_client.describe_log_groups(logGroupNamePrefix=first.log_group)[
        "logGroups"
    ]
    assert "retentionInDays" not in group  # the earlier policy was removed


@pytest.mark.parametrize("invalid", [4, 2, -2, 10_000])
def test_invalid_retention_is_a_config_error(invalid: int) -> None:
    with pytest.raises(ConfigError, match="log_retention_days"):
        CloudWatchBackend(CloudWatchConfig(log_retention_days=invalid), "node-1")


async def test_malformed_endpoint_is_a_config_error(
    cw_config: Callable[..., CloudWatchConfig],
) -> None:
    backend = CloudWatchBackend(cw_config(endpoint_url="localhost:4566"), "node-1")
    with pytest.raises(ConfigError, match="endpoint_url"):
        await backend.open()
    await backend.close()


def test_other_config_errors_name_their_key() -> None:
    with pytest.raises(ConfigError, match="metric_dimensions"):
        CloudWatchBackend(CloudWatchConfig(metric_dimensions={"JobID": "x"}), "node-1")
    with pytest.raises(ConfigError, match="log_batch_size"):
        CloudWatchBackend(CloudWatchConfig(log_batch_size=0), "node-1")
    with pytest.raises(ConfigError, match="log_group_prefix"):
        CloudWatchBackend(CloudWatchConfig(log_group_prefix="/bad prefix"), "node-1")


# -- region ----------------------------------------------------------------------------


async def test_region_from_config_then_detection_then_default(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    asked: list[bool] = []

    def detector(region: str | None) -> Callable[[], str | None]:
        def detect() -> str | None:
            asked.append(True)
            return region

        return detect

    configured = await open_cw_backend(
        config=cw_config(region="eu-west-1"), region_detector=detector("x")
    )
    assert configured.region == "eu-west-1" and not asked
    assert configured.logs_client.meta.region_name == "eu-west-1"

    detected = await open_cw_backend(
        config=cw_config(region=""), region_detector=detector("ap-south-1")
    )
    assert detected.region == "ap-south-1" and asked
    assert detected.logs_client.meta.region_name == "ap-south-1"

    fallback = await open_cw_backend(config=cw_config(region=""), region_detector=detector(None))
    assert fallback.region == "us-east-1"


def test_region_from_the_environment_before_detection() -> None:
    def never() -> str | None:
        raise AssertionError("detection must not run")

    assert resolve_region("", never, {"AWS_REGION": "eu-north-1"}) == "eu-north-1"
    assert resolve_region("", never, {"AWS_DEFAULT_REGION": "sa-east-1"}) == "sa-east-1"
    assert resolve_region("", lambda: None, {}) == "us-east-1"


def test_ec2_region_detection_with_the_metadata_call_mocked() -> None:
    """Unit test: no metadata service exists here, so only detection's HTTP call (the
    ``fetch`` function it takes) is replaced; everything else runs for real."""
    seen: list[tuple[str, str, dict[str, str], float]] = []

    def imds_v2(request: urllib.request.Request, timeout: float) -> bytes:
        seen.append((request.get_method(), request.full_url, dict(request.header_items()), timeout))
        if request.full_url.endswith("/latest/api/token"):
            return b"TOKEN"
        return b"eu-central-1\n"

    assert detect_ec2_region(fetch=imds_v2) == "eu-central-1"
    (put, get) = seen
    assert put[:2] == ("PUT", "http://169.254.169.254/latest/api/token")
    assert get[:2] == ("GET", "http://169.254.169.254/latest/meta-data/placement/region")
    assert get[2].get("X-aws-ec2-metadata-token") == "TOKEN"
    assert all(0 < timeout <= 1.0 for *_, timeout in seen)
    assert IMDS_TIMEOUT <= 1.0

    def imds_v1(request: urllib.request.Request, timeout: float) -> bytes:
        if request.get_method() == "PUT":
            raise urllib.error.HTTPError(request.full_url, 403, "Forbidden", {}, None)  # type: ignore[arg-type]
        return b"us-west-2"

    assert detect_ec2_region(fetch=imds_v1) == "us-west-2"

    def nothing_there(request: urllib.request.Request, timeout: float) -> bytes:
        raise urllib.error.URLError(TimeoutError("timed out"))

    assert detect_ec2_region(fetch=nothing_there) is None
    assert detect_ec2_region(fetch=lambda request, timeout: b"<html>not a region</html>") is None


# -- reads -----------------------------------------------------------------------------


async def test_reads_follow_forward_tokens_until_they_repeat(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    backend = await open_cw_backend(config=cw_config(), page_size=7)
    lines = make_lines(50, step=MS // 3)  # several lines share a millisecond
    await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines))
    gets = Recorder(backend.logs_client, "GetLogEvents")

    chunks = [chunk async for chunk in backend.read_logs("job-1", STDOUT)]
    assert triples([line for chunk in chunks for line in chunk]) == triples(lines)
    assert len(chunks) > 1 and all(chunk for chunk in chunks)
    assert len(gets.calls) >= 8  # 50 events, 7 a page, and the call that ends it
    tokens = [call.get("nextToken") for call in gets.calls]
    assert tokens[0] is None and tokens[-1] is not None


async def test_both_streams_merged_by_time_stdout_first_on_ties(
    cw_backend: CloudWatchBackend,
) -> None:
    t0 = time.time_ns()
    out = [
        LogLine(job_id="job-1", stream=STDOUT, content=b"o", timestamp=t, sequence=i + 1)
        for i, t in enumerate([t0, t0 + 20, t0 + 20, t0 + 50 * MS])
    ]
    err = [
        LogLine(job_id="job-1", stream=STDERR, content=b"e", timestamp=t, sequence=i + 1)
        for i, t in enumerate([t0 - 5, t0 + 20, t0 + 30, t0 + 40 * MS])
    ]
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", out))
    await cw_backend.write_logs("job-1", STDERR, LogBlock.of("job-1", err))

    merged = await collect(cw_backend.read_logs("job-1", 0))
    keys = [(line.timestamp, line.stream, line.sequence) for line in merged]
    assert keys == sorted((line.timestamp, line.stream, line.sequence) for line in out + err)
    assert [(line.stream, line.sequence) for line in merged][:4] == [
        (STDERR, 1),
        (STDOUT, 1),
        (STDOUT, 2),
        (STDOUT, 3),
    ]
    assert triples(await collect(cw_backend.read_logs("job-1", STDERR))) == triples(err)


async def test_time_bounds_are_start_inclusive_end_exclusive_in_ns(
    cw_backend: CloudWatchBackend,
) -> None:
    lines = make_lines(30, step=MS // 4)  # four lines a millisecond
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines))
    start, end = lines[5].timestamp, lines[22].timestamp
    got = await collect(cw_backend.read_logs("job-1", STDOUT, start, end))
    assert triples(got) == triples(lines[5:22])
    assert await collect(cw_backend.read_logs("job-1", STDOUT, start=lines[-1].timestamp + 1)) == []


async def test_last_sequence_remembered_and_read_from_the_stream_end(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    config = cw_config()
    writer = await open_cw_backend(config=config)
    assert await writer.last_sequence("job-1", STDOUT) == 0
    await writer.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines(120)))
    await writer.write_logs("job-1", STDERR, LogBlock.of("job-1", make_lines(3, stream=STDERR)))
    now = time.time_ns()
    await writer.write_metrics("job-1", [make_sample(i, now + i) for i in range(1, 6)])
    assert await writer.last_sequence("job-1", STDOUT) == 120

    fresh = await open_cw_backend(config=config)  # must read CloudWatch: nothing remembered
    gets = Recorder(fresh.logs_client, "GetLogEvents")
    assert await fresh.last_sequence("job-1", STDOUT) == 120
    assert await fresh.last_sequence("job-1", STDERR) == 3
    assert await fresh.last_sequence("job-1", METRICS) == 5
    assert await fresh.last_sequence("other", STDOUT) == 0
    assert gets.calls and all(call["startFromHead"] in (False, True) for call in gets.calls)


async def test_resent_lines_are_not_stored_twice(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    config = cw_config()
    writer = await open_cw_backend(config=config)
    lines = make_lines(20)
    await writer.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines[:10]))
    await writer.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines[5:15]))

    restarted = await open_cw_backend(config=config)  # after a restart the node resends again
    await restarted.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines[12:]))
    got = await collect(restarted.read_logs("job-1", STDOUT))
    assert [line.sequence for line in got] == list(range(1, 21))
    assert len(raw_events(restarted, "job-1-stdout")) == 20


# -- the job index ---------------------------------------------------------------------


async def test_job_info_and_list_jobs_page_through_streams(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    config = cw_config()
    writer = await open_cw_backend(config=config)
    now = time.time_ns()
    jobs = [f"job-{n:02d}" for n in range(20)]  # 60 streams: more than one page of 50
    for n, job in enumerate(jobs):
        await writer.write_logs(
            job, STDOUT, LogBlock.of(job, make_lines(n + 1, job=job, t0=now + n * NS))
        )
        await writer.write_logs(
            job, STDERR, LogBlock.of(job, make_lines(2, job=job, stream=STDERR, t0=now))
        )
        await writer.write_metrics(job, [make_sample(1, now + n * NS, job=job)])

    fresh = await open_cw_backend(config=config)
    describes = Recorder(fresh.logs_client, "DescribeLogStreams")
    for backend in (writer, fresh):
        summaries = await backend.list_jobs()
        assert sorted(s.job_id for s in summaries) == jobs
        for n, job in enumerate(jobs):
            (summary,) = [s for s in summaries if s.job_id == job]
            assert summary.stdout_lines == n + 1
            assert summary.stderr_lines == 2
            assert summary.metric_samples == 1
            assert summary.stdout_bytes == sum(len(f"line {i}") for i in range(1, n + 2))
            assert summary.stderr_bytes == len("line 1") + len("line 2")
            assert summary.first_time == now
            newest = now + n * NS + n * 1000  # stdout's last line, or stderr's second one
            assert summary.last_time == max(newest, now + 1000)
    assert len(describes.calls) >= 2
    assert await fresh.job_info("job-05") == next(
        s for s in await writer.list_jobs() if s.job_id == "job-05"
    )
    assert await fresh.job_info("job-0") is None  # a prefix of other jobs is no job


async def test_delete_job_removes_its_streams(cw_backend: CloudWatchBackend) -> None:
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines(3)))
    await cw_backend.write_logs(
        "job-1-x", STDOUT, LogBlock.of("job-1-x", make_lines(3, job="job-1-x"))
    )
    await cw_backend.write_metrics("job-1", [make_sample(1, time.time_ns())])

    assert await cw_backend.delete_job("job-1") is True
    assert await cw_backend.job_info("job-1") is None
    assert await collect(cw_backend.read_logs("job-1", 0)) == []
    assert await cw_backend.last_sequence("job-1", STDOUT) == 0
    assert await cw_backend.job_info("job-1-x") is not None  # same prefix, other job: kept
    assert await cw_backend.delete_job("job-1") is False

    await cw_backend.write_logs(
        "job-1", STDOUT, LogBlock.of("job-1", make_lines(2))
    )  # a new job of the same id
    assert [line.sequence for line in await collect(cw_backend.read_logs("job-1", 1))] == [1, 2]


async def test_cleanup_leaves_expiry_to_cloudwatch_retention(cw_backend: CloudWatchBackend) -> None:
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines(3)))
    result = await cw_backend.cleanup(time.time_ns() + 10_000 * 24 * HOUR)
    assert (result.jobs_removed, result.bytes_freed, result.removed) == (0, 0, [])
    assert await cw_backend.job_info("job-1") is not None
    assert await cw_backend.stored_bytes() > 0


# -- health, errors and the event loop -------------------------------------------------


async def test_check_writable(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    config = cw_config()
    unopened = CloudWatchBackend(config, "node-1")
    assert unopened.check_writable() is not None
    backend = await open_cw_backend(config=config)
    assert backend.check_writable() is None
    assert await backend.refresh_writable() is None

    dead_port = cw_config(endpoint_url="http://127.0.0.1:9")  # discard port: nothing there
    dead = CloudWatchBackend(
        dead_port, "node-1", client_config=Config(retries={"max_attempts": 1}, connect_timeout=1)
    )
    with pytest.raises(CloudWatchError) as failure:
        await dead.open()
    assert failure.value.retryable
    assert isinstance(failure.value, JobletError)
    reason = dead.check_writable()
    assert reason is not None and "cannot reach CloudWatch" in reason
    await dead.close()


async def test_a_stream_deleted_behind_our_back_is_created_again(
    cw_backend: CloudWatchBackend,
) -> None:
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines(2)))
    cw_backend.logs_client.delete_log_group(logGroupName=cw_backend.log_group)
    await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines(2, first=3)))
    assert [line.sequence for line in await collect(cw_backend.read_logs("job-1", 1))] == [3, 4]
    assert cw_backend.check_writable() is None


async def test_bad_input_is_refused_before_any_call(cw_backend: CloudWatchBackend) -> None:
    with pytest.raises(InvalidInput):
        await cw_backend.write_logs("../etc", STDOUT, LogBlock.of("../etc", make_lines(1)))
    with pytest.raises(InvalidInput):
        await cw_backend.write_logs("job-1", METRICS, LogBlock.of("job-1", make_lines(1)))
    with pytest.raises(InvalidInput):
        await collect(cw_backend.read_logs("job-1", 7))
    with pytest.raises(InvalidInput):
        await cw_backend.last_sequence("job-1", 9)


def test_botocore_errors_are_translated() -> None:
    def client_error(code: str, status: int = 400) -> ClientError:
        return ClientError(
            {
                "Error": {"Code": code, "Message": "m"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "PutLogEvents",
        )

    denied = translate(client_error("AccessDeniedException"), "writing job-1-stdout")
    assert not denied.retryable and "IAM" in str(denied) and "writing job-1-stdout" in str(denied)
    busy = translate(client_error("ThrottlingException"), "writing")
    assert busy.retryable and busy.code == "ThrottlingException"
    assert translate(client_error("Whatever", 503), "x").retryable
    assert not translate(client_error("InvalidParameterException"), "x").retryable
    assert all(
        isinstance(translate(client_error(c), "x"), JobletError)
        for c in ("ResourceNotFoundException", "ResourceAlreadyExistsException")
    )


async def test_calls_run_in_worker_threads_not_on_the_loop(cw_backend: CloudWatchBackend) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.002)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        started = time.monotonic()
        await cw_backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines(3000)))
        await collect(cw_backend.read_logs("job-1", STDOUT))
        elapsed = time.monotonic() - started
    finally:
        task.cancel()
    assert ticks >= max(3, int(elapsed / 0.002 * 0.2))  # the loop kept turning meanwhile


async def test_another_node_reads_the_group_without_writing(
    open_cw_backend: Opener, cw_config: Callable[..., CloudWatchConfig]
) -> None:
    config = cw_config()
    owner = await open_cw_backend(node_id="node-a", config=config)
    lines = make_lines(5)
    await owner.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines))

    reader = await open_cw_backend(node_id="node-a", config=config, read_only=True)
    assert triples(await collect(reader.read_logs("job-1", 0))) == triples(lines)
    assert (await reader.job_info("job-1")).stdout_lines == 5  # type: ignore[union-attr]
    assert reader.check_writable() is not None
    with pytest.raises(CloudWatchError):
        await reader.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines(1, first=6)))

    nobody = await open_cw_backend(node_id="node-z", config=config, read_only=True)
    assert await collect(nobody.read_logs("job-1", 0)) == []
    assert await nobody.list_jobs() == []
    groups = nobody.logs_client.describe_log_groups(logGroupNamePrefix=nobody.log_group)
    assert groups["logGroups"] == []  # a reader creates nothing
