"""A gRPC channel to one node, with mutual TLS from its config entry; what its errors mean.

This is the only module of ``rnx`` that handles gRPC errors: any that escapes a
:class:`Connection` becomes an :class:`RnxError` whose exit code comes from one table.
"""

from __future__ import annotations

from types import TracebackType

import grpc

from joblet_cluster.common.tls import channel_credentials, channel_options
from joblet_cluster.proto import cluster_pb2_grpc, joblet_pb2_grpc
from joblet_cluster.rnx.config import NodeEntry
from joblet_cluster.rnx.errors import ExitCode, RnxError

#: The deadline of a request that answers once (every call but the log streams): long enough
#: for a job with uploads, short enough that a node that accepts and never answers is noticed.
REQUEST_TIMEOUT = 30.0

_EXIT_CODES: dict[grpc.StatusCode, ExitCode] = {
    grpc.StatusCode.UNAVAILABLE: ExitCode.UNREACHABLE,  # refused, unresolvable, TLS handshake
    grpc.StatusCode.DEADLINE_EXCEEDED: ExitCode.UNREACHABLE,  # no answer in time
}


def exit_code_for(code: grpc.StatusCode) -> ExitCode:
    """The exit code for a request that ended with ``code``: 3 unreachable, else 1."""
    return _EXIT_CODES.get(code, ExitCode.FAILED)


def describe_rpc_error(code: grpc.StatusCode, details: str, entry: NodeEntry) -> str:
    """One line for people: what failed, and where when it is about reaching the node."""
    details = " ".join((details or "").split())
    where = f"node {entry.name!r} at {entry.address}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach {where}: {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"no answer from {where} in time ({details})"
    reason = code.name.lower().replace("_", " ")
    return f"{reason}: {details}" if details else reason


class Connection:
    """The stubs of one node's API over one channel; closes it on exit.

    gRPC errors raised inside ``with connection:`` leave it as :class:`RnxError`.
    """

    def __init__(self, entry: NodeEntry, channel: grpc.Channel) -> None:
        self.entry = entry
        self.jobs = joblet_pb2_grpc.JobServiceStub(channel)
        self.monitoring = joblet_pb2_grpc.MonitoringServiceStub(channel)
        self.cluster = cluster_pb2_grpc.ClusterServiceStub(channel)
        self._channel = channel

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._channel.close()
        if isinstance(exc, grpc.RpcError):
            code = exc.code()
            raise RnxError(
                describe_rpc_error(code, exc.details(), self.entry), exit_code_for(code)
            ) from exc


def connect(entry: NodeEntry) -> Connection:
    """Open a channel to ``entry`` (connecting lazily, on the first request)."""
    tls = entry.tls()
    credentials = channel_credentials(tls.ca, tls.cert, tls.key)
    return Connection(entry, grpc.secure_channel(entry.address, credentials, channel_options()))
