"""``rnx`` as a user runs it: a separate process, against a real node over mTLS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.node.conftest import Node


def rnx(node: Node, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RNX_CONFIG": str(config or node.rnx_config)}
    return subprocess.run(
        [sys.executable, "-m", "joblet_cluster.rnx", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_run_follow_exits_with_the_jobs_code_and_prints_its_output(node: Node) -> None:
    done = rnx(node, "job", "run", "--follow", "sh", "-c", "echo out; echo err >&2; exit 4")
    assert done.returncode == 4, done.stderr
    assert "out" in done.stdout + done.stderr and "err" in done.stdout + done.stderr


def test_run_status_log_list_delete_as_json(node: Node) -> None:
    started = rnx(node, "--json", "job", "run", "echo", "hello", "world")
    assert started.returncode == 0, started.stderr
    job_id = json.loads(started.stdout)["job_uuid"]
    node.wait_status(job_id, {"COMPLETED"})
    status = rnx(node, "--json", "job", "status", job_id[:8])
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "COMPLETED"
    log = rnx(node, "job", "log", job_id)
    assert (log.returncode, log.stdout) == (0, "hello world\n")
    listed = rnx(node, "--json", "job", "list", "--status", "COMPLETED")
    assert job_id in [job["uuid"] for job in json.loads(listed.stdout)]
    table = rnx(node, "job", "list")
    assert job_id[:8] in table.stdout and "STATUS" in table.stdout
    assert rnx(node, "job", "delete", job_id).returncode == 0
    gone = rnx(node, "job", "status", job_id)
    assert gone.returncode == 1
    assert gone.stderr.startswith("rnx: ") and len(gone.stderr.strip().splitlines()) == 1


def test_schedule_then_cancel_and_stop_a_running_job(node: Node) -> None:
    scheduled = rnx(node, "--json", "job", "run", "--schedule", "1h", "true")
    job_id = json.loads(scheduled.stdout)["job_uuid"]
    assert json.loads(scheduled.stdout)["status"] == "SCHEDULED"
    assert rnx(node, "job", "cancel", job_id).returncode == 0
    assert node.wait_status(job_id, {"CANCELED"}).status == "CANCELED"
    sleeper = json.loads(rnx(node, "--json", "job", "run", "sleep", "60").stdout)["job_uuid"]
    node.wait_status(sleeper, {"RUNNING"})
    stopped = rnx(node, "--json", "job", "stop", sleeper)
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["status"] == "STOPPED"


def test_exit_codes_for_usage_viewer_and_unreachable(node: Node, tmp_path: Path) -> None:
    assert rnx(node, "job", "run", "--retry-delay", "soon", "true").returncode == 2
    assert rnx(node, "--node", "nobody", "job", "list").returncode == 2
    refused = rnx(node, "--node", "viewer", "job", "run", "true")
    assert refused.returncode == 1
    assert "permission denied" in refused.stderr
    assert rnx(node, "--node", "viewer", "job", "list").returncode == 0
    text = node.rnx_config.read_text().replace(node.address, "127.0.0.1:1")
    closed = tmp_path / "rnx-config.yml"
    closed.write_text(text)
    unreachable = rnx(node, "job", "list", config=closed)
    assert unreachable.returncode == 3, unreachable.stderr
    assert unreachable.stderr.startswith("rnx: ")


def test_nodes_shows_every_node_of_the_config(node: Node) -> None:
    shown = rnx(node, "--json", "nodes")
    assert shown.returncode == 0, shown.stderr
    reports = json.loads(shown.stdout)
    assert {"default", "viewer", "node-1"} <= {r["name"] for r in reports}
    assert all(r["up"] and r["node_id"] == "node-1" for r in reports), reports
