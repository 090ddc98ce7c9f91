"""Durations as people type them, and RFC 3339 times as the API wants them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.common.durations import (
    format_duration,
    format_rfc3339,
    parse_duration,
    parse_rfc3339,
    parse_schedule,
)
from joblet_cluster.common.errors import InvalidInput

NOW = datetime(2025, 8, 3, 10, 0, 0, 123456, tzinfo=UTC)
UNITS = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
    "us": timedelta(microseconds=1),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("1d", timedelta(days=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
        ("1m30s", timedelta(seconds=90)),
        ("250us", timedelta(microseconds=250)),
        ("3µs", timedelta(microseconds=3)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("1h1h", timedelta(hours=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "30", "s", "-5s", "5 s", " 5s", "5S", "1x", "1.s", ".5s", "5s ", "1h-1m", "5sec"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match="duration"):
        parse_duration(text)


def test_a_duration_past_what_time_can_hold_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="too long"):
        parse_duration("99999999999d")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(hours=2, minutes=30), "2h30m"),
        (timedelta(days=1), "24h"),
        (timedelta(seconds=1, milliseconds=500), "1s500ms"),
        (timedelta(microseconds=1001), "1ms1us"),
    ],
)
def test_format_duration_is_go_compatible(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_format_duration_refuses_negative() -> None:
    with pytest.raises(InvalidInput):
        format_duration(timedelta(seconds=-1))


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=100_000)))
def test_format_then_parse_round_trips(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta)) == delta


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1))
def test_a_duration_is_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{count}{unit}" for count, unit in parts)
    assert parse_duration(text) == sum((count * UNITS[unit] for count, unit in parts), timedelta())


@given(st.text(max_size=12))
def test_parse_duration_never_fails_other_than_invalid_input(text: str) -> None:
    try:
        result = parse_duration(text)
    except InvalidInput:
        return
    assert result >= timedelta(0)


def test_format_rfc3339_is_utc_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_rfc3339(datetime(2025, 8, 3, 17, 0, tzinfo=plus_two)) == "2025-08-03T15:00:00Z"
    assert format_rfc3339(NOW) == "2025-08-03T10:00:00.123456Z"
    assert format_rfc3339(NOW.replace(microsecond=500000)) == "2025-08-03T10:00:00.5Z"


def test_format_rfc3339_refuses_a_time_without_zone() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        format_rfc3339(datetime(2025, 8, 3))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-08-03T15:00:00Z", datetime(2025, 8, 3, 15, tzinfo=UTC)),
        ("2025-08-03t15:00:00z", datetime(2025, 8, 3, 15, tzinfo=UTC)),
        ("2025-08-03T17:00:00+02:00", datetime(2025, 8, 3, 15, tzinfo=UTC)),
        ("2025-08-03T15:00:00.123456789Z", datetime(2025, 8, 3, 15, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    ["2025-08-03T15:00:00", "2025-08-03", "2025-08-03 15:00:00Z", "2025-13-03T15:00:00Z", "soon"],
)
def test_parse_rfc3339_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match="time"):
        parse_rfc3339(text)


@given(st.datetimes(timezones=st.just(UTC)))
def test_rfc3339_round_trips(moment: datetime) -> None:
    assert parse_rfc3339(format_rfc3339(moment)) == moment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", "2025-08-03T10:00:30Z"),
        ("2h30m", "2025-08-03T12:30:00Z"),
        ("1d", "2025-08-04T10:00:00Z"),
        ("2025-08-03T17:00:00+02:00", "2025-08-03T15:00:00Z"),
        ("2025-08-03T15:00:00.25Z", "2025-08-03T15:00:00.25Z"),
    ],
)
def test_parse_schedule(text: str, expected: str) -> None:
    assert parse_schedule(text, NOW) == expected


@pytest.mark.parametrize("text", ["tomorrow", "30", "2025-08-03T15:00:00", "-1h"])
def test_parse_schedule_rejects_with_both_forms_named(text: str) -> None:
    with pytest.raises(InvalidInput, match="RFC 3339"):
        parse_schedule(text, NOW)
