"""The issue's reference point, measured in the same run: bare pysyncobj, no state service.

Issue 5 sets its throughput target from a bare pysyncobj test: three processes on
loopback, journal and dump files on, each replicated call a group of a few hundred
compare-and-set changes of ~300-byte values, 2-4 calls in flight per process. The
machines of this kind have run at different speeds on different days, so the bench
measures that setup beside ours: the ratio between the two is what a day's speed does
not change. pysyncobj runs with its own defaults (pickle protocol 2 included) apart from
the short periods such a test needs for its latency.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pysyncobj import SyncObj, SyncObjConf, replicated

from joblet_cluster.node.dev import free_port

GROUP = 500  # changes a replicated call
IN_FLIGHT = 3  # calls awaiting their commit, per process
VALUE = "x" * 300


class _Store(SyncObj):
    def __init__(self, address: str, peers: list[str], conf: SyncObjConf) -> None:
        super().__init__(address, peers, conf=conf)
        self.values: dict[str, tuple[int, str]] = {}

    @replicated
    def apply(self, changes: list[tuple[str, int, str]]) -> int:
        applied = 0
        for key, version, value in changes:
            stored = self.values.get(key)
            if stored is None or stored[0] < version:
                self.values[key] = (version, value)
                applied += 1
        return applied


def _node(*args: Any) -> None:
    """One replica and its writer; whatever happens, the parent hears of it."""
    results = args[-1]
    try:
        _replica(*args)
    except BaseException as exc:
        results.put(f"node {args[0]}: {exc!r}")
        raise


def _replica(
    index: int,
    addresses: list[str],
    directory: str,
    seconds: float,
    start: multiprocessing.synchronize.Event,
    ready: Any,
    results: Any,
) -> None:
    conf = SyncObjConf(
        appendEntriesPeriod=0.01,
        autoTickPeriod=0.005,
        journalFile=str(Path(directory) / f"journal-{index}"),
        fullDumpFile=str(Path(directory) / f"dump-{index}"),
    )
    peers = [a for i, a in enumerate(addresses) if i != index]
    store = _Store(addresses[index], peers, conf)
    while store._getLeader() is None:
        time.sleep(0.01)
    ready.put(index)
    start.wait()
    slots = threading.Semaphore(IN_FLIGHT)
    lock = threading.Lock()
    committed = [0]

    def done(result: Any, error: Any) -> None:
        if result is not None:
            with lock:
                committed[0] += GROUP
        slots.release()

    version = 0
    began = time.perf_counter()
    deadline = began + seconds
    # pysyncobj now and then never answers a call (specs/pysyncobj-facts.md): its slot
    # stays taken and the others carry on, and only what was answered in time counts
    while slots.acquire(timeout=max(0.0, deadline - time.perf_counter())):
        if time.perf_counter() >= deadline:
            break
        version += 1
        changes = [(f"n{index}-{k}", version, VALUE) for k in range(GROUP)]
        store.apply(changes, callback=done)
    with lock:
        results.put(committed[0] / (time.perf_counter() - began))
    store.destroy()


def bare_pysyncobj_rate(seconds: float) -> float:
    """Changes/s committed by three bare pysyncobj processes, summed."""
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    context = multiprocessing.get_context("spawn")
    start, ready, results = context.Event(), context.Queue(), context.Queue()
    with tempfile.TemporaryDirectory(prefix="bare-raft-") as directory:
        processes = [
            context.Process(
                target=_node, args=(i, addresses, directory, seconds, start, ready, results)
            )
            for i in range(3)
        ]
        for process in processes:
            process.start()
        try:
            for _ in processes:  # every one knows the leader before the clock starts
                ready.get(timeout=60)
            start.set()
            rates = [results.get(timeout=seconds + 120) for _ in processes]
            failed = [r for r in rates if isinstance(r, str)]
            if failed:
                raise RuntimeError(f"bare pysyncobj run failed: {'; '.join(failed)}")
            return float(sum(rates))
        finally:
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
