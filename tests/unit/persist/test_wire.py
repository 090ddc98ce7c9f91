"""Hand-encoded LogBatch entries decode, with protobuf itself, to exactly the lines meant."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.persist._wire import line_head, log_entry, stamp_field, varint
from joblet_cluster.proto.persist_pb2 import LogBatch, LogLine

int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(
    job_id=st.text(min_size=1, max_size=40),
    stream=st.sampled_from([1, 2]),
    contents=st.lists(st.binary(max_size=400), min_size=1, max_size=20),
    timestamp=int64,
    first=st.integers(min_value=1, max_value=2**62),
)
def test_entries_decode_to_the_same_lines(
    job_id: str, stream: int, contents: list[bytes], timestamp: int, first: int
) -> None:
    head, stamp = line_head(job_id, stream), stamp_field(timestamp)
    data = b"".join(log_entry(head, c, stamp, first + i) for i, c in enumerate(contents))
    expected = LogBatch(
        lines=[
            LogLine(
                job_id=job_id, stream=stream, content=c, timestamp=timestamp, sequence=first + i
            )
            for i, c in enumerate(contents)
        ]
    )
    assert LogBatch.FromString(data) == expected


@given(value=int64)
def test_varint_matches_protobuf(value: int) -> None:
    encoded = LogLine(timestamp=value).SerializeToString()
    assert encoded == (b"\x20" + varint(value) if value else b"")
