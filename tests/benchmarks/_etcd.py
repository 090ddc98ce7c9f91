"""The etcd reference peer of the Raft benchmark: a real etcd cluster on loopback and a
Python client that does to it what our state client does to our Raft state store.

    python -m tests.benchmarks._etcd --smoke     # a few hundred changes, seconds
    python -m tests.benchmarks._etcd             # 50,000 creates + 50,000 updates

Needs the ``etcd`` binary: ``apt-get install etcd-server`` (Debian; 3.4.x in bookworm).

Why etcd: it is the Raft store people know, so "our store commits X% of what etcd does on
the same machine" says more than a bare figure. To keep the ratio honest the two sides do
the same work:

* each job change is one compare-and-set of a ~300-byte JSON record under ``/jobs/<uuid>``,
  committed through a 3-member Raft cluster on 127.0.0.1 before it is answered: a create is
  ``Txn(create_revision == 0 -> put)``, an update ``Txn(version == expected -> put)``;
* the client is Python in one process: ``clients`` connections spread round-robin over the
  members (as our clients spread over nodes), each keeping up to ``window`` requests in
  flight (a sliding window, like ``StateClient``'s pipeline of ``max_in_flight``).

Durability is NOT equal, and the difference favours us: etcd runs with its defaults, so
it fsyncs its WAL before a write is acknowledged (on every member of the majority), while
pysyncobj's journal is an mmap that is never fsynced. An etcd figure therefore includes a
disk-flush cost our journal-on run does not pay; a ratio above 1 is not a like-for-like win.

Protocol choice: gRPC (``grpc.aio``) against etcd's v3 API, not the JSON gateway. The
gateway adds base64 and JSON on both sides and an HTTP/1.1 hop inside etcd, so it would
measure the gateway; gRPC is what etcd's own clients use and what our services use. The
proto below is a minimal copy of ``etcdserverpb`` (rpc.proto): only the messages and
fields this module sends or reads, with etcd's field numbers, so the wire format is the
real one (checked against etcd 3.4.23: versions, compare failures and values read back).
It is compiled on first use with ``grpc_tools.protoc`` (a test dependency) into a
descriptor set and loaded in memory, so there are no generated files to keep in step.

How much that costs depends on the disk: on the 2-core dev VM an fdatasync takes ~0.1 ms,
so there the bias is small; on a real disk it is not.

On that VM the 3 etcd members used about two thirds of the CPU and this Python client one
third; :class:`Result` carries the client's CPU seconds so a report can say which side
ran out. Past ~32 in flight per connection etcd's throughput no longer grows there, only
its latency (queueing), so compare windows at equal depth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_tools import protoc  # a test dependency, like the rest of tests/

from joblet_cluster.node.dev import free_port

log = logging.getLogger(__name__)

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
RPC_TIMEOUT = 30.0

# A change: (key, expected etcd version or 0 to create, value). etcd's version of a key is
# 1 after its create and grows by one with every put, so the first update expects 1.
Change = tuple[str, int, bytes]

# Field numbers and names as in etcd's api/etcdserverpb/rpc.proto and mvccpb/kv.proto
# (KeyValue lives in package mvccpb there; the wire format does not carry package names).
_PROTO = """
syntax = "proto3";
package etcdserverpb;

service KV {
  rpc Range(RangeRequest) returns (RangeResponse);
  rpc Txn(TxnRequest) returns (TxnResponse);
}
service Maintenance {
  rpc Status(StatusRequest) returns (StatusResponse);
}

