"""The local-files persist backend, on real files: layout, crash safety, the index,
rotation, retention, descriptors, hostile ids, reads, and every config key."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joblet_cluster.common.config import (
    PersistDirConfig,
    PersistLocalConfig,
    PersistStorageConfig,
    RetentionConfig,
    RotationConfig,
)
from joblet_cluster.common.errors import ConfigError, InvalidInput
from joblet_cluster.persist.backends import _local_format as fmt
from joblet_cluster.persist.backends import _local_read as rd
from joblet_cluster.persist.backends._base import METRICS, STDERR, STDOUT
from joblet_cluster.persist.backends._block import LogBlock
from joblet_cluster.persist.backends._local import LocalBackend
from joblet_cluster.proto.persist_pb2 import LogLine, Metric

T0 = 1_790_000_000_000_000_000  # ns, in 2026
DAY = 86_400 * 10**9
METRIC_FIELDS = [field.name for field in Metric.DESCRIPTOR.fields]


def storage(base: Path, **local: Any) -> PersistStorageConfig:
    return PersistStorageConfig(base_dir=str(base), local=PersistLocalConfig(**local))


@contextlib.asynccontextmanager
async def opened(config: PersistStorageConfig) -> AsyncIterator[LocalBackend]:
    backend = LocalBackend(config)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "base"


@pytest.fixture
async def backend(base: Path) -> AsyncIterator[LocalBackend]:
    async with opened(storage(base)) as ready:
        yield ready


def make_lines(
    job: str,
    stream: int,
    count: int,
    first: int = 1,
    t0: int = T0,
    step: int = 1000,
    content: bytes | None = None,
) -> list[LogLine]:
    return [
        LogLine(
            job_id=job,
            stream=stream,
            content=content if content is not None else f"{job} line {seq}".encode(),
            timestamp=t0 + (seq - 1) * step,
            sequence=seq,
        )
        for seq in range(first, first + count)
    ]


def make_samples(job: str, count: int, first: int = 1, t0: int = T0) -> list[Metric]:
    return [
        Metric(
            job_id=job,
            timestamp=t0 + (seq - 1) * 10**9,
            cpu_percent=12.5,
            memory_bytes=seq * 1024,
            sequence=seq,
        )
        for seq in range(first, first + count)
    ]


async def read_all(
    backend: LocalBackend, job: str, stream: int = STDOUT, start: int = 0, end: int = 0
) -> list[LogLine]:
    return [line async for chunk in backend.read_logs(job, stream, start, end) for line in chunk]


async def read_samples(
    backend: LocalBackend, job: str, start: int = 0, end: int = 0
) -> list[Metric]:
    return [s async for chunk in backend.read_metrics(job, start, end) for s in chunk]


def records(path: Path) -> list[dict[str, Any]]:
    """What a plain gzip reader finds in a file: one JSON object per line."""
    return [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def disk(folder: Path, pattern: str) -> int:
    """Bytes of the files under ``folder`` that match ``pattern``."""
    return sum(p.stat().st_size for p in folder.glob(pattern))


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def keys(lines: list[LogLine]) -> list[tuple[int, int, bytes]]:
    return [(line.stream, line.sequence, line.content) for line in lines]


def run_python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# -- layout and format ---------------------------------------------------------------------


async def test_layout_is_one_folder_per_job_with_streams_apart(
    backend: LocalBackend, base: Path
) -> None:
    await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 3)))
    await backend.write_logs("job-1", STDERR, LogBlock.of("job-1", make_lines("job-1", STDERR, 2)))
    await backend.write_metrics("job-1", make_samples("job-1", 2))

    assert names(base / "logs" / "job-1") == ["stderr.log.gz", "stdout.log.gz"]
    assert names(base / "metrics" / "job-1") == ["metrics.jsonl.gz"]
    assert [r["stream"] for r in records(base / "logs" / "job-1" / "stdout.log.gz")] == [
        "stdout"
    ] * 3
    assert [r["stream"] for r in records(base / "logs" / "job-1" / "stderr.log.gz")] == [
        "stderr"
    ] * 2


async def test_a_log_record_is_snake_case_json_with_times_in_ns(
    backend: LocalBackend, base: Path
) -> None:
    line = LogLine(job_id="job-1", stream=STDOUT, content=b"hello \xc3\xa9", timestamp=T0 + 7)
    line.sequence = 1
    await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", [line]))

    assert records(base / "logs" / "job-1" / "stdout.log.gz") == [
        {
            "job_id": "job-1",
            "stream": "stdout",
            "timestamp": T0 + 7,
            "sequence": 1,
            "content": "hello é",
        }
    ]


async def test_a_metric_record_holds_every_field(backend: LocalBackend, base: Path) -> None:
    sample = Metric()
    for number, name in enumerate(METRIC_FIELDS, start=1):
        if name == "job_id":
            sample.job_id = "job-1"
        elif name in ("cpu_percent", "gpu_percent"):
            setattr(sample, name, number + 0.25)
        else:
            setattr(sample, name, T0 + number if name == "timestamp" else number)
    await backend.write_metrics("job-1", [sample])

    (record,) = records(base / "metrics" / "job-1" / "metrics.jsonl.gz")
    assert sorted(record) == sorted(METRIC_FIELDS)
    assert record == {name: getattr(sample, name) for name in METRIC_FIELDS}
    assert await read_samples(backend, "job-1") == [sample]


async def test_binary_lines_are_stored_base64_and_round_trip(
    backend: LocalBackend, base: Path
) -> None:
    contents = [b"text", b"\xff\xfe\x00 not utf-8", b"", b'tab\tand "quotes" and \\', b"\x80"]
    lines = [
        LogLine(job_id="job-1", stream=STDERR, content=c, timestamp=T0 + i, sequence=i + 1)
        for i, c in enumerate(contents)
    ]
    await backend.write_logs("job-1", STDERR, LogBlock.of("job-1", lines))

    stored = records(base / "logs" / "job-1" / "stderr.log.gz")
    assert "content_b64" in stored[1] and "content" not in stored[1]
    assert stored[0]["content"] == "text"
    assert [line.content for line in await read_all(backend, "job-1", STDERR)] == contents


@settings(max_examples=60, deadline=None)
@given(contents=st.lists(st.binary(max_size=64) | st.text(max_size=32).map(str.encode), min_size=1))
def test_any_content_survives_encoding(contents: list[bytes]) -> None:
    lines = [
        LogLine(job_id="j", stream=STDOUT, content=c, timestamp=T0 + i, sequence=i + 1)
        for i, c in enumerate(contents)
    ]
    payload, size, (low, high) = fmt.encode_logs("j", "stdout", LogBlock.of("j", lines))
    assert payload.count(b"\n") == len(lines)
    if all(fmt._text(c) is not None for c in contents):  # the column-wise writer: as orjson
        assert payload == b"".join(
            orjson.dumps(
                {
                    "job_id": "j",
                    "stream": "stdout",
                    "timestamp": line.timestamp,
                    "sequence": line.sequence,
                    "content": line.content.decode(),
                }
            )
            + b"\n"
            for line in lines
        )
    assert size == sum(map(len, contents))
    assert (low, high) == (T0, T0 + len(lines) - 1)
    found = fmt.Member(0, 0, len(lines), size, 1, len(lines), low, high)
    assert list(fmt.log_block(payload, "j", STDOUT, 0, 0, found)) == lines


async def test_a_write_is_in_the_file_when_it_returns(backend: LocalBackend, base: Path) -> None:
    await backend.write_logs(
        "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 100))
    )
    # Read by a plain gzip reader while the backend still holds the file open.
    stored = records(base / "logs" / "job-1" / "stdout.log.gz")
    assert [r["sequence"] for r in stored] == list(range(1, 101))


async def test_each_batch_is_its_own_gzip_member(backend: LocalBackend, base: Path) -> None:
    path = base / "logs" / "job-1" / "stdout.log.gz"
    sizes = []
    for first in (1, 11, 21):
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 10, first))
        )
        sizes.append(path.stat().st_size)
    data = path.read_bytes()
    # Every prefix ending at a batch boundary is a complete gzip file on its own.
    for count, size in zip((10, 20, 30), sizes, strict=True):
        assert gzip.decompress(data[:size]).count(b"\n") == count


# -- crash safety --------------------------------------------------------------------------


def _lines_in_members(path: Path, limit: int) -> int:
    """Lines of the members wholly inside the first ``limit`` bytes (walking by header)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        total, offset, size = 0, 0, os.fstat(fd).st_size
        while (found := fmt.next_member(fd, offset, size, "x")) is not None:
            if found.offset + found.size > limit:
                break
            total += found.records
            offset = found.offset + found.size
        return total
    finally:
        os.close(fd)


