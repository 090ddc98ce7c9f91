"""What persist tells operators: Prometheus metrics and a health check, over HTTP.

Collectors live in a registry of the service's own (not the process-global one), so
tests can run several services in one process. The two endpoints are served by a tiny
asyncio HTTP responder: GET only, one path each, no keep-alive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from joblet_cluster.common.http import Handler

log = logging.getLogger("joblet.persist.monitoring")


class PersistMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter(
            "persist_ipc_messages_received", "IPC messages received", registry=r
        )
        self.ipc_bytes = Counter(
            "persist_ipc_bytes_received", "Bytes of IPC frames received", registry=r
        )
        self.lines = Counter("persist_log_lines_stored", "Log lines durably stored", registry=r)
        self.samples = Counter(
            "persist_metric_samples_stored", "Metric samples durably stored", registry=r
        )
        self.duplicates = Counter(
            "persist_duplicates_dropped",
            "Lines and samples dropped because they were already stored (client resends)",
            registry=r,
        )
        self.rejected = Counter(
            "persist_frames_rejected",
            "Frames, lines or samples refused, by reason",
            ["reason"],
            registry=r,
        )
        self.write_latency = Histogram(
            "persist_write_latency_seconds",
            "Time to durably store one batch",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.queries = Counter(
            "persist_query_requests", "Query API requests, by method", ["method"], registry=r
        )
        self.stored_bytes = Gauge(
            "persist_storage_bytes", "Bytes held by the storage backend", registry=r
        )
        self.connections = Gauge("persist_ipc_connections", "Open IPC connections", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def total(self, sample: str) -> int:
        """A counter's value, summed over its labels (GetStats reports these)."""
        return int(
            sum(
                s.value
                for metric in self.registry.collect()
                for s in metric.samples
                if s.name == sample
            )
        )


def metrics_handler(metrics: PersistMetrics) -> Handler:
    async def handle() -> tuple[int, str, bytes]:
        return 200, CONTENT_TYPE_LATEST, metrics.render()

    return handle


def health_handler(check: Callable[[], str | None]) -> Handler:
    """200 ``ok`` while storage is writable; 503 with the reason when it is not."""

    async def handle() -> tuple[int, str, bytes]:
        problem = await asyncio.to_thread(check)
        if problem is None:
            return 200, "text/plain", b"ok\n"
        return 503, "text/plain", f"unhealthy: {problem}\n".encode()

    return handle
