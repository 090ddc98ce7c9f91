"""The deferred index reads exactly like a sorted set, whatever writes came before a read."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from joblet_cluster.state.backends._index import DeferredIndex, Key

# ("add" | "remove" | "read", key number); a remove picks a key that is present
steps = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove", "read"]), st.integers(0, 60)),
    max_size=300,
)


def _key(n: int) -> Key:
    return (f"2026-11-22T10:{n % 7:02d}:00Z", f"job-{n:03d}")


@given(steps)
def test_reads_match_a_sorted_set(ops: list[tuple[str, int]]) -> None:
    index, model = DeferredIndex(), set()
    for op, n in ops:
        key = _key(n)
        if op == "add" and key not in model:
            index.add(key)
            model.add(key)
        elif op == "remove" and model:
            gone = sorted(model)[n % len(model)]
            index.remove(gone)
            model.discard(gone)
        elif op == "read":
            assert list(index) == sorted(model)
        assert len(index) == len(model)
    assert list(index) == sorted(model)
    low, high = _key(10), _key(40)
    expected = [k for k in sorted(model) if low <= k < high]
    assert list(index.irange(low, high, inclusive=(True, False))) == expected
    assert list(index.irange(low, high, inclusive=(True, False), reverse=True)) == expected[::-1]


def test_writes_between_reads_of_a_large_index() -> None:
    index = DeferredIndex()
    for n in range(1000):
        index.add(_key(n))
    first = index.irange()  # 1000 pending keys: one sort
    assert len(list(first)) == 1000
    index.remove(_key(5))
    index.add(_key(5000))
    index.remove(_key(5000))  # added and removed again before a read: never there
    index.add(_key(1001))
    assert list(index) == sorted(({_key(n) for n in range(1000)} | {_key(1001)}) - {_key(5)})
    assert len(index) == 1000
