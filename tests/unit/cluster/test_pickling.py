"""pysyncobj writes entries with a protocol that copies bytes, and still reads protocol 2."""

from __future__ import annotations

import pickle

import pysyncobj.pickle

from joblet_cluster.cluster.pickling import use_binary_pickles


def test_entries_are_written_byte_for_byte_and_old_ones_still_read() -> None:
    use_binary_pickles()
    entry = (bytes(range(256)) * 64, 7, 3)  # a msgpack blob is bytes of every value
    written = pysyncobj.pickle.dumps(entry)
    assert written[:2] == b"\x80\x04"  # protocol 4
    assert len(written) < len(entry[0]) + 64  # not widened: protocol 2 made it 1.5x
    assert pysyncobj.pickle.loads(written) == entry
    assert len(pickle.dumps(entry, 2)) > 1.4 * len(entry[0])
    assert pysyncobj.pickle.loads(pickle.dumps(entry, 2)) == entry  # an older node's
