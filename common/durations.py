"""Durations ("30s", "2h30m", "1d", "500ms") and RFC 3339 times, as the wire wants them.

The API speaks RFC 3339 strings for times and Go-style duration strings for delays, while
people type relative times. These functions translate, and reject anything ambiguous: a
duration needs a unit on every number, a time needs its UTC offset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from joblet_cluster.common.errors import InvalidInput

_MICROSECONDS = {
    "d": Decimal(86_400_000_000),
    "h": Decimal(3_600_000_000),
    "m": Decimal(60_000_000),
    "s": Decimal(1_000_000),
    "ms": Decimal(1_000),
    "us": Decimal(1),
    "µs": Decimal(1),
}
# longest units first, so "ms" is not read as "m" followed by junk
_TERM = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|d|h|m|s)")
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_DATE_START = re.compile(r"\d{4}-")
_HINT = 'use a number and unit per part, such as "30s", "2h30m", "1d" or "500ms"'


def parse_duration(text: str) -> timedelta:
    """Read a duration such as ``2h30m`` (units d, h, m, s, ms, us; decimals allowed).

    ``"0"`` alone means zero, as in Go. Raises :class:`InvalidInput` naming the text.
    """
    if text == "0":
        return timedelta(0)
    if not text:
        raise InvalidInput(f"empty duration: {_HINT}")
    position, total = 0, Decimal(0)
    while position < len(text):
        term = _TERM.match(text, position)
        if term is None:
            raise InvalidInput(f"invalid duration {text!r}: {_HINT}")
        total += Decimal(term.group(1)) * _MICROSECONDS[term.group(2)]
        position = term.end()
    try:
        return timedelta(microseconds=int(total.to_integral_value()))
    except (OverflowError, InvalidOperation) as exc:
        raise InvalidInput(f"duration {text!r} is too long") from exc


def format_duration(delta: timedelta) -> str:
    """The shortest Go-compatible form (hours at most, no days): ``1h30m``, ``1s500ms``.

    ``parse_duration(format_duration(d)) == d`` for every non-negative ``d``; Go's
    ``time.ParseDuration`` reads it too, so it can travel in ``retry_delay``.
    """
    if delta < timedelta(0):
        raise InvalidInput(f"negative duration {delta}")
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    parts = []
    for unit in ("h", "m", "s", "ms", "us"):
        count, micros = divmod(micros, int(_MICROSECONDS[unit]))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def format_rfc3339(moment: datetime) -> str:
    """``moment`` in UTC with a ``Z``, fractional seconds only when it has them."""
    if moment.tzinfo is None:
        raise InvalidInput(f"time {moment.isoformat()} has no time zone")
    utc = moment.astimezone(UTC)
    text = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}"
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_rfc3339(text: str) -> datetime:
    """Read an RFC 3339 time (an offset is required; nanoseconds are cut to microseconds)."""
    found = _RFC3339.fullmatch(text)
    if found is None:
        raise InvalidInput(
            f"invalid time {text!r}: expected RFC 3339 such as 2025-08-03T15:00:00Z "
            "or 2025-08-03T17:00:00+02:00"
        )
    fraction = found.group("fraction")
    if fraction:  # datetime keeps 6 digits; Go servers send up to 9
        start, end = found.span("fraction")
        text = text[:start] + fraction[:7] + text[end:]
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError as exc:  # shape right, values wrong: month 13, hour 25, ...
        raise InvalidInput(f"invalid time {text!r}: {exc}") from exc


def parse_schedule(text: str, now: datetime) -> str:
    """``--schedule``: an RFC 3339 time, or a duration from ``now``, as RFC 3339 in UTC.

    ``now`` is a parameter so that the conversion is a pure function.
    """
    if _DATE_START.match(text):
        return format_rfc3339(parse_rfc3339(text))
    try:
        delay = parse_duration(text)
    except InvalidInput:
        raise InvalidInput(
            f"invalid schedule {text!r}: expected a delay such as 30s or 2h30m, "
            "or an RFC 3339 time such as 2025-08-03T15:00:00Z"
        ) from None
    return format_rfc3339(now.replace(microsecond=0) + delay)
