"""The persist service's query API, monitoring and input checks, against a real process."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import struct
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from joblet_cluster.persist import STDERR, STDOUT, LogBlock, PersistClient
from joblet_cluster.persist._framing import encode_frame
from joblet_cluster.persist._query import CHUNK, CHUNK_BYTES
from joblet_cluster.proto import persist_pb2 as pb
from joblet_cluster.proto import persist_pb2_grpc
from tests.support import persist_config, start_persist, stop, wait_for_socket


class Service:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ipc = root / "run" / "ipc.sock"
        self.query = root / "run" / "query.sock"
        self.data = root / "data"
        self.proc = start_persist(persist_config(root, compression_level=1))
        wait_for_socket(self.ipc, self.proc)
        wait_for_socket(self.query, self.proc)
        self.ports = self._ports()

    def _ports(self) -> dict[str, int]:
        """The monitoring ports (0 in config: the OS picks), read from the startup log."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            found = dict(re.findall(r"(/metrics|/health) on 127\.0\.0\.1:(\d+)", line))
            if found:
                return {path: int(port) for path, port in found.items()}
        raise AssertionError("persist did not log its monitoring ports")

    def http(self, path: str) -> tuple[int, str]:
        port = self.ports[path]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    root = Path(tempfile.mkdtemp(prefix="jt-persist-", dir="/tmp"))
    started = Service(root)
    try:
        yield started
    finally:
        stop(started.proc)
        shutil.rmtree(root, ignore_errors=True)


async def stub_call(service: Service, method: str, request: Any) -> Any:
    async with grpc.aio.insecure_channel(f"unix:{service.query}") as channel:
        stub = persist_pb2_grpc.PersistServiceStub(channel)
        call = getattr(stub, method)(request)
        if method in ("QueryLogs", "QueryMetrics"):
            return [chunk async for chunk in call]
        return await call


async def logs(service: Service, **query: Any) -> list[pb.LogLine]:
    chunks = await stub_call(service, "QueryLogs", pb.LogQuery(**query))
    return [line for chunk in chunks for line in LogBlock.from_chunk(chunk)]


async def write(service: Service, job_id: str, lines: list[tuple[int, bytes, int]]) -> None:
    """(stream, content, timestamp) triples, logged and acknowledged."""
    async with PersistClient(service.ipc) as client:
        for stream, content, stamp in lines:
            await client.log(job_id, stream, content, timestamp=stamp)
        assert await client.flush(30)


async def test_streams_apart_and_merged_by_time(service: Service) -> None:
    await write(
        service,
        "merge-1",
        [(STDOUT, b"o1", 10), (STDERR, b"e1", 15), (STDOUT, b"o2", 20), (STDERR, b"e2", 25)],
    )
    assert [ln.content for ln in await logs(service, job_id="merge-1", stream=STDOUT)] == [
        b"o1",
        b"o2",
    ]
    assert [ln.content for ln in await logs(service, job_id="merge-1", stream=STDERR)] == [
        b"e1",
        b"e2",
    ]
    merged = await logs(service, job_id="merge-1")
    assert [(ln.stream, ln.content) for ln in merged] == [
        (STDOUT, b"o1"),
        (STDERR, b"e1"),
        (STDOUT, b"o2"),
        (STDERR, b"e2"),
    ]


async def test_filters_windows_and_time_ranges(service: Service) -> None:
    await write(
        service,
        "filter-1",
        [
            (STDOUT, b"line %d %s" % (i, b"ERROR" if i % 3 == 0 else b"ok"), 1000 + i)
            for i in range(1, 31)
        ],
    )
    errors = await logs(service, job_id="filter-1", filter="ERROR")
    assert [ln.sequence for ln in errors] == list(range(3, 31, 3))
    regex = await logs(service, job_id="filter-1", filter=r"line 1\d ", regex=True)
    assert [ln.sequence for ln in regex] == list(range(10, 20))
    window = await logs(service, job_id="filter-1", offset=5, limit=4)
    assert [ln.sequence for ln in window] == [6, 7, 8, 9]
    ranged = await logs(service, job_id="filter-1", start_time=1010, end_time=1015)
    assert [ln.sequence for ln in ranged] == [10, 11, 12, 13, 14]


