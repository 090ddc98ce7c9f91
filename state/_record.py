"""The job record as stored and sent on the state IPC: a JSON object with camelCase keys.

Records stay plain dicts end to end (wire, backends, watch events), so the hot path of
the state service never converts between representations; :func:`validate_record` is the
one gate every record from outside passes through.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.common.ids import check_id
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
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> str:
    return format_time(datetime.now(UTC))


def canonical_time(value: object, field: str) -> str:
    """Parse an RFC 3339 time and return its canonical form, or raise naming ``field``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an RFC 3339 time string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} {value[:40]!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{field} {value[:40]!r} has no timezone (use Z or an offset)")
    if len(value) == 27 and value[-1] == "Z" and value[19] == ".":
        return value
    return format_time(parsed)


def _str_map(value: object, field: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidInput(f"{field} must be an object of string values")
    return value


def _check_type(record: dict[str, Any], field: str, kind: type | tuple[type, ...]) -> None:
    value = record.get(field)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise InvalidInput(f"job {field} has the wrong type ({type(value).__name__})")


def validate_record(record: object, *, fill_created: bool = False) -> JobRecord:
    """Check a record from outside and normalise it in place.

    Ids must be safe, the status known, the version a positive integer, times RFC 3339
    (rewritten to the canonical form). Secret environment values never get past this
    point: they are replaced by ``***``. ``fill_created`` stamps ``createdAt`` when a new
    job arrives without one.
    """
    if not isinstance(record, dict):
        raise InvalidInput("job must be a JSON object")
    check_id(record.get("uuid"), "job uuid")
    check_id(record.get("nodeId"), "job nodeId")
    status = record.get("status")
    if status not in STATUS_VALUES:
        raise InvalidInput(f"job status {status!r} is not one of {', '.join(sorted(STATUS_VALUES))}")
    version = record.get("version")
    if type(version) is not int or not 0 < version <= MAX_VERSION:
        raise InvalidInput(f"job version must be a positive integer, got {version!r}")
    for field in TIME_FIELDS:
        value = record.get(field)
        if value is None or value == "":
            record.pop(field, None)
        else:
            record[field] = canonical_time(value, field)
    if fill_created and "createdAt" not in record:
        record["createdAt"] = now()
    for field in ("name", "command", "error"):
        _check_type(record, field, str)
    for field in ("exitCode", "pid"):
        _check_type(record, field, int)
    args = record.get("args")
    if args is not None and (
        not isinstance(args, list) or not all(isinstance(a, str) for a in args)
    ):
        raise InvalidInput("job args must be a list of strings")
    for field in ("labels", "environment"):
        if field in record:
            _str_map(record[field], f"job {field}")
    secrets = record.get("secretEnvironment")
    if secrets is not None:
        record["secretEnvironment"] = dict.fromkeys(
            _str_map(secrets, "job secretEnvironment"), SECRET_MASK
        )
    if "resources" in record and not isinstance(record["resources"], dict):
        raise InvalidInput("job resources must be an object")
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
