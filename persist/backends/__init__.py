"""Persist backends behind one small protocol, and the factory that picks one from config."""

from __future__ import annotations

from joblet_cluster.common.config import PersistStorageConfig
from joblet_cluster.persist.backends._base import (
    METRICS,
    STDERR,
    STDOUT,
    CleanupResult,
    JobSummary,
    PersistBackend,
)
from joblet_cluster.persist.backends._block import LogBlock
from joblet_cluster.persist.backends._cloudwatch import CloudWatchBackend, CloudWatchError
from joblet_cluster.persist.backends._local import LocalBackend

__all__ = [
    "METRICS",
    "STDERR",
    "STDOUT",
    "CleanupResult",
    "CloudWatchBackend",
    "CloudWatchError",
    "JobSummary",
    "LocalBackend",
    "LogBlock",
    "PersistBackend",
    "open_backend",
]


def open_backend(storage: PersistStorageConfig, node_id: str) -> PersistBackend:
    """The backend ``persist.storage.type`` names; call ``open()`` on it before use."""
    if storage.type == "cloudwatch":
        return CloudWatchBackend(storage.cloudwatch, node_id)
    return LocalBackend(storage)
