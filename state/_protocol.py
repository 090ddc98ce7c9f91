"""The state IPC wire format: one JSON object per line each way (DESIGN.md, seeds/000).

Parsing is pure: bytes in, a validated :class:`Request` or a :class:`ProtocolError` out,
so the fuzz tests can hammer it without a socket. Errors travel as ``"CODE: message"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import orjson

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.state._changes import Change, ChangeOp
from joblet_cluster.state._query import JobQuery
from joblet_cluster.state._record import JobRecord, SafeId, normalise, schema_error

WRITE_OPS = frozenset({"create", "update", "delete", "batch"})
OPS = frozenset(
    {
        "create",
        "update",
        "delete",
        "batch",
        "get",
        "list",
        "sync",
        "ping",
        "watch",
        "unwatch",
        "register",
        "nodes",
        "members",
        "transfer",
        "snapshot",
        "restore",
    }
)
MAX_RESTORE_JOBS = 100_000  # jobs in one restore part
MAX_SYNC_JOBS = 1_000_000
MAX_BATCH_CHANGES = 1024  # changes in one batch request


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
    changes: list[Change] | None = None  # batch: the changes that can be applied, in order
    refused: dict[int, ProtocolError] | None = None  # batch: the others, by position
    job_id: str | None = None  # get
    query: JobQuery | None = None  # list
    node_id: str | None = None  # sync, watch
    jobs: list[JobRecord] | None = None  # sync
    sync_id: str | None = None  # sync sent in several parts
    more: bool = False  # sync: more parts follow
    watch_id: Any = None  # unwatch
    node: dict[str, Any] | None = None  # register
    consistent: bool = False  # get, list: through the log first
    action: str | None = None  # members: add or remove
    address: str | None = None  # members, transfer: a raft address
    path: str | None = None  # snapshot: the file to write
    first: bool = False  # restore: the first part, which empties the store


# The wire shapes, decoded and checked in one pass (C code in msgspec): ``op`` picks the
# shape, unknown fields (like the seeds' ``timestamp``) are ignored. ``requestId`` is
# optional in the shape because the changes inside a batch have none; parse_request
# requires it of a request.
class _Message(msgspec.Struct, tag_field="op", rename="camel", kw_only=True):
    request_id: int | str | None = None


class _Create(_Message, tag="create"):
    job: JobRecord
    job_id: SafeId | None = None


class _Update(_Message, tag="update"):
    job: JobRecord
    job_id: SafeId | None = None


class _Delete(_Message, tag="delete"):
    job_id: SafeId


class _Batch(_Message, tag="batch"):
    changes: Annotated[
        list[_Create | _Update | _Delete], msgspec.Meta(max_length=MAX_BATCH_CHANGES)
    ]


_CHANGE = msgspec.json.Decoder(_Create | _Update | _Delete)


class _Get(_Message, tag="get"):
    job_id: SafeId
    consistent: bool = False


class _List(_Message, tag="list"):
    filter: dict[str, Any] | None = None
    consistent: bool = False


class _Sync(_Message, tag="sync"):
    node_id: SafeId
    jobs: list[JobRecord] = msgspec.field(default_factory=list)
    sync_id: SafeId | None = None
    more: bool = False


class _Ping(_Message, tag="ping"):
    pass


class _Watch(_Message, tag="watch"):
    node_id: SafeId | None = None


class _Unwatch(_Message, tag="unwatch"):
    watch_id: int | str


class _NodeInfo(msgspec.Struct, rename="camel"):
    """What a node says of itself in the registry (the service stamps the heartbeat)."""

    node_id: SafeId
    address: str
    version: str = ""
    running_jobs: int = 0
    raft_address: str = ""
    last_applied: int = 0  # the replica's applied index when it sent this
    commit_index: int = 0


class _Register(_Message, tag="register"):
    node: _NodeInfo


class _Nodes(_Message, tag="nodes"):
    pass


RaftAddress = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9.\-]+:[0-9]{1,5}$", max_length=255)]


class _Members(_Message, tag="members"):
    action: Literal["add", "remove"]
    address: RaftAddress


class _Transfer(_Message, tag="transfer"):
    address: RaftAddress | None = None


class _Snapshot(_Message, tag="snapshot"):
    path: str


class _Restore(_Message, tag="restore"):
    jobs: Annotated[list[JobRecord], msgspec.Meta(max_length=MAX_RESTORE_JOBS)]
    first: bool = False


_DECODER = msgspec.json.Decoder(
    _Create
    | _Update
    | _Delete
    | _Batch
    | _Get
    | _List
    | _Sync
    | _Ping
    | _Watch
    | _Unwatch
    | _Register
    | _Nodes
    | _Members
    | _Transfer
    | _Snapshot
    | _Restore
)


def parse_request(line: bytes) -> Request:
    try:
        message = _DECODER.decode(line)
    except msgspec.ValidationError as exc:
        batch = _batch_with_refusals(line)
        if batch is not None:
            return batch
        raise _refusal(line, exc) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError("INVALID_JSON", f"request is not valid JSON ({exc})") from None
    if message.request_id is None:
        raise ProtocolError("INVALID_REQUEST", "requestId is missing or not a string or integer")
    kind = type(message)
    try:
        if kind is _Update or kind is _Create or kind is _Delete:
            change = _change(message)
            return Request(change.op, message.request_id, change)
        if kind is _Batch:
            return _batch_request(message.request_id, message.changes)
        if kind is _Get:
            return Request(
                "get", message.request_id, job_id=message.job_id, consistent=message.consistent
            )
        if kind is _List:
            query = JobQuery.from_wire(message.filter)
            return Request("list", message.request_id, query=query, consistent=message.consistent)
        if kind is _Sync:
            return _sync_request(message)
        if kind is _Watch:
            return Request("watch", message.request_id, node_id=message.node_id)
        if kind is _Unwatch:
            return Request("unwatch", message.request_id, watch_id=message.watch_id)
        if kind is _Register:
            node = msgspec.to_builtins(message.node)
            return Request("register", message.request_id, node=node)
        if kind is _Nodes:
            return Request("nodes", message.request_id)
        if kind is _Members:
            return Request(
                "members", message.request_id, action=message.action, address=message.address
            )
        if kind is _Transfer:
            return Request("transfer", message.request_id, address=message.address)
        if kind is _Snapshot:
            if not os.path.isabs(message.path):
                raise InvalidInput(f"snapshot path {message.path!r} is not absolute")
            return Request("snapshot", message.request_id, path=message.path)
        if kind is _Restore:
            jobs = [normalise(job, fill_created=True) for job in message.jobs]
            return Request("restore", message.request_id, jobs=jobs, first=message.first)
        return Request("ping", message.request_id)
    except InvalidInput as exc:
        raise ProtocolError(exc.code, str(exc), message.request_id) from None


def _change(message: _Create | _Update | _Delete) -> Change:
    if type(message) is _Delete:
        return Change("delete", message.job_id)
    op: ChangeOp = "create" if type(message) is _Create else "update"
    record = normalise(message.job, fill_created=op == "create")  # type: ignore[union-attr]
    if message.job_id is not None and message.job_id != record["uuid"]:
        raise InvalidInput(f"jobId {message.job_id!r} does not match job uuid {record['uuid']!r}")
    return Change(op, record["uuid"], record)


def _batch_request(request_id: int | str, items: list[Any]) -> Request:
    """Each change of a batch stands on its own: one that is not valid is refused in its
    place in the answer (``items`` holds its ProtocolError), and the others apply."""
    changes: list[Change] = []
    refused: dict[int, ProtocolError] = {}
    for position, item in enumerate(items):
        if type(item) is ProtocolError:
            refused[position] = item
            continue
        try:
            changes.append(_change(item))
        except InvalidInput as exc:
            refused[position] = ProtocolError(exc.code, str(exc))
    return Request("batch", request_id, changes=changes, refused=refused or None)


def _batch_with_refusals(line: bytes) -> Request | None:
    """A batch whose envelope is right but some of whose changes are not: each change
    checked alone, so the right ones still apply. None for anything else."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(raw, dict) or raw.get("op") != "batch":
        return None
    request_id, items = raw.get("requestId"), raw.get("changes")
    if not isinstance(request_id, int | str) or type(request_id) is bool:
        return None
    if not isinstance(items, list) or len(items) > MAX_BATCH_CHANGES:
        return None
    checked: list[Any] = []
    for position, item in enumerate(items):
        try:
            checked.append(_CHANGE.decode(orjson.dumps(item)))
        except msgspec.ValidationError as exc:
            checked.append(_change_refusal(item, position, exc))
    return _batch_request(request_id, checked)


