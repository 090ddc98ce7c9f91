"""Fixtures for rnx: test certificates, a fake node, and running ``rnx`` in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from joblet_cluster.rnx.cli import run
from tests.unit.rnx.fake_node import FakeNode, Pems, make_pems, start_fake_node, write_rnx_config


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Rnx = Callable[..., Result]


@pytest.fixture(scope="session")
def pems() -> Pems:
    return make_pems()


@pytest.fixture
def fake_node(pems: Pems) -> Iterator[FakeNode]:
    node = start_fake_node(pems)
    try:
        yield node
    finally:
        node.jobs.job_ended.set()
        node.server.stop(grace=None)


@pytest.fixture
def config_file(tmp_path: Path, pems: Pems, fake_node: FakeNode) -> Path:
    """An rnx-config.yml whose default node is the fake node."""
    return write_rnx_config(tmp_path / "rnx-config.yml", pems, {"default": fake_node.address})


@pytest.fixture
def rnx(capsys: pytest.CaptureFixture[str], config_file: Path) -> Rnx:
    """Run ``rnx --config <fake node's config> ARGS...`` in-process."""

    def invoke(*args: str) -> Result:
        code = run(["--config", str(config_file), *args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
