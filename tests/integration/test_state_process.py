"""``joblet state`` as a real process: its socket, its signals, and bad input from outside."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import RawConnection, start_state, stop, wait_for_socket, write_config


@pytest.fixture
def service(sock_dir: Path) -> Any:
    """A running ``joblet state`` with a small line limit; yields (socket path, process)."""
    config = write_config(sock_dir, max_line_bytes=4096, max_connections=8)
    proc = start_state(config)
    sock = sock_dir / "run" / "state.sock"
    wait_for_socket(sock, proc)
    yield sock, proc
    stop(proc)


def job(uuid: str, version: int = 1, status: str = "INITIALIZING") -> dict[str, Any]:
    return {
        "uuid": uuid,
        "nodeId": "node-1",
        "status": status,
        "version": version,
        "createdAt": "2026-01-01T00:00:00Z",
        "command": "true",
    }


def test_socket_is_private_and_removed_on_sigterm(service: Any) -> None:
    sock, proc = service
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert stop(proc, signal.SIGTERM) == 0
    assert not sock.exists()


def test_stale_socket_is_replaced(sock_dir: Path) -> None:
    config = write_config(sock_dir)
    sock = sock_dir / "run" / "state.sock"
    sock.parent.mkdir(mode=0o700)
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(sock))  # bound but never listening: what a killed service leaves behind
    leftover.close()
    proc = start_state(config)
    try:
        wait_for_socket(sock, proc)
    finally:
        assert stop(proc) == 0


def test_live_socket_and_foreign_files_are_not_taken_over(service: Any, sock_dir: Path) -> None:
    sock, _ = service
    config = write_config(sock_dir / "b")
    other = sock_dir / "b" / "joblet-config.yml"
    text = other.read_text().replace(str(sock_dir / "b" / "run" / "state.sock"), str(sock))
    other.write_text(text)
    proc = start_state(config)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 1
    assert b"ADDRESS_IN_USE" in out and str(sock).encode() in out

    plain = sock_dir / "c" / "run" / "state.sock"
    plain.parent.mkdir(parents=True)
    plain.write_text("not a socket")
    config = write_config(sock_dir / "c")
    proc = start_state(config)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 1
    assert b"exists and is not a socket" in out
    assert plain.read_text() == "not a socket"


def test_bad_config_is_a_usage_error_naming_the_key(sock_dir: Path) -> None:
    config = sock_dir / "bad.yml"
    config.write_text("server:\n  nodeId: n1\nstate:\n  backnd: memory\n")
    proc = start_state(config)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 2
    assert b"state.backnd: unknown key" in out and str(config).encode() in out


async def test_invalid_json_keeps_the_connection_open(service: Any) -> None:
    sock, _ = service
    raw = await RawConnection.open(sock)
    try:
        raw.send(b"{not json\n")
        answer = await raw.read()
        assert answer["success"] is False and answer["error"].startswith("INVALID_JSON: ")
        raw.send(b"\xff\xfe\x00garbage\n")
        assert (await raw.read())["error"].startswith("INVALID_JSON: ")
        raw.send(b"[1, 2]\n")
        assert (await raw.read())["error"].startswith("INVALID_REQUEST: ")
        raw.send(b'{"op": "ping"}\n')
        assert "requestId" in (await raw.read())["error"]
        assert (await raw.request({"op": "ping", "requestId": 1}))["pong"] is True
    finally:
        await raw.close()


async def test_overlong_line_closes_only_that_connection(service: Any) -> None:
    sock, proc = service
    bystander = await RawConnection.open(sock)
    raw = await RawConnection.open(sock)
    try:
        assert (await bystander.request({"op": "create", "requestId": 1, "job": job("keep")}))[
            "success"
        ]
        raw.send({"op": "ping", "requestId": "before"})
        raw.send(b'{"op": "ping", "requestId": "' + b"x" * 10_000)
        assert (await raw.read())["requestId"] == "before"
        answer = await raw.read()
        assert answer["error"].startswith("LINE_TOO_LONG: ") and "4096" in answer["error"]
        assert await raw.closed_by_peer()
        assert (await bystander.request({"op": "get", "requestId": 2, "jobId": "keep"}))["success"]
        assert proc.poll() is None
    finally:
        await raw.close()
        await bystander.close()


async def test_too_many_connections_are_refused_politely(service: Any) -> None:
    sock, _ = service
    held = [await RawConnection.open(sock) for _ in range(8)]
    try:
        for i, conn in enumerate(held):
            assert (await conn.request({"op": "ping", "requestId": i}))["success"]
        extra = await RawConnection.open(sock)
        answer = await extra.read()
        assert answer["error"].startswith("TOO_MANY_CONNECTIONS: ")
        assert await extra.closed_by_peer()
        await extra.close()
    finally:
        for conn in held:
            await conn.close()
    again = await RawConnection.open(sock)
    assert (await again.request({"op": "ping", "requestId": "after"}))["success"]
    await again.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
ops = st.sampled_from(
    [
        "create",
        "update",
        "delete",
        "get",
        "list",
        "sync",
        "ping",
        "watch",
        "unwatch",
        "nope",
        None,
        5,
    ]
)
near_jobs = st.builds(
    lambda overrides, base: {**job(base), **overrides},
    st.dictionaries(
        st.sampled_from(
            [
                "uuid",
                "nodeId",
                "status",
                "version",
                "createdAt",
                "args",
                "labels",
                "pid",
                "secretEnvironment",
            ]
        ),
        json_values,
        max_size=3,
    ),
    st.sampled_from(["keeper", "fz1", "fz2"]),
)
requests = st.fixed_dictionaries(
    {"op": ops},
    optional={
        "requestId": json_values,
        "jobId": json_values,
        "job": near_jobs | json_values,
        "jobs": json_values,
        "filter": json_values,
        "nodeId": json_values,
        "syncId": json_values,
        "more": json_values,
        "watchId": json_values,
    },
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    junk=st.lists(
        st.binary(max_size=300) | requests.map(lambda r: json.dumps(r).encode()),
        min_size=1,
        max_size=12,
    )
)
def test_fuzz_never_stops_the_service_or_loses_jobs(service: Any, junk: list[bytes]) -> None:
    sock, proc = service

    async def scenario() -> None:
        keeper = await RawConnection.open(sock)
        await keeper.request({"op": "create", "requestId": "k", "job": job("keeper")})
        before = await keeper.request({"op": "list", "requestId": "l1"})
        raw = await RawConnection.open(sock)
        raw.send(b"\n".join(junk) + b"\n")
        await raw.close()
        ping = await keeper.request({"op": "ping", "requestId": "p"})
        assert ping["success"] and ping["pong"]
        after = await keeper.request({"op": "list", "requestId": "l2"})
        kept = {j["uuid"]: j for j in after["jobs"]}
        for held in before["jobs"]:
            assert held["uuid"] in kept, "a job held before the junk is gone"
        await keeper.close()

    asyncio.run(scenario())
    assert proc.poll() is None
