"""``joblet state``: the state service as a process, with clean shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal

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
    backend = open_backend(config.state)
    server = StateServer(
        backend,
        config.state.socket,
        max_line_bytes=config.state.max_line_bytes,
        max_connections=config.state.max_connections,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s: shutting down", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
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
