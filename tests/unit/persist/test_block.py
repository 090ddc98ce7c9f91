"""LogBlock: the columnar run of lines that reads produce, and its hand-written
``LogChunk`` encoding, checked against protobuf's own parser."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.persist.backends import STDERR, STDOUT, LogBlock
from joblet_cluster.proto.persist_pb2 import LogChunk, LogLine

lines_strategy = st.lists(
    st.builds(
        LogLine,
        job_id=st.just("job-1"),
        stream=st.sampled_from([STDOUT, STDERR]),
        content=st.binary(max_size=300),
        timestamp=st.integers(-(2**63), 2**63 - 1),
        sequence=st.integers(0, 2**63 - 1),
    ),
    max_size=60,
)


@given(lines=lines_strategy, max_bytes=st.integers(1, 2000))
def test_encoded_chunks_parse_back_to_the_same_lines_within_the_byte_bound(
    lines: list[LogLine], max_bytes: int
) -> None:
    block = LogBlock.of("job-1", lines)
    chunks = [LogChunk.FromString(data) for data in block.encoded_chunks(max_bytes)]
    assert [line for chunk in chunks for line in LogBlock.from_chunk(chunk)] == lines
    for chunk in chunks:
        assert chunk.job_id == "job-1"
        assert len(chunk.sizes) == len(chunk.streams) == len(chunk.timestamps) >= 1
        assert len(chunk.contents) <= max_bytes or len(chunk.sizes) == 1
    if not lines:
        assert chunks == []


@given(lines=lines_strategy)
def test_by_time_is_a_stable_sort_and_pick_keeps_the_columns_together(
    lines: list[LogLine],
) -> None:
    block = LogBlock.of("job-1", lines)
    assert list(block.by_time()) == sorted(lines, key=lambda line: line.timestamp)
    odd = list(range(1, len(lines), 2))
    assert list(block.pick(odd)) == [lines[i] for i in odd]
    assert list(block.where(lambda content: b"a" in content)) == [
        line for line in lines if b"a" in line.content
    ]


def test_slices_concatenation_and_last_sequence_per_stream() -> None:
    out = [LogLine(job_id="j", stream=STDOUT, content=b"o%d" % i, sequence=i) for i in (1, 2)]
    err = [LogLine(job_id="j", stream=STDERR, content=b"e1", sequence=7)]
    block = LogBlock.of("j", out) + LogBlock.of("j", err)
    assert [line.content for line in block[1:]] == [b"o2", b"e1"]
    assert (block.last_sequence(STDOUT), block.last_sequence(STDERR)) == (2, 7)
    assert block[:1].last_sequence(STDERR) == 0
    assert len(block[3:]) == 0 and not block[3:]
