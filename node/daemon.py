"""``joblet serve``: one node, from its services to its API.

Order matters and is the contract of DESIGN.md: start the state and persist services,
wait until both answer (the clients retry until their connect timeout), reconcile what
the store says about this node's jobs, and only then open the API. On SIGTERM: stop
accepting, stop the running jobs (recorded STOPPED), flush both clients, stop the
services, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

import grpc
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from joblet_cluster.common.aio import collect_rarely, stop_on_signals
from joblet_cluster.common.config import Config, ServerConfig
from joblet_cluster.common.errors import ConfigError
from joblet_cluster.common.http import HTTPEndpoint
from joblet_cluster.common.tls import (
    channel_credentials,
    read_pem,
    server_credentials_from_config,
)
from joblet_cluster.common.version import VERSION
from joblet_cluster.node.api import Access, ClusterService, JobService, MonitoringService
from joblet_cluster.node.executor import Executor
from joblet_cluster.node.jobs import JobManager
from joblet_cluster.node.limits import Cgroups
from joblet_cluster.node.peers import HEARTBEAT_EVERY, Peers
from joblet_cluster.node.supervisor import Child
from joblet_cluster.node.watchdog import Limits, Watchdog
from joblet_cluster.persist import PersistClient
from joblet_cluster.proto import cluster_pb2_grpc, joblet_pb2_grpc, persist_pb2_grpc
from joblet_cluster.state import StateClient

log = logging.getLogger("joblet.node")

CONNECT_TIMEOUT = 60.0  # the services may restart a few times before they answer


async def serve_node(config: Config, insecure: bool = False, supervise: bool = True) -> None:
    """Serve until SIGTERM or SIGINT. ``supervise`` False uses services already running
    (tests, or an operator running them under systemd)."""
    collect_rarely()  # its state client may keep every acknowledged record (memory backend)
    server_config = config.server
    credentials = None if insecure else _credentials(config)
    if insecure:
        log.warning(
            "INSECURE: the API takes plain-text connections from anyone, with admin rights. "
            "For local experiments only; never on a network."
        )
    children = []
    if supervise:
        if config.source is None:
            raise ConfigError("joblet serve needs a config file (its services read it too)")
        children = [
            Child("state", config.source, config.state.socket),
            Child("persist", config.source, config.persist.ipc.socket),
        ]
    for child in children:
        child.start()
    stop = stop_on_signals(log)
    state = StateClient(
        config.state.socket, node_id=server_config.node_id, connect_timeout=CONNECT_TIMEOUT
    )
    persist = PersistClient(config.persist.ipc.socket, connect_timeout=CONNECT_TIMEOUT)
    watchdog: asyncio.Task[None] | None = None
    try:
        await state.start()
        await persist.start()
        query_channel = grpc.aio.insecure_channel(
            f"unix:{config.persist.server.grpc_socket}",
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        persist_query = persist_pb2_grpc.PersistServiceStub(query_channel)
        cgroups = await asyncio.to_thread(Cgroups.detect) if os.geteuid() == 0 else None
        log.info("job limits: %s", _describe(cgroups))
        executor = Executor(
            persist, server_config.metrics_interval, server_config.stop_grace_seconds, cgroups
        )
        registry = CollectorRegistry()
        durations = Histogram(
            "joblet_job_duration_seconds",
            "How long jobs ran, by how they ended",
            ["status"],
            buckets=(0.1, 1, 10, 60, 600, 3600, 6 * 3600, 24 * 3600),
            registry=registry,
        )
        restarts = Counter(
            "joblet_state_watchdog_restarts",
            "State service restarts by the watchdog (hung, or its raft replica stopped working)",
            registry=registry,
        )
        if children and config.state.backend == "raft":  # see node/watchdog.py
            limits = Limits(config.cluster.watchdog_timeout)
            watchdog = asyncio.create_task(
                Watchdog(state, children[0], limits, restarts.inc).run(), name="state-watchdog"
            )
        jobs = JobManager(
            server_config.node_id,
            state,
            persist,
            executor,
            server_config.max_concurrent_jobs,
            on_end=lambda status, seconds: durations.labels(status).observe(seconds),
        )
        failed, queued = await jobs.reconcile()
        if failed or queued:
            log.info(
                "reconciled: %d jobs FAILED (the node had stopped), %d queued again", failed, queued
            )
        access = Access(insecure)
        peers = Peers(state, None if insecure else _peer_credentials(config))
        identity = {
            "address": _advertised(server_config),
            "raftAddress": config.cluster.raft_address,
        }
        heartbeat = asyncio.create_task(_heartbeat(state, jobs, identity))
        jobs_dir = Path(server_config.jobs_dir)
        await asyncio.to_thread(jobs_dir.mkdir, parents=True, exist_ok=True)
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", 256 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ]
        )
        joblet_pb2_grpc.add_JobServiceServicer_to_server(
            JobService(
                server_config.node_id,
                jobs,
                state,
                persist_query,
                jobs_dir,
                access,
                server_config.metrics_interval,
                peers,
            ),
            server,
        )
        cluster_pb2_grpc.add_ClusterServiceServicer_to_server(
            ClusterService(
                server_config.node_id,
                access,
                state,
                peers,
                Path(config.cluster.data_dir) / "snapshots",
            ),
            server,
        )
        joblet_pb2_grpc.add_MonitoringServiceServicer_to_server(
            MonitoringService(server_config.node_id, access, [server_config.address]), server
        )
        target = f"{server_config.address}:{server_config.port}"
        if credentials is None:
            server.add_insecure_port(target)
        else:
            server.add_secure_port(target, credentials)
        await server.start()
        endpoint = _monitoring(config, registry, jobs, state, persist)
        if endpoint is not None:
            await endpoint.start()
        log.info(
            "node %s serving on %s (%s)%s",
            server_config.node_id,
            target,
            "insecure" if insecure else "mTLS",
            f"; /metrics and /health on {endpoint.address}:{endpoint.port}" if endpoint else "",
        )
        await stop.wait()
        log.info("stopping: no new calls; stopping running jobs")
        await server.stop(5)
        heartbeat.cancel()
        await jobs.close()
        await peers.close()
        if endpoint is not None:
            await endpoint.close()
        await state.flush(10)
        await persist.flush(10)
        await query_channel.close()
    finally:
        if watchdog is not None:  # before the services stop, which it would see as failures
            watchdog.cancel()
        with contextlib.suppress(Exception):
            await persist.close()
        with contextlib.suppress(Exception):
            await state.close()
        for child in children:
            await child.stop()
        log.info("node stopped")


async def _heartbeat(state: StateClient, jobs: JobManager, identity: dict[str, str]) -> None:
    """This node in the registry, every few seconds: where its API is, that it lives,
    how far its replica has applied."""
    while True:
        try:
            replication = (await state.nodes())["cluster"] or {}
            await state.register(
                {
                    "nodeId": jobs.node_id,
                    **identity,
                    "version": VERSION,
                    "runningJobs": jobs.counts().get("RUNNING", 0),
                    "lastApplied": replication.get("lastApplied") or 0,
                    "commitIndex": replication.get("commitIndex") or 0,
                }
            )
        except Exception as exc:  # a minority partition, a restarting service: try again
            log.warning("could not renew this node's registration: %s", exc)
        await asyncio.sleep(HEARTBEAT_EVERY)


def _advertised(server: ServerConfig) -> str:
    """The API address other nodes use: the bind address, or this host's name when it
    binds every interface."""
    host = server.address
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = socket.getfqdn()
    return f"{host}:{server.port}"


def _peer_credentials(config: Config) -> grpc.ChannelCredentials:
    """A node calls other nodes with its own certificate (OU ``node``)."""
    security = config.security
    return channel_credentials(
        read_pem(security.ca_cert, "security.caCert"),
        read_pem(security.server_cert, "security.serverCert"),
        read_pem(security.server_key, "security.serverKey"),
    )


def _describe(cgroups: Cgroups | None) -> str:
    if cgroups is None or (cgroups.cpu is None and cgroups.memory is None):
        return "memory by RLIMIT_AS, CPU not limited (no writable cgroup tree)"
    version = "v2" if cgroups.unified else "v1"
    found = [name for name in ("cpu", "memory") if getattr(cgroups, name) is not None]
    return f"cgroup {version} for {' and '.join(found)}"


def _credentials(config: Config) -> grpc.ServerCredentials:
    security = config.security
    missing = [
        key
        for key, value in (
            ("security.serverCert", security.server_cert),
            ("security.serverKey", security.server_key),
            ("security.caCert", security.ca_cert),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} not set: the API needs mTLS "
            "(make certificates with `joblet certs generate`, or use --insecure locally)"
        )
    return server_credentials_from_config(security)


def _monitoring(
    config: Config,
    registry: CollectorRegistry,
    jobs: JobManager,
    state: StateClient,
    persist: PersistClient,
) -> HTTPEndpoint | None:
    """``/metrics`` (jobs by status, their durations, the clients' queues and resends,
    the state watchdog's restarts) and ``/health``."""
    settings = config.server.monitoring
    if not settings.enabled:
        return None
    by_status = Gauge(
        "joblet_jobs", "Jobs this node knows, by status", ["status"], registry=registry
    )
    clients = Gauge(
        "joblet_client",
        "State and persist client counters",
        ["client", "counter"],
        registry=registry,
    )

    async def metrics() -> tuple[int, str, bytes]:
        by_status.clear()
        for status, count in jobs.counts().items():
            by_status.labels(status).set(count)
        for name, client in (("state", state), ("persist", persist)):
            for counter, value in client.stats().items():
                clients.labels(name, counter).set(value)
        return 200, CONTENT_TYPE_LATEST, generate_latest(registry)

    async def health() -> tuple[int, str, bytes]:
        if state._connected.is_set() and persist._connected.is_set():
            return 200, "text/plain", b"ok\n"
        return 503, "text/plain", b"unhealthy: the state or persist service is not connected\n"

    return HTTPEndpoint(settings.address, settings.port, {"/metrics": metrics, "/health": health})
