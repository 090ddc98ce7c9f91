"""JobQuery: parsing a list request, matching records, and paging with cursors."""

from __future__ import annotations

import base64

import orjson
import pytest

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.state import JobQuery
from joblet_cluster.state._query import DEFAULT_LIMIT, MAX_LIMIT, LabelRequirement, parse_selector

T0 = "2024-01-01T00:00:00.000000Z"
T1 = "2024-01-01T00:00:00.000001Z"
T2 = "2024-01-02T00:00:00.000000Z"


def job(uuid: str = "job-1", **fields) -> dict:
    record = {
        "uuid": uuid,
        "nodeId": "node-1",
        "status": "RUNNING",
        "version": 1,
        "createdAt": T0,
    }
    record.update(fields)
    return record


def query_error(spec: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        JobQuery.from_wire(spec)
    return info.value


def encode(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


# --- from_wire --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [None, {}])
def test_no_filter_gives_the_defaults(spec):
    query = JobQuery.from_wire(spec)

    assert query == JobQuery()
    assert query.statuses is None
    assert query.node_id is None
    assert query.labels == ()
    assert query.created_after is None
    assert query.created_before is None
    assert query.updated_after is None
    assert query.updated_before is None
    assert query.sort_by == "createdAt"
    assert query.descending is False
    assert query.limit == DEFAULT_LIMIT == 1000
    assert query.after is None


def test_a_full_filter_is_parsed():
    query = JobQuery.from_wire(
        {
            "status": "RUNNING",
            "statuses": ["FAILED", "COMPLETED"],
            "nodeId": "node-2",
            "labels": "env=prod,!temp",
            "createdAfter": "2024-01-01T02:00:00+02:00",
            "createdBefore": "2024-01-02T00:00:00Z",
            "updatedAfter": "2024-01-01T00:00:00.5Z",
            "updatedBefore": "2024-01-03T00:00:00Z",
            "sortBy": "updatedAt",
            "order": "desc",
            "limit": MAX_LIMIT,
        }
    )

    assert query.statuses == frozenset({"RUNNING", "FAILED", "COMPLETED"})
    assert query.node_id == "node-2"
    assert query.labels == (
        LabelRequirement("env", "=", "prod"),
        LabelRequirement("temp", "!exists"),
    )
    assert query.created_after == T0
    assert query.created_before == T2
    assert query.updated_after == "2024-01-01T00:00:00.500000Z"
    assert query.updated_before == "2024-01-03T00:00:00.000000Z"
    assert query.sort_by == "updatedAt"
    assert query.descending is True
    assert query.limit == MAX_LIMIT


@pytest.mark.parametrize("sort_by", ["createdAt", "updatedAt", "startTime", "status"])
def test_every_sort_field_is_accepted(sort_by):
    assert JobQuery.from_wire({"sortBy": sort_by}).sort_by == sort_by


@pytest.mark.parametrize("limit", [1, 500, MAX_LIMIT])
def test_limits_in_range_are_accepted(limit):
    assert JobQuery.from_wire({"limit": limit}).limit == limit


@pytest.mark.parametrize("empty", [None, "", [], {}])
def test_empty_optional_filters_are_ignored(empty):
    spec = {"status": empty, "labels": empty, "createdAfter": empty, "cursor": empty}
    query = JobQuery.from_wire(spec)

    assert query.statuses is None
    assert query.labels == ()
    assert query.created_after is None
    assert query.after is None


@pytest.mark.parametrize("spec", [[], "status=RUNNING", 5, True])
def test_filter_must_be_an_object(spec):
    assert "filter must be a JSON object" in str(query_error(spec))


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"bogus": 1}, "'bogus'"),
        ({"node_id": "n"}, "'node_id'"),
        ({"status": "PENDING"}, "filter status 'PENDING'"),
        ({"status": "running"}, "filter status 'running'"),
        ({"statuses": ["RUNNING", "NOPE"]}, "filter status 'NOPE'"),
        ({"statuses": "RUNNING"}, "filter statuses"),
        ({"statuses": [7]}, "filter status 7"),
        ({"nodeId": "../x"}, "filter nodeId"),
        ({"nodeId": 5}, "filter nodeId"),
        ({"labels": 5}, "filter labels"),
        ({"labels": ["env=prod"]}, "filter labels"),
        ({"labels": {"env": 1}}, "filter labels"),
        ({"labels": "=prod"}, "label selector"),
        ({"createdAfter": "yesterday"}, "filter createdAfter"),
        ({"createdBefore": "2024-01-01T00:00:00"}, "filter createdBefore"),
        ({"updatedAfter": 1700000000}, "filter updatedAfter"),
        ({"updatedBefore": "soon"}, "filter updatedBefore"),
        ({"sortBy": "name"}, "filter sortBy 'name'"),
        ({"sortBy": None}, "filter sortBy"),
        ({"order": "up"}, "filter order 'up'"),
        ({"order": "ASC"}, "filter order 'ASC'"),
        ({"limit": 0}, "filter limit"),
        ({"limit": -1}, "filter limit"),
        ({"limit": MAX_LIMIT + 1}, "filter limit"),
        ({"limit": "5"}, "filter limit"),
        ({"limit": 5.0}, "filter limit"),
        ({"limit": True}, "filter limit"),
        ({"limit": None}, "filter limit"),
    ],
)
def test_each_bad_filter_names_its_field(spec, named):
    assert named in str(query_error(spec))


