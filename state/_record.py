"""The job record as stored and sent on the state IPC: a JSON object with camelCase keys.

Records stay plain dicts end to end (wire, backends, watch events), so the hot path of
the state service never converts between representations; :func:`validate_record` is the
one gate every record from outside passes through.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.common.ids import check_id, is_safe_id
from joblet_cluster.state._lifecycle import STATUS_VALUES, check_transition

MAX_VERSION = 2**63 - 1
TIME_FIELDS = ("createdAt", "updatedAt", "startTime", "endTime", "scheduledTime")
SECRET_MASK = "***"


class JobRecord(TypedDict):
    uuid: str
    nodeId: str
    status: str
    version: int
    createdAt: str
    updatedAt: NotRequired[str]
    name: NotRequired[str]
    command: NotRequired[str]
    args: NotRequired[list[str]]
    startTime: NotRequired[str | None]
    endTime: NotRequired[str | None]
    scheduledTime: NotRequired[str | None]
    exitCode: NotRequired[int | None]
    pid: NotRequired[int | None]
    error: NotRequired[str]
    labels: NotRequired[dict[str, str]]
    environment: NotRequired[dict[str, str]]
    secretEnvironment: NotRequired[dict[str, str]]
    resources: NotRequired[dict[str, Any]]


def format_time(moment: datetime) -> str:
    """The canonical form: UTC, microseconds, ``Z``; so string order is time order."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


def now() -> str:
    return format_time(datetime.now(UTC))


_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)
_CANONICAL: dict[str, str] = {}
_CANONICAL_MAX = 100_000


def canonical_time(value: object, field: str) -> str:
    """Parse an RFC 3339 time and return its canonical form, or raise naming ``field``.

    A job's times repeat in every one of its changes, so results are remembered (bounded).
    Fractions beyond microseconds (Go writes nanoseconds) are truncated.
    """
    known = _CANONICAL.get(value) if type(value) is str else None
    if known is not None:
        return known
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an RFC 3339 time string, got {type(value).__name__}")
    match = _RFC3339.fullmatch(value)
    if match is None and _RFC3339.fullmatch(value + "Z") is not None:
        raise InvalidInput(f"{field} {value[:40]!r} has no timezone (use Z or an offset)")
    if match is None:
        raise InvalidInput(
            f"{field} {value[:40]!r} is not an RFC 3339 time "
            "(like 2026-01-31T12:00:00Z or 2026-01-31T13:00:00.5+01:00)"
        )
    head, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = datetime.fromisoformat(f"{head[:10]}T{head[11:]}{(fraction or '')[:7]}{zone}")
        canonical = format_time(parsed)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{field} {value[:40]!r} is not a valid RFC 3339 time") from None
    if len(_CANONICAL) >= _CANONICAL_MAX:
        _CANONICAL.clear()
    _CANONICAL[value] = canonical
    return canonical


def _is_str_map(value: object) -> bool:
    return type(value) is dict and all(type(k) is str and type(v) is str for k, v in value.items())


def _wrong(field: str, expected: str, value: object) -> InvalidInput:
    return InvalidInput(f"job {field} must be {expected}, got {type(value).__name__}")


def validate_record(record: object, *, fill_created: bool = False) -> JobRecord:
    """Check a record from outside and normalise it in place.

    Ids must be safe, the status known, the version a positive integer, times RFC 3339
    (rewritten to the canonical form), known fields of their type; unknown fields pass
    through untouched for newer peers. Secret environment values never get past this
    point: they are replaced by ``***``. ``fill_created`` stamps ``createdAt`` when a new
    job arrives without one. Every change passes through here, hence the flat code.
    """
    if type(record) is not dict:
        raise InvalidInput("job must be a JSON object")
    get = record.get
    if not is_safe_id(get("uuid")):
        check_id(get("uuid"), "job uuid")
    if not is_safe_id(get("nodeId")):
        check_id(get("nodeId"), "job nodeId")
    status = get("status")
    if type(status) is not str or status not in STATUS_VALUES:
        raise InvalidInput(
            f"job status {str(status)[:40]!r} is not one of {', '.join(sorted(STATUS_VALUES))}"
        )
    version = get("version")
    if type(version) is not int or not 0 < version <= MAX_VERSION:
        raise InvalidInput(f"job version must be a positive integer, got {str(version)[:40]!r}")
    for field in TIME_FIELDS:
        value = get(field)
        if value is None or value == "":
            if field in record:
                del record[field]
        else:
            canonical = canonical_time(value, field)
            if canonical != value:
                record[field] = canonical
    if fill_created and "createdAt" not in record:
        record["createdAt"] = now()
    for field in ("name", "command", "error"):
        value = get(field)
        if value is not None and type(value) is not str:
            raise _wrong(field, "a string", value)
    for field in ("exitCode", "pid"):
        value = get(field)
        if value is not None and type(value) is not int:
            raise _wrong(field, "an integer", value)
    value = get("args")
    if value is not None:
        if type(value) is not list:
            raise _wrong("args", "a list of strings", value)
        for arg in value:
            if type(arg) is not str:
                raise _wrong("args", "a list of strings", arg)
    for field in ("labels", "environment"):
        value = get(field)
        if value is not None and not _is_str_map(value):
            raise _wrong(field, "an object of string values", value)
    value = get("secretEnvironment")
    if value is not None:
        if not _is_str_map(value):
            raise _wrong("secretEnvironment", "an object of string values", value)
        record["secretEnvironment"] = dict.fromkeys(value, SECRET_MASK)
    value = get("resources")
    if value is not None and type(value) is not dict:
        raise _wrong("resources", "an object", value)
    return record  # type: ignore[return-value]


def transition(record: JobRecord, status: str | None = None, **fields: Any) -> JobRecord:
    """The job's next version: the one way the node moves a job or changes its fields.

    Returns a new record (the old one may still sit in a client's resend queue) with the
    status moved (checked against the lifecycle), ``fields`` set, the version one higher
    and ``updatedAt`` now.
    """
    new: dict[str, Any] = {**record, **fields}
    if status is not None:
        check_transition(record["status"], status, record["uuid"])
        new["status"] = status
    new["version"] = record["version"] + 1
    new["updatedAt"] = now()
    return new  # type: ignore[return-value]
