"""A sorted multiset of keys with insert, remove, rank and k-th element in sublinear time.

The rung schedulers rank every value recorded at a rung at every decision; with 100,000 trials a
sort per decision would grow with the study. This keeps the keys in sorted blocks of at most
``2 * LOAD`` (as ``sortedcontainers.SortedList`` does) and the block sizes in a Fenwick tree: an
insert or removal moves at most one block's keys and updates ``log(blocks)`` sums; the k-th key
and a key's rank cost ``log(blocks)`` plus one bisection. Splitting a full block rebuilds the tree,
once per ``LOAD`` inserts at most.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

LOAD = 512


class SortedKeys:
    """Sorted keys (any mutually comparable values; duplicates allowed)."""

    def __init__(self) -> None:
        self._blocks: list[list[Any]] = []
        self._maxes: list[Any] = []
        self._tree: list[int] = [0]
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def _rebuild(self) -> None:
        n = len(self._blocks)
        tree = [0] * (n + 1)
        for i, block in enumerate(self._blocks, start=1):
            tree[i] += len(block)
            j = i + (i & -i)
            if j <= n:
                tree[j] += tree[i]
        self._tree = tree

    def _bump(self, b: int, delta: int) -> None:
        i = b + 1
        while i < len(self._tree):
            self._tree[i] += delta
            i += i & -i

    def _before(self, b: int) -> int:
        """The number of keys in the blocks before block ``b``."""
        total, i = 0, b
        while i > 0:
            total += self._tree[i]
            i -= i & -i
        return total

    def add(self, key: Any) -> None:
        """Insert ``key``."""
        self._len += 1
        if not self._blocks:
            self._blocks, self._maxes = [[key]], [key]
            self._rebuild()
            return
        b = min(bisect_left(self._maxes, key), len(self._blocks) - 1)
        block = self._blocks[b]
        insort(block, key)
        self._maxes[b] = block[-1]
        if len(block) > 2 * LOAD:
            self._blocks[b:b + 1] = [block[:LOAD], block[LOAD:]]
            self._maxes[b:b + 1] = [block[LOAD - 1], block[-1]]
            self._rebuild()
        else:
            self._bump(b, 1)

    def remove(self, key: Any) -> None:
        """Remove one ``key``; KeyError when there is none."""
        b = bisect_left(self._maxes, key)
        block = self._blocks[b] if b < len(self._blocks) else []
        i = bisect_left(block, key)
        if i == len(block) or block[i] != key:
            raise KeyError(key)
        del block[i]
        self._len -= 1
        if block:
            self._maxes[b] = block[-1]
            self._bump(b, -1)
        else:
            del self._blocks[b], self._maxes[b]
            self._rebuild()

    def __getitem__(self, k: int) -> Any:
        """The key of rank ``k`` (0: the smallest; negative counts from the end)."""
        if k < 0:
            k += self._len
        if not 0 <= k < self._len:
            raise IndexError(k)
        pos, step = 0, 1 << (len(self._tree) - 1).bit_length()
        while step:  # the Fenwick descent: the last block whose predecessors hold <= k keys
            nxt = pos + step
            if nxt < len(self._tree) and self._tree[nxt] <= k:
                pos, k = nxt, k - self._tree[nxt]
            step >>= 1
        return self._blocks[pos][k]

    def rank(self, key: Any) -> int:
        """The number of keys smaller than ``key``."""
        b = bisect_left(self._maxes, key)
        if b == len(self._blocks):
            return self._len
        return self._before(b) + bisect_left(self._blocks[b], key)

    def __iter__(self):
        for block in self._blocks:
            yield from block
