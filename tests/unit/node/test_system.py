"""GetSystemStatus: a health check that answers fast, from the real host, every time."""

from __future__ import annotations

import ipaddress
import socket
import time
from datetime import UTC, datetime, timedelta

from joblet_cluster.node.system import COMPONENT, TOP_PROCESSES, system_status

PSEUDO_FILESYSTEMS = {"proc", "sysfs", "tmpfs", "devtmpfs", "cgroup", "cgroup2", "overlay"}


def test_a_health_check_is_fast_and_says_the_node_is_up() -> None:
    started = time.monotonic()
    status = system_status("node-7", "1.2.3")
    elapsed = time.monotonic() - started

    assert elapsed < 0.5
    assert status.available
    assert status.host.node_id == "node-7"
    assert status.host.hostname == socket.gethostname()
    assert status.cpu.cores >= 1
    assert status.memory.total_bytes > 0
    assert status.server_version.version == "1.2.3"
    assert status.server_version.component == COMPONENT


def test_it_can_be_called_again_and_again() -> None:
    first = system_status("node-7", "1.2.3")
    second = system_status("node-7", "1.2.3")

    assert second.available
    assert second.processes.total_processes >= 1
    assert first.host.boot_time == second.host.boot_time
    assert 0.0 <= second.cpu.usage_percent <= 100.0
    assert len(second.cpu.per_core_usage) == second.cpu.cores


def test_times_are_rfc3339_utc_and_current() -> None:
    status = system_status("node-7", "1.2.3")

    stamp = datetime.fromisoformat(status.timestamp)
    booted = datetime.fromisoformat(status.host.boot_time)
    assert stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - stamp) < timedelta(seconds=5)
    assert booted < stamp
    assert abs((stamp - booted).total_seconds() - status.host.uptime) < 5


def test_server_ips_are_reachable_ones_plus_those_given() -> None:
    status = system_status("node-7", "1.2.3", addresses=["203.0.113.9", "node7.example"])

    ips = list(status.host.server_ips)
    assert ips[-2:] == ["203.0.113.9", "node7.example"]
    for own in ips[:-2]:
        ip = ipaddress.ip_address(own)
        assert not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)
    assert len(ips) == len(set(ips))


def test_networks_carry_counters_and_addresses() -> None:
    status = system_status("node-7", "1.2.3")

    networks = {n.interface: n for n in status.networks}
    assert networks, "every host has at least a loopback interface"
    loopback = networks.get("lo")
    if loopback is not None:
        assert "127.0.0.1" in loopback.ip_addresses
        assert loopback.mac_address == ""


def test_disks_are_real_devices_each_once() -> None:
    status = system_status("node-7", "1.2.3")

    devices = [d.device for d in status.disks]
    assert len(devices) == len(set(devices))
    for disk in status.disks:
        assert disk.filesystem not in PSEUDO_FILESYSTEMS
        assert disk.used_bytes <= disk.total_bytes
        assert 0.0 <= disk.usage_percent <= 100.0


def test_processes_are_counted_and_the_top_ones_described() -> None:
    status = system_status("node-7", "1.2.3")

    processes = status.processes
    assert processes.total_threads >= 1
    assert processes.running_processes + processes.sleeping_processes >= 1
    assert 1 <= len(processes.top_by_memory) <= TOP_PROCESSES
    assert len(processes.top_by_cpu) <= TOP_PROCESSES
    heaviest = processes.top_by_memory[0]
    assert heaviest.pid > 0
    assert heaviest.name
    assert heaviest.memory_bytes > 0
    assert datetime.fromisoformat(heaviest.start_time) <= datetime.now(UTC)
    sizes = [p.memory_bytes for p in processes.top_by_memory]
    assert sizes == sorted(sizes, reverse=True)