def test_unknown_filter_field_lists_the_known_ones():
    message = str(query_error({"bogus": 1}))

    assert "known: " in message
    for field in ("status", "statuses", "nodeId", "labels", "sortBy", "order", "limit", "cursor"):
        assert field in message


def test_bad_filter_node_id_has_code_invalid_id():
    assert query_error({"nodeId": "a/b"}).code == "INVALID_ID"


@pytest.mark.parametrize("spec", [{"status": ["RUNNING"]}, {"statuses": [["RUNNING"]]}])
def test_unhashable_status_is_invalid_input(spec):
    assert "filter status" in str(query_error(spec))


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not base64!!!",
        "abc",
        "caf\u00e9",
        5,
        ["createdAt"],
        "x" * 3000,
        encode({"createdAt": "asc"}),
        encode(["createdAt", "asc", T0]),
        encode(["createdAt", "asc", T0, "job-1", "extra"]),
        encode(["createdAt", "asc", 5, "job-1"]),
        encode(["createdAt", "asc", T0, None]),
        encode("createdAt"),
        encode(42),
    ],
)
def test_bad_cursor_is_invalid_cursor(cursor):
    error = query_error({"cursor": cursor})

    assert error.code == "INVALID_CURSOR"
    assert "filter cursor" in str(error)


@pytest.mark.parametrize(
    ("made_with", "used_with"),
    [
        ({"sortBy": "createdAt"}, {"sortBy": "updatedAt"}),
        ({"sortBy": "status"}, {"sortBy": "startTime"}),
        ({"order": "asc"}, {"order": "desc"}),
        ({"sortBy": "updatedAt", "order": "desc"}, {"sortBy": "updatedAt", "order": "asc"}),
        ({"sortBy": "updatedAt", "order": "desc"}, {}),
    ],
)
def test_cursor_from_another_sort_or_order_is_invalid_cursor(made_with, used_with):
    cursor = JobQuery.from_wire(made_with).cursor_after(job())

    error = query_error({**used_with, "cursor": cursor})

    assert error.code == "INVALID_CURSOR"
    assert "another sortBy or order" in str(error)


# --- parse_selector ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("a=b", (LabelRequirement("a", "=", "b"),)),
        ("a==b", (LabelRequirement("a", "=", "b"),)),
        ("a!=b", (LabelRequirement("a", "!=", "b"),)),
        ("a", (LabelRequirement("a", "exists"),)),
        ("!a", (LabelRequirement("a", "!exists"),)),
        ("a=", (LabelRequirement("a", "=", ""),)),
        ("a=b=c", (LabelRequirement("a", "=", "b=c"),)),
        (
            "  env = prod ,tier != db,  team , ! temp ",
            (
                LabelRequirement("env", "=", "prod"),
                LabelRequirement("tier", "!=", "db"),
                LabelRequirement("team", "exists"),
                LabelRequirement("temp", "!exists"),
            ),
        ),
        ("a=b,,c", (LabelRequirement("a", "=", "b"), LabelRequirement("c", "exists"))),
        ("", ()),
        (" , ,", ()),
    ],
)
def test_selector_syntax(selector, expected):
    assert parse_selector(selector) == expected


@pytest.mark.parametrize("selector", ["=b", "==b", "!=b", "!", " = b", "a=1,=2", "a, ! ,b"])
def test_selector_term_without_a_key_is_an_error(selector):
    with pytest.raises(InvalidInput) as info:
        parse_selector(selector)

    assert "without a key" in str(info.value)
    assert repr(selector) in str(info.value)


