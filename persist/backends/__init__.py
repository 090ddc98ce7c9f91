"""Persist backends behind one small protocol."""

from __future__ import annotations

from joblet_cluster.persist.backends._base import (
    METRICS,
    STDERR,
    STDOUT,
    CleanupResult,
    JobSummary,
    PersistBackend,
)

__all__ = ["METRICS", "STDERR", "STDOUT", "CleanupResult", "JobSummary", "PersistBackend"]
