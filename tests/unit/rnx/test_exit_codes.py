"""Exit codes: one table for gRPC errors, one rule for followed jobs."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from joblet_cluster.rnx.config import NodeEntry
from joblet_cluster.rnx.connect import Connection, describe_rpc_error, exit_code_for
from joblet_cluster.rnx.errors import ExitCode, RnxError, job_exit_code

ENTRY = NodeEntry("east", "10.0.0.1:50051", "c", "k", "a", "", Path("rnx-config.yml"))
Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        (Code.UNAVAILABLE, ExitCode.UNREACHABLE),
        (Code.DEADLINE_EXCEEDED, ExitCode.UNREACHABLE),
        (Code.NOT_FOUND, ExitCode.FAILED),
        (Code.PERMISSION_DENIED, ExitCode.FAILED),
        (Code.FAILED_PRECONDITION, ExitCode.FAILED),
        (Code.INVALID_ARGUMENT, ExitCode.FAILED),
        (Code.UNAUTHENTICATED, ExitCode.FAILED),
        (Code.INTERNAL, ExitCode.FAILED),
        (Code.CANCELLED, ExitCode.FAILED),
    ],
)
def test_grpc_codes_map_to_exit_codes(code: grpc.StatusCode, exit_code: ExitCode) -> None:
    assert exit_code_for(code) == exit_code


def test_descriptions_are_one_line_and_say_where_when_unreachable() -> None:
    unreachable = describe_rpc_error(Code.UNAVAILABLE, "failed to connect\n  refused", ENTRY)
    assert unreachable == "cannot reach node 'east' at 10.0.0.1:50051: failed to connect refused"
    assert "in time" in describe_rpc_error(Code.DEADLINE_EXCEEDED, "Deadline Exceeded", ENTRY)
    assert describe_rpc_error(Code.NOT_FOUND, "job x not found", ENTRY) == (
        "not found: job x not found"
    )
    assert describe_rpc_error(Code.PERMISSION_DENIED, "", ENTRY) == "permission denied"


class FakeChannel:
    closed = False

    def unary_unary(self, *args: object, **kwargs: object) -> None:
        return None

    unary_stream = stream_unary = stream_stream = unary_unary

    def close(self) -> None:
        self.closed = True


class Failed(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return Code.PERMISSION_DENIED

    def details(self) -> str:
        return "viewer may not run jobs"


def test_a_connection_turns_grpc_errors_into_rnx_errors_and_closes() -> None:
    channel = FakeChannel()
    with pytest.raises(RnxError) as caught, Connection(ENTRY, channel):  # type: ignore[arg-type]
        raise Failed()
    assert caught.value.exit_code == ExitCode.FAILED
    assert str(caught.value) == "permission denied: viewer may not run jobs"
    assert channel.closed


def test_other_errors_pass_through_a_connection() -> None:
    with pytest.raises(KeyError), Connection(ENTRY, FakeChannel()):  # type: ignore[arg-type]
        raise KeyError("x")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("COMPLETED", 0, 0),
        ("FAILED", 7, 7),
        ("FAILED", 0, 1),
        ("FAILED", -9, 1),
        ("FAILED", 300, 1),
        ("STOPPED", 0, 1),
        ("STOPPED", 143, 143),
        ("CANCELED", 0, 1),
    ],
)
def test_a_followed_job_exits_with_its_code_or_1(status: str, code: int, expected: int) -> None:
    assert job_exit_code(status, code) == expected
