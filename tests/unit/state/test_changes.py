"""decide(): compare-and-set on a job's version, and errors that survive the wire."""

from __future__ import annotations

import pytest

from joblet_cluster.common.errors import (
    AlreadyExists,
    IllegalTransition,
    JobletError,
    NotFound,
    StaleVersion,
    StateError,
    StateUnavailable,
)
from joblet_cluster.state import Change, decide

CREATED = "2024-01-01T00:00:00.000000Z"


def rec(version: int, status: str = "RUNNING", node: str = "node-1", **fields) -> dict:
    record = {
        "uuid": "job-1",
        "nodeId": node,
        "status": status,
        "version": version,
        "createdAt": CREATED,
    }
    record.update(fields)
    return record


def create(record: dict) -> Change:
    return Change("create", record["uuid"], record)


def update(record: dict) -> Change:
    return Change("update", record["uuid"], record)


# --- create -----------------------------------------------------------------------------


def test_create_on_empty_applies():
    assert decide(None, create(rec(1, "INITIALIZING"))) is None


@pytest.mark.parametrize("version", [1, 4, 5])
def test_create_over_existing_with_an_old_or_equal_version_is_stale(version):
    error = decide(rec(5), create(rec(version)))

    assert isinstance(error, StaleVersion)
    assert error.version == 5
    assert error.code == "STALE_VERSION"
    assert "job-1" in str(error)


def test_create_over_existing_with_a_newer_version_already_exists():
    error = decide(rec(5), create(rec(6)))

    assert isinstance(error, AlreadyExists)
    assert error.version == 5
    assert "job-1 already exists at version 5" in str(error)


def test_create_over_a_job_of_another_node_already_exists():
    error = decide(rec(1, node="node-1"), create(rec(2, node="node-2")))

    assert isinstance(error, AlreadyExists)
    assert error.version == 1


# --- update -----------------------------------------------------------------------------


def test_update_on_missing_is_not_found():
    error = decide(None, update(rec(2)))

    assert isinstance(error, NotFound)
    assert error.code == "NOT_FOUND"
    assert "job-1" in str(error)


def test_newer_update_applies():
    assert decide(rec(1, "INITIALIZING"), update(rec(2, "RUNNING"))) is None


def test_update_may_skip_versions():
    assert decide(rec(1, "RUNNING"), update(rec(10, "COMPLETED"))) is None


def test_update_keeping_the_status_applies_even_when_terminal():
    assert decide(rec(3, "COMPLETED"), update(rec(4, "COMPLETED", exitCode=0))) is None


def test_update_without_created_at_applies():
    change = rec(2)
    del change["createdAt"]

    assert decide(rec(1), update(change)) is None


@pytest.mark.parametrize("version", [1, 2, 3])
def test_stale_update_is_stale_version(version):
    error = decide(rec(3), update(rec(version)))

    assert isinstance(error, StaleVersion)
    assert error.version == 3
    assert f"is at version 3; this change carries version {version}" in str(error)


def test_stale_update_is_stale_even_with_an_illegal_status():
    error = decide(rec(3, "COMPLETED"), update(rec(2, "RUNNING")))

    assert isinstance(error, StaleVersion)


def test_update_from_another_node_already_exists():
    error = decide(rec(1, node="node-1"), update(rec(2, node="node-2")))

    assert isinstance(error, AlreadyExists)
    assert error.version == 1
    assert "node-1" in str(error)
    assert "node-2" in str(error)


def test_update_changing_created_at_is_an_immutable_field_error():
    error = decide(rec(1), update(rec(2, createdAt="2025-01-01T00:00:00.000000Z")))

    assert type(error) is StateError
    assert error.code == "IMMUTABLE_FIELD"
    assert error.version == 1
    assert "createdAt" in str(error)
    assert str(error).startswith("IMMUTABLE_FIELD: ")


def test_illegal_transition_is_refused_with_the_stored_version():
    error = decide(rec(4, "COMPLETED"), update(rec(5, "RUNNING")))

    assert isinstance(error, IllegalTransition)
    assert error.version == 4
    assert "from COMPLETED to RUNNING" in str(error)


@pytest.mark.parametrize(
    ("stored", "new"),
    [
        ("INITIALIZING", "RUNNING"),
        ("SCHEDULED", "INITIALIZING"),
        ("RUNNING", "COMPLETED"),
        ("RUNNING", "FAILED"),
        ("RUNNING", "STOPPED"),
        ("SCHEDULED", "CANCELED"),
    ],
)
def test_legal_transitions_apply(stored, new):
    assert decide(rec(1, stored), update(rec(2, new))) is None


# --- delete -----------------------------------------------------------------------------


def test_delete_of_missing_is_not_found():
    error = decide(None, Change("delete", "job-9"))

    assert isinstance(error, NotFound)
    assert "job-9" in str(error)


def test_delete_of_existing_applies():
    assert decide(rec(7), Change("delete", "job-1")) is None


def test_decide_leaves_both_records_unmodified():
    stored = rec(4, "COMPLETED")
    incoming = rec(5, "RUNNING")
    before = (dict(stored), dict(incoming))

    decide(stored, update(incoming))

    assert (stored, incoming) == before


# --- StateError on the wire -------------------------------------------------------------

SUBCLASSES = [StaleVersion, NotFound, AlreadyExists, IllegalTransition, StateUnavailable]


@pytest.mark.parametrize("cls", SUBCLASSES)
def test_from_wire_rebuilds_each_code_as_its_subclass(cls):
    sent = cls("job job-1: something: with colons")

    back = StateError.from_wire(str(sent))

    assert type(back) is cls
    assert back.code == cls.code
    assert back.args[0] == "job job-1: something: with colons"
    assert str(back) == str(sent)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (StaleVersion, "STALE_VERSION"),
        (NotFound, "NOT_FOUND"),
        (AlreadyExists, "ALREADY_EXISTS"),
        (IllegalTransition, "ILLEGAL_TRANSITION"),
        (StateUnavailable, "UNAVAILABLE"),
    ],
)
def test_each_subclass_has_its_wire_code(cls, code):
    assert cls.code == code
    assert issubclass(cls, StateError)
    assert issubclass(cls, JobletError)


@pytest.mark.parametrize("code", ["IMMUTABLE_FIELD", "STATE_ERROR", "INVALID_REQUEST"])
def test_from_wire_keeps_other_codes_on_a_plain_state_error(code):
    back = StateError.from_wire(f"{code}: bad thing")

    assert type(back) is StateError
    assert back.code == code
    assert str(back) == f"{code}: bad thing"


def test_errors_from_decide_survive_the_wire():
    errors = [
        decide(rec(5), create(rec(3))),
        decide(rec(5), create(rec(6))),
        decide(None, update(rec(1))),
        decide(rec(4, "COMPLETED"), update(rec(5, "RUNNING"))),
        decide(rec(1), update(rec(2, createdAt="2030-01-01T00:00:00.000000Z"))),
    ]
    for error in errors:
        back = StateError.from_wire(str(error))
        assert type(back) is type(error)
        assert back.code == error.code
        assert str(back) == str(error)


def test_state_error_code_can_be_given_per_instance():
    error = StateError("oops", "CUSTOM")

    assert error.code == "CUSTOM"
    assert StateError.code == "STATE_ERROR"
    assert str(error) == "CUSTOM: oops"
