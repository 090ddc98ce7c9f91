"""The zlib level replicas send at: chosen from the config, and read back at any level."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import pysyncobj.tcp_connection
import pytest

from joblet_cluster.cluster.compression import AUTOMATIC, compression_level, use_compression


@pytest.fixture
def restore_zlib() -> Iterator[None]:
    original = pysyncobj.tcp_connection.zlib  # type: ignore[attr-defined]
    yield
    pysyncobj.tcp_connection.zlib = original  # type: ignore[attr-defined]


def test_automatic_is_none_in_the_clear_and_level_one_when_encrypted() -> None:
    assert compression_level(AUTOMATIC, encrypted=False) == 0
    assert compression_level(AUTOMATIC, encrypted=True) == 1
    assert compression_level(6, encrypted=False) == 6


@pytest.mark.usefixtures("restore_zlib")
def test_what_pysyncobj_sends_is_at_the_chosen_level_and_inflates_as_before() -> None:
    message = b"the same record, again and again; " * 4000
    use_compression(0)
    sent = pysyncobj.tcp_connection.zlib  # type: ignore[attr-defined]
    stored = sent.compress(message, 3)  # as tcp_connection calls it
    assert len(stored) > len(message)  # stored blocks: nothing deflated
    assert sent.decompress(stored) == message == zlib.decompress(stored)
    use_compression(9)
    deflated = pysyncobj.tcp_connection.zlib.compress(message, 3)  # type: ignore[attr-defined]
    assert len(deflated) < len(message) // 100
    assert pysyncobj.tcp_connection.zlib.decompress(zlib.compress(message, 3)) == message  # type: ignore[attr-defined]
