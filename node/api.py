"""The node's gRPC API: ``joblet.JobService`` and ``joblet.MonitoringService``, as Joblet
serves them (specs/joblet-api.md), so Joblet's clients work unchanged.

Reads answer from the state service (every job of the node) and from persist (logs and
metrics); changes go through the job manager. Roles come from the client certificate:
``admin`` may do everything, ``viewer`` only reads. Errors map to gRPC codes here, in
one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, NoReturn, TypeAlias, TypeVar

import grpc

from joblet_cluster.common.durations import parse_rfc3339
from joblet_cluster.common.errors import InvalidInput, JobletError, StateError
from joblet_cluster.common.tls import Role, peer_role
from joblet_cluster.common.version import VERSION
from joblet_cluster.node.executor import write_uploads
from joblet_cluster.node.jobs import JobManager
from joblet_cluster.node.peers import DOWN_AFTER, NodeDown, Peers
from joblet_cluster.node.records import job_message, new_record, status_message
from joblet_cluster.node.system import system_status
from joblet_cluster.persist import LogBlock
from joblet_cluster.proto import cluster_pb2 as cpb
from joblet_cluster.proto import cluster_pb2_grpc, joblet_pb2_grpc, persist_pb2_grpc
from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.proto import persist_pb2 as ppb
from joblet_cluster.state import JobRecord, JobStatus, StateClient, is_terminal

log = logging.getLogger("joblet.node.api")
SNAPSHOT_CHUNK = 1024 * 1024  # bytes of the snapshot file per message
FORWARD_TIMEOUT = 60.0  # seconds for a forwarded call (a stop waits for the job's grace)
T = TypeVar("T")
Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]


class Access:
    """Who may call what: from the client certificate, or everyone in ``--insecure``."""

    def __init__(self, insecure: bool) -> None:
        self.insecure = insecure

    async def require(self, context: Context, role: Role) -> None:
        if self.insecure:
            return
        held = peer_role(context)
        if held is None:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "the client certificate names no role (OU)"
            )
        if role == Role.ADMIN and held not in (Role.ADMIN, Role.NODE):
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"role {held} may only read; this needs admin"
            )


class JobService(joblet_pb2_grpc.JobServiceServicer):
    def __init__(
        self,
        node_id: str,
        jobs: JobManager,
        state: StateClient,
        persist_query: persist_pb2_grpc.PersistServiceStub,
        jobs_dir: Path,
        access: Access,
        metrics_interval: float,
        peers: Peers,
    ) -> None:
        self.node_id = node_id
        self.peers = peers
        self.jobs = jobs
        self.state = state
        self.persist_query = persist_query
        self.jobs_dir = jobs_dir
        self.access = access
        self.metrics_interval = metrics_interval

    async def RunJob(self, request: pb.RunJobRequest, context: Context) -> pb.RunJobResponse:
        await self.access.require(context, Role.ADMIN)
        target = request.node
        if target == "any":
            target = await self.peers.least_loaded(prefer=self.node_id)
        if target and target != self.node_id:
            forwarded = pb.RunJobRequest()
            forwarded.CopyFrom(request)
            forwarded.node = target
            try:
                owner = await self.peers.jobs(target)
            except NodeDown as exc:
                await _abort(context, grpc.StatusCode.UNAVAILABLE, exc)
            return await _relay(context, owner.RunJob(forwarded, timeout=FORWARD_TIMEOUT))
        job_id = str(uuid.uuid4())
        own = not request.work_dir
        work_dir = self.jobs_dir / job_id if own else Path(request.work_dir)
        try:
            record = new_record(job_id, self.node_id, request, str(work_dir))
        except InvalidInput as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, exc)
        record["resources"]["ownWorkDir"] = own  # type: ignore[typeddict-item]
        if request.uploads:
            uploads = [(u.path, u.content, u.mode, u.is_directory) for u in request.uploads]
            try:
                await asyncio.to_thread(_prepare, work_dir, uploads)
            except (ValueError, OSError) as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        stored = await _answer(context, self.jobs.submit(record, dict(request.secret_environment)))
        return pb.RunJobResponse(job_uuid=stored["uuid"], status=stored["status"])

    async def GetJobStatus(
        self, request: pb.GetJobStatusRequest, context: Context
    ) -> pb.GetJobStatusResponse:
        await self.access.require(context, Role.VIEWER)
        return status_message(await self._find(request.uuid, context))

    async def StopJob(self, request: pb.StopJobRequest, context: Context) -> pb.StopJobResponse:
        await self.access.require(context, Role.ADMIN)
        record = await self._find(request.uuid, context)
        if (owner := await self._owner(record, context)) is not None:
            forwarded = pb.StopJobRequest(uuid=record["uuid"])
            return await _relay(context, owner.StopJob(forwarded, timeout=FORWARD_TIMEOUT))
        if not is_terminal(record["status"]):
            record = await _answer(context, self.jobs.stop(record["uuid"]))
        return pb.StopJobResponse(
            uuid=record["uuid"],
            status=record["status"],
            end_time=record.get("endTime") or "",
            exit_code=record.get("exitCode") or 0,
        )

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: Context
    ) -> pb.CancelJobResponse:
        await self.access.require(context, Role.ADMIN)
        record = await self._find(request.uuid, context)
        if (owner := await self._owner(record, context)) is not None:
            forwarded = pb.CancelJobRequest(uuid=record["uuid"])
            return await _relay(context, owner.CancelJob(forwarded, timeout=FORWARD_TIMEOUT))
        if record["status"] != JobStatus.SCHEDULED:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {record['uuid']} is {record['status']}: only a SCHEDULED job can be canceled",
            )
        record = await _answer(context, self.jobs.cancel(record["uuid"]))
        return pb.CancelJobResponse(uuid=record["uuid"], status=record["status"])

    async def DeleteJob(
        self, request: pb.DeleteJobRequest, context: Context
    ) -> pb.DeleteJobResponse:
        await self.access.require(context, Role.ADMIN)
        record = await self._find(request.uuid, context)
        if (owner := await self._owner(record, context)) is not None:
            forwarded = pb.DeleteJobRequest(uuid=record["uuid"])
            return await _relay(context, owner.DeleteJob(forwarded, timeout=FORWARD_TIMEOUT))
        if not is_terminal(record["status"]):
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"job {record['uuid']} is {record['status']}: stop it before deleting it",
            )
        await self._delete(record, context)
        return pb.DeleteJobResponse(uuid=record["uuid"], success=True, message="deleted")

    async def DeleteAllJobs(
        self, request: pb.DeleteAllJobsRequest, context: Context
    ) -> pb.DeleteAllJobsResponse:
        await self.access.require(context, Role.ADMIN)
        deleted = skipped = 0
        records = [r async for r in self.state.list_all(nodeId=self.node_id)]
        for record in records:
            if is_terminal(record["status"]):
                await self._delete(record, context)
                deleted += 1
            else:
                skipped += 1
        return pb.DeleteAllJobsResponse(
            success=True,
            message=f"deleted {deleted} jobs; {skipped} still active were kept",
            deleted_count=deleted,
            skipped_count=skipped,
        )

    async def GetJobLogs(
        self, request: pb.GetJobLogsRequest, context: Context
    ) -> AsyncIterator[pb.DataChunk]:
        """History, then live output until the job ends: persist's follow gives both with
        no gap and no repeat; each line goes out with its newline."""
        await self.access.require(context, Role.VIEWER)
        record = await self._find(request.uuid, context)
        if request.stream not in (0, 1, 2):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "stream must be 0, 1 or 2")
        if (owner := await self._owner(record, context)) is not None:
            forwarded = pb.GetJobLogsRequest()
            forwarded.CopyFrom(request)
            forwarded.uuid = record["uuid"]
            async for chunk in _relay_stream(context, owner.GetJobLogs(forwarded)):
                yield chunk
            return
        query = ppb.LogQuery(
            job_id=record["uuid"],
            stream=request.stream,  # type: ignore[arg-type]
            start_time=request.since_time,
            follow=not is_terminal(record["status"]),
        )
        async for chunk in self.persist_query.QueryLogs(query):
            block = LogBlock.from_chunk(chunk)
            yield pb.DataChunk(payload=b"".join(content + b"\n" for content in block.contents))

    async def ListJobs(self, request: pb.EmptyRequest, context: Context) -> pb.Jobs:
        await self.access.require(context, Role.VIEWER)
        records = [r async for r in self.state.list_all(limit=1000)]
        return pb.Jobs(jobs=[job_message(record) for record in records])

    async def GetJobMetrics(
        self, request: pb.GetJobMetricsRequest, context: Context
    ) -> AsyncIterator[pb.JobMetricsEvent]:
        await self.access.require(context, Role.VIEWER)
        record = await self._find(request.job_uuid, context)
        if (owner := await self._owner(record, context)) is not None:
            forwarded = pb.GetJobMetricsRequest()
            forwarded.CopyFrom(request)
            forwarded.job_uuid = record["uuid"]
            async for event in _relay_stream(context, owner.GetJobMetrics(forwarded)):
                yield event
            return
        query = ppb.MetricQuery(
            job_id=record["uuid"],
            start_time=request.start_time,
            end_time=request.end_time,
            limit=request.limit,
        )
        async for chunk in self.persist_query.QueryMetrics(query):
            for sample in chunk.metrics:
                yield _metric_event(sample)

    async def StreamJobMetrics(
        self, request: pb.StreamJobMetricsRequest, context: Context
    ) -> AsyncIterator[pb.JobMetricsEvent]:
        """Stored samples, then new ones as they are stored, until the job ends."""
        await self.access.require(context, Role.VIEWER)
        record = await self._find(request.job_uuid, context)
        if (owner := await self._owner(record, context)) is not None:
            forwarded = pb.StreamJobMetricsRequest(job_uuid=record["uuid"])
            async for event in _relay_stream(context, owner.StreamJobMetrics(forwarded)):
                yield event
            return
        last = 0
        while True:
            query = ppb.MetricQuery(job_id=record["uuid"])
            async for chunk in self.persist_query.QueryMetrics(query):
                for sample in chunk.metrics:
                    if sample.sequence > last:
                        last = sample.sequence
                        yield _metric_event(sample)
            if is_terminal(record["status"]):
                return
            await asyncio.sleep(self.metrics_interval)
            record = await self.state.get(record["uuid"]) or record

    async def _find(self, job_id: str, context: Context) -> JobRecord:
        """The job with this id, or the one job whose id starts with it."""
        if not job_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a job id is required")
        with contextlib.suppress(InvalidInput):
            record = await self.state.get(job_id)
            if record is not None:
                return record
        matches = [r async for r in self.state.list_all(limit=1000) if r["uuid"].startswith(job_id)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no job {job_id}")
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"job id prefix {job_id} is ambiguous: {len(matches)} jobs start with it",
        )
        raise AssertionError("abort() raises")

    async def _owner(
        self, record: JobRecord, context: Context
    ) -> joblet_pb2_grpc.JobServiceStub | None:
        """The owning node's API when the job is another node's (None: it is ours)."""
        if record["nodeId"] == self.node_id:
            return None
        try:
            return await self.peers.jobs(record["nodeId"])
        except NodeDown as exc:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, exc)

    async def _delete(self, record: JobRecord, context: Context) -> None:
        await _answer(context, self.jobs.delete(record))
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self.persist_query.DeleteJob(ppb.JobRequest(job_id=record["uuid"]))


class MonitoringService(joblet_pb2_grpc.MonitoringServiceServicer):
    def __init__(self, node_id: str, access: Access, addresses: list[str]) -> None:
        self.node_id = node_id
        self.access = access
        self.addresses = addresses

    async def GetSystemStatus(
        self, request: pb.EmptyRequest, context: Context
    ) -> pb.SystemStatusResponse:
        await self.access.require(context, Role.VIEWER)
        return await asyncio.to_thread(system_status, self.node_id, VERSION, self.addresses)


def _prepare(work_dir: Path, uploads: list[tuple[str, bytes, int, bool]]) -> None:
    work_dir.mkdir(parents=True, exist_ok=True)
    write_uploads(work_dir, uploads)


async def _answer(context: Context, call: Awaitable[T]) -> T:
    """Our errors as gRPC statuses: bad input INVALID_ARGUMENT, other refusals
    FAILED_PRECONDITION; anything else is an INTERNAL error, logged."""
    try:
        return await call
    except InvalidInput as exc:
        await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, exc)
    except StateError as exc:
        code = _STATE_CODES.get(exc.code, grpc.StatusCode.FAILED_PRECONDITION)
        await _abort(context, code, exc)
    except JobletError as exc:
        await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, exc)


_STATE_CODES = {
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "INVALID_REQUEST": grpc.StatusCode.INVALID_ARGUMENT,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
}


async def _abort(context: Context, code: grpc.StatusCode, exc: Exception | str) -> NoReturn:
    await context.abort(code, str(exc))
    raise AssertionError("abort() raises")


class ClusterService(cluster_pb2_grpc.ClusterServiceServicer):
    """Our own cluster operations (``rnx cluster``, ``rnx nodes``)."""

    def __init__(
        self,
        node_id: str,
        access: Access,
        state: StateClient,
        peers: Peers,
        snapshot_dir: Path,
    ) -> None:
        self.node_id = node_id
        self.access = access
        self.state = state
        self.peers = peers
        self.snapshot_dir = snapshot_dir  # where the state service writes a snapshot

    async def AddMember(self, request: cpb.MemberRequest, context: Context) -> cpb.ClusterStatus:
        await self.access.require(context, Role.ADMIN)
        await _answer(context, self.state.change_members("add", request.address))
        return await self.Status(cpb.ClusterStatusRequest(), context)

    async def RemoveMember(self, request: cpb.MemberRequest, context: Context) -> cpb.ClusterStatus:
        await self.access.require(context, Role.ADMIN)
        await _answer(context, self.state.change_members("remove", request.address))
        return await self.Status(cpb.ClusterStatusRequest(), context)

    async def TransferLeader(
        self, request: cpb.TransferLeaderRequest, context: Context
    ) -> cpb.TransferLeaderResponse:
        """Run on the leader: another node passes the call on to it."""
        await self.access.require(context, Role.ADMIN)
        answer = await self.state.nodes()
        raft = answer.get("cluster")
        if raft is None:
            await _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                "this node has no cluster (state.backend)",
            )
        by_raft = {e.get("raftAddress"): e["nodeId"] for e in answer["nodes"]}
        target = next(
            (e.get("raftAddress") for e in answer["nodes"] if e["nodeId"] == request.node),
            request.node or None,
        )
        leader = raft.get("leader")
        if leader is None:
            await _abort(context, grpc.StatusCode.UNAVAILABLE, "the cluster has no leader now")
        if leader != raft["self"]:
            owner = by_raft.get(leader)
            if owner is None:
                await _abort(
                    context,
                    grpc.StatusCode.UNAVAILABLE,
                    f"the leader {leader} is no registered node",
                )
            try:
                stub = await self.peers.cluster(owner)
            except NodeDown as exc:
                await _abort(context, grpc.StatusCode.UNAVAILABLE, exc)
            forwarded = cpb.TransferLeaderRequest(node=target or "")
            return await _relay(context, stub.TransferLeader(forwarded, timeout=FORWARD_TIMEOUT))
        new_leader = await _answer(context, self.state.transfer_leadership(target))
        return cpb.TransferLeaderResponse(leader=new_leader)

    async def SaveSnapshot(
        self, request: cpb.SaveSnapshotRequest, context: Context
    ) -> AsyncIterator[cpb.SnapshotChunk]:
        await self.access.require(context, Role.ADMIN)
        await asyncio.to_thread(self.snapshot_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
        path = self.snapshot_dir / f"{uuid.uuid4()}.snapshot"
        try:
            taken = await _answer(context, self.state.snapshot(path))
            first = cpb.SnapshotChunk(
                jobs=taken["jobs"],
                sha256=taken["sha256"],
                raft_index=taken.get("raftIndex") or 0,
                raft_term=taken.get("raftTerm") or 0,
            )
            with path.open("rb") as source:
                while data := await asyncio.to_thread(source.read, SNAPSHOT_CHUNK):
                    first.data = data
                    yield first
                    first = cpb.SnapshotChunk()
        finally:
            path.unlink(missing_ok=True)

    async def Status(
        self, request: cpb.ClusterStatusRequest, context: Context
    ) -> cpb.ClusterStatus:
        await self.access.require(context, Role.VIEWER)
        answer = await self.state.nodes()
        raft = answer.get("cluster")
        entries = answer["nodes"]
        newest = max(
            [e.get("commitIndex", 0) for e in entries] + [(raft or {}).get("commitIndex") or 0]
        )
        nodes = []
        for entry in entries:
            age = time.time() - parse_rfc3339(entry["heartbeat"]).timestamp()
            role = ""
            if raft is not None:
                role = "leader" if entry.get("raftAddress") == raft.get("leader") else "follower"
            nodes.append(
                cpb.NodeStatus(
                    node_id=entry["nodeId"],
                    address=entry["address"],
                    version=entry.get("version", ""),
                    up=age <= DOWN_AFTER,
                    running_jobs=entry.get("runningJobs", 0),
                    heartbeat_age=age,
                    raft_address=entry.get("raftAddress", ""),
                    role=role,
                    lag=max(newest - entry.get("lastApplied", 0), 0) if raft else 0,
                )
            )
        status = cpb.ClusterStatus(node_id=self.node_id, nodes=nodes)
        if raft is not None:
            status.raft.CopyFrom(
                cpb.RaftStatus(
                    self=raft["self"],
                    leader=raft.get("leader") or "",
                    role=raft["role"],
                    term=raft.get("term") or 0,
                    commit_index=raft.get("commitIndex") or 0,
                    last_applied=raft.get("lastApplied") or 0,
                    peers=raft.get("peers") or {},
                )
            )
        return status


async def _relay(context: Context, call: Awaitable[T]) -> T:
    """The owner's answer, or its error as ours (UNAVAILABLE naming it when unreachable)."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        await context.abort(exc.code(), _from_owner(exc))
        raise AssertionError("abort() raises") from None


async def _relay_stream(context: Context, call: AsyncIterator[T]) -> AsyncIterator[T]:
    try:
        async for item in call:
            yield item
    except grpc.aio.AioRpcError as exc:
        await context.abort(exc.code(), _from_owner(exc))


def _from_owner(exc: grpc.aio.AioRpcError) -> str:
    if exc.code() == grpc.StatusCode.UNAVAILABLE:
        return f"the node that owns the job is unreachable: {exc.details()}"
    return exc.details() or exc.code().name


def _metric_event(sample: ppb.Metric) -> pb.JobMetricsEvent:
    return pb.JobMetricsEvent(
        timestamp=sample.timestamp,
        job_uuid=sample.job_id,
        cpu_percent=sample.cpu_percent,
        memory_bytes=sample.memory_bytes,
        memory_limit=sample.memory_limit,
        disk_read_bytes=sample.io_read_bytes,
        disk_write_bytes=sample.io_write_bytes,
        net_recv_bytes=sample.net_rx_bytes,
        net_sent_bytes=sample.net_tx_bytes,
        gpu_percent=sample.gpu_percent,
        gpu_memory_bytes=sample.gpu_memory_bytes,
    )