async def test_a_torn_tail_at_any_byte_is_ignored_by_the_reader(
    base: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with opened(storage(base)) as backend:
        for first in range(1, 31, 10):
            await backend.write_logs(
                "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 10, first))
            )
    original = (base / "logs" / "job-1" / "stdout.log.gz").read_bytes()
    torn = tmp_path / "torn.gz"
    caplog.set_level(logging.WARNING, "joblet.persist.local")
    for cut in range(len(original) + 1):  # every byte offset of the file
        torn.write_bytes(original[:cut])
        fd = os.open(torn, os.O_RDONLY)
        try:
            got = [
                line
                for found, payload in fmt.payloads(fd, cut, str(torn))
                for line in fmt.log_block(payload, "job-1", STDOUT, 0, 0, found)
            ]
        finally:
            os.close(fd)
        expected = _lines_in_members(base / "logs" / "job-1" / "stdout.log.gz", cut)
        assert [line.sequence for line in got] == list(range(1, expected + 1)), cut
    assert "torn or unreadable tail" in caplog.text


@pytest.mark.parametrize("where", ["header", "body", "trailer", "boundary", "first byte"])
async def test_after_a_torn_write_the_job_reopens_cut_and_appendable(
    base: Path, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = base / "logs" / "job-1" / "stdout.log.gz"
    async with opened(storage(base)) as backend:
        sizes = []
        for first in range(1, 41, 10):
            await backend.write_logs(
                "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 10, first))
            )
            sizes.append(path.stat().st_size)
    # A kill in the middle of writing the fourth batch leaves part of its member.
    start, end = sizes[2], sizes[3]
    cut = {
        "header": start + 30,
        "body": (start + end) // 2,
        "trailer": end - 3,
        "boundary": start,
        "first byte": start + 1,
    }[where]
    with path.open("r+b") as file:
        file.truncate(cut)

    caplog.set_level(logging.WARNING, "joblet.persist.local")
    async with opened(storage(base)) as backend:
        assert await backend.last_sequence("job-1", STDOUT) == 30
        assert [line.sequence for line in await read_all(backend, "job-1")] == list(range(1, 31))
        info = await backend.job_info("job-1")
        assert info is not None and info.stdout_lines == 30
        # The node resends what was not acknowledged: it lands after the cut, readable.
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 10, 31))
        )
        assert [line.sequence for line in await read_all(backend, "job-1")] == list(range(1, 41))
    assert gzip.decompress(path.read_bytes()).count(b"\n") == 40  # no garbage left inside
    if where != "boundary":
        assert "torn" in caplog.text


