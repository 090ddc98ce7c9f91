"""State backends behind one small protocol, and the factory that picks one from config."""

from __future__ import annotations

from joblet_cluster.cluster.backend import RaftBackend
from joblet_cluster.common.config import ClusterConfig, StateConfig
from joblet_cluster.common.errors import ConfigError
from joblet_cluster.state.backends._base import (
    JobPage,
    StateBackend,
    StoreSnapshot,
    SyncResult,
    WatchCallback,
    WatchEvent,
)
from joblet_cluster.state.backends._memory import MemoryBackend

__all__ = [
    "JobPage",
    "MemoryBackend",
    "StateBackend",
    "StoreSnapshot",
    "SyncResult",
    "WatchCallback",
    "WatchEvent",
    "open_backend",
]


def open_backend(config: StateConfig, cluster: ClusterConfig | None = None) -> StateBackend:
    """The backend ``state.backend`` names, ready to use (raft needs ``cluster``)."""
    if config.backend == "memory":
        return MemoryBackend()
    if config.backend == "raft":
        return RaftBackend(cluster or ClusterConfig())
    raise ConfigError(
        f"state.backend: {config.backend!r} is not available in this release yet "
        "(available: 'memory', 'raft')"
    )
