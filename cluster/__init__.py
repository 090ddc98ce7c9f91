"""Raft replication of the job store (pysyncobj): ``state.backend: raft``."""

from __future__ import annotations

from joblet_cluster.cluster.backend import RaftBackend, RaftUnavailable

__all__ = ["RaftBackend", "RaftUnavailable"]
