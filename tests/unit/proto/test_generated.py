"""The committed generated modules: fresh, and speaking Joblet's wire protocol."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import FieldDescriptor

from joblet_cluster.proto import generate, joblet_pb2, joblet_pb2_grpc

F = FieldDescriptor


def test_committed_modules_equal_fresh_generation():
    assert generate.stale_files() == []


def test_every_source_has_its_generated_modules_committed():
    expected = {
        f"{source.stem}{suffix}"
        for source in generate.sources()
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
    }
    assert {s.name for s in generate.sources()} == {
        "cluster.proto",
        "joblet.proto",
        "persist.proto",
    }
    assert set(generate.committed()) == expected


def test_generated_grpc_module_imports_from_our_package():
    source = (generate.HERE / "joblet_pb2_grpc.py").read_text(encoding="utf-8")

    assert "from joblet_cluster.proto import joblet_pb2" in source
    assert "\nimport joblet_pb2" not in source


def test_package_name_is_joblet():
    assert joblet_pb2.DESCRIPTOR.package == "joblet"
    assert joblet_pb2.RunJobRequest.DESCRIPTOR.full_name == "joblet.RunJobRequest"


def field(message: type, name: str) -> FieldDescriptor:
    return message.DESCRIPTOR.fields_by_name[name]


@pytest.mark.parametrize(
    ("message", "name", "number", "kind"),
    [
        ("RunJobRequest", "command", 2, F.TYPE_STRING),
        ("RunJobRequest", "args", 3, F.TYPE_STRING),
        ("RunJobRequest", "max_cpu", 4, F.TYPE_INT32),
        ("RunJobRequest", "environment", 14, F.TYPE_MESSAGE),
        ("RunJobRequest", "secret_environment", 18, F.TYPE_MESSAGE),
        ("RunJobRequest", "gpu_count", 19, F.TYPE_INT32),
        ("RunJobRequest", "timeout", 21, F.TYPE_STRING),
        ("GetJobStatusResponse", "uuid", 1, F.TYPE_STRING),
        ("GetJobStatusResponse", "status", 9, F.TYPE_STRING),
        ("GetJobStatusResponse", "exit_code", 12, F.TYPE_INT32),
        ("GetJobStatusResponse", "secret_environment", 15, F.TYPE_MESSAGE),
        ("GetJobStatusResponse", "node_id", 26, F.TYPE_STRING),
        ("GetJobStatusResponse", "timeout", 27, F.TYPE_STRING),
        ("Job", "uuid", 1, F.TYPE_STRING),
        ("Job", "status", 9, F.TYPE_STRING),
        ("Job", "secret_environment", 16, F.TYPE_MESSAGE),
        ("Job", "node_id", 20, F.TYPE_STRING),
        ("Job", "timeout", 21, F.TYPE_STRING),
        ("JobMetricsEvent", "timestamp", 1, F.TYPE_INT64),
        ("JobMetricsEvent", "job_uuid", 2, F.TYPE_STRING),
        ("JobMetricsEvent", "cpu_percent", 3, F.TYPE_DOUBLE),
        ("JobMetricsEvent", "memory_bytes", 4, F.TYPE_INT64),
    ],
)
def test_wire_field_numbers_and_types(message, name, number, kind):
    descriptor = field(getattr(joblet_pb2, message), name)

    assert descriptor.number == number
    assert descriptor.type == kind


def test_repeated_and_map_fields():
    assert field(joblet_pb2.RunJobRequest, "args").is_repeated
    assert not field(joblet_pb2.RunJobRequest, "command").is_repeated
    assert not field(joblet_pb2.RunJobRequest, "command").has_presence
    for message in (joblet_pb2.RunJobRequest, joblet_pb2.GetJobStatusResponse, joblet_pb2.Job):
        for name in ("environment", "secret_environment"):
            entry = field(message, name).message_type
            assert entry.GetOptions().map_entry
            assert entry.fields_by_name["key"].type == F.TYPE_STRING
            assert entry.fields_by_name["value"].type == F.TYPE_STRING


def test_run_job_request_has_no_field_one():
    numbers = {f.number for f in joblet_pb2.RunJobRequest.DESCRIPTOR.fields}

    assert 1 not in numbers
    assert {15, 16, 17}.isdisjoint(numbers)


def test_a_message_round_trips_through_its_bytes():
    sent = joblet_pb2.RunJobRequest(
        command="echo",
        args=["hi"],
        secret_environment={"TOKEN": "x"},
        timeout="5m",
    )

    received = joblet_pb2.RunJobRequest.FromString(sent.SerializeToString())

    assert received == sent
    assert received.secret_environment["TOKEN"] == "x"


def methods(service: str) -> list[tuple[str, str, str, bool, bool]]:
    descriptor = joblet_pb2.DESCRIPTOR.services_by_name[service]
    return [
        (
            m.name,
            m.input_type.full_name,
            m.output_type.full_name,
            m.client_streaming,
            m.server_streaming,
        )
        for m in descriptor.methods
    ]


def test_job_service_methods():
    assert methods("JobService") == [
        ("RunJob", "joblet.RunJobRequest", "joblet.RunJobResponse", False, False),
        ("GetJobStatus", "joblet.GetJobStatusRequest", "joblet.GetJobStatusResponse", False, False),
        ("StopJob", "joblet.StopJobRequest", "joblet.StopJobResponse", False, False),
        ("CancelJob", "joblet.CancelJobRequest", "joblet.CancelJobResponse", False, False),
        ("DeleteJob", "joblet.DeleteJobRequest", "joblet.DeleteJobResponse", False, False),
        (
            "DeleteAllJobs",
            "joblet.DeleteAllJobsRequest",
            "joblet.DeleteAllJobsResponse",
            False,
            False,
        ),
        ("GetJobLogs", "joblet.GetJobLogsRequest", "joblet.DataChunk", False, True),
        ("ListJobs", "joblet.EmptyRequest", "joblet.Jobs", False, False),
        (
            "StreamJobMetrics",
            "joblet.StreamJobMetricsRequest",
            "joblet.JobMetricsEvent",
            False,
            True,
        ),
        ("GetJobMetrics", "joblet.GetJobMetricsRequest", "joblet.JobMetricsEvent", False, True),
    ]


def test_monitoring_service_methods():
    assert methods("MonitoringService") == [
        ("GetSystemStatus", "joblet.EmptyRequest", "joblet.SystemStatusResponse", False, False),
    ]


def test_services_of_the_file():
    assert list(joblet_pb2.DESCRIPTOR.services_by_name) == [
        "JobService",
        "MonitoringService",
        "VolumeService",
        "NetworkService",
    ]
    assert joblet_pb2.DESCRIPTOR.services_by_name["JobService"].full_name == "joblet.JobService"


def test_grpc_stubs_and_servicers_exist_for_each_service():
    for service in ("JobService", "MonitoringService", "VolumeService", "NetworkService"):
        assert hasattr(joblet_pb2_grpc, f"{service}Stub")
        assert hasattr(joblet_pb2_grpc, f"{service}Servicer")
        assert hasattr(joblet_pb2_grpc, f"add_{service}Servicer_to_server")
