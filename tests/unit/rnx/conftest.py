"""Fixtures for rnx's unit tests: certificates from ``joblet certs generate``'s code and
config files that use them. Commands against a node are tested with a real node in
``tests/integration/node/test_rnx.py``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from joblet_cluster.node.certs import RnxNode, generate
from joblet_cluster.node.certs import write_rnx_config as write_entries


@dataclass(frozen=True)
class Pems:
    ca: bytes
    client_cert: bytes
    client_key: bytes


@pytest.fixture(scope="session")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Pems:
    files = generate(tmp_path_factory.mktemp("certs"), ["127.0.0.1"])
    return Pems(
        files.ca_cert.read_bytes(), files.admin_cert.read_bytes(), files.admin_key.read_bytes()
    )


def write_rnx_config(path: Path, pems: Pems, nodes: dict[str, str]) -> Path:
    """An ``rnx-config.yml`` naming ``nodes`` (name -> address), PEMs inline."""
    entry = (pems.client_cert.decode(), pems.client_key.decode(), pems.ca.decode())
    write_entries(path, {name: RnxNode(address, *entry) for name, address in nodes.items()})
    return path
