"""Calls on another node's jobs go to that node: the registry in the replicated store
says where it is and whether it is alive.

Nodes call each other over the same mTLS as users, presenting the node's own server
certificate (OU ``node``, which the API treats as admin). A node whose heartbeat is
older than ``DOWN_AFTER`` is down: the caller gets an error naming it, at once, rather
than a timeout.
"""

from __future__ import annotations

import time
from typing import Any

import grpc

from joblet_cluster.common.durations import parse_rfc3339
from joblet_cluster.common.tls import channel_options
from joblet_cluster.proto import cluster_pb2_grpc, joblet_pb2_grpc
from joblet_cluster.state import StateClient

HEARTBEAT_EVERY = 2.0  # seconds between a node's registrations
DOWN_AFTER = 10.0  # seconds without a heartbeat after which a node counts as down


class NodeDown(Exception):
    """The node that owns a job cannot be reached; the message names it."""


class Peers:
    def __init__(self, state: StateClient, credentials: grpc.ChannelCredentials | None) -> None:
        self.state = state
        self.credentials = credentials  # None: the cluster runs --insecure
        self._channels: dict[str, grpc.aio.Channel] = {}

    async def jobs(self, node_id: str) -> joblet_pb2_grpc.JobServiceStub:
        """A stub for ``node_id``'s API; :class:`NodeDown` when it is not alive."""
        return joblet_pb2_grpc.JobServiceStub(await self._channel_to(node_id))

    async def cluster(self, node_id: str) -> cluster_pb2_grpc.ClusterServiceStub:
        """A stub for ``node_id``'s cluster operations; :class:`NodeDown` when it is not
        alive."""
        return cluster_pb2_grpc.ClusterServiceStub(await self._channel_to(node_id))

    async def _channel_to(self, node_id: str) -> grpc.aio.Channel:
        registry = (await self.state.nodes())["nodes"]
        entry = next((node for node in registry if node["nodeId"] == node_id), None)
        if entry is None:
            raise NodeDown(f"node {node_id} has never registered with the cluster")
        silent = _silence(entry)
        if silent > DOWN_AFTER:
            raise NodeDown(
                f"node {node_id} ({entry['address']}) is down: no heartbeat for {silent:.0f}s"
            )
        return self._channel(entry["address"])

    async def least_loaded(self, prefer: str) -> str:
        """The up node running the fewest jobs (``prefer`` on a tie, then by id)."""
        registry = (await self.state.nodes())["nodes"]
        up = [node for node in registry if _silence(node) <= DOWN_AFTER]
        if not up:
            return prefer
        best = min(up, key=lambda n: (n.get("runningJobs", 0), n["nodeId"] != prefer, n["nodeId"]))
        return str(best["nodeId"])

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            if self.credentials is None:
                channel = grpc.aio.insecure_channel(address)
            else:
                channel = grpc.aio.secure_channel(address, self.credentials, channel_options())
            self._channels[address] = channel
        return channel

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


def _silence(entry: dict[str, Any]) -> float:
    """Seconds since the node's last heartbeat."""
    return time.time() - parse_rfc3339(entry["heartbeat"]).timestamp()
