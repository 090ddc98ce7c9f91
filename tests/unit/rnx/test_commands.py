"""Each command against a fake node over real gRPC with mutual TLS."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.rnx import jobs, logs
from joblet_cluster.rnx.cli import run
from joblet_cluster.rnx.durations import parse_rfc3339
from tests.unit.rnx.conftest import Rnx
from tests.unit.rnx.fake_node import FakeNode, Pems, write_rnx_config

DONE = pb.Job(
    uuid="aaaaaaaa-0000-0000-0000-000000000001",
    command="echo",
    args=["hello world"],
    status="COMPLETED",
    start_time="2025-01-01T00:00:00Z",
    end_time="2025-01-01T00:01:30Z",
    node_id="node-a",
)
FAILED = pb.Job(
    uuid="bbbbbbbb-0000-0000-0000-000000000002",
    command="false",
    status="FAILED",
    exit_code=1,
    start_time="2025-01-02T00:00:00Z",
    end_time="2025-01-02T00:00:01Z",
    node_id="node-b",
)
RUNNING = pb.Job(
    uuid="cccccccc-0000-0000-0000-000000000003",
    command="sleep",
    args=["600"],
    status="RUNNING",
    start_time="2025-01-03T00:00:00Z",
    node_id="node-a",
    environment={"MODE": "fast"},
    secret_environment={"TOKEN": "hunter2"},  # a careless node; rnx masks anyway
)
SECRET = "hunter2"


@pytest.fixture(autouse=True)
def jobs_on_node(fake_node: FakeNode, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_node.jobs.add(DONE, [b"hello ", b"world\n", b"second line\n", b"error: x\n"])
    fake_node.jobs.add(FAILED, [b"boom\n"])
    fake_node.jobs.add(RUNNING, [b"tick 1\n", b"tick 2\n"])
    monkeypatch.setattr(logs, "QUIET", 0.2)
    monkeypatch.setattr(logs, "FIRST_CHUNK_WAIT", 0.5)
    monkeypatch.setattr(jobs, "POLL_INTERVAL", 0.05)


def requests_of(node: FakeNode, kind: type) -> list:
    return [r for r in node.jobs.requests if isinstance(r, kind)]


# --- job run -------------------------------------------------------------------------------


def test_run_passes_arguments_after_the_command_verbatim(rnx: Rnx, fake_node: FakeNode) -> None:
    result = rnx("job", "run", "python3", "-c", "print(1)")

    assert result.code == 0
    assert requests_of(fake_node, pb.RunJobRequest) == [
        pb.RunJobRequest(command="python3", args=["-c", "print(1)"])
    ]
    assert result.out == "new-job RUNNING\n"


def test_run_sends_every_option(rnx: Rnx, fake_node: FakeNode, tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("echo hi\n")
    before = datetime.now(UTC)

    result = rnx(
        "job", "run",
        "-e", "A=1", "--env", "B=x=y", "-s", f"TOKEN={SECRET}",
        "--workdir", "/work", "--upload", str(script),
        "--schedule", "30s", "--max-cpu", "50", "--max-memory", "256",
        "--retries", "2", "--retry-delay", "90s", "--priority", "5",
        "sh", "job.sh", "--verbose", "-e", "not-ours",
    )  # fmt: skip

    assert result.code == 0, result.err
    (request,) = requests_of(fake_node, pb.RunJobRequest)
    assert request.command == "sh"
    assert list(request.args) == ["job.sh", "--verbose", "-e", "not-ours"]
    assert dict(request.environment) == {"A": "1", "B": "x=y"}
    assert dict(request.secret_environment) == {"TOKEN": SECRET}
    assert request.work_dir == "/work"
    assert [(u.path, u.content) for u in request.uploads] == [("job.sh", b"echo hi\n")]
    scheduled = parse_rfc3339(request.schedule)
    assert before + timedelta(seconds=29) <= scheduled <= datetime.now(UTC) + timedelta(seconds=31)
    assert request.schedule.endswith("Z")
    assert (request.max_cpu, request.max_memory, request.priority) == (50, 256, 5)
    assert (request.max_retries, request.retry_delay) == (2, "1m30s")
    assert SECRET not in result.out + result.err


def test_run_json(rnx: Rnx) -> None:
    result = rnx("--json", "job", "run", "true")
    assert json.loads(result.out) == {"job_uuid": "new-job", "status": "RUNNING"}
    assert json.loads(rnx("job", "run", "--json", "true").out)["job_uuid"] == "new-job"


def test_run_follow_prints_the_output_and_exits_with_the_jobs_code(
    rnx: Rnx, fake_node: FakeNode
) -> None:
    fake_node.jobs.run_result = pb.Job(uuid="new-job", status="FAILED", exit_code=7)
    fake_node.jobs.logs["new-job"] = [b"partial ", b"output\n", b"no newline"]

    result = rnx("job", "run", "--follow", "sh", "-c", "exit 7")

    assert result.code == 7
    assert result.out == "partial output\nno newline"
    assert result.err.splitlines() == [
        "job new-job RUNNING: sh -c 'exit 7'",
        "job new-job FAILED (exit code 7)",
    ]


def test_run_follow_waits_for_the_final_status(rnx: Rnx, fake_node: FakeNode) -> None:
    fake_node.jobs.run_result = pb.Job(uuid="new-job", status="RUNNING")
    fake_node.jobs.live_output = [b"live\n"]

    def job_ends() -> None:
        fake_node.jobs.job_ended.set()  # the output ends first ...
        threading.Event().wait(0.3)  # ... the status a little later
        fake_node.jobs.jobs["new-job"] = pb.Job(uuid="new-job", status="COMPLETED")

    timer = threading.Timer(0.3, job_ends)
    timer.start()
    result = rnx("job", "run", "-f", "true")
    timer.join()

    assert result.code == 0
    assert result.out == "live\n"


# --- job list / status ---------------------------------------------------------------------


def test_list_is_a_table_newest_first_with_short_ids(rnx: Rnx) -> None:
    result = rnx("job", "list")

    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "NODE", "START", "DURATION", "EXIT", "COMMAND"]
    assert [line.split()[0] for line in lines[2:]] == ["cccccccc", "bbbbbbbb", "aaaaaaaa"]
    done = lines[4].split()
    assert done[1:3] == ["COMPLETED", "node-a"]
    assert done[-5:] == ["1m30s", "0", "echo", "'hello", "world'"]
    assert all(line == line.rstrip() for line in lines)
    assert SECRET not in result.out


def test_list_filters(rnx: Rnx) -> None:
    def ids(*args: str) -> list[str]:
        return [job["uuid"][:8] for job in json.loads(rnx("--json", "job", "list", *args).out)]

    assert ids("--status", "failed,completed") == ["bbbbbbbb", "aaaaaaaa"]
    assert ids("--status", "RUNNING", "--status", "failed") == ["cccccccc", "bbbbbbbb"]
    assert ids("--node-id", "node-a") == ["cccccccc", "aaaaaaaa"]
    assert ids("--limit", "1") == ["cccccccc"]
    assert ids("--status", "SCHEDULED") == []


def test_list_json_has_full_ids_and_masked_secrets(rnx: Rnx) -> None:
    result = rnx("job", "list", "--json")
    listed = json.loads(result.out)

    assert [job["uuid"] for job in listed] == [RUNNING.uuid, FAILED.uuid, DONE.uuid]
    assert listed[0]["secret_environment"] == {"TOKEN": "***"}
    assert listed[0]["environment"] == {"MODE": "fast"}
    assert SECRET not in result.out


def test_an_empty_list_says_so_on_stderr(rnx: Rnx, fake_node: FakeNode) -> None:
    fake_node.jobs.jobs.clear()
    result = rnx("job", "list")
    assert (result.code, result.out, result.err) == (0, "", "no jobs\n")
    assert json.loads(rnx("--json", "job", "list").out) == []


def test_status_by_prefix(rnx: Rnx) -> None:
    result = rnx("job", "status", "cccc")

    assert result.code == 0
    shown = result.out.replace("Secret env", "Secret_env")
    fields = dict(line.split(None, 1) for line in shown.splitlines())
    assert fields["ID"] == RUNNING.uuid
    assert fields["Status"] == "RUNNING"
    assert fields["Command"] == "sleep 600"
    assert fields["Secret_env"] == "TOKEN=***"
    assert "Exit code" not in result.out
    assert json.loads(rnx("--json", "job", "status", "aaaa").out)["end_time"] == DONE.end_time


def test_status_of_an_unknown_job_exits_1(rnx: Rnx) -> None:
    result = rnx("job", "status", "zzz")
    assert (result.code, result.out) == (1, "")
    assert result.err == "rnx: not found: job zzz not found\n"


# --- job log -------------------------------------------------------------------------------


def test_log_of_a_finished_job(rnx: Rnx) -> None:
    assert rnx("job", "log", "aaaa").out == "hello world\nsecond line\nerror: x\n"
    assert rnx("job", "log", "--filter", "on", "aaaa").out == "second line\n"
    assert rnx("job", "log", "--tail", "1", "aaaa").out == "error: x\n"
    assert rnx("job", "log", "--filter", "line", "--tail", "5", "aaaa").out == "second line\n"


def test_log_of_a_running_job_stops_after_the_history(rnx: Rnx, fake_node: FakeNode) -> None:
    result = rnx("job", "log", "cccc")

    assert (result.code, result.out) == (0, "tick 1\ntick 2\n")
    for _ in range(100):  # the node notices the cancellation on its own thread
        if fake_node.jobs.log_streams_cancelled:
            break
        threading.Event().wait(0.02)
    assert fake_node.jobs.log_streams_cancelled == 1


def test_log_follow_keeps_going_until_the_job_ends(rnx: Rnx, fake_node: FakeNode) -> None:
    fake_node.jobs.live_output = [b"tick 3\n", b"bye\n"]
    timer = threading.Timer(0.5, fake_node.jobs.job_ended.set)
    timer.start()

    result = rnx("job", "log", "-f", "--tail", "1", "cccc")
    timer.join()

    assert result.out == "tick 2\ntick 3\nbye\n"
    assert fake_node.jobs.log_streams_cancelled == 0


def test_log_stream_choice_is_explained(rnx: Rnx) -> None:
    result = rnx("job", "log", "--stream", "stderr", "aaaa")
    assert result.out == "hello world\nsecond line\nerror: x\n"
    assert result.err == (
        "rnx: note: the node sends stdout and stderr merged; showing both, not stderr\n"
    )


def test_log_of_an_unknown_job_exits_1(rnx: Rnx) -> None:
    assert rnx("job", "log", "zzz").code == 1


# --- job metrics ---------------------------------------------------------------------------


@pytest.fixture
def samples(fake_node: FakeNode) -> list[pb.JobMetricsEvent]:
    now_ns = int(datetime.now(UTC).timestamp() * 1e9)
    hour_ns = 3600 * 10**9
    taken = [
        pb.JobMetricsEvent(timestamp=now_ns - 2 * hour_ns, cpu_percent=10, memory_bytes=1024),
        pb.JobMetricsEvent(timestamp=now_ns - 60 * 10**9, cpu_percent=30, memory_bytes=3072),
        pb.JobMetricsEvent(timestamp=now_ns - 30 * 10**9, cpu_percent=20, memory_bytes=2048),
    ]
    fake_node.jobs.metrics[RUNNING.uuid] = taken
    return taken


def test_metrics_table_and_json(rnx: Rnx, samples: list[pb.JobMetricsEvent]) -> None:
    table = rnx("job", "metrics", "cccc").out.splitlines()
    assert table[0].split()[:4] == ["TIME", "CPU", "%", "MEMORY"]
    assert len(table) == 2 + len(samples)

    listed = json.loads(rnx("--json", "job", "metrics", "cccc").out)
    assert [s["cpu_percent"] for s in listed] == [10, 30, 20]
    assert listed[0]["timestamp"] == samples[0].timestamp  # a number, not a string


def test_metrics_since_asks_the_node_and_checks_again(
    rnx: Rnx, fake_node: FakeNode, samples: list[pb.JobMetricsEvent]
) -> None:
    listed = json.loads(rnx("--json", "job", "metrics", "--since", "10m", "cccc").out)

    assert [s["cpu_percent"] for s in listed] == [30, 20]
    (request,) = requests_of(fake_node, pb.GetJobMetricsRequest)
    assert request.job_uuid == RUNNING.uuid
    assert samples[0].timestamp < request.start_time < samples[1].timestamp


def test_metrics_aggregate(rnx: Rnx, samples: list[pb.JobMetricsEvent]) -> None:
    document = json.loads(rnx("job", "metrics", "--aggregate", "max", "--json", "cccc").out)
    assert (document["aggregate"], document["samples"]) == ("max", 3)
    assert document["values"]["cpu_percent"] == 30
    assert document["values"]["memory_bytes"] == 3072

    row = rnx("job", "metrics", "--aggregate", "avg", "--since", "5m", "cccc").out.splitlines()[2]
    assert row.split()[:6] == ["avg", "of", "2", "25.0", "2.5", "KiB"]


# --- stop, cancel, delete ------------------------------------------------------------------


def test_stop_cancel_delete(rnx: Rnx, fake_node: FakeNode) -> None:
    assert rnx("job", "stop", "cccc").out == f"{RUNNING.uuid} STOPPED\n"
    assert rnx("job", "cancel", "cccc").out == f"{RUNNING.uuid} CANCELED\n"
    assert rnx("job", "delete", "aaaa").out == f"{DONE.uuid} deleted\n"
    assert DONE.uuid not in fake_node.jobs.jobs


def test_stop_of_a_finished_job_exits_1(rnx: Rnx) -> None:
    result = rnx("job", "stop", "aaaa")
    assert result.code == 1
    assert result.err == f"rnx: failed precondition: job {DONE.uuid} is COMPLETED\n"


def test_a_refused_delete_exits_1_with_the_reason(rnx: Rnx) -> None:
    result = rnx("job", "delete", "cccc")
    assert result.code == 1
    assert result.err == "rnx: job cccc was not deleted: job is running\n"
    assert json.loads(rnx("--json", "job", "delete", "cccc").out)["success"] is False


def test_delete_all(rnx: Rnx, fake_node: FakeNode) -> None:
    result = rnx("job", "delete-all")
    assert result.out == "deleted 2 jobs, kept 1\n"
    assert list(fake_node.jobs.jobs) == [RUNNING.uuid]
    assert json.loads(rnx("job", "delete-all", "--json").out)["deleted_count"] == 0


# --- nodes, version, --node ----------------------------------------------------------------


def test_nodes_lists_each_node_up_or_down(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pems: Pems, fake_node: FakeNode
) -> None:
    config = write_rnx_config(
        tmp_path / "rnx-config.yml", pems, {"default": fake_node.address, "gone": "127.0.0.1:1"}
    )

    assert run(["--config", str(config), "--json", "nodes"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert reports[0] == {
        "name": "default",
        "address": fake_node.address,
        "node_id": "node-a",
        "up": True,
        "version": "9.9.9",
        "error": "",
    }
    assert reports[1]["up"] is False
    assert reports[1]["error"].startswith("cannot reach node 'gone' at 127.0.0.1:1")

    assert run(["--config", str(config), "nodes"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["NAME", "ADDRESS", "NODE", "ID", "STATUS", "VERSION", "ERROR"]
    assert table[2].split() == ["default", fake_node.address, "node-a", "up", "9.9.9"]
    assert table[3].split()[:5] == ["gone", "127.0.0.1:1", "-", "down", "-"]


def test_version_asks_the_node(rnx: Rnx) -> None:
    lines = rnx("version").out.splitlines()
    assert lines[0].startswith("rnx ")
    assert lines[1].endswith(": server 9.9.9")
    document = json.loads(rnx("version", "--json").out)
    assert document["node"]["version"] == "9.9.9"


def test_node_option_picks_the_node(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pems: Pems, fake_node: FakeNode
) -> None:
    config = write_rnx_config(
        tmp_path / "rnx-config.yml", pems, {"default": "127.0.0.1:1", "b": fake_node.address}
    )
    assert run(["--config", str(config), "--node", "b", "job", "status", "aaaa"]) == 0
    assert run(["--config", str(config), "job", "status", "aaaa"]) == 3
    assert capsys.readouterr().err.startswith("rnx: cannot reach node 'default'")
