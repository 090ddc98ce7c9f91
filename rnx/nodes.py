"""Asking each node of the config whether it answers (``rnx nodes``, ``rnx version``)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from joblet_cluster.common.errors import JobletError
from joblet_cluster.proto import joblet_pb2
from joblet_cluster.rnx.config import NodeEntry
from joblet_cluster.rnx.connect import connect

PROBE_TIMEOUT = 3.0  # a node that has not answered GetSystemStatus by then is down
MAX_PARALLEL_PROBES = 16


@dataclass(frozen=True)
class NodeReport:
    """One node as its health check found it. ``node_id`` is the node's own when it
    answered, else the config's ``nodeId``."""

    name: str
    address: str
    node_id: str
    up: bool
    version: str = ""
    error: str = ""


def probe(entry: NodeEntry, timeout: float = PROBE_TIMEOUT) -> NodeReport:
    """Call ``MonitoringService/GetSystemStatus`` on ``entry`` with a ``timeout`` deadline.

    Never raises for the node's sake: a bad certificate file or an unreachable address is
    this node's report, so one broken node does not hide the others.
    """
    try:
        with connect(entry) as connection:
            status = connection.monitoring.GetSystemStatus(
                joblet_pb2.EmptyRequest(), timeout=timeout
            )
    except JobletError as exc:
        return NodeReport(entry.name, entry.address, entry.node_id, up=False, error=str(exc))
    return NodeReport(
        entry.name,
        entry.address,
        status.host.node_id or entry.node_id,
        up=status.available,
        version=status.server_version.version,
        error="" if status.available else "the node reports itself unavailable",
    )


def probe_all(entries: Sequence[NodeEntry]) -> list[NodeReport]:
    """:func:`probe` every entry at once (so the wait is one timeout, not one per node)."""
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_PROBES, len(entries)))) as pool:
        return list(pool.map(probe, entries))
