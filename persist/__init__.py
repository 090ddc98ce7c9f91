"""The persist service: lossless ingestion of job logs and metrics, storage, queries.

The node talks to it only through :class:`PersistClient` (writes) and the gRPC
``PersistService`` on its query socket (reads, whose columnar chunks
:meth:`LogBlock.from_chunk` unpacks).
"""

from __future__ import annotations

from joblet_cluster.persist._client import PersistClient, PersistUnavailable
from joblet_cluster.persist._service import serve_persist
from joblet_cluster.persist.backends import METRICS, STDERR, STDOUT, LogBlock

__all__ = [
    "METRICS",
    "STDERR",
    "STDOUT",
    "LogBlock",
    "PersistClient",
    "PersistUnavailable",
    "serve_persist",
]
