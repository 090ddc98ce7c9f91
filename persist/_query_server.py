"""The query API (gRPC on a unix socket): servicers translate, the backend answers.

Errors map to gRPC codes in one place: bad input → INVALID_ARGUMENT, unknown job →
NOT_FOUND. Lines travel in columnar chunks (``LogChunk`` of up to 5000 lines and 1 MiB of
content), never one message per line. A followed query subscribes to live lines before
reading history, then continues after the last sequence it sent per stream: no gap, no
duplicate.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from joblet_cluster.common.errors import InvalidInput
from joblet_cluster.common.ids import check_id
from joblet_cluster.common.unix import prepare_socket_path, private_umask, remove_socket
from joblet_cluster.common.version import VERSION
from joblet_cluster.persist._ingest import Ingestor
from joblet_cluster.persist._query import CHUNK, CHUNK_BYTES, Window, line_matcher, rechunk
from joblet_cluster.persist.backends import (
    STDERR,
    STDOUT,
    JobSummary,
    LogBlock,
    PersistBackend,
)
from joblet_cluster.proto import persist_pb2 as pb
from joblet_cluster.proto import persist_pb2_grpc

log = logging.getLogger("joblet.persist.query")


class PersistServicer(persist_pb2_grpc.PersistServiceServicer):
    def __init__(self, backend: PersistBackend, ingestor: Ingestor, node_id: str) -> None:
        self.backend = backend
        self.ingestor = ingestor
        self.metrics = ingestor.metrics
        self.node_id = node_id

    async def Ping(
        self, request: pb.PingRequest, context: grpc.aio.ServicerContext
    ) -> pb.PingResponse:
        self.metrics.queries.labels("Ping").inc()
        return pb.PingResponse(node_id=self.node_id, backend=self.backend.name, version=VERSION)

    async def QueryLogs(
        self, request: pb.LogQuery, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Serialised ``LogChunk`` messages (see ``_handlers``)."""
        self.metrics.queries.labels("QueryLogs").inc()
        job_id = await _job_id(request.job_id, context)
        if request.stream not in (0, STDOUT, STDERR):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "stream must be 0, 1 or 2")
        try:
            matches = line_matcher(request.filter, request.regex)
            window = Window(request.offset, request.limit)
        except InvalidInput as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        subscription = self.ingestor.live.subscribe(job_id) if request.follow else None
        last = {STDOUT: 0, STDERR: 0}
        try:
            source = self.backend.read_logs(
                job_id, request.stream, request.start_time, request.end_time
            )
            async for block in rechunk(source):
                if subscription is not None:
                    _advance(last, block)
                out = window.take(block.where(matches) if matches else block)
                for chunk in out.encoded_chunks(CHUNK_BYTES):
                    yield chunk
                if window.full:
                    return
            if subscription is None:
                return
            while True:
                await subscription.wait()
                if subscription.overflowed:
                    subscription.overflowed = False
                    blocks = self.backend.read_logs(job_id, request.stream)
                else:
                    blocks = _each(subscription.take())
                async for block in rechunk(blocks):
                    fresh = block.pick(
                        [
                            at
                            for at, (stream, sequence) in enumerate(
                                zip(block.streams, block.sequences, strict=True)
                            )
                            if sequence > last[stream] and request.stream in (0, stream)
                        ]
                    )
                    _advance(last, fresh)
                    out = window.take(fresh.where(matches) if matches else fresh)
                    for chunk in out.encoded_chunks(CHUNK_BYTES):
                        yield chunk
                    if window.full:
                        return
                if subscription.ended and not subscription.blocks:
                    return
        finally:
            if subscription is not None:
                subscription.close()

    async def QueryMetrics(
        self, request: pb.MetricQuery, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.MetricChunk]:
        self.metrics.queries.labels("QueryMetrics").inc()
        job_id = await _job_id(request.job_id, context)
        try:
            window = Window(request.offset, request.limit)
            if request.aggregation:
                folded = await self.backend.aggregate_metrics(
                    job_id, request.start_time, request.end_time, request.aggregation, request.step
                )
                out = window.take(folded)
                for start in range(0, len(out), CHUNK):
                    yield pb.MetricChunk(metrics=out[start : start + CHUNK])
                return
            source = self.backend.read_metrics(job_id, request.start_time, request.end_time)
        except InvalidInput as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        async for chunk in rechunk(source):
            out = window.take(chunk)
            if out:
                yield pb.MetricChunk(metrics=out)
            if window.full:
                return

    async def GetJobInfo(
        self, request: pb.JobRequest, context: grpc.aio.ServicerContext
    ) -> pb.JobInfo:
        self.metrics.queries.labels("GetJobInfo").inc()
        job_id = await _job_id(request.job_id, context)
        summary = await self.backend.job_info(job_id)
        if summary is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no data stored for job {job_id}")
            raise AssertionError("abort() raises")
        return _info(summary)

    async def ListJobs(
        self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListJobsResponse:
        self.metrics.queries.labels("ListJobs").inc()
        try:
            window = Window(request.offset, request.limit)
        except InvalidInput as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        jobs = sorted(await self.backend.list_jobs(), key=lambda j: j.job_id)
        return pb.ListJobsResponse(jobs=[_info(j) for j in window.take(jobs)])

    async def DeleteJob(
        self, request: pb.JobRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteJobResponse:
        self.metrics.queries.labels("DeleteJob").inc()
        job_id = await _job_id(request.job_id, context)
        deleted = await self.backend.delete_job(job_id)
        self.ingestor.forget(job_id)
        return pb.DeleteJobResponse(deleted=deleted)

    async def GetStats(
        self, request: pb.StatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.StatsResponse:
        self.metrics.queries.labels("GetStats").inc()
        jobs = await self.backend.list_jobs()
        stored = await self.backend.stored_bytes()
        self.metrics.stored_bytes.set(stored)
        return pb.StatsResponse(
            jobs=len(jobs),
            log_lines=sum(j.stdout_lines + j.stderr_lines for j in jobs),
            metric_samples=sum(j.metric_samples for j in jobs),
            stored_bytes=stored,
            messages_received=self.metrics.total("persist_ipc_messages_received_total"),
            duplicates_dropped=self.metrics.total("persist_duplicates_dropped_total"),
            frames_rejected=self.metrics.total("persist_frames_rejected_total"),
        )

    async def CleanupOldData(
        self, request: pb.CleanupRequest, context: grpc.aio.ServicerContext
    ) -> pb.CleanupResponse:
        self.metrics.queries.labels("CleanupOldData").inc()
        result = await self.backend.cleanup(request.now or time.time_ns())
        for job_id in result.removed:
            self.ingestor.forget(job_id)
        return pb.CleanupResponse(jobs_removed=result.jobs_removed, bytes_freed=result.bytes_freed)


def _advance(last: dict[int, int], block: LogBlock) -> None:
    """Note the last sequence a follower was sent on each stream."""
    for stream in (STDOUT, STDERR):
        last[stream] = block.last_sequence(stream) or last[stream]


async def _each(blocks: list[LogBlock]) -> AsyncIterator[LogBlock]:
    for block in blocks:
        yield block


def _handlers(servicer: PersistServicer) -> tuple[str, dict[str, grpc.RpcMethodHandler]]:
    """What the generated ``add_PersistServiceServicer_to_server`` registers, except that
    QueryLogs yields its ``LogChunk`` messages already serialised."""
    service = pb.DESCRIPTOR.services_by_name["PersistService"]
    handlers = {}
    for method in service.methods:
        make = (
            grpc.unary_stream_rpc_method_handler
            if method.server_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        serialize = getattr(pb, method.output_type.name).SerializeToString
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=getattr(pb, method.input_type.name).FromString,
            response_serializer=None if method.name == "QueryLogs" else serialize,
        )
    return service.full_name, handlers


async def _job_id(value: str, context: grpc.aio.ServicerContext) -> str:
    try:
        return check_id(value, "job_id")
    except InvalidInput as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise


def _info(summary: JobSummary) -> pb.JobInfo:
    return pb.JobInfo(
        job_id=summary.job_id,
        first_time=summary.first_time,
        last_time=summary.last_time,
        stdout_lines=summary.stdout_lines,
        stderr_lines=summary.stderr_lines,
        stdout_bytes=summary.stdout_bytes,
        stderr_bytes=summary.stderr_bytes,
        metric_samples=summary.metric_samples,
    )


class QueryServer:
    """The gRPC server on ``persist.server.grpc_socket``."""

    def __init__(
        self, servicer: PersistServicer, socket_path: str | os.PathLike[str], max_connections: int
    ) -> None:
        self.path = Path(socket_path)
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_concurrent_streams", max_connections),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ]
        )
        name, handlers = _handlers(servicer)
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(name, handlers),)
        )
        self.server.add_registered_method_handlers(name, handlers)

    async def start(self) -> None:
        prepare_socket_path(self.path, "persist.server.grpc_socket")
        self.server.add_insecure_port(f"unix:{self.path}")
        with private_umask():
            await self.server.start()
        os.chmod(self.path, 0o600)

    async def close(self, grace: float = 5.0) -> None:
        await self.server.stop(grace)
        remove_socket(self.path)
