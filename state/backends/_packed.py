"""Records a raft replica stores as they came, decoded only when someone reads them.

Every replica applies every change, but a replica reads few of the records it holds: the
records of other nodes' jobs are read by a ``list`` or ``get`` now and then, by a watcher
if there is one. Decoding each record in full as its entry was applied (a dict, its
lists and dicts, a string per value) was a replica's largest single cost, and it left
hundreds of thousands of containers for the garbage collector to walk. So an entry also
carries each record's head, the fields the store itself needs (its id, node, status,
version and ``createdAt``: compare-and-set, the indexes and watch filters read nothing
else). A replica stores a dict of the head and the record's msgpack bytes under
:data:`PACKED`: it holds no container, so the collector never tracks it. A read decodes
it (:func:`unpack`), and a record read once is stored decoded.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

from joblet_cluster.state._record import JobRecord

#: The key of a packed record's bytes: never a record field (records from outside pass
#: the JobRecord schema, which drops every key it does not name).
PACKED = "\x00packed"

_RECORD = msgspec.msgpack.Decoder(dict[str, Any])


def decode_record(data: bytes | msgspec.Raw) -> JobRecord:
    """A record as msgpack holds it, checked where it came in (not again here)."""
    return cast(JobRecord, _RECORD.decode(data))


def unpack(record: JobRecord) -> JobRecord:
    """The whole record; the head's ``createdAt`` wins, as the store may have filled it in."""
    packed = record.get(PACKED)
    if packed is None:
        return record
    full = decode_record(cast(bytes, packed))
    created = record.get("createdAt")
    if created is not None:
        full["createdAt"] = created
    return full
