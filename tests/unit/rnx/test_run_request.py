"""What ``rnx job run`` puts in a RunJobRequest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.rnx.run_request import build_run_request, collect_uploads, parse_env_pairs


def test_build_with_only_a_command_sets_nothing_else() -> None:
    assert build_run_request("python3", ["-c", "print(1)"]) == pb.RunJobRequest(
        command="python3", args=["-c", "print(1)"]
    )


def test_build_sets_every_field_it_is_given() -> None:
    upload = pb.FileUpload(path="a.txt", content=b"x", mode=0o644)
    request = build_run_request(
        "sh",
        ["-c", "echo $A"],
        environment={"A": "1"},
        secret_environment={"S": "2"},
        work_dir="/work",
        uploads=[upload],
        schedule="2025-08-03T15:00:00Z",
        max_cpu=50,
        max_memory=512,
        max_retries=3,
        retry_delay="5s",
        priority=7,
    )
    assert request == pb.RunJobRequest(
        command="sh",
        args=["-c", "echo $A"],
        environment={"A": "1"},
        secret_environment={"S": "2"},
        work_dir="/work",
        uploads=[upload],
        schedule="2025-08-03T15:00:00Z",
        max_cpu=50,
        max_memory=512,
        max_retries=3,
        retry_delay="5s",
        priority=7,
    )
    # our fields travel at their own numbers, 100 and up
    fields = pb.RunJobRequest.DESCRIPTOR.fields_by_name
    assert [fields[n].number for n in ("max_retries", "retry_delay", "priority")] == [100, 101, 102]


def test_env_pairs_split_at_the_first_equals() -> None:
    assert parse_env_pairs(["A=1", "B=x=y", "C="], "--env") == {"A": "1", "B": "x=y", "C": ""}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [(["A"], "no '='"), (["=1"], "empty KEY"), (["A=1", "A=2"], "sets A twice")],
)
def test_bad_env_pairs_name_the_option(pairs: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=f"--secret-env .*{message}"):
        parse_env_pairs(pairs, "--secret-env")


def test_bad_secret_pairs_never_repeat_the_value() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_env_pairs(["hunter2"], "--secret-env")
    assert "hunter2" not in str(caught.value)


def test_a_file_uploads_under_its_base_name_with_its_mode(tmp_path: Path) -> None:
    script = tmp_path / "deep" / "run.sh"
    script.parent.mkdir()
    script.write_bytes(b"#!/bin/sh\necho hi\n")
    script.chmod(0o751)

    assert collect_uploads([script]) == [
        pb.FileUpload(path="run.sh", content=b"#!/bin/sh\necho hi\n", mode=0o751)
    ]


def test_a_directory_uploads_its_tree_in_order(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src" / "empty").mkdir(parents=True)
    (project / "src" / "b.py").write_text("b")
    (project / "a.txt").write_text("a")
    os.chmod(project / "a.txt", 0o600)

    uploads = collect_uploads([project])

    assert [(u.path, u.is_directory, u.content) for u in uploads] == [
        ("project", True, b""),
        ("project/a.txt", False, b"a"),
        ("project/src", True, b""),
        ("project/src/b.py", False, b"b"),
        ("project/src/empty", True, b""),
    ]
    assert uploads[1].mode == 0o600


def test_missing_and_clashing_uploads_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        collect_uploads([tmp_path / "nope"])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "same.txt").write_text(folder)
    with pytest.raises(InvalidInput, match=r"sends same\.txt more than once"):
        collect_uploads([tmp_path / "a" / "same.txt", tmp_path / "b" / "same.txt"])


def test_special_files_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match="not a regular file"):
        collect_uploads([fifo])
