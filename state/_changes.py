"""Versioned changes and the one rule every backend applies them by.

A change carries the job's whole record at a version that only grows. :func:`decide`
is compare-and-set on that version: a change is applied only when it is newer than what
is stored, so a retry after an ambiguous failure is harmless and an old status can never
overwrite a new one. It is pure, so the Raft state machine can call it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from joblet_cluster.common.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    StaleVersion,
    StateError,
)
from joblet_cluster.state._lifecycle import check_transition
from joblet_cluster.state._record import JobRecord

ChangeOp = Literal["create", "update", "delete"]


@dataclass(slots=True)
class Change:
    op: ChangeOp
    job_id: str
    record: JobRecord | None = None  # None for a delete


@dataclass(slots=True)
class Outcome:
    """What became of one change. ``version`` is the version stored afterwards."""

    applied: bool
    version: int | None = None
    error: StateError | InvalidInput | None = None


def decide(stored: JobRecord | None, change: Change) -> Outcome:
    """Whether ``change`` applies over ``stored``; applies nothing itself.

    On an applied update without ``createdAt``, the caller keeps the stored one.
    """
    record = change.record
    if change.op == "delete":
        if stored is None:
            return Outcome(False, None, NotFound(f"job {change.job_id} does not exist"))
        return Outcome(True, stored["version"])
    assert record is not None
    version = record["version"]
    if stored is None:
        if change.op == "update":
            return Outcome(False, None, NotFound(f"job {change.job_id} does not exist"))
        return Outcome(True, version)
    current = stored["version"]
    if stored["nodeId"] != record["nodeId"]:
        return Outcome(
            False,
            current,
            AlreadyExists(f"job {change.job_id} belongs to node {stored['nodeId']}, "
                          f"not {record['nodeId']}"),
        )
    if version <= current:
        return Outcome(
            False,
            current,
            StaleVersion(f"job {change.job_id} is at version {current}; "
                         f"this change carries version {version}"),
        )
    if change.op == "create":
        return Outcome(False, current, AlreadyExists(
            f"job {change.job_id} already exists at version {current}"))
    created = record.get("createdAt")
    if created is not None and created != stored["createdAt"]:
        return Outcome(False, current, InvalidInput(
            f"job {change.job_id}: createdAt cannot change "
            f"(stored {stored['createdAt']}, got {created})"))
    try:
        check_transition(stored["status"], record["status"], change.job_id)
    except StateError as exc:
        return Outcome(False, current, exc)
    return Outcome(True, version)
