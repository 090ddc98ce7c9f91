"""The frame codec: lengths, split deliveries, and a lying header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.persist._framing import FrameDecoder, FrameTooLarge, encode_frame


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=50),
)
def test_frames_survive_any_split_of_the_stream(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder(max_size=1024)
    out: list[bytes] = []
    position = 0
    i = 0
    while position < len(stream):
        size = cuts[i % len(cuts)]
        out.extend(decoder.feed(stream[position : position + size]))
        position += size
        i += 1
    assert out == payloads
    assert decoder.pending == 0


def test_a_header_over_the_limit_is_refused_before_its_body_arrives() -> None:
    decoder = FrameDecoder(max_size=100)
    assert decoder.feed(encode_frame(b"x" * 100)) == [b"x" * 100]
    with pytest.raises(FrameTooLarge, match="101 bytes exceeds the limit of 100"):
        decoder.feed(encode_frame(b"y" * 101)[:4])


def test_an_incomplete_frame_waits() -> None:
    decoder = FrameDecoder(max_size=100)
    frame = encode_frame(b"hello")
    assert decoder.feed(frame[:6]) == []
    assert decoder.pending == 6
    assert decoder.feed(frame[6:]) == [b"hello"]