async def test_a_damaged_member_in_the_middle_is_skipped_not_the_rest(
    backend: LocalBackend, base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = base / "logs" / "job-1" / "stdout.log.gz"
    sizes = []
    for first in range(1, 31, 10):
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 10, first))
        )
        sizes.append(path.stat().st_size)
    data = bytearray(path.read_bytes())
    data[(sizes[0] + sizes[1]) // 2] ^= 0xFF  # one flipped byte inside the second member
    path.write_bytes(bytes(data))

    caplog.set_level(logging.WARNING, "joblet.persist.local")
    got = [line.sequence for line in await read_all(backend, "job-1")]
    assert got == list(range(1, 11)) + list(range(21, 31))
    assert "damaged member" in caplog.text


_KILLED_WRITER = """
    import asyncio, os, signal, sys
    from joblet_cluster.common.config import PersistStorageConfig
    from joblet_cluster.persist.backends import LogBlock, _local
    from joblet_cluster.proto.persist_pb2 import LogLine, Metric

    T0 = 1_790_000_000_000_000_000

    def lines(stream, first, count):
        return [LogLine(job_id="job-1", stream=stream, content=b"x" * 50, timestamp=T0 + s,
                        sequence=s) for s in range(first, first + count)]

    async def main():
        backend = _local.LocalBackend(PersistStorageConfig(base_dir=sys.argv[1]))
        await backend.open()
        _local.INDEX_SAVE_SECONDS = 0  # the index is saved after the first batch...
        await backend.write_logs("job-1", 1, LogBlock.of("job-1", lines(1, 1, 100)))
        _local.INDEX_SAVE_SECONDS = 1e9  # ...and never again: stale when the kill comes
        for first in range(101, 1001, 100):
            await backend.write_logs("job-1", 1, LogBlock.of("job-1", lines(1, first, 100)))
            await backend.write_logs("job-1", 2, LogBlock.of("job-1", lines(2, first // 2, 50)))
        await backend.write_metrics("job-1", [Metric(job_id="job-1", timestamp=T0 + s,
                                                     sequence=s) for s in range(1, 8)])
        await backend.write_logs("job-2", 1, LogBlock.of("job-2", lines(1, 1, 5)))
        # and the kill lands in the middle of the next batch's write: half a member
        with open(backend.logs_dir / "job-1" / "stdout.log.gz", "ab") as torn:
            torn.write(_local.fmt.member(b"{}\\n" * 50, 6, 50, 0, (1001, 1050), (T0, T0))[:40])
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main())
"""


async def test_last_sequence_is_exact_after_sigkill_with_a_stale_index(
    base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    done = run_python(_KILLED_WRITER, str(base))
    assert done.returncode == -signal.SIGKILL, done.stderr
    index = orjson.loads((base / "job_index.json").read_bytes())
    assert index["jobs"]["job-1"]["stdout"]["last_sequence"] == 100  # stale, as intended

    caplog.set_level(logging.INFO, "joblet.persist.local")
    async with opened(storage(base)) as backend:
        assert await backend.last_sequence("job-1", STDOUT) == 1000
        assert await backend.last_sequence("job-1", STDERR) == 50 * 9 + 50 - 1
        assert await backend.last_sequence("job-1", METRICS) == 7
        assert await backend.last_sequence("job-2", STDOUT) == 5  # not in the index at all
        info = await backend.job_info("job-1")
        assert info is not None
        assert (info.stdout_lines, info.stderr_lines, info.metric_samples) == (1000, 450, 7)
        assert (info.stdout_bytes, info.first_time, info.last_time) == (50_000, T0 + 1, T0 + 1000)
        assert len(await read_all(backend, "job-1", 0)) == 1450
    assert "recounting" in caplog.text
    assert "cutting 40 bytes of torn data" in caplog.text


async def test_after_a_clean_close_the_index_answers_without_reading_logs(
    base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with opened(storage(base)) as backend:
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 25))
        )
        await backend.write_metrics("job-1", make_samples("job-1", 3))
    # Blank the log file, keeping its size, inode and mtime: only the index knows its lines.
    path = base / "logs" / "job-1" / "stdout.log.gz"
    info = path.stat()
    path.write_bytes(bytes(info.st_size))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))

    caplog.set_level(logging.INFO, "joblet.persist.local")
    async with opened(storage(base)) as backend:
        assert await backend.last_sequence("job-1", STDOUT) == 25
        assert await backend.last_sequence("job-1", METRICS) == 3
        summary = await backend.job_info("job-1")
        assert summary is not None and summary.stdout_lines == 25
    assert "recounting" not in caplog.text