message ResponseHeader {
  uint64 cluster_id = 1;
  uint64 member_id = 2;
  int64 revision = 3;
  uint64 raft_term = 4;
}
message KeyValue {
  bytes key = 1;
  int64 create_revision = 2;
  int64 mod_revision = 3;
  int64 version = 4;
  bytes value = 5;
  int64 lease = 6;
}
message RangeRequest {
  bytes key = 1;
  bytes range_end = 2;
  int64 limit = 3;
  bool serializable = 7;
  bool count_only = 9;
}
message RangeResponse {
  ResponseHeader header = 1;
  repeated KeyValue kvs = 2;
  bool more = 3;
  int64 count = 4;
}
message PutRequest {
  bytes key = 1;
  bytes value = 2;
}
message PutResponse {
  ResponseHeader header = 1;
}
message RequestOp {
  oneof request {
    RangeRequest request_range = 1;
    PutRequest request_put = 2;
  }
}
message ResponseOp {
  oneof response {
    RangeResponse response_range = 1;
    PutResponse response_put = 2;
  }
}
message Compare {
  enum CompareResult {
    EQUAL = 0;
    GREATER = 1;
    LESS = 2;
    NOT_EQUAL = 3;
  }
  enum CompareTarget {
    VERSION = 0;
    CREATE = 1;
    MOD = 2;
    VALUE = 3;
    LEASE = 4;
  }
  CompareResult result = 1;
  CompareTarget target = 2;
  bytes key = 3;
  oneof target_union {
    int64 version = 4;
    int64 create_revision = 5;
    int64 mod_revision = 6;
    bytes value = 7;
    int64 lease = 8;
  }
}
message TxnRequest {
  repeated Compare compare = 1;
  repeated RequestOp success = 2;
  repeated RequestOp failure = 3;
}
message TxnResponse {
  ResponseHeader header = 1;
  bool succeeded = 2;
  repeated ResponseOp responses = 3;
}
message StatusRequest {}
message StatusResponse {
  ResponseHeader header = 1;
  string version = 2;
  int64 dbSize = 3;
  uint64 leader = 4;
  uint64 raftIndex = 5;
  uint64 raftTerm = 6;
}
"""


@functools.cache
def messages() -> dict[str, Any]:
    """The message classes by short name, compiled once per process (protoc is ~0.1 s)."""
    with tempfile.TemporaryDirectory(prefix="etcd-proto-") as tmp:
        (Path(tmp) / "etcd_rpc.proto").write_text(_PROTO)
        out = Path(tmp) / "etcd_rpc.desc"
        status = protoc.main(
            ["protoc", f"-I{tmp}", f"--descriptor_set_out={out}", "etcd_rpc.proto"]
        )
        if status != 0:
            raise RuntimeError(
                f"etcd benchmark: protoc could not compile the etcd proto ({status})"
            )
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()  # private: no clash with any other etcdserverpb
    for file in files.file:
        pool.Add(file)
    classes = message_factory.GetMessages(list(files.file), pool=pool)
    return {name.rsplit(".", 1)[1]: cls for name, cls in classes.items()}


def _method(channel: Any, path: str, request: str, response: str) -> Any:
    pb = messages()
    return channel.unary_unary(
        path,
        request_serializer=pb[request].SerializeToString,
        response_deserializer=pb[response].FromString,
    )


def etcd_binary() -> str | None:
    """Where ``etcd`` is, or None: the benchmark then skips the comparison rather than fail.

    Install it with ``apt-get install etcd-server`` (Debian; the unit it ships is not
    started in containers, and this module never uses it: it runs its own members).
    """
    return shutil.which("etcd")


# ---------------------------------------------------------------------------------------
# The cluster


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def _stop(procs: Sequence[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM every member, SIGKILL whoever is still there at the deadline.

    Signals go to the ``Popen`` objects, that is to the PIDs this module started, never by
    name: other etcds on the machine (a developer's, another run's) are left alone.
    """
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("etcd pid %d ignored SIGTERM for %gs: killing it", proc.pid, timeout)
            proc.kill()
            proc.wait()


def _cluster_state(endpoints: Sequence[str]) -> str | None:
    """None once every member names the same leader and answers a linearizable read
    (a read that goes through the leader's ReadIndex, so Raft is serving); else what is
    still missing, for the timeout message."""
    leaders = set()
    for endpoint in endpoints:
        with grpc.insecure_channel(endpoint) as channel:
            status = _method(
                channel, "/etcdserverpb.Maintenance/Status", "StatusRequest", "StatusResponse"
            )
            read = _method(channel, "/etcdserverpb.KV/Range", "RangeRequest", "RangeResponse")
            try:
                leader = status(messages()["StatusRequest"](), timeout=1.0).leader
                if not leader:
                    return f"{endpoint} has no leader yet"
                read(messages()["RangeRequest"](key=b"/ready", count_only=True), timeout=1.0)
            except grpc.RpcError as exc:
                return f"{endpoint}: {exc.code().name}"  # type: ignore[attr-defined]
            leaders.add(leader)
    if len(leaders) != 1:
        return f"members disagree on the leader: {sorted(leaders)}"
    return None


