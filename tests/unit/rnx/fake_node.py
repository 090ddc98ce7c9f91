"""A stand-in node for ``rnx``'s tests: a real gRPC server with mutual TLS, canned answers.

Real enough that ``rnx`` goes through its whole path (config, TLS with the ``joblet`` server
name, stubs, streams, cancellation); fake in that jobs are plain records the test sets up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.proto import joblet_pb2_grpc


@dataclass(frozen=True)
class Pems:
    ca: bytes
    server_cert: bytes
    server_key: bytes
    client_cert: bytes
    client_key: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common: str, unit: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    return x509.Name(parts)


def make_pems() -> Pems:
    """A CA, a server certificate for the name ``joblet``, and an admin client certificate."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("rnx test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(subject: x509.Name, server: bool) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("joblet")]), critical=False
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    server_cert, server_key = leaf(_name("joblet"), server=True)
    client_cert, client_key = leaf(_name("rnx test", "admin"), server=False)
    return Pems(
        ca=ca.public_bytes(serialization.Encoding.PEM),
        server_cert=server_cert,
        server_key=server_key,
        client_cert=client_cert,
        client_key=client_key,
    )


def write_rnx_config(path: Path, pems: Pems, nodes: dict[str, str]) -> Path:
    """An ``rnx-config.yml`` naming ``nodes`` (name -> address), PEMs inline."""
    document = {
        "version": "3.0",
        "nodes": {
            name: {
                "address": address,
                "cert": pems.client_cert.decode(),
                "key": pems.client_key.decode(),
                "ca": pems.ca.decode(),
            }
            for name, address in nodes.items()
        },
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@dataclass
class FakeJobs(joblet_pb2_grpc.JobServiceServicer):
    """Jobs as records; what rnx sent is kept in ``requests``."""

    jobs: dict[str, pb.Job] = field(default_factory=dict)
    logs: dict[str, list[bytes]] = field(default_factory=dict)
    metrics: dict[str, list[pb.JobMetricsEvent]] = field(default_factory=dict)
    requests: list[object] = field(default_factory=list)
    #: set to end the log stream of a running job, after ``live_output``, as its end would
    job_ended: threading.Event = field(default_factory=threading.Event)
    live_output: list[bytes] = field(default_factory=list)
    #: a RunJob makes this job (the test can make it end in any state)
    run_result: pb.Job = field(default_factory=lambda: pb.Job(uuid="new-job", status="RUNNING"))
    log_streams_cancelled: int = 0

    def add(self, job: pb.Job, output: list[bytes] | None = None) -> None:
        self.jobs[job.uuid] = job
        self.logs[job.uuid] = output or []

    def _find(self, prefix: str, context: grpc.ServicerContext) -> pb.Job:
        matches = [job for uuid, job in self.jobs.items() if uuid.startswith(prefix)]
        if len(matches) != 1:
            context.abort(grpc.StatusCode.NOT_FOUND, f"job {prefix} not found")
        return matches[0]

    def RunJob(self, request: pb.RunJobRequest, context: grpc.ServicerContext) -> pb.RunJobResponse:
        self.requests.append(request)
        self.jobs[self.run_result.uuid] = self.run_result
        self.logs.setdefault(self.run_result.uuid, [])
        return pb.RunJobResponse(job_uuid=self.run_result.uuid, status="RUNNING")

    def GetJobStatus(
        self, request: pb.GetJobStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetJobStatusResponse:
        job = self._find(request.uuid, context)
        return pb.GetJobStatusResponse(
            uuid=job.uuid,
            command=job.command,
            args=job.args,
            status=job.status,
            start_time=job.start_time,
            end_time=job.end_time,
            exit_code=job.exit_code,
            node_id=job.node_id,
            environment=job.environment,
            secret_environment=dict.fromkeys(job.secret_environment, "***"),
        )

    def GetJobLogs(
        self, request: pb.GetJobLogsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.DataChunk]:
        self.requests.append(request)
        for chunk in self.logs.get(request.uuid, []):
            yield pb.DataChunk(payload=chunk)
        if self.jobs[request.uuid].status in ("COMPLETED", "FAILED", "STOPPED", "CANCELED"):
            return
        # a running job: the stream stays open until the job ends or the client leaves
        while not self.job_ended.wait(0.05):
            if not context.is_active():
                self.log_streams_cancelled += 1
                return
        for chunk in self.live_output:
            yield pb.DataChunk(payload=chunk)

    def ListJobs(self, request: pb.EmptyRequest, context: grpc.ServicerContext) -> pb.Jobs:
        return pb.Jobs(jobs=list(self.jobs.values()))

    def GetJobMetrics(
        self, request: pb.GetJobMetricsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.JobMetricsEvent]:
        self.requests.append(request)
        yield from self.metrics.get(request.job_uuid, [])

    def StopJob(
        self, request: pb.StopJobRequest, context: grpc.ServicerContext
    ) -> pb.StopJobResponse:
        job = self._find(request.uuid, context)
        if job.status != "RUNNING":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"job {job.uuid} is {job.status}")
        return pb.StopJobResponse(uuid=job.uuid, status="STOPPED")

    def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.ServicerContext
    ) -> pb.CancelJobResponse:
        job = self._find(request.uuid, context)
        return pb.CancelJobResponse(uuid=job.uuid, status="CANCELED")

    def DeleteJob(
        self, request: pb.DeleteJobRequest, context: grpc.ServicerContext
    ) -> pb.DeleteJobResponse:
        job = self._find(request.uuid, context)
        if job.status == "RUNNING":
            return pb.DeleteJobResponse(uuid=job.uuid, success=False, message="job is running")
        del self.jobs[job.uuid]
        return pb.DeleteJobResponse(uuid=job.uuid, success=True)

    def DeleteAllJobs(
        self, request: pb.DeleteAllJobsRequest, context: grpc.ServicerContext
    ) -> pb.DeleteAllJobsResponse:
        ended = [uuid for uuid, job in self.jobs.items() if job.status != "RUNNING"]
        for uuid in ended:
            del self.jobs[uuid]
        return pb.DeleteAllJobsResponse(
            success=True, deleted_count=len(ended), skipped_count=len(self.jobs)
        )


@dataclass
class FakeMonitoring(joblet_pb2_grpc.MonitoringServiceServicer):
    node_id: str = "node-a"
    version: str = "9.9.9"

    def GetSystemStatus(
        self, request: pb.EmptyRequest, context: grpc.ServicerContext
    ) -> pb.SystemStatusResponse:
        return pb.SystemStatusResponse(
            available=True,
            timestamp="2025-01-01T00:00:00Z",
            host=pb.HostInfo(node_id=self.node_id),
            server_version=pb.ServerVersionInfo(version=self.version),
        )


@dataclass
class FakeNode:
    address: str
    jobs: FakeJobs
    monitoring: FakeMonitoring
    server: grpc.Server


def start_fake_node(pems: Pems) -> FakeNode:
    """A server on 127.0.0.1 (a free port) requiring client certificates from the test CA."""
    jobs, monitoring = FakeJobs(), FakeMonitoring()
    server = grpc.server(ThreadPoolExecutor(max_workers=8))
    joblet_pb2_grpc.add_JobServiceServicer_to_server(jobs, server)
    joblet_pb2_grpc.add_MonitoringServiceServicer_to_server(monitoring, server)
    credentials = grpc.ssl_server_credentials(
        [(pems.server_key, pems.server_cert)], root_certificates=pems.ca, require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return FakeNode(f"127.0.0.1:{port}", jobs, monitoring, server)
