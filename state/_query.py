"""What a ``list`` asks for: filters, sort order, page size and cursor.

Parsing and matching live here, once, so every backend answers the same question the
same way; a backend only chooses how to find candidates quickly.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.common.ids import check_id
from joblet_cluster.state._lifecycle import STATUS_VALUES
from joblet_cluster.state._record import JobRecord, canonical_time

SortField = Literal["createdAt", "updatedAt", "startTime", "status"]
SORT_FIELDS: tuple[str, ...] = ("createdAt", "updatedAt", "startTime", "status")
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
_FILTER_KEYS = frozenset(
    {
        "status",
        "statuses",
        "nodeId",
        "labels",
        "createdAfter",
        "createdBefore",
        "updatedAfter",
        "updatedBefore",
        "sortBy",
        "order",
        "limit",
        "cursor",
    }
)


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    """One term of a selector: ``key=value``, ``key!=value``, ``key`` or ``!key``."""

    key: str
    op: Literal["=", "!=", "exists", "!exists"]
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "=":
            return labels.get(self.key) == self.value
        if self.op == "!=":
            return labels.get(self.key) != self.value
        if self.op == "exists":
            return self.key in labels
        return self.key not in labels


def parse_selector(selector: str | Mapping[str, str]) -> tuple[LabelRequirement, ...]:
    """A label selector as a string (``env=prod,tier!=db,team,!temp``) or a key→value map."""
    if isinstance(selector, Mapping):
        if not all(isinstance(k, str) and k and isinstance(v, str) for k, v in selector.items()):
            raise InvalidInput("filter labels must map non-empty keys to strings")
        return tuple(LabelRequirement(k, "=", v) for k, v in selector.items())
    if not isinstance(selector, str):
        raise InvalidInput("filter labels must be a selector string or an object")
    terms: list[LabelRequirement] = []
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            terms.append(LabelRequirement(key.strip(), "!=", value.strip()))
        elif "=" in term:
            key, value = term.split("=", 1)
            terms.append(LabelRequirement(key.strip().rstrip("="), "=", value.strip().lstrip("=")))
        elif term.startswith("!"):
            terms.append(LabelRequirement(term[1:].strip(), "!exists"))
        else:
            terms.append(LabelRequirement(term, "exists"))
    for t in terms:
        if not t.key:
            raise InvalidInput(f"label selector {selector!r} has a term without a key")
    return tuple(terms)


@dataclass(frozen=True, slots=True)
class JobQuery:
    """A validated ``list`` request. Time bounds: ``after`` inclusive, ``before`` exclusive."""

    statuses: frozenset[str] | None = None
    node_id: str | None = None
    labels: tuple[LabelRequirement, ...] = ()
    created_after: str | None = None
    created_before: str | None = None
    updated_after: str | None = None
    updated_before: str | None = None
    sort_by: SortField = "createdAt"
    descending: bool = False
    limit: int = DEFAULT_LIMIT
    after: tuple[str, str] | None = None  # the (sort value, uuid) the previous page ended at

    @classmethod
    def from_wire(cls, spec: object) -> JobQuery:
        """Validate a request's ``filter`` object; every error names the field."""
        if spec is None:
            return cls()
        if not isinstance(spec, dict):
            raise InvalidInput("filter must be a JSON object")
        unknown = sorted(set(spec) - _FILTER_KEYS)
        if unknown:
            raise InvalidInput(
                f"filter has unknown field {unknown[0]!r} "
                f"(known: {', '.join(sorted(_FILTER_KEYS))})"
            )
        statuses = _statuses(spec)
        node_id = spec.get("nodeId")
        if node_id is not None:
            check_id(node_id, "filter nodeId")
        labels = parse_selector(spec["labels"]) if spec.get("labels") else ()
        times = {
            name: canonical_time(spec[name], f"filter {name}") if spec.get(name) else None
            for name in ("createdAfter", "createdBefore", "updatedAfter", "updatedBefore")
        }
        sort_by = spec.get("sortBy", "createdAt")
        if sort_by not in SORT_FIELDS:
            raise InvalidInput(f"filter sortBy {sort_by!r} is not one of {', '.join(SORT_FIELDS)}")
        order = spec.get("order", "asc")
        if order not in ("asc", "desc"):
            raise InvalidInput(f"filter order {order!r} is not 'asc' or 'desc'")
        limit = spec.get("limit", DEFAULT_LIMIT)
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"filter limit must be an integer from 1 to {MAX_LIMIT}")
        after = _decode_cursor(spec["cursor"], sort_by, order) if spec.get("cursor") else None
        return cls(
            statuses=statuses,
            node_id=node_id,
            labels=labels,
            created_after=times["createdAfter"],
            created_before=times["createdBefore"],
            updated_after=times["updatedAfter"],
            updated_before=times["updatedBefore"],
            sort_by=sort_by,
            descending=order == "desc",
            limit=limit,
            after=after,
        )

    def matches(self, job: JobRecord) -> bool:
        """The filters, without the cursor."""
        if self.statuses is not None and job["status"] not in self.statuses:
            return False
        if self.node_id is not None and job["nodeId"] != self.node_id:
            return False
        created = job["createdAt"] or ""  # always set once a record is stored
        if self.created_after is not None and created < self.created_after:
            return False
        if self.created_before is not None and created >= self.created_before:
            return False
        if self.updated_after is not None or self.updated_before is not None:
            updated = job.get("updatedAt") or created
            if self.updated_after is not None and updated < self.updated_after:
                return False
            if self.updated_before is not None and updated >= self.updated_before:
                return False
        if self.labels:
            labels = job.get("labels") or {}
            return all(term.matches(labels) for term in self.labels)
        return True

    def sort_key(self, job: JobRecord) -> tuple[str, str]:
        return (job.get(self.sort_by) or "", job["uuid"])  # type: ignore[return-value]

    def past_cursor(self, key: tuple[str, str]) -> bool:
        """True when ``key`` comes after the cursor in this query's order."""
        if self.after is None:
            return True
        return key < self.after if self.descending else key > self.after

    def cursor_after(self, job: JobRecord) -> str:
        """The opaque cursor that resumes a listing after ``job``."""
        value, uuid = self.sort_key(job)
        raw = orjson.dumps([self.sort_by, "desc" if self.descending else "asc", value, uuid])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _statuses(spec: dict[str, Any]) -> frozenset[str] | None:
    wanted: list[Any] = []
    if spec.get("status"):
        wanted.append(spec["status"])
    if spec.get("statuses") is not None:
        if not isinstance(spec["statuses"], list):
            raise InvalidInput("filter statuses must be a list of statuses")
        wanted.extend(spec["statuses"])
    if not wanted:
        return None
    for status in wanted:
        if type(status) is not str or status not in STATUS_VALUES:
            raise InvalidInput(
                f"filter status {status!r} is not one of {', '.join(sorted(STATUS_VALUES))}"
            )
    return frozenset(wanted)


def _decode_cursor(cursor: object, sort_by: str, order: str) -> tuple[str, str]:
    if not isinstance(cursor, str) or len(cursor) > 2048:
        raise InvalidInput(
            "filter cursor is not a cursor from a previous page", code="INVALID_CURSOR"
        )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        field, direction, value, uuid = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidInput(
            "filter cursor is not a cursor from a previous page", code="INVALID_CURSOR"
        ) from None
    if (
        (field, direction) != (sort_by, order)
        or not isinstance(value, str)
        or not isinstance(uuid, str)
    ):
        raise InvalidInput(
            "filter cursor belongs to a listing with another sortBy or order", code="INVALID_CURSOR"
        )
    return (value, uuid)
