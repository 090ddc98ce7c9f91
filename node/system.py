"""The node's health and resource report: ``joblet.MonitoringService/GetSystemStatus``.

Joblet's clients call it as a health check, so it must answer at once and never fail:

- nothing sleeps. CPU percentages (host, per core, per process) are since the previous call
  (0.0 on the first); rates that need two readings (network, disk) are left 0.
- a feature this environment lacks (no load average, no ``/proc/diskstats`` in a container)
  leaves its part empty; a process that ends while it is read is left out.
- any other failure of one section leaves that section empty (and is logged): a partial
  report still says the node is up, which is what the caller asks.
"""

from __future__ import annotations

import heapq
import ipaddress
import logging
import os
import platform
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psutil

from joblet_cluster.proto import joblet_pb2 as pb
from joblet_cluster.state import format_time

log = logging.getLogger("joblet.node.system")

COMPONENT = "joblet-cluster"
#: How many processes each of the top-by-CPU and top-by-memory lists holds.
TOP_PROCESSES = 5

_PROCESS_ATTRS = [
    "ppid",
    "name",
    "status",
    "num_threads",
    "cpu_percent",
    "memory_percent",
    "memory_info",
    "create_time",
]
_SLEEPING = (psutil.STATUS_SLEEPING, psutil.STATUS_DISK_SLEEP, psutil.STATUS_IDLE)
_STOPPED = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
_NO_MAC = "00:00:00:00:00:00"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Nic:
    """One network interface's addresses, read once and shared by the host and network parts."""

    ips: tuple[str, ...] = ()
    mac: str = ""


def system_status(
    node_id: str, version: str, addresses: Sequence[str] = ()
) -> pb.SystemStatusResponse:
    """The whole report; ``addresses`` (the ones the node serves on) join the host's own IPs."""
    interfaces: dict[str, _Nic] = _safe(_interfaces, {})
    return pb.SystemStatusResponse(
        timestamp=format_time(datetime.now(UTC)),
        available=True,
        host=_host(node_id, addresses, interfaces),
        cpu=_safe(_cpu, pb.CPUMetrics()),
        memory=_safe(_memory, pb.MemoryMetrics()),
        disks=_safe(_disks, []),
        networks=_safe(_networks, [], interfaces),
        io=_safe(_io, pb.IOMetrics()),
        processes=_safe(_processes, pb.ProcessMetrics()),
        server_version=_server_version(version),
    )


def _safe(read: Callable[..., T], empty: T, *args: Any) -> T:
    """One section, or ``empty`` if it fails: the report must still say the node is up."""
    try:
        return read(*args)
    except (OSError, psutil.Error, NotImplementedError):
        log.warning("system status: %s left empty", read.__name__, exc_info=True)
        return empty


def _host(node_id: str, addresses: Sequence[str], interfaces: Mapping[str, _Nic]) -> pb.HostInfo:
    boot = _safe(psutil.boot_time, 0.0)
    return pb.HostInfo(
        hostname=socket.gethostname(),
        os=platform.system().lower(),
        kernel_version=platform.release(),
        architecture=platform.machine(),
        boot_time=_rfc3339(boot) if boot else "",
        uptime=int(time.time() - boot) if boot else 0,
        node_id=node_id,
        server_ips=_server_ips(interfaces, addresses),
        mac_addresses=_unique(nic.mac for nic in interfaces.values() if nic.mac),
    )


def _interfaces() -> dict[str, _Nic]:
    nics = {}
    for name, entries in psutil.net_if_addrs().items():
        ips = tuple(e.address for e in entries if e.family in (socket.AF_INET, socket.AF_INET6))
        macs = [e.address for e in entries if e.family == psutil.AF_LINK and e.address != _NO_MAC]
        nics[name] = _Nic(ips, macs[0] if macs else "")
    return nics


def _server_ips(interfaces: Mapping[str, _Nic], addresses: Sequence[str]) -> list[str]:
    """The host's IPs a client elsewhere could use, then the addresses the caller serves on."""
    own = (ip for nic in interfaces.values() for ip in nic.ips if _reachable(ip))
    return _unique([*own, *(a for a in addresses if a)])


def _reachable(address: str) -> bool:
    """Loopback, link-local (unusable without its interface) and unspecified IPs are not."""
    ip = ipaddress.ip_address(address)
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)


def _cpu() -> pb.CPUMetrics:
    times = psutil.cpu_times_percent(interval=None)
    return pb.CPUMetrics(
        cores=psutil.cpu_count() or 1,
        usage_percent=psutil.cpu_percent(interval=None),
        user_time=times.user,
        system_time=times.system,
        idle_time=times.idle,
        io_wait_time=getattr(times, "iowait", 0.0),  # Linux only, as is steal
        steal_time=getattr(times, "steal", 0.0),
        load_average=_load_average(),
        per_core_usage=psutil.cpu_percent(interval=None, percpu=True),
    )


def _load_average() -> list[float]:
    try:
        return list(psutil.getloadavg())
    except OSError:  # some sandboxes do not expose it
        return []


def _memory() -> pb.MemoryMetrics:
    virtual = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return pb.MemoryMetrics(
        total_bytes=virtual.total,
        used_bytes=virtual.used,
        free_bytes=virtual.free,
        available_bytes=virtual.available,
        usage_percent=virtual.percent,
        cached_bytes=getattr(virtual, "cached", 0),  # Linux and BSD only, as are buffers
        buffered_bytes=getattr(virtual, "buffers", 0),
        swap_total=swap.total,
        swap_used=swap.used,
        swap_free=swap.free,
    )