@contextlib.contextmanager
def etcd_cluster(directory: Path, members: int = 3) -> Iterator[list[str]]:
    """``members`` etcd processes on 127.0.0.1 forming one cluster; yields the client
    endpoints (``"127.0.0.1:port"``), in member order.

    A plain (sync) context manager: start-up blocks for the second or two it takes to
    elect a leader, so enter it before the event loop's measured part (or outside the
    loop), like ``tests.support.redis_server``. Each member gets free ports, its own data
    dir ``directory/etcd-N`` (which must not exist yet: a static ``new`` cluster cannot
    reuse another run's data) and its log in ``directory/etcd-N.log``. The initial cluster
    is static, with a token unique to this call, so two runs never join each other.

    Settings are etcd's defaults, fsync on (see the module docstring for what that means
    for the comparison). On exit, the processes started here are stopped by PID: SIGTERM,
    then SIGKILL after ``STOP_TIMEOUT``.
    """
    binary = etcd_binary()
    if binary is None:
        raise RuntimeError("etcd is not installed (apt-get install etcd-server)")
    if members < 1:
        raise ValueError(f"etcd cluster: members must be >= 1, not {members}")
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"etcd-{n}" for n in range(1, members + 1)]
    for name in names:
        if (directory / name).exists():
            raise FileExistsError(f"etcd cluster: {directory / name} exists; use a fresh directory")
    clients = {name: free_port() for name in names}
    peers = {name: free_port() for name in names}
    initial = ",".join(f"{name}=http://127.0.0.1:{peers[name]}" for name in names)
    token = f"joblet-bench-{uuid.uuid4().hex[:12]}"
    # Debian's unit reads /etc/default/etcd into ETCD_* variables; etcd would honour any
    # set here as flags, so none leak in from the caller's environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: directory / f"{name}.log" for name in names}
    try:
        for name in names:
            client_url = f"http://127.0.0.1:{clients[name]}"
            peer_url = f"http://127.0.0.1:{peers[name]}"
            with logs[name].open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [
                            binary,
                            f"--name={name}",
                            f"--data-dir={directory / name}",
                            f"--listen-client-urls={client_url}",
                            f"--advertise-client-urls={client_url}",
                            f"--listen-peer-urls={peer_url}",
                            f"--initial-advertise-peer-urls={peer_url}",
                            f"--initial-cluster={initial}",
                            f"--initial-cluster-token={token}",
                            "--initial-cluster-state=new",
                            "--logger=zap",
                            "--log-outputs=stderr",
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
        endpoints = [f"127.0.0.1:{clients[name]}" for name in names]
        deadline = time.monotonic() + READY_TIMEOUT
        missing = _cluster_state(endpoints)
        while missing is not None:
            for name, proc in zip(names, procs, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"etcd cluster: {name} exited with {proc.returncode} during start-up; "
                        f"its log ends:\n{_tail(logs[name])}"
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"etcd cluster not ready within {READY_TIMEOUT:g}s ({missing}); "
                    f"{names[0]}'s log ends:\n{_tail(logs[names[0]])}"
                )
            time.sleep(0.05)
            missing = _cluster_state(endpoints)
        log.info("etcd cluster of %d ready at %s", members, ", ".join(endpoints))
        yield endpoints
    finally:
        _stop(procs)


# ---------------------------------------------------------------------------------------
# The client driver


@dataclass
class Result:
    """What one :func:`etcd_changes` run did; rates and percentiles are derived here so
    every caller computes them the same way."""

    committed: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, send -> answer, committed
    errors: Counter[str] = field(default_factory=Counter)  # "compare failed" or a gRPC code
    client_cpu: float = 0.0  # this process's CPU seconds during the run (all threads)

    @property
    def rate(self) -> float:
        """Committed changes per second of wall time."""
        return self.committed / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        """Latency at quantile ``q`` (0..1), in seconds; nearest-rank like the other benches."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> str:
        return (
            f"etcd: {self.rate:,.0f} changes/s, p50 {self.percentile(0.5) * 1e3:.2f} ms, "
            f"p99 {self.percentile(0.99) * 1e3:.2f} ms ({self.committed} committed, "
            f"{self.failed} failed, {self.elapsed:.2f} s, client CPU {self.client_cpu:.2f} s)"
        )


def _txn_request(change: Change) -> Any:
    pb = messages()
    key, expected, value = change
    raw = key.encode()
    if expected == 0:
        compare = pb["Compare"](result=0, target=1, key=raw, create_revision=0)  # EQUAL, CREATE
    else:
        compare = pb["Compare"](result=0, target=0, key=raw, version=expected)  # EQUAL, VERSION
    put = pb["RequestOp"](request_put=pb["PutRequest"](key=raw, value=value))
    return pb["TxnRequest"](compare=[compare], success=[put])


async def etcd_changes(
    endpoints: list[str],
    changes: list[Change],
    window: int,
    clients: int,
    rate: float | None = None,
) -> Result:
    """Commit ``changes`` through etcd as compare-and-set transactions; how fast, how long.

    ``clients`` gRPC connections (each its own TCP connection) go round-robin over
    ``endpoints``; change ``i`` goes to connection ``i % clients``, and each connection
    keeps at most ``window`` transactions in flight, sending the next as soon as one is
    answered. ``rate`` (changes/s over all connections) paces the sends instead, for
    latency at moderate load; sends still wait for room in the window, so set ``window``
    above ``rate`` x latency or the pace is not met (``rate=None, window=1`` is the other
    light-load mode: one change per connection at a time).

    Changes in one call run concurrently, so a key may appear at most once per call
    (ValueError otherwise): pass creates in one call and each round of updates in the
    next, each expecting the version the previous round left (1 after the create).

    A change whose compare fails (wrong version, key already there) counts as failed, as
    does one whose RPC fails; ``errors`` says which. Latencies are of committed changes.
    """
    if window < 1 or clients < 1 or not endpoints:
        raise ValueError("etcd_changes: need window >= 1, clients >= 1 and an endpoint")
    if len({key for key, _, _ in changes}) != len(changes):
        raise ValueError("etcd_changes: a key appears twice; pass each round in its own call")
    result = Result()
    options = [
        ("grpc.use_local_subchannel_pool", 1),  # else channels to one member share a socket
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ]
    channels = [
        grpc.aio.insecure_channel(endpoints[n % len(endpoints)], options=options)
        for n in range(clients)
    ]
    try:
        await asyncio.gather(*(channel.channel_ready() for channel in channels))
        txns = [_method(c, "/etcdserverpb.KV/Txn", "TxnRequest", "TxnResponse") for c in channels]
        interval = clients / rate if rate else 0.0
        loop = asyncio.get_running_loop()

        async def worker(txn: Any, todo: Iterator[tuple[int, Change]], start: float) -> None:
            # ``window`` of these share one iterator per connection: a sliding window
            # without a task per change.
            latencies, errors = result.latencies, result.errors
            for k, change in todo:
                if interval:
                    delay = start + k * interval - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                request = _txn_request(change)
                sent = time.perf_counter()
                try:
                    response = await txn(request, timeout=RPC_TIMEOUT)
                except grpc.aio.AioRpcError as exc:
                    errors[exc.code().name] += 1
                    continue
                if response.succeeded:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors["compare failed"] += 1

        cpu, began = time.process_time(), time.perf_counter()
        start = loop.time()
        workers = []
        for n, txn in enumerate(txns):
            todo = enumerate(changes[n::clients])
            workers += [worker(txn, todo, start) for _ in range(window)]
        await asyncio.gather(*workers)
        result.elapsed = time.perf_counter() - began
        result.client_cpu = time.process_time() - cpu
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))
    result.committed = len(result.latencies)
    result.failed = len(changes) - result.committed
    return result


async def etcd_read(endpoint: str, key: str) -> tuple[int, bytes] | None:
    """(version, value) of ``key`` by a linearizable read, or None: to check a run landed."""
    async with grpc.aio.insecure_channel(endpoint) as channel:
        read = _method(channel, "/etcdserverpb.KV/Range", "RangeRequest", "RangeResponse")
        answer = await read(messages()["RangeRequest"](key=key.encode()), timeout=RPC_TIMEOUT)
    if not answer.kvs:
        return None
    return int(answer.kvs[0].version), bytes(answer.kvs[0].value)


def job_record(job_id: str, version: int, status: str = "INITIALIZING") -> bytes:
    """A job document of the size our state store carries (~300 bytes of JSON)."""
    return orjson.dumps(
        {
            "uuid": job_id,
            "nodeId": "node-1",
            "status": status,
            "version": version,
            "command": "python3",
            "args": ["-c", "print('hello')"],
            "name": f"bench {job_id[:8]}",
            "createdAt": "2026-01-01T00:00:00.000000Z",
            "labels": {"team": "bench", "shard": str(version % 16)},
            "pid": 1000 + version,
            "resources": {"maxCpu": 100, "maxMemory": 512},
        }
    )


def job_changes(count: int, rounds: int = 1) -> list[list[Change]]:
    """``count`` creates, then ``rounds`` rounds of one update per job: one list per call
    of :func:`etcd_changes`, in the order they must run."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    out = [[(f"/jobs/{j}", 0, job_record(j, 1)) for j in ids]]
    for r in range(1, rounds + 1):
        out.append([(f"/jobs/{j}", r, job_record(j, r + 1, "RUNNING")) for j in ids])
    return out


# ---------------------------------------------------------------------------------------
# Self-check


async def _measure(endpoints: list[str], count: int, clients: int, window: int) -> None:
    # Light load first, on a fresh store: right after the full-window runs etcd is still
    # busy (backend commits of the burst), which would show in the latencies.
    light = await etcd_changes(endpoints, job_changes(min(count, 500))[0], window=1, clients=1)
    print(f"window=1, clients=1:  {light.summary()}")
    paced = await etcd_changes(
        endpoints, job_changes(min(count, 2000))[0], window=64, clients=clients, rate=1000
    )
    print(f"paced at 1,000/s:     {paced.summary()}")
    creates, updates = job_changes(count)
    print(
        f"record size: {len(creates[0][2])} bytes; {count} creates + {count} updates; "
        f"clients={clients}, window={window}"
    )
    for label, batch in (("create", creates), ("update", updates)):
        result = await etcd_changes(endpoints, batch, window=window, clients=clients)
        print(f"{label}: {result.summary()}")
        if result.errors:
            print(f"  errors: {dict(result.errors)}")
    # The proto is right if etcd read the compares and values as we meant them.
    assert await etcd_read(endpoints[-1], updates[0][0]) == (2, updates[0][2])
    stale = await etcd_changes(endpoints, updates[:10], window=window, clients=clients)
    again = await etcd_changes(endpoints, creates[:10], window=window, clients=clients)
    assert stale.errors == again.errors == {"compare failed": 10}, (stale.errors, again.errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few hundred changes")
    parser.add_argument("--count", type=int, default=50_000, help="jobs (creates = updates)")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--window", type=int, default=256)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if etcd_binary() is None:
        sys.exit("etcd is not installed (apt-get install etcd-server)")
    count = 300 if args.smoke else args.count
    with tempfile.TemporaryDirectory(prefix="etcd-bench-") as tmp:
        began = time.monotonic()
        with etcd_cluster(Path(tmp)) as endpoints:
            print(f"cluster ready in {time.monotonic() - began:.1f} s: {endpoints}")
            asyncio.run(_measure(endpoints, count, args.clients, args.window))


if __name__ == "__main__":
    main()