async def test_the_index_is_replaced_atomically_and_holds_the_counts(base: Path) -> None:
    async with opened(storage(base)) as backend:
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 4, content=b"abc"))
        )
        await backend.write_logs(
            "job-1", STDERR, LogBlock.of("job-1", make_lines("job-1", STDERR, 2, content=b"de"))
        )
        await backend.write_metrics("job-1", make_samples("job-1", 3))
    assert names(base) == ["job_index.json", "logs", "metrics"]
    job = orjson.loads((base / "job_index.json").read_bytes())["jobs"]["job-1"]
    assert {k: job["stdout"][k] for k in ("last_sequence", "lines", "bytes", "first_time")} == {
        "last_sequence": 4,
        "lines": 4,
        "bytes": 12,
        "first_time": T0,
    }
    assert job["stdout"]["last_time"] == T0 + 3000
    assert (job["stderr"]["lines"], job["stderr"]["bytes"], job["stderr"]["last_sequence"]) == (
        2,
        4,
        2,
    )
    assert (job["metrics"]["lines"], job["metrics"]["last_sequence"]) == (3, 3)


async def test_a_lost_or_corrupt_index_is_rebuilt_from_the_files(base: Path) -> None:
    async with opened(storage(base)) as backend:
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 7))
        )
        await backend.write_metrics("job-2", make_samples("job-2", 2))
    for damage in (b"{not json", None):
        if damage is None:
            (base / "job_index.json").unlink()
        else:
            (base / "job_index.json").write_bytes(damage)
        async with opened(storage(base)) as backend:
            assert [j.job_id for j in await backend.list_jobs()] == ["job-1", "job-2"]
            assert await backend.last_sequence("job-1", STDOUT) == 7
            assert await backend.last_sequence("job-2", METRICS) == 2


# -- rotation ------------------------------------------------------------------------------


@pytest.mark.parametrize("max_files", [0, 1, 2])
async def test_rotation_by_size_keeps_max_files_and_reads_in_order(
    base: Path, max_files: int
) -> None:
    config = storage(
        base,
        compression_level=1,
        rotation=RotationConfig(max_size_mb=1, max_files=max_files),
    )
    folder = base / "logs" / "job-1"
    rng_content = [os.urandom(700) for _ in range(200)]  # ~1 MB stored per 1,400 lines
    written = 0
    async with opened(config) as backend:
        for _ in range(35):  # ~5 MB: enough for four rotations
            batch = [
                LogLine(
                    job_id="job-1",
                    stream=STDOUT,
                    content=rng_content[(written + i) % 200],
                    timestamp=T0 + written + i,
                    sequence=written + i + 1,
                )
                for i in range(200)
            ]
            await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", batch))
            written += 200
            assert all(disk(folder, name) < 1024 * 1024 + 300_000 for name in names(folder))
        rolled = set(names(folder)) - {"stdout.log.gz"}
        assert rolled == {f"stdout.log.{n}.gz" for n in range(1, max_files + 1)}
        got = [line.sequence for line in await read_all(backend, "job-1")]
        # What is left is the newest lines, in order, with no gap up to the last one.
        assert got == list(range(written - len(got) + 1, written + 1))
        info = await backend.job_info("job-1")
        assert info is not None and info.stdout_lines == len(got)
        assert await backend.last_sequence("job-1", STDOUT) == written
        assert await backend.stored_bytes() == disk(folder, "*")
    async with opened(config) as backend:  # the index agrees with a recount after restart
        assert await backend.last_sequence("job-1", STDOUT) == written
        info = await backend.job_info("job-1")
        assert info is not None and info.stdout_lines == len(got)


async def test_rotation_off_when_max_size_is_zero(base: Path) -> None:
    config = storage(base, rotation=RotationConfig(max_size_mb=0, max_files=1))
    async with opened(config) as backend:
        payload = os.urandom(900)
        for first in range(1, 3001, 500):
            await backend.write_logs(
                "job-1",
                STDOUT,
                LogBlock.of("job-1", make_lines("job-1", STDOUT, 500, first, content=payload)),
            )
    assert names(base / "logs" / "job-1") == ["stdout.log.gz"]


async def test_a_query_running_across_a_rotation_sees_a_consistent_snapshot(base: Path) -> None:
    config = storage(base, compression_level=1, rotation=RotationConfig(max_size_mb=1))
    blob = os.urandom(900)
    async with opened(config) as backend:
        for first in range(1, 5001, 500):
            await backend.write_logs(
                "job-1",
                STDOUT,
                LogBlock.of("job-1", make_lines("job-1", STDOUT, 500, first, content=blob)),
            )
        reader = backend.read_logs("job-1", STDOUT)
        seen = [line.sequence for line in await anext(reader)]
        for first in range(5001, 8001, 500):  # rolls files under the open query
            await backend.write_logs(
                "job-1",
                STDOUT,
                LogBlock.of("job-1", make_lines("job-1", STDOUT, 500, first, content=blob)),
            )
        seen += [line.sequence async for chunk in reader for line in chunk]
        assert seen == list(range(1, 5001))