def test_selector_mapping_form_means_equality():
    assert parse_selector({"env": "prod", "team": "infra"}) == (
        LabelRequirement("env", "=", "prod"),
        LabelRequirement("team", "=", "infra"),
    )


@pytest.mark.parametrize("selector", [{"env": 1}, {1: "x"}, {"env": None}])
def test_selector_mapping_must_map_strings_to_strings(selector):
    with pytest.raises(InvalidInput, match="filter labels"):
        parse_selector(selector)


@pytest.mark.parametrize("selector", [5, None, ["a=b"], b"a=b"])
def test_selector_of_another_type_is_an_error(selector):
    with pytest.raises(InvalidInput, match="filter labels"):
        parse_selector(selector)


@pytest.mark.parametrize(
    ("requirement", "labels", "expected"),
    [
        (LabelRequirement("env", "=", "prod"), {"env": "prod"}, True),
        (LabelRequirement("env", "=", "prod"), {"env": "dev"}, False),
        (LabelRequirement("env", "=", "prod"), {}, False),
        (LabelRequirement("env", "=", ""), {"env": ""}, True),
        (LabelRequirement("env", "!=", "prod"), {"env": "dev"}, True),
        (LabelRequirement("env", "!=", "prod"), {}, True),
        (LabelRequirement("env", "!=", "prod"), {"env": "prod"}, False),
        (LabelRequirement("env", "exists"), {"env": ""}, True),
        (LabelRequirement("env", "exists"), {"other": "x"}, False),
        (LabelRequirement("env", "!exists"), {"other": "x"}, True),
        (LabelRequirement("env", "!exists"), {"env": "x"}, False),
    ],
)
def test_label_requirement_matches(requirement, labels, expected):
    assert requirement.matches(labels) is expected


# --- matches ----------------------------------------------------------------------------


def matches(spec: dict, record: dict) -> bool:
    return JobQuery.from_wire(spec).matches(record)


def test_no_filter_matches_everything():
    assert matches({}, job())
    assert matches({}, job(status="FAILED", nodeId="node-9", labels={"a": "b"}))


def test_status_filters():
    assert matches({"status": "RUNNING"}, job(status="RUNNING"))
    assert not matches({"status": "RUNNING"}, job(status="FAILED"))
    assert matches({"statuses": ["FAILED", "STOPPED"]}, job(status="STOPPED"))
    assert not matches({"statuses": ["FAILED", "STOPPED"]}, job(status="RUNNING"))
    assert matches({"status": "RUNNING", "statuses": ["FAILED"]}, job(status="FAILED"))


def test_an_empty_statuses_list_filters_nothing():
    assert JobQuery.from_wire({"statuses": []}).statuses is None
    assert matches({"statuses": []}, job(status="CANCELED"))


def test_node_filter():
    assert matches({"nodeId": "node-1"}, job(nodeId="node-1"))
    assert not matches({"nodeId": "node-1"}, job(nodeId="node-2"))


def test_label_filter_needs_every_term():
    spec = {"labels": "env=prod,!temp"}

    assert matches(spec, job(labels={"env": "prod"}))
    assert not matches(spec, job(labels={"env": "prod", "temp": "1"}))
    assert not matches(spec, job(labels={"env": "dev"}))
    assert not matches(spec, job())
    assert matches({"labels": "!temp"}, job())
    assert matches({"labels": {"env": "prod"}}, job(labels={"env": "prod", "x": "y"}))


def test_created_after_is_inclusive():
    assert matches({"createdAfter": T0}, job(createdAt=T0))
    assert matches({"createdAfter": T0}, job(createdAt=T1))
    assert not matches({"createdAfter": T1}, job(createdAt=T0))


def test_created_before_is_exclusive():
    assert not matches({"createdBefore": T0}, job(createdAt=T0))
    assert matches({"createdBefore": T1}, job(createdAt=T0))
    assert not matches({"createdBefore": T0}, job(createdAt=T1))


def test_time_bounds_with_offsets_compare_as_instants():
    same_instant = "2024-01-01T02:00:00+02:00"

    assert matches({"createdAfter": same_instant}, job(createdAt=T0))
    assert not matches({"createdBefore": same_instant}, job(createdAt=T0))


def test_updated_bounds_use_updated_at():
    record = job(createdAt=T0, updatedAt=T2)

    assert matches({"updatedAfter": T2}, record)
    assert not matches({"updatedAfter": "2024-01-02T00:00:00.000001Z"}, record)
    assert not matches({"updatedBefore": T2}, record)
    assert matches({"updatedBefore": "2024-01-02T00:00:00.000001Z"}, record)
    assert matches({"updatedAfter": T1}, record)


