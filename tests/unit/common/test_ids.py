"""Identifiers from outside: safe as one path component or key segment, or rejected."""

from __future__ import annotations

import os
import uuid
from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.common.errors import InvalidInput, JobletError
from joblet_cluster.common.ids import MAX_ID_LENGTH, check_id, is_safe_id

SAFE = [
    str(uuid.uuid4()),
    "f47ac10b-58cc-4372-a567-0e02b2c3d479",
    "node-1",
    "node_1",
    "Node.eu-west-1",
    "a",
    "7",
    "job.1.2",
    "a.",
    "x" * MAX_ID_LENGTH,
]

UNSAFE = [
    "",
    ".",
    "..",
    "a..b",
    "a..",
    "../x",
    "x/..",
    "/abs",
    "x/y",
    "x\\y",
    "a\x00b",
    "x" * (MAX_ID_LENGTH + 1),
    ".hidden",
    "-flag",
    "_under",
    "a b",
    " a",
    "a\n",
    "a\t",
    "caf\u00e9",
    "\u0661\u0662",  # Arabic-Indic digits are digits, but not ASCII
    "a:b",
    "a*",
    "~",
]

NOT_STRINGS = [None, 5, 0, 1.5, True, [], ["a"], {}, {"a": 1}, b"abc", ("a",)]


@pytest.mark.parametrize("value", SAFE)
def test_safe_ids_are_accepted(value):
    assert is_safe_id(value) is True
    assert check_id(value) is value


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_ids_are_rejected(value):
    assert is_safe_id(value) is False
    with pytest.raises(InvalidInput):
        check_id(value)


@pytest.mark.parametrize("value", NOT_STRINGS)
def test_non_strings_are_rejected_without_type_errors(value):
    assert is_safe_id(value) is False
    with pytest.raises(InvalidInput) as info:
        check_id(value, "job uuid")
    assert info.value.code == "INVALID_ID"


def test_an_id_that_is_a_str_subclass_is_rejected():
    class Sneaky(str):
        pass

    assert is_safe_id(Sneaky("abc")) is False


def test_answers_do_not_change_when_asked_again():
    for value in SAFE:
        assert is_safe_id(value) is True
        assert is_safe_id(value) is True
    for value in UNSAFE:
        assert is_safe_id(value) is False
        assert is_safe_id(value) is False


@pytest.mark.parametrize("what", ["job uuid", "job nodeId", "filter nodeId", "volume name"])
def test_check_id_error_names_the_kind_and_has_code_invalid_id(what):
    with pytest.raises(InvalidInput) as info:
        check_id("../etc", what)

    assert info.value.code == "INVALID_ID"
    assert str(info.value).startswith(f"{what} '../etc' is not a safe identifier")


def test_check_id_default_kind_is_job_id():
    with pytest.raises(InvalidInput, match=r"^job id ''"):
        check_id("")


def test_check_id_error_shortens_a_long_value():
    with pytest.raises(InvalidInput) as info:
        check_id("/" * 10_000)

    message = str(info.value)
    assert len(message) < 300
    assert "..." in message


def test_invalid_input_is_a_joblet_error():
    assert issubclass(InvalidInput, JobletError)


BASE = "/srv/joblet/jobs"


@given(
    st.one_of(
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,140}", fullmatch=True),
        st.text(alphabet="ab./\\-_\x00 ", max_size=12),
        st.text(max_size=20),
    )
)
def test_accepted_ids_are_always_a_direct_child_of_the_base_folder(value):
    if not is_safe_id(value):
        return
    joined = os.path.normpath(os.path.join(BASE, value))

    assert os.path.dirname(joined) == BASE
    assert os.path.basename(joined) == value
    assert PurePosixPath(BASE, value).parent == PurePosixPath(BASE)
    assert len(value) <= MAX_ID_LENGTH