# -- retention -----------------------------------------------------------------------------


async def test_retention_drops_old_logs_and_old_metrics_separately(base: Path) -> None:
    config = storage(base, retention=RetentionConfig(logs_days=7, metrics_days=30))
    now = T0 + 100 * DAY
    async with opened(config) as backend:
        # old-logs: logs 10 days old, metrics 2 days old; fresh: both new; ancient: both old
        await backend.write_logs(
            "old-logs",
            STDOUT,
            LogBlock.of("old-logs", make_lines("old-logs", STDOUT, 5, t0=now - 10 * DAY)),
        )
        await backend.write_metrics("old-logs", make_samples("old-logs", 2, t0=now - 2 * DAY))
        await backend.write_logs(
            "fresh", STDERR, LogBlock.of("fresh", make_lines("fresh", STDERR, 5, t0=now - 6 * DAY))
        )
        await backend.write_metrics("fresh", make_samples("fresh", 2, t0=now - 29 * DAY))
        await backend.write_logs(
            "ancient",
            STDOUT,
            LogBlock.of("ancient", make_lines("ancient", STDOUT, 5, t0=now - 40 * DAY)),
        )
        await backend.write_metrics("ancient", make_samples("ancient", 2, t0=now - 31 * DAY))
        sizes = {job: disk(base, f"*/{job}/*") for job in ("old-logs", "ancient")}
        logs_of_old = disk(base / "logs" / "old-logs", "*")
        before = await backend.stored_bytes()

        result = await backend.cleanup(now)

        assert sorted(result.removed) == ["ancient", "old-logs"]
        assert result.jobs_removed == 2
        assert result.bytes_freed == sizes["ancient"] + logs_of_old
        assert await backend.stored_bytes() == before - result.bytes_freed
        assert await backend.job_info("ancient") is None
        assert not (base / "logs" / "ancient").exists()
        assert not (base / "metrics" / "ancient").exists()
        kept = await backend.job_info("old-logs")
        assert kept is not None and (kept.stdout_lines, kept.metric_samples) == (0, 2)
        assert not (base / "logs" / "old-logs").exists()
        fresh = await backend.job_info("fresh")
        assert fresh is not None and (fresh.stderr_lines, fresh.metric_samples) == (5, 2)
        assert (await backend.cleanup(now)).jobs_removed == 0
    async with opened(config) as backend:  # and the index remembers it
        assert [j.job_id for j in await backend.list_jobs()] == ["fresh", "old-logs"]


async def test_retention_of_zero_days_keeps_forever(base: Path) -> None:
    config = storage(base, retention=RetentionConfig(logs_days=0, metrics_days=0))
    async with opened(config) as backend:
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 2, t0=1))
        )
        await backend.write_metrics("job-1", make_samples("job-1", 2, t0=1))
        result = await backend.cleanup(T0 + 10_000 * DAY)
        assert (result.jobs_removed, result.bytes_freed, result.removed) == (0, 0, [])
        assert len(await read_all(backend, "job-1")) == 2


# -- config keys ---------------------------------------------------------------------------


async def test_logs_and_metrics_directories_replace_the_defaults(tmp_path: Path) -> None:
    config = PersistStorageConfig(
        base_dir=str(tmp_path / "base"),
        local=PersistLocalConfig(
            logs=PersistDirConfig(directory=str(tmp_path / "elsewhere" / "L")),
            metrics=PersistDirConfig(directory=str(tmp_path / "M")),
        ),
    )
    async with opened(config) as backend:
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 3))
        )
        await backend.write_metrics("job-1", make_samples("job-1", 1))
        assert len(await read_all(backend, "job-1")) == 3
    assert (tmp_path / "elsewhere" / "L" / "job-1" / "stdout.log.gz").is_file()
    assert (tmp_path / "M" / "job-1" / "metrics.jsonl.gz").is_file()
    assert names(tmp_path / "base") == ["job_index.json"]


async def test_compression_level_is_what_zlib_gets(tmp_path: Path) -> None:
    text = b"the same words again and again, the same words " * 4
    sizes = {}
    for level in (0, 1, 9):
        base = tmp_path / str(level)
        async with opened(storage(base, compression_level=level)) as backend:
            await backend.write_logs(
                "job-1",
                STDOUT,
                LogBlock.of("job-1", make_lines("job-1", STDOUT, 2000, content=text)),
            )
            assert len(await read_all(backend, "job-1")) == 2000
        sizes[level] = (base / "logs" / "job-1" / "stdout.log.gz").stat().st_size
    raw = 2000 * len(text)
    assert sizes[0] > raw  # level 0 stores: bigger than the content itself
    assert sizes[9] < sizes[1] < raw / 10


