"""The state IPC wire format: one JSON object per line each way (DESIGN.md, seeds/000).

Parsing is pure: bytes in, a validated :class:`Request` or a :class:`ProtocolError` out,
so the fuzz tests can hammer it without a socket. Errors travel as ``"CODE: message"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.common.ids import check_id
from joblet_cluster.state._changes import Change
from joblet_cluster.state._query import JobQuery
from joblet_cluster.state._record import JobRecord, validate_record

WRITE_OPS = frozenset({"create", "update", "delete"})
OPS = frozenset({"create", "update", "delete", "get", "list", "sync", "ping", "watch", "unwatch"})
MAX_SYNC_JOBS = 1_000_000


class ProtocolError(Exception):
    """A request that cannot be served; answered with ``code``, the connection stays open."""

    def __init__(self, code: str, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass(slots=True)
class Request:
    op: str
    request_id: Any
    change: Change | None = None  # create, update, delete
    job_id: str | None = None  # get
    query: JobQuery | None = None  # list
    node_id: str | None = None  # sync, watch
    jobs: list[JobRecord] | None = None  # sync
    sync_id: str | None = None  # sync sent in several parts
    more: bool = False  # sync: more parts follow
    watch_id: Any = None  # unwatch


def parse_request(line: bytes) -> Request:
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("INVALID_JSON", f"request is not valid JSON ({exc})") from None
    if not isinstance(message, dict):
        raise ProtocolError("INVALID_REQUEST", "request must be a JSON object")
    request_id = message.get("requestId")
    if type(request_id) is not int and type(request_id) is not str:
        raise ProtocolError("INVALID_REQUEST", "requestId is missing or not a string or integer")
    op = message.get("op")
    if op not in OPS:
        raise ProtocolError(
            "UNKNOWN_OP", f"op {str(op)[:40]!r} is not one of {', '.join(sorted(OPS))}", request_id
        )
    try:
        return _PARSERS[op](message, Request(op, request_id))
    except InvalidInput as exc:
        raise ProtocolError(exc.code, str(exc), request_id) from None


def _parse_put(message: dict[str, Any], request: Request) -> Request:
    record = validate_record(message.get("job"), fill_created=request.op == "create")
    job_id = message.get("jobId")
    if job_id is not None and job_id != record["uuid"]:
        raise InvalidInput(f"jobId {str(job_id)[:80]!r} does not match job uuid {record['uuid']!r}")
    request.change = Change(request.op, record["uuid"], record)  # type: ignore[arg-type]
    return request


def _parse_delete(message: dict[str, Any], request: Request) -> Request:
    request.change = Change("delete", check_id(message.get("jobId")))
    return request


def _parse_get(message: dict[str, Any], request: Request) -> Request:
    request.job_id = check_id(message.get("jobId"))
    return request


def _parse_list(message: dict[str, Any], request: Request) -> Request:
    request.query = JobQuery.from_wire(message.get("filter"))
    return request


def _parse_sync(message: dict[str, Any], request: Request) -> Request:
    node_id = check_id(message.get("nodeId"), "nodeId")
    jobs = message.get("jobs", [])
    if not isinstance(jobs, list):
        raise InvalidInput("sync jobs must be a list of job records")
    records = [validate_record(job, fill_created=True) for job in jobs]
    for record in records:
        if record["nodeId"] != node_id:
            raise InvalidInput(
                f"sync for node {node_id} holds job {record['uuid']} of node {record['nodeId']}"
            )
    sync_id = message.get("syncId")
    if sync_id is not None:
        check_id(sync_id, "syncId")
    more = message.get("more", False)
    if not isinstance(more, bool):
        raise InvalidInput("sync more must be true or false")
    if more and sync_id is None:
        raise InvalidInput("a sync sent in parts (more: true) needs a syncId")
    request.node_id, request.jobs, request.sync_id, request.more = node_id, records, sync_id, more
    return request


def _parse_ping(message: dict[str, Any], request: Request) -> Request:
    return request


def _parse_watch(message: dict[str, Any], request: Request) -> Request:
    node_id = message.get("nodeId")
    if node_id is not None:
        check_id(node_id, "nodeId")
    request.node_id = node_id
    return request


def _parse_unwatch(message: dict[str, Any], request: Request) -> Request:
    watch_id = message.get("watchId")
    if watch_id is None or isinstance(watch_id, bool) or not isinstance(watch_id, str | int):
        raise InvalidInput("unwatch needs the watchId (the requestId of the watch)")
    request.watch_id = watch_id
    return request


_PARSERS = {
    "create": _parse_put,
    "update": _parse_put,
    "delete": _parse_delete,
    "get": _parse_get,
    "list": _parse_list,
    "sync": _parse_sync,
    "ping": _parse_ping,
    "watch": _parse_watch,
    "unwatch": _parse_unwatch,
}


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message) + b"\n"


def error_response(request_id: Any, code: str, message: str, **extra: Any) -> bytes:
    return encode(
        {"requestId": request_id, "success": False, "error": f"{code}: {message}", **extra}
    )
