"""The job lifecycle, declared once: the statuses, the transition table, the one move.

Nothing else in the project assigns a job's status: the node moves a job with
:func:`transition`, and every backend checks incoming changes with :func:`check_transition`.
"""

from __future__ import annotations

from enum import StrEnum

from joblet_cluster.common.errors import IllegalTransition


class JobStatus(StrEnum):
    INITIALIZING = "INITIALIZING"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"
    CANCELED = "CANCELED"


S = JobStatus

#: Where each status may go next. Beyond seeds/001's table: a job still waiting
#: (INITIALIZING) can be stopped or canceled, and a SCHEDULED job that comes due waits
#: INITIALIZING for a slot, or FAILS when it cannot be started at all.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.INITIALIZING: frozenset({S.SCHEDULED, S.RUNNING, S.FAILED, S.STOPPED, S.CANCELED}),
    S.SCHEDULED: frozenset({S.INITIALIZING, S.RUNNING, S.CANCELED, S.FAILED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.STOPPED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.STOPPED: frozenset(),
    S.CANCELED: frozenset(),
}

TERMINAL: frozenset[JobStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
STATUS_VALUES: frozenset[str] = frozenset(s.value for s in JobStatus)
_ALLOWED: dict[str, frozenset[str]] = {
    s.value: frozenset(n.value for n in nxt) for s, nxt in TRANSITIONS.items()
}


def is_terminal(status: str) -> bool:
    return status in TERMINAL


def may_move(current: str, new: str) -> bool:
    """Whether a job may go from ``current`` to ``new``. Staying in the same status is
    always allowed: that is a change of other fields (a pid, an exit code, labels), and a
    terminal status still never changes."""
    return current == new or new in _ALLOWED.get(current, ())


def check_transition(current: str, new: str, job_id: str = "") -> None:
    """Raise :class:`IllegalTransition` naming both statuses unless :func:`may_move`."""
    if may_move(current, new):
        return
    subject = f"job {job_id}: " if job_id else ""
    raise IllegalTransition(f"{subject}cannot move from {current} to {new}")