@pytest.mark.parametrize(
    "local",
    [
        {"compression_level": 10},
        {"compression_level": -2},
        {"max_open_files": 0},
        {"rotation": RotationConfig(max_size_mb=-1)},
        {"rotation": RotationConfig(max_files=-1)},
        {"retention": RetentionConfig(logs_days=-1)},
        {"retention": RetentionConfig(metrics_days=-1)},
        {"logs": PersistDirConfig(format="jsonl")},  # type: ignore[arg-type]
        {"metrics": PersistDirConfig(format="parquet")},  # type: ignore[arg-type]
    ],
)
def test_bad_values_are_config_errors(tmp_path: Path, local: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"persist\.storage\.local\."):
        LocalBackend(storage(tmp_path, **local))


async def test_use_before_open_is_refused_and_close_is_safe(base: Path) -> None:
    backend = LocalBackend(storage(base))
    with pytest.raises(RuntimeError, match="before open"):
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 1))
        )
    await backend.close()
    await backend.close()
    assert tree(base.parent) == []


def _open_descriptors(under: Path) -> int:
    """Descriptors of this process open on files below ``under`` (other tests' sockets and
    threads come and go, so counting every descriptor would be noise)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(under)):
            count += 1
    return count


async def test_max_open_files_bounds_descriptors(base: Path) -> None:
    async with opened(storage(base, max_open_files=8)) as backend:
        before = _open_descriptors(base)
        for round_ in range(2):
            for job in range(60):
                await backend.write_logs(
                    f"job-{job}",
                    STDOUT,
                    LogBlock.of(f"job-{job}", make_lines(f"job-{job}", STDOUT, 1, round_ + 1)),
                )
                assert _open_descriptors(base) - before <= 8
        for job in range(60):
            assert [line.sequence for line in await read_all(backend, f"job-{job}")] == [1, 2]
    assert _open_descriptors(base) <= before


_MANY_JOBS = """
    import asyncio, os, resource, sys
    from joblet_cluster.common.config import PersistStorageConfig
    from joblet_cluster.persist.backends import LogBlock
    from joblet_cluster.persist.backends._local import LocalBackend
    from joblet_cluster.proto.persist_pb2 import LogLine, Metric

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    JOBS = 10_000

    async def write(job, j, seq):
        stream = 1 + (j + seq) % 2  # one line on each stream, the two rounds apart
        line = LogLine(job_id=job, stream=stream, content=b"x", timestamp=seq, sequence=1)
        await backend.write_logs(job, stream, LogBlock.of(job, [line]))
        await backend.write_metrics(job, [Metric(job_id=job, timestamp=seq, sequence=seq)])

    async def check(job):
        lines = [l async for c in backend.read_logs(job, 0) for l in c]
        samples = [s async for c in backend.read_metrics(job) for s in c]
        assert len(lines) == 2 and len(samples) == 2, (job, lines, samples)

    async def main():
        global backend
        backend = LocalBackend(PersistStorageConfig(base_dir=sys.argv[1]))  # max_open_files 256
        await backend.open()
        peak = 0
        for seq in (1, 2):
            for group in range(0, JOBS, 100):  # 100 jobs in flight at a time, in job order
                jobs = range(group, group + 100)
                await asyncio.gather(*(write(f"job-{j}", j, seq) for j in jobs))
                peak = max(peak, len(os.listdir("/proc/self/fd")))
        for group in range(0, JOBS, 100):
            await asyncio.gather(*(check(f"job-{j}") for j in range(group, group + 100)))
            peak = max(peak, len(os.listdir("/proc/self/fd")))
        assert len(await backend.list_jobs()) == JOBS
        await backend.close()
        print("ok", peak, backend.max_open_files)

    asyncio.run(main())
