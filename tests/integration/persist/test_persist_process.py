"""``joblet persist`` as a real process: lossless through a SIGKILL, private sockets, health."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import pytest

from joblet_cluster.persist import STDERR, STDOUT, LogBlock, PersistClient
from joblet_cluster.proto import persist_pb2 as pb
from joblet_cluster.proto import persist_pb2_grpc
from tests.support import persist_config, start_persist, stop, wait_for_socket, wait_until


async def stored_lines(query_socket: Path, job_id: str, stream: int) -> list[pb.LogLine]:
    async with grpc.aio.insecure_channel(f"unix:{query_socket}") as channel:
        stub = persist_pb2_grpc.PersistServiceStub(channel)
        return [
            line
            async for chunk in stub.QueryLogs(pb.LogQuery(job_id=job_id, stream=stream))
            for line in LogBlock.from_chunk(chunk)
        ]


@pytest.mark.slow
async def test_sigkill_mid_stream_stores_every_line_once_in_order(sock_dir: Path) -> None:
    """1,000,000 lines (half stdout, half stderr); persist is SIGKILLed part-way and restarted."""
    config = persist_config(sock_dir)
    ipc = sock_dir / "run" / "ipc.sock"
    proc = start_persist(config)
    wait_for_socket(ipc, proc)
    total = 1_000_000
    per_stream = total // 2
    produced = 0
    async with PersistClient(ipc, max_unacked=100_000) as client:

        async def produce() -> None:
            nonlocal produced
            for start in range(0, per_stream, 1000):
                for stream in (STDOUT, STDERR):
                    await client.log_many(
                        "job-1",
                        stream,
                        [
                            b"%s line %08d" % (b"out" if stream == STDOUT else b"err", n)
                            for n in range(start + 1, start + 1001)
                        ],
                    )
                    produced += 1000

        def stored() -> int:
            return produced - client.stats()["unacked"]

        producer = asyncio.create_task(produce())
        await wait_until(lambda: stored() >= 300_000, 60, "300,000 lines to be stored")
        assert produced < total, "the kill must land mid-stream"
        stop(proc, signal.SIGKILL)
        proc = start_persist(config)
        wait_for_socket(ipc, proc)
        await asyncio.wait_for(producer, 120)
        assert await client.flush(120), "every line must be acknowledged after the restart"
        assert client.reconnects >= 1 and client.resends > 0
    query = sock_dir / "run" / "query.sock"
    for stream, word in ((STDOUT, b"out"), (STDERR, b"err")):
        lines = await stored_lines(query, "job-1", stream)
        assert [line.sequence for line in lines] == list(range(1, per_stream + 1))
        assert all(line.stream == stream for line in lines)
        assert lines[0].content == word + b" line 00000001"
        assert lines[-1].content == word + b" line %08d" % per_stream
    assert stop(proc) == 0


async def test_a_frozen_persist_makes_the_client_wait_not_drop(sock_dir: Path) -> None:
    config = persist_config(sock_dir)
    ipc = sock_dir / "run" / "ipc.sock"
    proc = start_persist(config)
    wait_for_socket(ipc, proc)
    try:
        async with PersistClient(ipc, max_unacked=5000) as client:
            proc.send_signal(signal.SIGSTOP)
            queued = 0

            async def produce() -> None:
                nonlocal queued
                for start in range(0, 20_000, 500):
                    await client.log_many("bp-1", STDOUT, [b"%d" % n for n in range(500)])
                    queued = start + 500

            producer = asyncio.create_task(produce())
            await wait_until(lambda: client.stats()["unacked"] >= 5000, 10, "a full buffer")
            assert not producer.done(), "a full replay buffer must make the caller wait"
            assert client.stats()["unacked"] == 5000 and queued <= 5000
            proc.send_signal(signal.SIGCONT)
            await asyncio.wait_for(producer, 60)
            assert await client.flush(60)
        lines = await stored_lines(sock_dir / "run" / "query.sock", "bp-1", STDOUT)
        assert [line.sequence for line in lines] == list(range(1, 20_001))
    finally:
        proc.send_signal(signal.SIGCONT)
        assert stop(proc) == 0