@pytest.mark.parametrize("updated", [None, ""])
def test_updated_bounds_fall_back_to_created_at(updated):
    record = job(createdAt=T1)
    if updated is not None:
        record["updatedAt"] = updated

    assert matches({"updatedAfter": T1}, record)
    assert not matches({"updatedAfter": T2}, record)
    assert matches({"updatedBefore": T2}, record)
    assert not matches({"updatedBefore": T1}, record)


def test_all_filters_together():
    spec = {
        "statuses": ["RUNNING"],
        "nodeId": "node-1",
        "labels": "env=prod",
        "createdAfter": T0,
        "createdBefore": T2,
        "updatedAfter": T0,
        "updatedBefore": T2,
    }
    good = job(labels={"env": "prod"}, createdAt=T1, updatedAt=T1)

    assert matches(spec, good)
    assert not matches(spec, {**good, "status": "FAILED"})
    assert not matches(spec, {**good, "nodeId": "node-2"})
    assert not matches(spec, {**good, "labels": {}})
    assert not matches(spec, {**good, "createdAt": T2})
    assert not matches(spec, {**good, "updatedAt": T2})


# --- cursors ----------------------------------------------------------------------------


@pytest.mark.parametrize("sort_by", ["createdAt", "updatedAt", "startTime", "status"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_cursor_after_round_trips_to_after(sort_by, order):
    spec = {"sortBy": sort_by, "order": order}
    record = job("job-7", updatedAt=T2, startTime=T1)
    query = JobQuery.from_wire(spec)

    cursor = query.cursor_after(record)
    resumed = JobQuery.from_wire({**spec, "cursor": cursor})

    assert resumed.after == query.sort_key(record)
    assert resumed.after == (record[sort_by], "job-7")
    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_for_a_missing_sort_value_round_trips_as_empty():
    query = JobQuery.from_wire({"sortBy": "startTime"})

    resumed = JobQuery.from_wire({"sortBy": "startTime", "cursor": query.cursor_after(job())})

    assert resumed.after == ("", "job-1")


def test_past_cursor_without_a_cursor_is_always_true():
    query = JobQuery()

    assert query.past_cursor(("", ""))
    assert query.past_cursor((T2, "zzz"))


def test_past_cursor_ascending():
    query = JobQuery(after=(T1, "job-5"))

    assert query.past_cursor((T2, "job-1"))
    assert query.past_cursor((T1, "job-6"))
    assert not query.past_cursor((T1, "job-5"))
    assert not query.past_cursor((T1, "job-4"))
    assert not query.past_cursor((T0, "job-9"))


def test_past_cursor_descending():
    query = JobQuery(after=(T1, "job-5"), descending=True)

    assert query.past_cursor((T0, "job-9"))
    assert query.past_cursor((T1, "job-4"))
    assert not query.past_cursor((T1, "job-5"))
    assert not query.past_cursor((T1, "job-6"))
    assert not query.past_cursor((T2, "job-1"))


def page_through(records: list[dict], spec: dict) -> list[str]:
    """List ``records`` a page at a time the way a backend does, following cursors."""
    seen: list[str] = []
    cursor = None
    for _ in range(len(records) + 2):
        query = JobQuery.from_wire({**spec, **({"cursor": cursor} if cursor else {})})
        ordered = sorted(records, key=query.sort_key, reverse=query.descending)
        page = [r for r in ordered if query.matches(r) and query.past_cursor(query.sort_key(r))]
        page = page[: query.limit]
        if not page:
            return seen
        seen.extend(r["uuid"] for r in page)
        cursor = query.cursor_after(page[-1])
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("sort_by", ["createdAt", "status", "startTime"])
def test_paging_with_cursors_visits_every_match_once_in_order(order, sort_by):
    records = [
        job(f"job-{i}", createdAt=t, status=s, **({"startTime": t} if i % 2 else {}))
        for i, (t, s) in enumerate(
            [
                (T0, "RUNNING"),
                (T1, "FAILED"),
                (T0, "RUNNING"),
                (T2, "COMPLETED"),
                (T1, "RUNNING"),
                (T2, "FAILED"),
                (T0, "COMPLETED"),
            ]
        )
    ]
    spec = {"sortBy": sort_by, "order": order, "limit": 2}
    query = JobQuery.from_wire(spec)
    expected = [r["uuid"] for r in sorted(records, key=query.sort_key, reverse=order == "desc")]

    assert page_through(records, spec) == expected
    assert sorted(expected) == sorted(r["uuid"] for r in records)
