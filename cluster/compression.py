"""How hard pysyncobj compresses what one replica sends another.

pysyncobj 0.3.17 compresses every message with zlib at level 3, fixed. Our entries are
group commits of hundreds of records (~250 KB), and deflating one and inflating it again
took 1.2 ms each time it crossed to another replica, four times per entry: a tenth of
the cluster's CPU at full load, on a loopback where the bytes saved cost nothing to send.
Encrypted traffic (a ``secret``) is the other way round: encrypting an uncompressed entry
took 3 ms more each way than a compressed one. So by default entries travel as zlib's
stored blocks (level 0) when nothing is encrypted, and at level 1 when it is.

Any level is read back by any replica, whichever wrote it: the receiving end only
inflates, so replicas at different levels (or an older release at level 3) mix freely.
"""

from __future__ import annotations

import types
import zlib

import pysyncobj.tcp_connection

#: ``cluster.compression_level`` when the config leaves it out (-1).
AUTOMATIC = -1


def compression_level(configured: int, encrypted: bool) -> int:
    if configured != AUTOMATIC:
        return configured
    return 1 if encrypted else 0


def use_compression(level: int) -> None:
    """The zlib level pysyncobj's connections compress with, in this process (it has one
    raft replica)."""

    def compress(data: bytes, pysyncobjs_level: int = 3) -> bytes:
        return zlib.compress(data, level)

    # tcp_connection calls zlib.compress(data, 3) and zlib.decompress(data) on its module
    # global; only compress changes
    pysyncobj.tcp_connection.zlib = types.SimpleNamespace(  # type: ignore[attr-defined]
        compress=compress, decompress=zlib.decompress
    )
