"""``joblet state``: the state service as a process, with clean shutdown on SIGTERM."""

from __future__ import annotations

import gc
import logging

from joblet_cluster.common.aio import stop_on_signals
from joblet_cluster.common.config import Config
from joblet_cluster.state._server import StateServer
from joblet_cluster.state.backends import open_backend

log = logging.getLogger("joblet.state")


GC_THRESHOLDS = (50_000, 50, 1000)


async def serve_state(config: Config) -> None:
    """Serve until SIGTERM or SIGINT; a second signal exits at once."""
    # Job records are acyclic dicts freed by reference counting, but every one is a
    # GC-tracked container: with the default thresholds the collector keeps walking a
    # heap of hundreds of thousands of them, in pauses of 10 ms and more. Rarer young
    # collections keep cycles (from asyncio's internals) collected without those pauses.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    backend = open_backend(config.state, config.cluster)
    server = StateServer(
        backend,
        config.state.socket,
        max_line_bytes=config.state.max_line_bytes,
        max_connections=config.state.max_connections,
        node_id=config.server.node_id,
    )
    stop = stop_on_signals(log)
    async with server:
        log.info(
            "state service for node %s: %s backend, listening on %s (instance %s)",
            config.server.node_id,
            backend.name,
            server.path,
            server.instance_id,
        )
        await stop.wait()
    await backend.close()
    log.info("state service stopped")
