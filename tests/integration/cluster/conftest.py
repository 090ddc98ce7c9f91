"""What the cluster tests share: the config of one ``joblet state`` raft replica."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def replica_config(
    home: Path, node_id: str, address: str, addresses: list[str], **cluster: Any
) -> Path:
    """``home/joblet-config.yml`` for a raft replica at ``address`` among ``addresses``,
    with quick elections and the ``cluster`` keys given."""
    config = {
        "server": {"nodeId": node_id},
        "cluster": {
            "raft_address": address,
            "peers": [a for a in addresses if a != address],
            "data_dir": str(home / "raft"),
            "election_timeout_min": 0.2,
            "election_timeout_max": 0.5,
            **cluster,
        },
        "state": {"backend": "raft", "socket": str(home / "state.sock")},
        "logging": {"level": "WARNING"},
    }
    home.mkdir(exist_ok=True)
    path = home / "joblet-config.yml"
    path.write_text(yaml.safe_dump(config))
    return path
