"""The state service: job metadata, its lifecycle, the IPC server and the client for it.

The rest of the project talks to the state service only through :class:`StateClient`.
"""

from __future__ import annotations

from joblet_cluster.state._changes import Change, Outcome, decide
from joblet_cluster.state._client import ChangeResult, StateClient, Watch
from joblet_cluster.state._lifecycle import (
    TERMINAL,
    TRANSITIONS,
    JobStatus,
    check_transition,
    is_terminal,
)
from joblet_cluster.state._query import JobQuery
from joblet_cluster.state._record import JobRecord, format_time, now, transition, validate_record
from joblet_cluster.state._server import StateServer
from joblet_cluster.state._service import serve_state

__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "Change",
    "ChangeResult",
    "JobQuery",
    "JobRecord",
    "JobStatus",
    "Outcome",
    "StateClient",
    "StateServer",
    "Watch",
    "check_transition",
    "decide",
    "format_time",
    "is_terminal",
    "now",
    "serve_state",
    "transition",
    "validate_record",
]
