"""The node's API against a real node process: Joblet's own SDK, roles and mTLS, logs
that keep their lines and streams, the scheduler, and restarts."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from joblet_cluster.node.certs import generate
from joblet_cluster.persist import STDERR, STDOUT, LogBlock
from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.proto import joblet_pb2_grpc, persist_pb2_grpc
from joblet_cluster.proto import persist_pb2 as ppb
from tests.integration.node.conftest import Node, make_node

TERMINAL = {"COMPLETED", "FAILED", "STOPPED", "CANCELED"}

# Joblet's SDK registers its own `joblet.*` protobuf messages, which clash with ours in one
# process: it runs in a process of its own, as a user's program would.
SDK_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from joblet import JobletClient

    out = {}
    with JobletClient(config_path=sys.argv[1]) as client:
        out["health"] = client.health_check()
        job = client.jobs.run_job(command="sh", args=["-c", "echo from-sdk; echo oops >&2"])
        uid = job["job_uuid"]
        deadline = time.monotonic() + 30
        while client.jobs.get_job_status(uid)["status"] != "COMPLETED":
            assert time.monotonic() < deadline, "the job did not complete"
            time.sleep(0.05)
        out["status"] = client.jobs.get_job_status(uid[:8])
        out["logs"] = b"".join(client.jobs.get_job_logs(uid)).decode()
        out["listed"] = uid in [j["uuid"] for j in client.jobs.list_jobs()]
        sleeper = client.jobs.run_job(command="sleep", args=["60"])["job_uuid"]
        while client.jobs.get_job_status(sleeper)["status"] != "RUNNING":
            time.sleep(0.05)
        out["stopped"] = client.jobs.stop_job(sleeper)
        out["deleted"] = client.jobs.delete_job(uid)
        out["listed_after"] = uid in [j["uuid"] for j in client.jobs.list_jobs()]
    print(json.dumps(out))
    """
)


