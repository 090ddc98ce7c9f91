"""``rnx`` as a user runs it: a separate process, against a real node over mTLS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from joblet_cluster.node.certs import RnxNode, generate, write_rnx_config
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


def test_nodes_shows_the_registry_or_probes_every_node_of_the_config(node: Node) -> None:
    shown = rnx(node, "--json", "nodes")
    assert shown.returncode == 0, shown.stderr
    (alone,) = json.loads(shown.stdout)  # a node alone registers itself all the same
    assert alone["node_id"] == "node-1" and alone["up"] and alone["role"] in ("leader", "")
    probed = rnx(node, "--json", "nodes", "--probe")
    assert probed.returncode == 0, probed.stderr
    reports = json.loads(probed.stdout)
    assert {"default", "viewer", "node-1"} <= {r["name"] for r in reports}
    assert all(r["up"] and r["node_id"] == "node-1" for r in reports), reports


def test_log_by_stream_filter_and_tail(node: Node) -> None:
    script = "for i in 1 2 3 4; do echo out$i; echo err$i >&2; done"
    job_id = json.loads(rnx(node, "--json", "job", "run", "sh", "-c", script).stdout)["job_uuid"]
    node.wait_status(job_id, {"COMPLETED"})
    assert rnx(node, "job", "log", "--stream", "stderr", job_id).stdout.split() == [
        "err1",
        "err2",
        "err3",
        "err4",
    ]
    assert rnx(node, "job", "log", "--stream", "stdout", "--tail", "2", job_id).stdout.split() == [
        "out3",
        "out4",
    ]
    assert rnx(node, "job", "log", "--filter", "3", job_id).stdout.split() in (
        ["out3", "err3"],
        ["err3", "out3"],
    )
    assert rnx(node, "job", "log", "--since", "1h", job_id).stdout.count("\n") == 8


def test_a_node_of_another_ca_is_refused_with_exit_3(node: Node, tmp_path: Path) -> None:
    other = generate(tmp_path / "other", ["127.0.0.1"])
    config = tmp_path / "rnx-config.yml"
    write_rnx_config(
        config,
        {
            "default": RnxNode(
                node.address,
                other.admin_cert.read_text(),
                other.admin_key.read_text(),
                other.ca_cert.read_text(),
            )
        },
    )
    refused = rnx(node, "job", "list", config=config)
    assert refused.returncode == 3
    assert refused.stderr.startswith("rnx: cannot reach node 'default'")
    assert refused.stderr.count("\n") == 1


def test_run_with_env_upload_priority_and_metrics(node: Node, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("payload\n")
    started = rnx(
        node,
        "--json",
        "job",
        "run",
        "--env",
        "GREETING=hi",
        "--secret-env",
        "TOKEN=t0k",
        "--upload",
        str(tmp_path / "data.txt"),
        "--priority",
        "5",
        "sh",
        "-c",
        'echo "$GREETING $TOKEN"; cat data.txt; sleep 2',
    )
    assert started.returncode == 0, started.stderr
    job_id = json.loads(started.stdout)["job_uuid"]
    node.wait_status(job_id, {"COMPLETED"})
    assert rnx(node, "job", "log", job_id).stdout == "hi t0k\npayload\n"
    status = json.loads(rnx(node, "--json", "job", "status", job_id).stdout)
    assert status["secret_environment"] == {"TOKEN": "***"}
    metrics = rnx(node, "--json", "job", "metrics", job_id)
    assert metrics.returncode == 0, metrics.stderr
    assert len(json.loads(metrics.stdout)) >= 1
    summary = rnx(node, "job", "metrics", "--aggregate", "max", job_id)
    assert summary.returncode == 0 and "max" in summary.stdout.lower()


def test_delete_all_keeps_active_jobs(node: Node) -> None:
    sleeper = json.loads(rnx(node, "--json", "job", "run", "sleep", "30").stdout)["job_uuid"]
    node.wait_status(sleeper, {"RUNNING"})
    done = rnx(node, "--json", "job", "delete-all")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["skipped_count"] >= 1 and answer["deleted_count"] >= 1
    listed = json.loads(rnx(node, "--json", "job", "list").stdout)
    assert [job["uuid"] for job in listed] == [sleeper]
    rnx(node, "job", "stop", sleeper)
