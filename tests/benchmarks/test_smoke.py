"""Every benchmark runs end to end in smoke mode, so none rots between full runs.

These check that the scripts work, not how fast anything is: figures come from full
runs, recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

BENCHMARKS = {  # module: what its report must mention
    "tests.benchmarks.bench_state_ipc": "ops/s",
    "tests.benchmarks.bench_local_backend": "lines/s",
    "tests.benchmarks.bench_persist": "lines/s",
    "tests.benchmarks.bench_node": "jobs/s",
    "tests.benchmarks.bench_raft": "changes/s",
}


@pytest.mark.benchmark
@pytest.mark.parametrize("module", sorted(BENCHMARKS))
def test_benchmark_runs_in_smoke_mode(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert BENCHMARKS[module] in done.stdout
