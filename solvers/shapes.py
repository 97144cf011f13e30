"""Order shapes: the possible contents of a shipment and the ways to split an order.

Orders with the same line quantities (say two lines of one unit) share a *shape*. A
shipment's content is a vector of units per line; a *split* of the order is a multiset of
non-empty contents (the shipments, each from a different node) plus the units left unfilled.
Enumerating splits once per shape lets the pricing evaluate every order of that shape with
array operations, exactly: nothing is approximated or left out.
"""

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

MAX_SPLITS_PER_SHAPE = 4096
"""Beyond this many splits a shape is priced by the node-by-node dynamic programme instead."""


@dataclass(frozen=True, eq=False)
class Shape:
    """Contents and splits of orders whose lines hold `qty` units.

    contents[c] is the units per line of content c (mixed radix; content 0 is empty).
    splits[k] lists the contents of the split's shipments (all of size `blocks[k]`, padded
    with -1) and split_unfilled[k] the units it leaves unfilled.
    """

    qty: tuple[int, ...]
    contents: IntArray
    content_units: IntArray
    splits: IntArray
    split_blocks: IntArray
    split_unfilled: IntArray

    @property
    def n_lines(self) -> int:
        return len(self.qty)

    @property
    def n_contents(self) -> int:
        return len(self.contents)

    @property
    def max_blocks(self) -> int:
        return int(self.split_blocks.max()) if len(self.split_blocks) else 0


def n_contents(qty: tuple[int, ...]) -> int:
    return int(np.prod([q + 1 for q in qty], dtype=np.int64))


def content_vectors(qty: tuple[int, ...]) -> IntArray:
    """Every vector 0 <= c <= qty, the first line varying slowest (row-major)."""
    grid = itertools.product(*(range(q + 1) for q in qty))
    return np.array(list(grid), dtype=np.int64).reshape(-1, len(qty))


def count_splits(qty: tuple[int, ...], limit: int) -> int:
    """Number of splits of an order of this shape, counting up to `limit` (then stopping)."""
    contents = content_vectors(qty)
    count = 0

    def walk(remaining: IntArray, top: int) -> bool:
        nonlocal count
        count += 1
        if count > limit:
            return False
        for c in range(top, 0, -1):
            if np.all(contents[c] <= remaining) and not walk(remaining - contents[c], c):
                return False
        return True

    walk(np.array(qty, dtype=np.int64), len(contents) - 1)
    return count


@lru_cache(maxsize=512)
def shape_of(qty: tuple[int, ...]) -> Shape:
    """The shape of orders with these line quantities (cached: few shapes recur)."""
    contents = content_vectors(qty)
    total = np.array(qty, dtype=np.int64)
    splits: list[list[int]] = []

    # blocks in non-increasing content index: each multiset of contents appears once
    def walk(remaining: IntArray, top: int, chosen: list[int]) -> None:
        splits.append(list(chosen))
        for c in range(top, 0, -1):
            if np.all(contents[c] <= remaining):
                chosen.append(c)
                walk(remaining - contents[c], c, chosen)
                chosen.pop()

    walk(total, len(contents) - 1, [])
    width = max((len(s) for s in splits), default=0)
    table = np.full((len(splits), max(width, 1)), -1, dtype=np.int64)
    for k, s in enumerate(splits):
        table[k, : len(s)] = s
    blocks = np.array([len(s) for s in splits], dtype=np.int64)
    covered = np.array([contents[s].sum(axis=0) if s else np.zeros(len(qty)) for s in splits])
    unfilled = (total[None, :] - covered.reshape(len(splits), len(qty))).sum(axis=1)
    for a in (contents, table, blocks):
        a.setflags(write=False)
    units = contents.sum(axis=1)
    units.setflags(write=False)
    unfilled = unfilled.astype(np.int64)
    unfilled.setflags(write=False)
    return Shape(
        qty=qty,
        contents=contents,
        content_units=units,
        splits=table,
        split_blocks=blocks,
        split_unfilled=unfilled,
    )


def enumerable(qty: tuple[int, ...]) -> bool:
    """Whether splits of this shape are few enough to enumerate."""
    if n_contents(qty) > MAX_SPLITS_PER_SHAPE:
        return False
    return count_splits(qty, MAX_SPLITS_PER_SHAPE) <= MAX_SPLITS_PER_SHAPE
