"""The job lifecycle: the transition table, check_transition and transition()."""

from __future__ import annotations

import copy
import itertools
from datetime import datetime

import pytest

from joblet_cluster.common.errors import IllegalTransition, StateError
from joblet_cluster.state import (
    TERMINAL,
    TRANSITIONS,
    JobStatus,
    check_transition,
    is_terminal,
    now,
    transition,
)

S = JobStatus

#: The table, written out: a change to it must be a deliberate change to this test.
EXPECTED = {
    S.INITIALIZING: {S.SCHEDULED, S.RUNNING, S.FAILED, S.STOPPED, S.CANCELED},
    S.SCHEDULED: {S.INITIALIZING, S.RUNNING, S.CANCELED, S.FAILED},
    S.RUNNING: {S.COMPLETED, S.FAILED, S.STOPPED},
    S.COMPLETED: set(),
    S.FAILED: set(),
    S.STOPPED: set(),
    S.CANCELED: set(),
}

ALLOWED = [(a, b) for a, nxt in EXPECTED.items() for b in sorted(nxt)]
FORBIDDEN = [
    (a, b) for a, b in itertools.product(JobStatus, JobStatus) if a != b and b not in EXPECTED[a]
]


def test_statuses_are_the_joblet_ones():
    assert [s.value for s in JobStatus] == [
        "INITIALIZING",
        "SCHEDULED",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "STOPPED",
        "CANCELED",
    ]


def test_transition_table_is_exactly_the_expected_one():
    assert {s: set(nxt) for s, nxt in TRANSITIONS.items()} == EXPECTED


def test_terminal_statuses_are_those_without_exits():
    assert {S.COMPLETED, S.FAILED, S.STOPPED, S.CANCELED} == TERMINAL
    for status in JobStatus:
        assert is_terminal(status) is (status in TERMINAL)
        assert is_terminal(status.value) is (status in TERMINAL)
    for status in TERMINAL:
        assert TRANSITIONS[status] == frozenset()


def test_no_status_moves_back_to_itself_through_the_table():
    for status, nxt in TRANSITIONS.items():
        assert status not in nxt


@pytest.mark.parametrize(("current", "new"), ALLOWED)
def test_every_allowed_move_passes(current, new):
    check_transition(current, new)
    check_transition(current.value, new.value, "job-1")


@pytest.mark.parametrize(("current", "new"), FORBIDDEN)
def test_every_other_move_raises_naming_both_statuses(current, new):
    with pytest.raises(IllegalTransition) as info:
        check_transition(current.value, new.value)

    message = str(info.value)
    assert f"from {current.value} to {new.value}" in message
    assert message.startswith("ILLEGAL_TRANSITION: ")
    assert info.value.code == "ILLEGAL_TRANSITION"


def test_forbidden_pairs_cover_the_rest_of_the_square():
    assert len(ALLOWED) + len(FORBIDDEN) + len(JobStatus) == len(JobStatus) ** 2


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_statuses_have_no_exits(terminal):
    for new in JobStatus:
        if new == terminal:
            continue
        with pytest.raises(IllegalTransition):
            check_transition(terminal, new)


@pytest.mark.parametrize("status", list(JobStatus))
def test_staying_in_the_same_status_is_allowed(status):
    check_transition(status, status)
    check_transition(status.value, status.value, "job-1")


def test_error_names_the_job_when_given():
    with pytest.raises(IllegalTransition) as info:
        check_transition("COMPLETED", "RUNNING", "job-42")

    assert str(info.value) == (
        "ILLEGAL_TRANSITION: job job-42: cannot move from COMPLETED to RUNNING"
    )


def test_illegal_transition_is_a_state_error():
    assert issubclass(IllegalTransition, StateError)


def test_unknown_new_status_is_an_illegal_transition():
    with pytest.raises(IllegalTransition, match="from RUNNING to PAUSED"):
        check_transition("RUNNING", "PAUSED")


def test_unknown_current_status_is_an_illegal_transition_not_a_key_error():
    with pytest.raises(IllegalTransition, match="from PENDING to RUNNING"):
        check_transition("PENDING", "RUNNING")


# --- transition() -----------------------------------------------------------------------


def make_record(status: str = "INITIALIZING", version: int = 1) -> dict:
    return {
        "uuid": "job-1",
        "nodeId": "node-1",
        "status": status,
        "version": version,
        "createdAt": "2024-01-01T00:00:00.000000Z",
        "labels": {"team": "infra"},
    }


def test_transition_returns_a_new_record_one_version_higher():
    record = make_record(version=4)
    before = now()

    moved = transition(record, "RUNNING", pid=123)
    after = now()

    assert moved is not record
    assert moved["status"] == "RUNNING"
    assert moved["version"] == 5
    assert moved["pid"] == 123
    assert before <= moved["updatedAt"] <= after
    assert moved["createdAt"] == record["createdAt"]
    assert moved["uuid"] == "job-1"
    assert moved["nodeId"] == "node-1"
    assert moved["labels"] == {"team": "infra"}


def test_transition_sets_updated_at_in_canonical_form():
    moved = transition(make_record(), "RUNNING")

    stamp = moved["updatedAt"]
    assert len(stamp) == 27
    assert stamp.endswith("Z")
    assert datetime.fromisoformat(stamp).utcoffset().total_seconds() == 0


def test_transition_leaves_the_input_unmodified():
    record = make_record()
    snapshot = copy.deepcopy(record)

    transition(record, "RUNNING", pid=7, exitCode=None)

    assert record == snapshot


def test_transition_without_a_status_only_changes_fields():
    record = make_record(status="RUNNING", version=2)

    changed = transition(record, pid=99)

    assert changed["status"] == "RUNNING"
    assert changed["version"] == 3
    assert changed["pid"] == 99
    assert "updatedAt" in changed


def test_transition_to_the_same_status_is_allowed_even_when_terminal():
    record = make_record(status="COMPLETED", version=9)

    changed = transition(record, "COMPLETED", exitCode=0)

    assert changed["status"] == "COMPLETED"
    assert changed["version"] == 10


def test_transition_fields_cannot_override_the_version():
    changed = transition(make_record(version=3), "RUNNING", version=100)

    assert changed["version"] == 4


def test_successive_transitions_keep_growing_the_version():
    record = make_record()
    for status in ("SCHEDULED", "INITIALIZING", "RUNNING", "COMPLETED"):
        record = transition(record, status)

    assert record["status"] == "COMPLETED"
    assert record["version"] == 5


@pytest.mark.parametrize(("current", "new"), FORBIDDEN)
def test_transition_raises_on_an_illegal_move_and_keeps_the_input(current, new):
    record = make_record(status=current.value, version=5)
    snapshot = copy.deepcopy(record)

    with pytest.raises(IllegalTransition) as info:
        transition(record, new.value)

    message = str(info.value)
    assert current.value in message
    assert new.value in message
    assert "job-1" in message
    assert record == snapshot