def _disks() -> list[pb.DiskMetrics]:
    """One entry per real device (``all=False`` drops proc, tmpfs, overlay and the like).

    A device mounted twice (bind mounts) is reported at its first mount point only.
    """
    disks: dict[str, pb.DiskMetrics] = {}
    for part in psutil.disk_partitions(all=False):
        if part.device not in disks and (disk := _disk(part)) is not None:
            disks[part.device] = disk
    return list(disks.values())


def _disk(part: Any) -> pb.DiskMetrics | None:
    try:
        usage = psutil.disk_usage(part.mountpoint)
        fs = os.statvfs(part.mountpoint)
    except OSError:  # unmounted since it was listed, or not ours to look into
        return None
    inodes_used = fs.f_files - fs.f_ffree
    return pb.DiskMetrics(
        device=part.device,
        mount_point=part.mountpoint,
        filesystem=part.fstype,
        total_bytes=usage.total,
        used_bytes=usage.used,
        free_bytes=usage.free,
        usage_percent=usage.percent,
        inodes_total=fs.f_files,
        inodes_used=inodes_used,
        inodes_free=fs.f_ffree,
        inodes_usage_percent=100.0 * inodes_used / fs.f_files if fs.f_files else 0.0,
    )


def _networks(interfaces: Mapping[str, _Nic]) -> list[pb.NetworkMetrics]:
    counters = psutil.net_io_counters(pernic=True)
    return [
        _network(name, counters[name], interfaces.get(name, _Nic())) for name in sorted(counters)
    ]


def _network(name: str, counters: Any, nic: _Nic) -> pb.NetworkMetrics:
    return pb.NetworkMetrics(
        interface=name,
        bytes_received=counters.bytes_recv,
        bytes_sent=counters.bytes_sent,
        packets_received=counters.packets_recv,
        packets_sent=counters.packets_sent,
        errors_in=counters.errin,
        errors_out=counters.errout,
        drops_in=counters.dropin,
        drops_out=counters.dropout,
        ip_addresses=nic.ips,
        mac_address=nic.mac,
    )


def _io() -> pb.IOMetrics:
    """Totals over whole disks (psutil leaves partitions out of them), then each busy device."""
    try:
        total = psutil.disk_io_counters()
        per_disk = psutil.disk_io_counters(perdisk=True)
    except (OSError, NotImplementedError):  # no /proc/diskstats, as in some containers
        return pb.IOMetrics()
    if total is None:
        return pb.IOMetrics()
    return pb.IOMetrics(
        total_reads=total.read_count,
        total_writes=total.write_count,
        read_bytes=total.read_bytes,
        write_bytes=total.write_bytes,
        disk_io=[
            _disk_io(name, c)
            for name, c in sorted(per_disk.items())
            if c.read_count or c.write_count
        ],
    )


def _disk_io(name: str, counters: Any) -> pb.DiskIOMetrics:
    return pb.DiskIOMetrics(
        device=name,
        reads_completed=counters.read_count,
        writes_completed=counters.write_count,
        read_bytes=counters.read_bytes,
        write_bytes=counters.write_bytes,
        read_time=counters.read_time,
        write_time=counters.write_time,
        io_time=getattr(counters, "busy_time", 0),  # Linux and FreeBSD only
    )


def _processes() -> pb.ProcessMetrics:
    """Counts and the top processes, from one pass over the process table.

    ``process_iter`` keeps its Process objects between calls, which is what lets each
    process's CPU percentage be measured since the previous report without waiting.
    Processes that end during the pass are skipped by it; fields we may not read are None.
    """
    procs = list(psutil.process_iter(_PROCESS_ATTRS))
    statuses = Counter(p.info["status"] for p in procs)
    by_cpu = heapq.nlargest(TOP_PROCESSES, procs, key=lambda p: p.info["cpu_percent"] or 0.0)
    by_memory = heapq.nlargest(TOP_PROCESSES, procs, key=lambda p: _rss(p.info))
    return pb.ProcessMetrics(
        total_processes=len(procs),
        running_processes=statuses[psutil.STATUS_RUNNING],
        sleeping_processes=sum(statuses[s] for s in _SLEEPING),
        stopped_processes=sum(statuses[s] for s in _STOPPED),
        zombie_processes=statuses[psutil.STATUS_ZOMBIE],
        total_threads=sum(p.info["num_threads"] or 0 for p in procs),
        top_by_cpu=[_process_info(p) for p in by_cpu],
        top_by_memory=[_process_info(p) for p in by_memory],
    )


def _process_info(proc: psutil.Process) -> pb.ProcessInfo:
    info = proc.info
    name = info["name"] or ""
    return pb.ProcessInfo(
        pid=proc.pid,
        ppid=info["ppid"] or 0,
        name=name,
        command=_command(proc) or name,
        cpu_percent=info["cpu_percent"] or 0.0,
        memory_percent=info["memory_percent"] or 0.0,
        memory_bytes=_rss(info),
        status=info["status"] or "",
        start_time=_rfc3339(info["create_time"]) if info["create_time"] else "",
    )


def _command(proc: psutil.Process) -> str:
    """The command line, read only for the few processes reported (kernel threads have none)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # ended since it was listed, or not ours to read
        return ""


def _rss(info: Mapping[str, Any]) -> int:
    memory = info["memory_info"]
    return memory.rss if memory is not None else 0


def _server_version(version: str) -> pb.ServerVersionInfo:
    return pb.ServerVersionInfo(
        version=version,
        component=COMPONENT,
        platform=f"{platform.system().lower()}/{platform.machine()}",
    )


def _rfc3339(epoch_seconds: float) -> str:
    return format_time(datetime.fromtimestamp(epoch_seconds, UTC))


def _unique(items: Iterable[str]) -> list[str]:
    """In first-seen order: an interface's MAC, or an address, may show up more than once."""
    return list(dict.fromkeys(items))