"""


@pytest.mark.slow
def test_ten_thousand_interleaved_jobs_fit_in_256_descriptors(tmp_path: Path) -> None:
    done = run_python(_MANY_JOBS, str(tmp_path / "base"))
    assert done.returncode == 0, done.stderr[-3000:]
    word, peak, budget = done.stdout.split()
    assert word == "ok" and int(peak) < 256 and int(budget) <= 128


# -- hostile ids ---------------------------------------------------------------------------

CRAFTED = ["../x", "../../etc/passwd", "/abs", "/tmp/x", "a\x00b", "", "..", ".", "x/y", "a/../b"]


@pytest.mark.parametrize("job_id", CRAFTED)
async def test_crafted_ids_are_refused_and_nothing_lands_outside(
    tmp_path: Path, job_id: str
) -> None:
    base = tmp_path / "deep" / "base"
    line = LogLine(job_id=job_id, stream=STDOUT, content=b"x", timestamp=1, sequence=1)
    async with opened(storage(base)) as backend:
        calls = [
            backend.write_logs(job_id, STDOUT, LogBlock.of(job_id, [line])),
            backend.write_metrics(job_id, [Metric(job_id=job_id, timestamp=1, sequence=1)]),
            backend.last_sequence(job_id, STDOUT),
            backend.job_info(job_id),
            backend.delete_job(job_id),
        ]
        for call in calls:
            with pytest.raises(InvalidInput):
                await call
        with pytest.raises(InvalidInput):
            backend.read_logs(job_id, STDOUT)
        with pytest.raises(InvalidInput):
            backend.read_metrics(job_id)
    assert tree(tmp_path) == ["deep", "deep/base", "deep/base/logs", "deep/base/metrics"]


async def test_bad_stream_numbers_are_refused(backend: LocalBackend) -> None:
    with pytest.raises(InvalidInput):
        await backend.write_logs(
            "job-1", METRICS, LogBlock.of("job-1", make_lines("job-1", STDOUT, 1))
        )
    with pytest.raises(InvalidInput):
        await backend.write_logs("job-1", 0, LogBlock.of("job-1", make_lines("job-1", STDOUT, 1)))
    with pytest.raises(InvalidInput):
        await backend.last_sequence("job-1", 4)
    with pytest.raises(InvalidInput):
        backend.read_logs("job-1", METRICS)


# -- reads ---------------------------------------------------------------------------------


async def test_reads_come_in_whole_chunks_in_sequence_order(backend: LocalBackend) -> None:
    total = 2 * rd.CHUNK + rd.CHUNK // 2
    await backend.write_logs(
        "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 700))
    )
    await backend.write_logs(
        "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, total - 700, 701))
    )
    sizes = [len(chunk) async for chunk in backend.read_logs("job-1", STDOUT)]
    assert sizes == [rd.CHUNK, rd.CHUNK, rd.CHUNK // 2]
    got = await read_all(backend, "job-1")
    assert got == make_lines("job-1", STDOUT, total)


async def test_both_streams_merge_by_time_stdout_first_on_ties(backend: LocalBackend) -> None:
    # stdout at 0, 10, 20, ...; stderr at 0, 5, 10, 15, ...: ties every 10
    out = make_lines("job-1", STDOUT, 6000, step=10)
    err = make_lines("job-1", STDERR, 10000, step=5)
    for at in range(0, 6000, 300):
        await backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", out[at : at + 300]))
    for at in range(0, 10000, 700):
        await backend.write_logs("job-1", STDERR, LogBlock.of("job-1", err[at : at + 700]))
    got = await read_all(backend, "job-1", 0)
    assert len(got) == 16000
    expected = sorted(out + err, key=lambda ln: (ln.timestamp, ln.stream, ln.sequence))
    assert keys(got) == keys(expected)
    sizes = [len(c) async for c in backend.read_logs("job-1", 0)]
    assert sizes == [rd.CHUNK] * (16000 // rd.CHUNK) + [16000 % rd.CHUNK]


@settings(max_examples=80, deadline=None)
@given(
    gaps=st.tuples(
        st.lists(st.integers(0, 3), max_size=60), st.lists(st.integers(0, 3), max_size=60)
    ),
    cuts=st.tuples(
        st.lists(st.integers(1, 9), min_size=1, max_size=8),
        st.lists(st.integers(1, 9), min_size=1, max_size=8),
    ),
)
def test_merge_is_a_sort_by_time_then_stream_then_sequence(
    gaps: tuple[list[int], list[int]], cuts: tuple[list[int], list[int]]
) -> None:
    streams = []
    for stream, (steps, sizes) in enumerate(zip(gaps, cuts, strict=True), start=1):
        lines, t = [], 0
        for seq, gap in enumerate(steps, start=1):
            t += gap
            lines.append(LogLine(job_id="job-1", stream=stream, timestamp=t, sequence=seq))
        parts, at = [], 0
        for size in sizes * 60:
            if at >= len(lines):
                break
            parts.append(LogBlock.of("job-1", lines[at : at + size]))
            at += size
        streams.append((lines, parts))
    merged = [line for part in rd.merge(iter(streams[0][1]), iter(streams[1][1])) for line in part]
    expected = sorted(streams[0][0] + streams[1][0], key=lambda ln: (ln.timestamp, ln.stream))
    assert keys(merged) == keys(expected)


@given(sizes=st.lists(st.integers(0, 2500), max_size=12))
def test_chunks_are_re_cut_to_a_thousand(sizes: list[int]) -> None:
    parts, n = [], 0
    for size in sizes:
        parts.append(list(range(n, n + size)))
        n += size
    chunks = list(rd.chunked(parts))
    assert [x for chunk in chunks for x in chunk] == list(range(n))
    assert all(len(chunk) == rd.CHUNK for chunk in chunks[:-1])
    assert not chunks or 0 < len(chunks[-1]) <= rd.CHUNK


async def test_time_windows_are_start_inclusive_end_exclusive(backend: LocalBackend) -> None:
    for first in range(1, 1001, 100):  # 10 members, 1 µs apart per line
        await backend.write_logs(
            "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, 100, first))
        )
    await backend.write_metrics("job-1", make_samples("job-1", 10))

    def seqs(lines: list[Any]) -> list[int]:
        return [line.sequence for line in lines]

    assert seqs(await read_all(backend, "job-1", STDOUT, T0 + 250_000, T0 + 260_000)) == list(
        range(251, 261)
    )
    assert seqs(await read_all(backend, "job-1", STDOUT, T0 + 999_000)) == [1000]
    assert seqs(await read_all(backend, "job-1", STDOUT, 0, T0 + 1000)) == [1]
    assert await read_all(backend, "job-1", STDOUT, T0 + 5_000_000) == []
    assert seqs(await read_samples(backend, "job-1", T0 + 3 * 10**9, T0 + 5 * 10**9)) == [4, 5]
    assert seqs(await read_samples(backend, "job-1", T0 + 9 * 10**9)) == [10]


async def test_an_unknown_job_reads_as_nothing(backend: LocalBackend) -> None:
    assert await read_all(backend, "nobody", 0) == []
    assert await read_samples(backend, "nobody") == []
    assert await backend.job_info("nobody") is None
    assert await backend.last_sequence("nobody", STDERR) == 0
    assert await backend.delete_job("nobody") is False


async def test_an_abandoned_query_releases_its_files(backend: LocalBackend, base: Path) -> None:
    many = 2 * rd.CHUNK * rd.CHUNKS_PER_STEP  # more than the two steps read before the first
    await backend.write_logs(
        "job-1", STDOUT, LogBlock.of("job-1", make_lines("job-1", STDOUT, many))
    )
    await backend.write_logs(
        "job-1", STDERR, LogBlock.of("job-1", make_lines("job-1", STDERR, many))
    )
    before = _open_descriptors(base)
    reader = backend.read_logs("job-1", 0)
    await anext(reader)
    assert _open_descriptors(base) > before
    await reader.aclose()  # type: ignore[attr-defined]
    await backend.list_jobs()  # one more trip through the worker, after the release
    assert _open_descriptors(base) == before


# -- the index's views ---------------------------------------------------------------------


async def test_job_info_list_delete_and_stored_bytes(backend: LocalBackend, base: Path) -> None:
    await backend.write_logs(
        "b", STDOUT, LogBlock.of("b", make_lines("b", STDOUT, 3, content=b"12345"))
    )
    await backend.write_logs(
        "b", STDERR, LogBlock.of("b", make_lines("b", STDERR, 2, t0=T0 - 5, content=b"1"))
    )
    await backend.write_metrics("b", make_samples("b", 4))
    await backend.write_logs("a", STDOUT, LogBlock.of("a", make_lines("a", STDOUT, 1)))

    info = await backend.job_info("b")
    assert info is not None
    assert (info.stdout_lines, info.stderr_lines, info.metric_samples) == (3, 2, 4)
    assert (info.stdout_bytes, info.stderr_bytes) == (15, 2)
    assert (info.first_time, info.last_time) == (T0 - 5, T0 + 3 * 10**9)
    assert [j.job_id for j in await backend.list_jobs()] == ["a", "b"]
    assert await backend.stored_bytes() == disk(base, "*/*/*")

    assert await backend.delete_job("b") is True
    assert await backend.job_info("b") is None
    assert not (base / "logs" / "b").exists() and not (base / "metrics" / "b").exists()
    assert await backend.last_sequence("b", STDOUT) == 0
    assert [j.job_id for j in await backend.list_jobs()] == ["a"]
    assert await backend.delete_job("b") is False


async def test_writes_run_off_the_event_loop(backend: LocalBackend) -> None:
    lines = make_lines("job-1", STDOUT, 100_000)
    ticks = 0
    write = asyncio.ensure_future(backend.write_logs("job-1", STDOUT, LogBlock.of("job-1", lines)))
    while not write.done():
        ticks += 1
        await asyncio.sleep(0)  # a yield to the loop, not a wait
    await write
    assert ticks > 10  # the loop kept turning while the batch was written


async def test_concurrent_writers_keep_each_stream_in_order(backend: LocalBackend) -> None:
    async def job(n: int) -> None:
        for first in range(1, 501, 50):
            await backend.write_logs(
                f"job-{n}",
                STDOUT,
                LogBlock.of(f"job-{n}", make_lines(f"job-{n}", STDOUT, 50, first)),
            )

    await asyncio.gather(*(job(n) for n in range(20)))
    for n in range(20):
        assert [line.sequence for line in await read_all(backend, f"job-{n}")] == list(
            range(1, 501)
        )


# -- health --------------------------------------------------------------------------------


def _refuses_files(folder: Path) -> bool:
    try:
        fd, probe = tempfile.mkstemp(dir=folder)
    except OSError:
        return True
    os.close(fd)
    os.unlink(probe)
    return False


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory no file can be created in: by its mode, or, for root (which ignores
    modes), /proc, whose file system refuses new files from anyone."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if not _refuses_files(folder):
            folder = Path("/proc")
        assert _refuses_files(folder), f"{folder} accepts new files; the test needs one that won't"
        yield folder
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_check_writable_names_the_reason(tmp_path: Path, read_only_dir: Path) -> None:
    assert LocalBackend(storage(tmp_path / "new" / "base")).check_writable() is None
    assert (tmp_path / "new" / "base" / "logs").is_dir()  # missing but creatable: created

    (tmp_path / "file").write_text("")
    reason = LocalBackend(storage(tmp_path / "file" / "base")).check_writable()
    assert reason is not None and "not writable" in reason and "file" in reason

    reason = LocalBackend(storage(read_only_dir)).check_writable()
    assert reason is not None and str(read_only_dir) in reason
    assert not [name for name in tree(tmp_path) if ".write-probe-" in name]


async def test_a_missing_base_is_created_on_open(tmp_path: Path) -> None:
    async with opened(storage(tmp_path / "a" / "b")) as backend:
        assert backend.check_writable() is None
    assert names(tmp_path / "a" / "b") == ["logs", "metrics"]
