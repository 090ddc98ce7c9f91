"""``joblet persist``: ingestion, queries, monitoring and retention as one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from joblet_cluster.common.aio import stop_on_signals
from joblet_cluster.common.config import Config
from joblet_cluster.common.http import HTTPEndpoint
from joblet_cluster.persist._ingest import Ingestor
from joblet_cluster.persist._ipc_server import IngestServer
from joblet_cluster.persist._live import LiveFeed
from joblet_cluster.persist._monitoring import PersistMetrics, health_handler, metrics_handler
from joblet_cluster.persist._query_server import PersistServicer, QueryServer
from joblet_cluster.persist.backends import PersistBackend, open_backend

log = logging.getLogger("joblet.persist")


async def serve_persist(config: Config) -> None:
    """Serve until SIGTERM or SIGINT; then store what was received and exit."""
    settings = config.persist
    backend = open_backend(settings.storage, config.server.node_id)
    await backend.open()
    metrics = PersistMetrics()
    ingestor = Ingestor(backend, LiveFeed(), metrics)
    ingest = IngestServer(
        ingestor,
        settings.ipc.socket,
        max_message_size=settings.ipc.max_message_size,
        max_connections=settings.ipc.max_connections,
    )
    query = QueryServer(
        PersistServicer(backend, ingestor, config.server.node_id),
        settings.server.grpc_socket,
        settings.server.max_connections,
    )
    endpoints = [
        HTTPEndpoint(endpoint.address, endpoint.port, {endpoint.path: handler})
        for endpoint, handler in (
            (settings.monitoring.prometheus, metrics_handler(metrics)),
            (settings.monitoring.health, health_handler(backend.check_writable)),
        )
        if endpoint.enabled
    ]
    stop = stop_on_signals(log)
    loop = asyncio.get_running_loop()
    await ingest.start()
    await query.start()
    for endpoint in endpoints:
        await endpoint.start()
    cleaner = loop.create_task(_clean_periodically(backend, ingestor, config))
    log.info(
        "persist for node %s: %s backend; ingest %s, queries %s, %s",
        config.server.node_id,
        backend.name,
        ingest.path,
        query.path,
        ", ".join(f"{' '.join(e.routes)} on {e.address}:{e.port}" for e in endpoints) or "no HTTP",
    )
    try:
        await stop.wait()
    finally:
        cleaner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cleaner
        await ingest.close()
        await query.close()
        for endpoint in endpoints:
            await endpoint.close()
        await backend.close()
        log.info("persist stopped")


async def _clean_periodically(backend: PersistBackend, ingestor: Ingestor, config: Config) -> None:
    """Retention, applied on the configured interval (also on demand: CleanupOldData)."""
    interval = config.persist.storage.local.retention.cleanup_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            result = await backend.cleanup(time.time_ns())
        except Exception:
            log.exception("scheduled cleanup failed; it runs again in %ss", interval)
            continue
        for job_id in result.removed:
            ingestor.forget(job_id)
        if result.jobs_removed:
            log.info("retention removed %d jobs, %d bytes", result.jobs_removed, result.bytes_freed)
