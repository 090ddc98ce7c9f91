"""The job record as stored and sent on the state IPC: a JSON object with camelCase keys.

Records stay plain dicts end to end (wire, backends, watch events), so the hot path of
the state service never converts between representations. :class:`JobRecord` is the one
schema every record from outside is checked against: by msgspec while a request is decoded
(see ``_protocol``), or by :func:`validate_record` for records built in Python.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired, TypedDict, cast

import msgspec
from msgspec import Meta

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.common.ids import SAFE_ID_PATTERN, SAFE_ID_RULE, check_id
from joblet_cluster.state._lifecycle import check_transition

MAX_VERSION = 2**63 - 1
TIME_FIELDS = ("createdAt", "updatedAt", "startTime", "endTime", "scheduledTime")
_TIME_NAMES = tuple((field, f"job.{field}") for field in TIME_FIELDS)  # named in errors
SECRET_MASK = "***"

SafeId = Annotated[str, Meta(pattern=SAFE_ID_PATTERN)]
Version = Annotated[int, Meta(gt=0, le=MAX_VERSION)]
Int64 = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
Status = Literal[
    "INITIALIZING", "SCHEDULED", "RUNNING", "COMPLETED", "FAILED", "STOPPED", "CANCELED"
]
#: Times arrive as RFC 3339 strings; :func:`normalise` rewrites them to the canonical form.
Time = str | None


class JobRecord(TypedDict):
    """The schema every record from outside is held to (checked in C by msgspec).

    Fields not named here are dropped, so a peer can never store keys nobody validated.
    ``uuid`` and ``nodeId`` are checked to be safe ids by :func:`normalise`, which every
    record goes through next, against the ids already seen: a regular expression here,
    run by msgspec on every change, was half the cost of decoding one.
    """

    uuid: str
    nodeId: str
    status: Status
    version: Version
    createdAt: NotRequired[Time]
    updatedAt: NotRequired[Time]
    startTime: NotRequired[Time]
    endTime: NotRequired[Time]
    scheduledTime: NotRequired[Time]
    name: NotRequired[str | None]
    command: NotRequired[str | None]
    args: NotRequired[list[str]]
    exitCode: NotRequired[Int64 | None]
    pid: NotRequired[Int64 | None]
    error: NotRequired[str | None]
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


def normalise(record: JobRecord, *, fill_created: bool = False) -> JobRecord:
    """Finish a record that passed the schema: safe ids, canonical times, masked secrets.

    Empty or null times are dropped; ``fill_created`` stamps ``createdAt`` on a new job
    that arrived without one. Secret environment values never get past this point.
    """
    check_id(record["uuid"], "job.uuid")
    check_id(record["nodeId"], "job.nodeId")
    get = record.get
    for field, name in _TIME_NAMES:
        value = get(field)
        if value is None or value == "":
            if field in record:
                del record[field]  # type: ignore[misc]
        else:
            canonical = canonical_time(value, name)
            if canonical != value:
                record[field] = canonical  # type: ignore[literal-required]
    if fill_created and "createdAt" not in record:
        record["createdAt"] = now()
    secrets = get("secretEnvironment")
    if secrets:
        record["secretEnvironment"] = dict.fromkeys(cast(dict[str, str], secrets), SECRET_MASK)
    return record


def schema_error(exc: msgspec.ValidationError, prefix: str) -> InvalidInput:
    """A schema failure as our error: the dotted field, what is wrong, the right code."""
    text, _, where = str(exc).partition(" - at `$")
    path = (prefix + where.rstrip("`").replace("[...]", "")).lstrip(".")
    missing = _MISSING.match(text)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return InvalidInput(f"{path} is missing")
    leaf = path.rsplit(".", 1)[-1]
    if leaf in _ID_FIELDS:
        return InvalidInput(f"{path} is not a safe identifier ({SAFE_ID_RULE})", code="INVALID_ID")
    if path == prefix and text.startswith("Expected `object`"):
        return InvalidInput(f"{prefix or 'request'} must be a JSON object")
    return InvalidInput(f"{path}: {text}" if path else text)


_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_ID_FIELDS = frozenset({"uuid", "nodeId", "jobId", "syncId"})


def validate_record(record: object, *, fill_created: bool = False) -> JobRecord:
    """Check a record from outside against the schema and :func:`normalise` it.

    Returns a new dict; raises :class:`InvalidInput` naming the field that is wrong.
    """
    try:
        checked = msgspec.convert(record, JobRecord)
    except msgspec.ValidationError as exc:
        raise schema_error(exc, "job") from None
    return normalise(checked, fill_created=fill_created)


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
