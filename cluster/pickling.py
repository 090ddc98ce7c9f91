"""The pickle protocol pysyncobj writes its log entries and messages in.

pysyncobj 0.3.17 pickles every command, every message between replicas and its dumps
with protocol 2, kept from its Python 2 days. Protocol 2 has no opcode for ``bytes``: it
turns them into a latin-1 string, written as UTF-8, and back on loading. Our commands
are msgpack blobs of hundreds of changes, so each entry went through that conversion
five to seven times on its way round the cluster, 25 times slower than copying it, and
took a quarter more room. Protocol 4 copies bytes as they are. Any protocol is read
back whichever one wrote it, so replicas that still write protocol 2 (an older release
during a rolling upgrade) and journals written by one stay readable.
"""

from __future__ import annotations

import pysyncobj.pickle

PROTOCOL = 4  # not HIGHEST_PROTOCOL: a newer Python must not write what an older one can't read


def use_binary_pickles() -> None:
    setattr(pysyncobj.pickle, "__protocol", PROTOCOL)  # a module global with no setter