def test_joblets_own_python_sdk_runs_lists_reads_stops_and_deletes(
    node: Node, tmp_path: Path
) -> None:
    script = tmp_path / "sdk.py"
    script.write_text(SDK_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(node.rnx_config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["health"] is True
    assert out["status"]["status"] == "COMPLETED"
    assert out["status"]["node_id"] == "node-1"
    assert out["logs"] in ("from-sdk\noops\n", "oops\nfrom-sdk\n")
    assert out["listed"] is True
    assert out["stopped"]["status"] == "STOPPED"
    assert out["deleted"]["success"] is True
    assert out["listed_after"] is False


def test_a_viewer_reads_but_cannot_run_or_stop(node: Node) -> None:
    admin, viewer = node.jobs("admin"), node.jobs("viewer")
    job = admin.RunJob(pb.RunJobRequest(command="sleep", args=["30"]), timeout=10)
    try:
        assert job.job_uuid in [j.uuid for j in viewer.ListJobs(pb.EmptyRequest(), timeout=10).jobs]
        for call, request in (
            (viewer.RunJob, pb.RunJobRequest(command="true")),
            (viewer.StopJob, pb.StopJobRequest(uuid=job.job_uuid)),
            (viewer.DeleteJob, pb.DeleteJobRequest(uuid=job.job_uuid)),
        ):
            with pytest.raises(grpc.RpcError) as refused:
                call(request, timeout=10)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "admin" in refused.value.details()
    finally:
        admin.StopJob(pb.StopJobRequest(uuid=job.job_uuid), timeout=30)


def test_no_certificate_or_another_cas_cannot_connect(node: Node, tmp_path: Path) -> None:
    plain = grpc.insecure_channel(node.address)
    with pytest.raises(grpc.RpcError) as refused:
        pb_stub(plain).ListJobs(pb.EmptyRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    generate(tmp_path / "other", ["127.0.0.1"])
    stranger = node.channel("admin", certs=tmp_path / "other")
    with pytest.raises(grpc.RpcError) as refused:
        pb_stub(stranger).ListJobs(pb.EmptyRequest(), timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def pb_stub(channel: grpc.Channel) -> joblet_pb2_grpc.JobServiceStub:
    return joblet_pb2_grpc.JobServiceStub(channel)


def test_a_follower_from_the_third_second_gets_every_line_once_in_order(node: Node) -> None:
    """1,000 numbered lines over 10 s, every tenth on stderr; followed from second 3."""
    program = (
        "import sys, time\n"
        "for i in range(1000):\n"
        "    out = sys.stderr if i % 10 == 9 else sys.stdout\n"
        "    print(f'line {i:04d}', file=out, flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    stub = node.jobs()
    job = stub.RunJob(pb.RunJobRequest(command=sys.executable, args=["-c", program]), timeout=10)
    node.wait_status(job.job_uuid, {"RUNNING"})
    deadline = time.monotonic() + 30  # the scenario: following from about the third second
    while len(persist_lines(node, job.job_uuid, STDOUT)) < 270:  # 300 printed by then
        assert time.monotonic() < deadline, "the job does not print"
        time.sleep(0.1)
    received = b"".join(
        chunk.payload
        for chunk in stub.GetJobLogs(pb.GetJobLogsRequest(uuid=job.job_uuid), timeout=60)
    )
    lines = received.decode().splitlines()
    assert len(lines) == len(set(lines)) == 1000
    assert sorted(lines) == [f"line {i:04d}" for i in range(1000)]
    out = [n for n in lines if int(n[5:]) % 10 != 9]
    err = [n for n in lines if int(n[5:]) % 10 == 9]
    assert out == sorted(out) and err == sorted(err)
    assert node.wait_status(job.job_uuid, TERMINAL).status == "COMPLETED"
    stderr_lines = persist_lines(node, job.job_uuid, STDERR)
    assert stderr_lines == [f"line {i:04d}".encode() for i in range(9, 1000, 10)]


def persist_lines(node: Node, job_id: str, stream: int) -> list[bytes]:
    """What persist stored for one stream (Joblet's GetJobLogs merges the streams)."""
    socket = node.config["persist"]["server"]["grpc_socket"]
    with grpc.insecure_channel(f"unix:{socket}") as channel:
        query = persist_pb2_grpc.PersistServiceStub(channel)
        chunks = query.QueryLogs(ppb.LogQuery(job_id=job_id, stream=stream), timeout=30)
        return [line.content for chunk in chunks for line in LogBlock.from_chunk(chunk)]


def test_environment_secrets_uploads_and_work_dir(node: Node) -> None:
    stub = node.jobs()
    request = pb.RunJobRequest(
        command="sh",
        args=["-c", 'echo "$PLAIN $SECRET"; cat data/input.txt; pwd'],
        environment={"PLAIN": "visible"},
        secret_environment={"SECRET": "s3cret"},
        uploads=[pb.FileUpload(path="data/input.txt", content=b"uploaded\n", mode=0o600)],
    )
    job = stub.RunJob(request, timeout=10)
    status = node.wait_status(job.job_uuid, TERMINAL)
    assert status.status == "COMPLETED"
    assert dict(status.secret_environment) == {"SECRET": "***"}
    logs = b"".join(c.payload for c in stub.GetJobLogs(pb.GetJobLogsRequest(uuid=job.job_uuid)))
    assert logs.decode().splitlines() == ["visible s3cret", "uploaded", status.work_dir]
    listed = {j.uuid: j for j in stub.ListJobs(pb.EmptyRequest(), timeout=10).jobs}
    assert dict(listed[job.job_uuid].secret_environment) == {"SECRET": "***"}


def test_bad_requests_get_clear_errors(node: Node) -> None:
    stub = node.jobs()
    cases = [
        (stub.RunJob, pb.RunJobRequest(), grpc.StatusCode.INVALID_ARGUMENT, "command"),
        (
            stub.RunJob,
            pb.RunJobRequest(command="true", uploads=[pb.FileUpload(path="../x", content=b"")]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "../x",
        ),
        (
            stub.RunJob,
            pb.RunJobRequest(command="true", schedule="tomorrow"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "schedule",
        ),
        (
            stub.GetJobStatus,
            pb.GetJobStatusRequest(uuid="no-such-job"),
            grpc.StatusCode.NOT_FOUND,
            "no-such-job",
        ),
    ]
    for call, request, code, word in cases:
        with pytest.raises(grpc.RpcError) as failed:
            call(request, timeout=10)
        assert failed.value.code() == code
        assert word in failed.value.details()
    missing = stub.RunJob(pb.RunJobRequest(command="/no/such/program"), timeout=10)
    status = node.wait_status(missing.job_uuid, TERMINAL)
    assert (status.status, status.exit_code) == ("FAILED", 127)


def test_schedule_cancel_and_retries(node: Node) -> None:
    stub = node.jobs()
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    scheduled = stub.RunJob(pb.RunJobRequest(command="true", schedule=soon), timeout=10)
    assert scheduled.status == "SCHEDULED"
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    canceled = stub.RunJob(pb.RunJobRequest(command="true", schedule=later), timeout=10)
    answer = stub.CancelJob(pb.CancelJobRequest(uuid=canceled.job_uuid), timeout=10)
    assert answer.status == "CANCELED"
    done = node.wait_status(scheduled.job_uuid, TERMINAL)
    assert done.status == "COMPLETED"
    assert done.start_time >= done.scheduled_time
    flaky = stub.RunJob(
        pb.RunJobRequest(
            command="sh",
            args=["-c", "echo try; exit 3"],
            max_retries=2,
            retry_delay="100ms",
        ),
        timeout=10,
    )
    failed = node.wait_status(flaky.job_uuid, TERMINAL)
    assert (failed.status, failed.exit_code) == ("FAILED", 3)
    logs = b"".join(c.payload for c in stub.GetJobLogs(pb.GetJobLogsRequest(uuid=flaky.job_uuid)))
    assert logs == b"try\n" * 3  # the first run and two retries


def test_restart_fails_running_jobs_and_keeps_scheduled_ones(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    node.start()
    stub = node.jobs()
    running = stub.RunJob(pb.RunJobRequest(command="sleep", args=["300"]), timeout=10)
    at = datetime.now(UTC) + timedelta(seconds=8)
    scheduled = stub.RunJob(
        pb.RunJobRequest(command="echo", args=["on time"], schedule=at.isoformat()), timeout=10
    )
    node.wait_status(running.job_uuid, {"RUNNING"})
    pid = int(subprocess.check_output(["pgrep", "-f", "sleep 300"]).split()[0])
    node.stop(signal.SIGKILL)
    node.start()  # the state service is memory-backed: the node restores it (resync)
    stub = node.jobs()
    dead = node.wait_status(running.job_uuid, TERMINAL)
    assert dead.status == "FAILED"
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists():  # the orphaned job process is killed too
        assert time.monotonic() < deadline, "the old job process still runs"
        time.sleep(0.05)
    done = node.wait_status(scheduled.job_uuid, TERMINAL, timeout=60)
    assert done.status == "COMPLETED"
    started = datetime.fromisoformat(done.start_time.replace("Z", "+00:00"))
    assert at <= started < at + timedelta(seconds=5)
    assert node.stop() == 0


def test_cpu_and_memory_limits_hold_where_the_host_allows(node: Node) -> None:
    stub = node.jobs()
    burn = "import time\nend = time.time() + 4\nwhile time.time() < end: pass\n"
    job = stub.RunJob(
        pb.RunJobRequest(command=sys.executable, args=["-c", burn], max_cpu=20), timeout=10
    )
    assert node.wait_status(job.job_uuid, TERMINAL).status == "COMPLETED"
    samples = list(stub.GetJobMetrics(pb.GetJobMetricsRequest(job_uuid=job.job_uuid), timeout=10))
    busy = [s.cpu_percent for s in samples[1:]]  # the first sample has no interval yet
    assert busy, "no samples"
    hog = "x = bytearray(300 * 1024 * 1024)\nprint('allocated')\n"
    capped = stub.RunJob(
        pb.RunJobRequest(command=sys.executable, args=["-c", hog], max_memory=64), timeout=10
    )
    status = node.wait_status(capped.job_uuid, TERMINAL)
    assert status.status == "FAILED"  # refused (RLIMIT_AS: MemoryError) or killed (cgroup)
    if "cgroup v1 for cpu" in node.log_text() or "cgroup v2 for cpu" in node.log_text():
        assert max(busy) < 35, busy
    else:
        assert "CPU not limited" in node.log_text()


def test_the_api_speaks_tls_1_3_and_names_itself_joblet(node: Node) -> None:
    certs = node.home / "certs"
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.load_cert_chain(certs / "admin-cert.pem", certs / "admin-key.pem")
    context.set_alpn_protocols(["h2"])
    host, port = node.address.split(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="joblet") as tls,
    ):
        assert tls.version() == "TLSv1.3"
