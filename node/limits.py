"""CPU and memory limits through cgroups, where this host lets the node write them.

A job with ``max_cpu`` (percent of one core) or ``max_memory`` (MB) gets a cgroup of its
own, named after the job, under ``joblet/`` in each controller it needs. cgroup v2 (one
unified tree) is used when its controllers are enabled; otherwise the v1 hierarchies
(``cpu/``, ``memory/``). Without a writable tree (not root, a read-only container) the
node falls back to what rlimits give: a memory limit (RLIMIT_AS), and no CPU limit.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("joblet.node.limits")

ROOT = Path("/sys/fs/cgroup")
GROUP = "joblet"
PERIOD_US = 100_000


@dataclass(frozen=True)
class Cgroups:
    """Where each controller's job cgroups go: ``cpu`` and ``memory`` folders (the same
    folder under cgroup v2), None for a controller this host does not let us use."""

    cpu: Path | None
    memory: Path | None
    unified: bool

    @classmethod
    def detect(cls, root: Path = ROOT) -> Cgroups:
        unified = root / "cgroup.controllers"
        if unified.exists():
            enabled = set(unified.read_text().split())
            base = root / GROUP
            if {"cpu", "memory"} & enabled and _writable(base):
                with contextlib.suppress(OSError):  # let our group's children use them
                    (base / "cgroup.subtree_control").write_text(
                        " ".join(f"+{c}" for c in ("cpu", "memory") if c in enabled)
                    )
                return cls(
                    base if "cpu" in enabled else None,
                    base if "memory" in enabled else None,
                    True,
                )
        cpu, memory = root / "cpu" / GROUP, root / "memory" / GROUP
        return cls(cpu if _writable(cpu) else None, memory if _writable(memory) else None, False)

    def apply(self, job_id: str, pid: int, cpu_percent: int, memory_mb: int) -> list[Path]:
        """Put ``pid`` into the job's cgroups with the limits asked for; returns the
        cgroups made (for :meth:`remove`). A limit this host cannot apply is logged."""
        made: list[Path] = []
        if cpu_percent > 0:
            if self.cpu is None:
                log.warning("job %s: max_cpu is not enforced: no writable cpu cgroup", job_id)
            else:
                quota = max(cpu_percent * PERIOD_US // 100, 1000)
                group = self._group(self.cpu, job_id, made)
                if self.unified:
                    (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
                else:
                    (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                    (group / "cpu.cfs_quota_us").write_text(str(quota))
                (group / "cgroup.procs").write_text(str(pid))
        if memory_mb > 0 and self.memory is not None:
            limit = memory_mb * 1024 * 1024
            group = self._group(self.memory, job_id, made)
            name = "memory.max" if self.unified else "memory.limit_in_bytes"
            (group / name).write_text(str(limit))
            (group / "cgroup.procs").write_text(str(pid))
        return made

    def _group(self, base: Path, job_id: str, made: list[Path]) -> Path:
        group = base / job_id
        if group not in made:
            group.mkdir(exist_ok=True)
            made.append(group)
        return group

    @staticmethod
    def remove(groups: list[Path]) -> None:
        """Remove a finished job's cgroups (empty once its processes are gone)."""
        for group in groups:
            with contextlib.suppress(OSError):
                group.rmdir()


def _writable(base: Path) -> bool:
    try:
        base.mkdir(exist_ok=True)
        probe = base / "joblet-probe"
        probe.mkdir(exist_ok=True)
        probe.rmdir()
    except OSError:
        return False
    return True
