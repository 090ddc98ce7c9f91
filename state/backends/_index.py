"""A sorted index that defers its upkeep from the writes to the next read.

Every raft replica applies every change, and keeping a ``SortedList`` in order on each
create and status change was the largest part of applying one (a third of a replica's
work for an update). Writes far outnumber the lists that walk an index, so a write only
records the key it adds (appended to a list: cheaper than a dict that grows, a fifth of
applying a create) or removes (in a set); the next read folds what accumulated in at
once. A large backlog is folded by rebuilding the list with one sort, which Timsort
does in near-linear time because both parts are already in order. An index nobody reads
(a follower's, say) never folds, and needs no bound: a key is added only while absent,
so it waits at most once among the adds and once among the removes, and the backlog
holds at most twice the keys there are (folding it in as it grew cost a create a third
more on every replica).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedList

Key = tuple[str, str]


class DeferredIndex:
    """A set of keys, in order when read. Keys are unique: a key is added only while absent."""

    __slots__ = ("_adds", "_removes", "_sorted")

    def __init__(self) -> None:
        self._sorted = SortedList()
        self._adds: list[Key] = []  # appended: a list grows cheaper than a dict or set
        self._removes: set[Key] = set()  # settled keys, and added ones, removed since

    def add(self, key: Key) -> None:
        removes = self._removes
        if removes and key in removes:
            removes.discard(key)  # removed and added back before a read
        else:
            self._adds.append(key)

    def remove(self, key: Key) -> None:
        self._removes.add(key)

    def move(self, key: Key, to: DeferredIndex) -> None:
        """:meth:`remove` here and :meth:`add` to ``to``: a job's status change, in one
        call (the raft replica applies one per status change on every node)."""
        self._removes.add(key)
        to.add(key)

    def __len__(self) -> int:
        return len(self._sorted) + len(self._adds) - len(self._removes)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._settled())

    def irange(self, *args: Any, **kwargs: Any) -> Iterator[Key]:
        return self._settled().irange(*args, **kwargs)  # type: ignore[no-any-return]

    def _settled(self) -> SortedList:
        adds, removes = self._adds, self._removes
        if not adds and not removes:
            return self._sorted
        kept = self._sorted
        if removes:
            adds = [key for key in adds if key not in removes]
        if (len(adds) + len(removes)) * 4 >= len(kept):
            keys = [key for key in kept if key not in removes] if removes else list(kept)
            keys.extend(adds)
            self._sorted = SortedList(keys)
        else:
            for key in removes:
                kept.discard(key)  # or it was added since the last read, and dropped above
            kept.update(adds)
        self._adds = []
        self._removes = set()
        return self._sorted
