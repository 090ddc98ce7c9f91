"""The contract every persist backend fulfils (local files, CloudWatch).

Backends receive lines already checked and de-duplicated by the ingestion core: per job
and stream, sequences arrive in increasing order, each once. A write returns only when
its lines are durably stored (for local files: written to the OS, so a crash of the
service loses nothing that was acknowledged). Reads return chunks, never one message at
a time: lines as columnar blocks (:class:`LogBlock`), metric samples as lists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self

from joblet_cluster.persist.backends._block import LogBlock
from joblet_cluster.proto.persist_pb2 import Metric

STDOUT = 1
STDERR = 2
METRICS = 3  # the "stream" of a job's metric samples, for sequences and acks


class Cuttable(Protocol):
    """A chunk that reads yield: a list of samples, or a block of lines."""

    def __len__(self) -> int: ...
    def __getitem__(self, span: slice, /) -> Self: ...
    def __add__(self, other: Self, /) -> Self: ...


@dataclass(slots=True)
class JobSummary:
    """What the job index knows of one job (``GetJobInfo``/``ListJobs``)."""

    job_id: str
    first_time: int = 0  # ns; 0 when nothing was stored yet
    last_time: int = 0
    stdout_lines: int = 0
    stderr_lines: int = 0
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    metric_samples: int = 0


@dataclass(slots=True)
class CleanupResult:
    jobs_removed: int = 0
    bytes_freed: int = 0
    removed: list[str] = field(default_factory=list)


class PersistBackend(Protocol):
    name: str

    async def open(self) -> None:
        """Prepare storage (create folders, load the index); called once before use."""

    async def close(self) -> None:
        """Flush and release everything (files, clients)."""

    async def last_sequence(self, job_id: str, stream: int) -> int:
        """The highest sequence durably stored for this job and stream (0: none)."""

    async def write_logs(self, job_id: str, stream: int, lines: LogBlock) -> None:
        """Store lines of one job and stream, in order; durable when this returns."""

    async def write_metrics(self, job_id: str, samples: Sequence[Metric]) -> None:
        """Store metric samples of one job, in order; durable when this returns."""

    def read_logs(
        self, job_id: str, stream: int, start: int = 0, end: int = 0
    ) -> AsyncIterator[LogBlock]:
        """Stored lines in blocks: one stream in sequence order, or (``stream`` 0) both
        streams merged by timestamp (ties: stdout first, then by sequence). ``start`` is
        inclusive, ``end`` exclusive, in ns; 0 means unbounded."""

    def read_metrics(
        self, job_id: str, start: int = 0, end: int = 0
    ) -> AsyncIterator[list[Metric]]:
        """Stored samples in chunks, in time order, within ``[start, end)`` (0: unbounded)."""

    async def aggregate_metrics(
        self, job_id: str, start: int = 0, end: int = 0, aggregation: str = "avg", step: int = 0
    ) -> list[Metric]:
        """QueryMetrics' avg, min, max or sum per ``step`` ns (0: one for the whole range),
        each from the statistic the backend holds (raw samples, or CloudWatch's own)."""

    async def job_info(self, job_id: str) -> JobSummary | None: ...

    async def list_jobs(self) -> list[JobSummary]: ...

    async def delete_job(self, job_id: str) -> bool:
        """Remove everything stored for the job; False when there was nothing."""

    async def cleanup(self, now: int) -> CleanupResult:
        """Apply retention as of ``now`` (ns)."""

    async def stored_bytes(self) -> int: ...

    def check_writable(self) -> str | None:
        """None when storage accepts writes, else why not (for /health)."""