def _change_refusal(item: Any, position: int, exc: msgspec.ValidationError) -> ProtocolError:
    where = f"changes[{position}]"
    if not isinstance(item, dict):
        return ProtocolError("INVALID_REQUEST", f"{where} must be a JSON object")
    detail = str(exc)
    if "at `$.op`" in detail or detail.endswith("field `op`"):
        return ProtocolError(
            "UNKNOWN_OP",
            f"{where}: op {str(item.get('op'))[:40]!r} is not one of create, update, delete",
        )
    error = schema_error(exc, where)
    return ProtocolError(error.code, str(error))


def _sync_request(message: _Sync) -> Request:
    records = [normalise(job, fill_created=True) for job in message.jobs]
    for record in records:
        if record["nodeId"] != message.node_id:
            raise InvalidInput(
                f"sync for node {message.node_id} holds job {record['uuid']} "
                f"of node {record['nodeId']}"
            )
    if message.more and message.sync_id is None:
        raise InvalidInput("a sync sent in parts (more: true) needs a syncId")
    return Request(
        "sync",
        message.request_id,
        node_id=message.node_id,
        jobs=records,
        sync_id=message.sync_id,
        more=message.more,
    )


def _refusal(line: bytes, exc: msgspec.ValidationError) -> ProtocolError:
    """Why a well-formed JSON line is not a request, answered under its requestId if any."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        return ProtocolError("INVALID_REQUEST", "request must be a JSON object")
    request_id = raw.get("requestId")
    if type(request_id) is not int and type(request_id) is not str:
        request_id = None
    detail = str(exc)
    if "at `$.op`" in detail or detail.endswith("field `op`"):
        return ProtocolError(
            "UNKNOWN_OP",
            f"op {str(raw.get('op'))[:40]!r} is not one of {', '.join(sorted(OPS))}",
            request_id,
        )
    if request_id is None:
        return ProtocolError("INVALID_REQUEST", "requestId is missing or not a string or integer")
    error = schema_error(exc, "")
    return ProtocolError(error.code, str(error), request_id)


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message) + b"\n"


def error_response(request_id: Any, code: str, message: str, **extra: Any) -> bytes:
    return encode(
        {"requestId": request_id, "success": False, "error": f"{code}: {message}", **extra}
    )
