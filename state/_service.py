"""``joblet state``: the state service as a process, with clean shutdown on SIGTERM."""

from __future__ import annotations

import logging

from joblet_cluster.common.aio import collect_rarely, stop_on_signals
from joblet_cluster.common.config import Config
from joblet_cluster.state._server import StateServer
from joblet_cluster.state.backends import open_backend

log = logging.getLogger("joblet.state")


async def serve_state(config: Config) -> None:
    """Serve until SIGTERM or SIGINT; a second signal exits at once."""
    collect_rarely()
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
