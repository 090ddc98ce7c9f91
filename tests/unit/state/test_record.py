"""validate_record: the one gate every job record from outside passes through."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.state import format_time, now, validate_record
from joblet_cluster.state._lifecycle import STATUS_VALUES
from joblet_cluster.state._record import MAX_VERSION, SECRET_MASK, TIME_FIELDS, canonical_time


def make_record(**fields) -> dict:
    record = {
        "uuid": "job-1",
        "nodeId": "node-1",
        "status": "RUNNING",
        "version": 1,
        "createdAt": "2024-05-06T07:08:09.000000Z",
    }
    record.update(fields)
    return record


def error_of(record: object, **kwargs) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        validate_record(record, **kwargs)
    return info.value


def test_a_valid_record_is_returned_unchanged():
    record = make_record(name="build", args=["-v"], exitCode=None, pid=None)
    snapshot = copy.deepcopy(record)

    result = validate_record(record)

    assert result == snapshot
    assert record == snapshot


def test_record_must_be_a_json_object():
    for value in (None, [], "job", 5, (("uuid", "a"),)):
        assert "job must be a JSON object" in str(error_of(value))


# --- times ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_time", "canonical"),
    [
        ("2024-05-06T07:08:09Z", "2024-05-06T07:08:09.000000Z"),
        ("2024-05-06T07:08:09.5Z", "2024-05-06T07:08:09.500000Z"),
        ("2024-05-06T07:08:09.123456+00:00", "2024-05-06T07:08:09.123456Z"),
        ("2024-05-06T09:08:09.25+02:00", "2024-05-06T07:08:09.250000Z"),
        ("2024-05-05T23:08:09-08:00", "2024-05-06T07:08:09.000000Z"),
        ("2024-05-06T07:08:09.000000+05:30", "2024-05-06T01:38:09.000000Z"),
        ("2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00.000000Z"),
    ],
)
def test_times_are_rewritten_to_utc_with_microseconds(given_time, canonical):
    fields = dict.fromkeys(TIME_FIELDS, given_time)
    record = validate_record(make_record(**fields))

    for field in TIME_FIELDS:
        assert record[field] == canonical


def test_a_canonical_time_is_kept_as_is():
    value = "2031-02-03T04:05:06.789012Z"
    record = make_record(startTime=value)

    validate_record(record)

    assert record["startTime"] is value
    assert canonical_time(value, "startTime") == value


def test_rfc3339_space_separator_is_canonicalised():
    record = validate_record(make_record(createdAt="2024-01-01 00:00:00.000000Z"))

    assert record["createdAt"] == "2024-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01x00:00:00.000000Z",  # ISO 8601 lets Python parse this; RFC 3339 does not
        "2024-W01-1T00:00:00.000000Z",  # ISO week date: not RFC 3339
    ],
)
def test_iso_spellings_outside_rfc3339_are_refused(value):
    with pytest.raises(InvalidInput, match=r"createdAt.*not an RFC 3339 time"):
        validate_record(make_record(createdAt=value))


@pytest.mark.parametrize(
    ("given_time", "canonical"),
    [
        ("0999-06-01T00:00:00Z", "0999-06-01T00:00:00.000000Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
    ],
)
def test_early_years_keep_four_digits(given_time, canonical):
    assert canonical_time(given_time, "createdAt") == canonical


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_outside_the_utc_range_are_invalid_input(value):
    error = error_of(make_record(endTime=value))

    assert "endTime" in str(error)


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(UTC),
    ),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(UTC),
    ),
)
def test_canonical_string_order_is_time_order(first, second):
    a = canonical_time(first.isoformat(), "createdAt")
    b = canonical_time(second.isoformat(), "createdAt")

    assert (a < b) == (first < second)
    assert (a == b) == (first == second)


@pytest.mark.parametrize("field", TIME_FIELDS)
def test_naive_times_are_rejected_naming_the_field(field):
    error = error_of(make_record(**{field: "2024-05-06T07:08:09"}))

    assert field in str(error)
    assert "no timezone" in str(error)


@pytest.mark.parametrize("field", TIME_FIELDS)
@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", "12:00", "Z"])
def test_garbage_times_are_rejected_naming_the_field(field, value):
    error = error_of(make_record(**{field: value}))

    assert field in str(error)
    assert "RFC 3339" in str(error)


@pytest.mark.parametrize("field", TIME_FIELDS)
@pytest.mark.parametrize("value", [1714979289, 1.5, True, [], {}])
def test_non_string_times_are_rejected_naming_the_field(field, value):
    error = error_of(make_record(**{field: value}))

    assert field in str(error)


@pytest.mark.parametrize("field", ["updatedAt", "startTime", "endTime", "scheduledTime"])
@pytest.mark.parametrize("empty", [None, ""])
def test_empty_time_fields_are_removed(field, empty):
    record = validate_record(make_record(**{field: empty}))

    assert field not in record


def test_an_empty_created_at_is_removed_without_fill_created():
    record = validate_record(make_record(createdAt=""))

    assert "createdAt" not in record


def test_fill_created_stamps_a_missing_created_at():
    record = make_record()
    del record["createdAt"]
    before = now()

    record = validate_record(record, fill_created=True)

    assert before <= record["createdAt"] <= now()
    assert canonical_time(record["createdAt"], "createdAt") == record["createdAt"]


@pytest.mark.parametrize("empty", [None, ""])
def test_fill_created_replaces_an_empty_created_at(empty):
    record = validate_record(make_record(createdAt=empty), fill_created=True)

    assert record["createdAt"]
    assert record["createdAt"].endswith("Z")


def test_fill_created_keeps_a_given_created_at():
    record = validate_record(make_record(createdAt="2020-01-01T01:00:00+01:00"), fill_created=True)

    assert record["createdAt"] == "2020-01-01T00:00:00.000000Z"


def test_without_fill_created_a_missing_created_at_stays_missing():
    record = make_record()
    del record["createdAt"]

    assert "createdAt" not in validate_record(record)


def test_format_time_is_the_canonical_form():
    moment = datetime(2024, 5, 6, 9, 8, 9, 42, tzinfo=timezone(timedelta(hours=2)))

    assert format_time(moment) == "2024-05-06T07:08:09.000042Z"


# --- secrets ----------------------------------------------------------------------------


def test_secret_environment_values_are_masked():
    record = validate_record(make_record(secretEnvironment={"API_KEY": "hunter2", "TOKEN": "abc"}))

    assert record["secretEnvironment"] == {"API_KEY": SECRET_MASK, "TOKEN": SECRET_MASK}
    assert SECRET_MASK == "***"
    assert "hunter2" not in repr(record)


def test_an_empty_secret_environment_stays_empty():
    assert validate_record(make_record(secretEnvironment={}))["secretEnvironment"] == {}


def test_plain_environment_values_are_kept():
    record = validate_record(make_record(environment={"PATH": "/bin"}))

    assert record["environment"] == {"PATH": "/bin"}


# --- ids, status, version ---------------------------------------------------------------


@pytest.mark.parametrize("field", ["uuid", "nodeId"])
@pytest.mark.parametrize("value", ["../x", "", "a/b", "..", 5, None, ["a"]])
def test_bad_ids_are_rejected_naming_the_field(field, value):
    error = error_of(make_record(**{field: value}))

    assert error.code == "INVALID_ID"
    assert f"job.{field}" in str(error)


@pytest.mark.parametrize("field", ["uuid", "nodeId"])
def test_missing_ids_are_rejected_naming_the_field(field):
    record = make_record()
    del record[field]

    assert f"job.{field}" in str(error_of(record))


@pytest.mark.parametrize("value", ["PENDING", "running", "", None, 3, True])
def test_bad_status_is_rejected_naming_the_field(value):
    error = error_of(make_record(status=value))

    assert "job.status" in str(error)


@pytest.mark.parametrize("value", [[], ["RUNNING"], {}, {"RUNNING": 1}])
def test_unhashable_status_is_invalid_input(value):
    error = error_of(make_record(status=value))

    assert "job.status" in str(error)


@pytest.mark.parametrize("status", sorted(STATUS_VALUES))
def test_every_known_status_is_accepted(status):
    assert validate_record(make_record(status=status))["status"] == status


@pytest.mark.parametrize("value", [0, -1, True, False, 1.5, 1.0, 2**63, "1", None, [1]])
def test_bad_version_is_rejected_naming_the_field(value):
    error = error_of(make_record(version=value))

    assert "job.version" in str(error)


@pytest.mark.parametrize("value", [1, 2, MAX_VERSION])
def test_positive_versions_up_to_the_int64_limit_are_accepted(value):
    assert validate_record(make_record(version=value))["version"] == value


def test_missing_version_is_rejected():
    record = make_record()
    del record["version"]

    assert "job.version" in str(error_of(record))


# --- typed fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("name", ["a"]),
        ("command", []),
        ("command", b"ls"),
        ("error", {}),
        ("error", False),
        ("exitCode", "0"),
        ("exitCode", True),
        ("exitCode", 1.5),
        ("pid", "12"),
        ("pid", 12.0),
        ("pid", [12]),
        ("args", "ls -l"),
        ("args", [1]),
        ("args", ["a", None]),
        ("args", {"a": "b"}),
        ("labels", []),
        ("labels", {"a": 1}),
        ("labels", {"a": None}),
        ("labels", "a=b"),
        ("environment", {"A": ["x"]}),
        ("environment", "A=x"),
        ("secretEnvironment", {"A": 1}),
        ("secretEnvironment", ["A"]),
        ("resources", []),
        ("resources", "2cpu"),
        ("resources", 4),
    ],
)
def test_wrong_types_are_rejected_naming_the_field(field, value):
    error = error_of(make_record(**{field: value}))

    assert str(error).startswith(f"job.{field}")
    assert "Expected" in str(error)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": None, "command": None, "error": None},
        {"exitCode": None, "pid": None},
        {"exitCode": -1, "pid": 0},
        {"args": [], "labels": {}, "environment": {}},
        {"resources": {"maxCpu": 50, "cores": "0-3", "nested": {"a": [1]}}},
    ],
)
def test_typed_fields_accept_their_types_and_null(fields):
    record = make_record(**fields)
    snapshot = copy.deepcopy(record)

    assert validate_record(record) == snapshot


def test_unknown_fields_are_dropped():
    extra = {
        "runtime": "python-3.12",
        "gpuIndices": [0, 1],
        "future": {"nested": [1, "two", None, {"x": 1.5}]},
        "flag": True,
    }
    record = validate_record(make_record(**copy.deepcopy(extra)))

    assert record == make_record()


# --- property: never anything but InvalidInput ------------------------------------------

KNOWN_FIELDS = [
    "uuid",
    "nodeId",
    "status",
    "version",
    *TIME_FIELDS,
    "name",
    "command",
    "args",
    "exitCode",
    "pid",
    "error",
    "labels",
    "environment",
    "secretEnvironment",
    "resources",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
plausible = st.one_of(
    json_values,
    st.sampled_from(sorted(STATUS_VALUES)),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    st.integers(min_value=1, max_value=2**63 - 1),
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=7))]
        )
    ).map(datetime.isoformat),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    st.lists(st.text(max_size=8), max_size=3),
)
keys = st.one_of(st.sampled_from(KNOWN_FIELDS), st.text(max_size=10))
records = st.one_of(
    st.dictionaries(keys, plausible, max_size=12),
    st.dictionaries(keys, plausible, max_size=3).map(lambda over: make_record(**over)),
)


@given(records, st.booleans())
def test_any_json_object_validates_or_raises_invalid_input(record, fill_created):
    try:
        result = validate_record(record, fill_created=fill_created)
    except InvalidInput:
        return
    for field in TIME_FIELDS:
        if field in result:
            value = result[field]
            assert value == format_time(datetime.fromisoformat(value))
    for value in result.get("secretEnvironment", {}).values():
        assert value == SECRET_MASK