async def test_lines_arrive_in_chunks_not_one_message_each(service: Service) -> None:
    total = 2 * CHUNK + CHUNK // 2
    await write(service, "chunks-1", [(STDOUT, b"x%d" % i, i) for i in range(1, total + 1)])
    chunks = await stub_call(service, "QueryLogs", pb.LogQuery(job_id="chunks-1"))
    assert [len(c.sizes) for c in chunks] == [CHUNK, CHUNK, CHUNK // 2]


async def test_long_lines_travel_in_chunks_of_bounded_bytes(service: Service) -> None:
    long = CHUNK_BYTES * 2 // 5
    lines = [(STDOUT, bytes([65 + i]) * long, i) for i in range(5)] + [
        (STDOUT, b"z" * (CHUNK_BYTES + 1), 9)
    ]
    await write(service, "long-1", lines)
    chunks = await stub_call(service, "QueryLogs", pb.LogQuery(job_id="long-1"))
    assert [len(c.sizes) for c in chunks] == [2, 2, 1, 1]  # the longest line goes alone
    assert all(len(c.contents) <= CHUNK_BYTES for c in chunks[:-1])
    got = [ln.content for c in chunks for ln in LogBlock.from_chunk(c)]
    assert got == [content for _, content, _ in lines]


async def test_follow_gives_history_then_live_lines_without_gap_or_repeat(
    service: Service,
) -> None:
    async with PersistClient(service.ipc) as client:
        for i in range(1, 501):
            await client.log("follow-1", STDOUT, b"%d" % i)
        assert await client.flush(30)

        async def follow() -> list[pb.LogLine]:
            return await logs(service, job_id="follow-1", follow=True)

        follower = asyncio.create_task(follow())
        for i in range(501, 1001):
            await client.log("follow-1", STDOUT if i % 2 else STDERR, b"%d" % i)
            if i % 100 == 0:
                await asyncio.sleep(0)
        client.end_job("follow-1")
        assert await client.flush(30)
        got = await asyncio.wait_for(follower, 30)
    stdout = [ln.sequence for ln in got if ln.stream == STDOUT]
    stderr = [ln.sequence for ln in got if ln.stream == STDERR]
    assert stdout == list(range(1, len(stdout) + 1)) and len(stdout) == 750
    assert stderr == list(range(1, len(stderr) + 1)) and len(stderr) == 250


async def test_metrics_raw_and_aggregated(service: Service) -> None:
    async with PersistClient(service.ipc) as client:
        for i in range(1, 11):
            await client.metric(
                pb.Metric(
                    job_id="metrics-1",
                    timestamp=i * 1_000_000_000,
                    cpu_percent=float(i),
                    memory_bytes=i * 100,
                )
            )
        assert await client.flush(30)
    raw = await stub_call(service, "QueryMetrics", pb.MetricQuery(job_id="metrics-1"))
    samples = [m for chunk in raw for m in chunk.metrics]
    assert [m.cpu_percent for m in samples] == [float(i) for i in range(1, 11)]
    expected = {"avg": 5.5, "min": 1.0, "max": 10.0, "sum": 55.0}
    for how, value in expected.items():
        folded = await stub_call(
            service, "QueryMetrics", pb.MetricQuery(job_id="metrics-1", aggregation=how)
        )
        (only,) = [m for chunk in folded for m in chunk.metrics]
        assert only.cpu_percent == value, how
    stepped = await stub_call(
        service,
        "QueryMetrics",
        pb.MetricQuery(
            job_id="metrics-1", aggregation="max", start_time=1_000_000_000, step=5_000_000_000
        ),
    )
    assert [m.cpu_percent for c in stepped for m in c.metrics] == [5.0, 10.0]


async def test_job_info_list_stats_delete(service: Service) -> None:
    await write(service, "info-1", [(STDOUT, b"abc", 100), (STDERR, b"de", 200)])
    info = await stub_call(service, "GetJobInfo", pb.JobRequest(job_id="info-1"))
    assert (info.stdout_lines, info.stderr_lines, info.stdout_bytes, info.stderr_bytes) == (
        1,
        1,
        3,
        2,
    )
    assert (info.first_time, info.last_time) == (100, 200)
    listed = await stub_call(service, "ListJobs", pb.ListJobsRequest())
    assert "info-1" in [j.job_id for j in listed.jobs]
    stats = await stub_call(service, "GetStats", pb.StatsRequest())
    assert stats.jobs >= 1 and stats.log_lines >= 2 and stats.stored_bytes > 0
    assert (await stub_call(service, "DeleteJob", pb.JobRequest(job_id="info-1"))).deleted
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub_call(service, "GetJobInfo", pb.JobRequest(job_id="info-1"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_bad_queries_are_invalid_arguments(service: Service) -> None:
    for request in (
        pb.LogQuery(job_id="../etc"),
        pb.LogQuery(job_id=""),
        pb.LogQuery(job_id="ok", filter="(", regex=True),
        pb.LogQuery(job_id="ok", stream=7),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub_call(service, "QueryLogs", request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub_call(service, "QueryMetrics", pb.MetricQuery(job_id="ok", aggregation="p99"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def raw_connection(service: Service) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(str(service.ipc))
    conn.settimeout(10)
    return conn


def test_oversized_and_undecodable_frames_leave_the_service_up(service: Service) -> None:
    bad = raw_connection(service)
    bad.sendall(struct.pack(">I", 134217728 + 1))
    assert bad.recv(1) == b"", "a frame over max_message_size closes that connection"
    bad.close()
    junk = raw_connection(service)
    line = pb.LogLine(job_id="junk-1", stream=STDOUT, content=b"kept", sequence=1, timestamp=1)
    good = pb.IPCMessage(type=pb.LOG, data=line.SerializeToString()).SerializeToString()
    junk.sendall(encode_frame(b"\xff\xff\xff not protobuf") + encode_frame(good))
    header = junk.recv(4)
    (size,) = struct.unpack(">I", header)
    ack_message = pb.IPCMessage.FromString(junk.recv(size))
    ack = pb.Ack.FromString(ack_message.data)
    assert [(a.job_id, a.stream, a.sequence) for a in ack.streams] == [("junk-1", STDOUT, 1)]
    junk.close()
    status, body = service.http("/metrics")
    assert status == 200
    assert re.search(r'persist_frames_rejected_total\{reason="undecodable"\} [1-9]', body)
    assert re.search(r'persist_frames_rejected_total\{reason="too_large"\} [1-9]', body)
    assert service.proc.poll() is None


def _send_chunk(conn: Any, chunk: bytes) -> list[tuple[str, int, int]]:
    """One LOG_BATCH frame; what the ACK that answers it names."""
    conn.sendall(encode_frame(pb.IPCMessage(type=pb.LOG_BATCH, data=chunk).SerializeToString()))
    (size,) = struct.unpack(">I", conn.recv(4))
    ack = pb.Ack.FromString(pb.IPCMessage.FromString(conn.recv(size)).data)
    return [(a.job_id, a.stream, a.sequence) for a in ack.streams]


async def test_malformed_chunks_are_skipped_and_bad_lines_refused(service: Service) -> None:
    conn = raw_connection(service)
    lying = LogBlock("cols-1", b"\x01\x01", [1, 2], [1, 2], [3, 3], b"abc").encode()
    assert _send_chunk(conn, lying) == []  # sizes add up to 6, contents hold 3 bytes
    short = LogBlock("cols-1", b"\x01", [1, 2], [1, 2], [1, 2], b"abc").encode()
    assert _send_chunk(conn, short) == []  # two timestamps for one stream byte
    mixed = LogBlock.of_contents(
        "cols-1",
        b"\x01\x02\x07\x01\x02",  # stdout, stderr, no such stream, stdout, stderr
        [10, 11, 12, 13, 14],
        [1, 1, 1, 0, 2],  # the second stdout line has sequence 0: refused
        [b"o1", b"e1", b"x", b"o0", b"e2"],
    ).encode()
    assert sorted(_send_chunk(conn, mixed)) == [("cols-1", STDOUT, 1), ("cols-1", STDERR, 2)]
    conn.close()
    stored = await logs(service, job_id="cols-1")
    assert [(ln.stream, ln.content) for ln in stored] == [
        (STDOUT, b"o1"),
        (STDERR, b"e1"),
        (STDERR, b"e2"),
    ]
    _, body = service.http("/metrics")
    for reason in ("undecodable", "bad_stream", "bad_sequence"):
        assert re.search(rf'persist_frames_rejected_total\{{reason="{reason}"\}} [1-9]', body)


async def test_the_client_cuts_runs_into_frames_by_lines_and_bytes(service: Service) -> None:
    contents = [b"%09d" % i for i in range(30)] + [b"L" * 100] + [b"%09d" % i for i in range(5)]
    before = (await stub_call(service, "GetStats", pb.StatsRequest())).messages_received
    async with PersistClient(service.ipc, batch_lines=7, max_frame_bytes=64) as client:
        await client.log_many("cut-1", STDOUT, contents[:20])
        await client.log_many("cut-2", STDOUT, [b"other"])
        await client.log_many("cut-1", STDOUT, contents[20:])
        assert await client.flush(30)
        assert client.stats()["unacked"] == 0
    frames = (await stub_call(service, "GetStats", pb.StatsRequest())).messages_received - before
    # cut-1's first run: 7 + 7 + 6 lines; cut-2: 1; then at most 6 lines (60 bytes) a frame,
    # and the long line alone: at least 8 frames
    assert frames >= 8
    stored = await logs(service, job_id="cut-1", stream=STDOUT)
    assert [ln.content for ln in stored] == contents
    assert [ln.sequence for ln in stored] == list(range(1, len(contents) + 1))


def test_crafted_job_ids_are_refused_and_nothing_lands_outside(service: Service) -> None:
    conn = raw_connection(service)
    crafted = ("../escape", "/abs/path", "nul\x00id", "", "a/b")
    for job_id in crafted:
        chunk = LogBlock.of_contents(job_id, b"\x01", [1], [1], [b"x"]).encode()
        conn.sendall(encode_frame(pb.IPCMessage(type=pb.LOG_BATCH, data=chunk).SerializeToString()))
        (size,) = struct.unpack(">I", conn.recv(4))  # each frame answered before the next
        ack = pb.Ack.FromString(pb.IPCMessage.FromString(conn.recv(size)).data)
        assert list(ack.streams) == []
    conn.close()
    outside = [p for p in service.root.parent.glob("escape*")] + list(Path("/abs").glob("*"))
    assert outside == []
    _, body = service.http("/metrics")
    assert re.search(r'persist_frames_rejected_total\{reason="bad_job_id"\} [5-9]', body)


def test_metrics_and_health_endpoints(service: Service) -> None:
    _, body = service.http("/metrics")
    for name in (
        "persist_ipc_messages_received_total",
        "persist_log_lines_stored_total",
        "persist_write_latency_seconds_bucket",
        "persist_query_requests_total",
        "persist_duplicates_dropped_total",
        "persist_storage_bytes",
    ):
        assert name in body, name
    assert service.http("/health") == (200, "ok\n")


def test_health_fails_while_storage_is_not_writable(sock_dir: Path) -> None:
    """Root ignores file modes, so storage is broken the way a disk would: a file in the way."""
    own = Service(sock_dir / "own")
    try:
        assert own.http("/health") == (200, "ok\n")
        metrics_dir = own.data / "metrics"
        shutil.rmtree(metrics_dir)
        metrics_dir.write_text("in the way")
        status, body = own.http("/health")
        assert status == 503
        assert body.startswith("unhealthy: ") and str(metrics_dir) in body
        metrics_dir.unlink()
        assert own.http("/health") == (200, "ok\n")
        assert own.proc.poll() is None
    finally:
        stop(own.proc)


async def test_nothing_may_follow_the_end_of_a_job(service: Service) -> None:
    async with PersistClient(service.ipc) as client:
        await client.log("ended-1", STDOUT, b"last words")
        client.end_job("ended-1")
        with pytest.raises(ValueError, match="ended-1: its output was ended"):
            await client.log("ended-1", STDOUT, b"too late")
        with pytest.raises(ValueError, match="ended-1: its output was ended"):
            await client.metric(pb.Metric(job_id="ended-1", cpu_percent=1.0))
        assert await client.flush(30)
    assert [ln.content for ln in await logs(service, job_id="ended-1")] == [b"last words"]
