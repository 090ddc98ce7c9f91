"""The command line itself: help everywhere, usage errors, and failing in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from joblet_cluster.node.dev import free_port
from joblet_cluster.rnx.cli import app, run
from tests.unit.rnx.conftest import Pems, write_rnx_config


def command_paths() -> Iterator[list[str]]:
    """Every group and command of the app, as the words that reach it."""
    stack: list[tuple[list[str], object]] = [([], typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            stack.append(([*path, name], sub))


ALL_COMMANDS = sorted(command_paths())


def test_the_command_tree() -> None:
    assert [" ".join(path) for path in ALL_COMMANDS] == [
        "",
        "cluster",
        "cluster add",
        "cluster remove",
        "cluster snapshot",
        "cluster snapshot save",
        "cluster status",
        "cluster transfer-leader",
        "job",
        "job cancel",
        "job delete",
        "job delete-all",
        "job list",
        "job log",
        "job metrics",
        "job run",
        "job status",
        "job stop",
        "nodes",
        "version",
    ]


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "rnx")
def test_help_exits_0(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*path, "--help"]) == 0
    assert "Usage: rnx" in capsys.readouterr().out


@pytest.mark.parametrize("path", [[], ["job"]], ids=["rnx", "job"])
def test_a_group_without_a_command_shows_help_as_a_usage_error(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(path) == 2
    assert "Usage: rnx" in capsys.readouterr().out


NO_CONFIG = ["--config", "/nonexistent/rnx-config.yml"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["job", "run"], "Missing argument 'COMMAND'"),
        (["job", "run", "--bogus", "x"], "No such option: --bogus"),
        (["job", "run", "--max-cpu", "-1", "x"], "'--max-cpu'"),
        (["job", "run", "--max-memory", "lots", "x"], "'--max-memory'"),
        (["job", "run", "--retry-delay", "5", "x"], "--retry-delay: invalid duration '5'"),
        (["job", "run", "--schedule", "tomorrow", "x"], "--schedule: invalid schedule"),
        (["job", "run", "--env", "NOEQUALS", "x"], "--env wants KEY=VALUE"),
        (["job", "run", "--upload", "/nonexistent/file", "x"], "--upload /nonexistent/file"),
        (["job", "run", "-f", "--json", "x"], "cannot print --json"),
        (["--json", "job", "run", "-f", "x"], "cannot print --json"),
        (["--json", "job", "log", "abc"], "no --json form"),
        (["job", "list", "--status", "done"], "unknown status DONE"),
        (["job", "list", "--limit", "0"], "'--limit'"),
        (["job", "log", "--stream", "both", "abc"], "'--stream'"),
        (["job", "log", "--tail", "-1", "abc"], "'--tail'"),
        (["job", "metrics", "--since", "forever", "abc"], "--since: invalid duration"),
        (["job", "metrics", "--aggregate", "median", "abc"], "'--aggregate'"),
        (["job", "status"], "Missing argument 'ID'"),
        (["jobs"], "No such command 'jobs'"),
    ],
)
def test_usage_errors_exit_2_with_one_line_before_reading_the_config(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*NO_CONFIG, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnx: ")
    assert err.count("\n") == 1
    assert message in err


def test_a_missing_config_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RNX_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)

    assert run(["job", "list"]) == 2
    assert capsys.readouterr().err.startswith("rnx: no rnx-config.yml found")

    assert run([*NO_CONFIG, "job", "list"]) == 2
    assert "(from --config) does not exist" in capsys.readouterr().err


def test_rnx_config_variable_and_unknown_node(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pems: Pems
) -> None:
    config = write_rnx_config(tmp_path / "elsewhere.yml", pems, {"east": "127.0.0.1:1"})
    monkeypatch.setenv("RNX_CONFIG", str(config))

    assert run(["--node", "west", "job", "list"]) == 2
    assert capsys.readouterr().err == f"rnx: no node 'west' in {config} (nodes: east)\n"
    assert run(["job", "list"]) == 2
    assert "has no node 'default': choose one with --node" in capsys.readouterr().err


def test_version_needs_no_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*NO_CONFIG, "version"]) == 0
    assert capsys.readouterr().out.startswith("rnx ")


def rnx_process(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    return subprocess.run(
        [sys.executable, "-m", "joblet_cluster.rnx", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_closed_port_exits_3_with_one_line(tmp_path: Path, pems: Pems) -> None:
    address = f"127.0.0.1:{free_port()}"
    config = write_rnx_config(tmp_path / "rnx-config.yml", pems, {"default": address})

    result = rnx_process(config, "job", "list")

    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.startswith(f"rnx: cannot reach node 'default' at {address}: ")
    assert result.stderr.count("\n") == 1
