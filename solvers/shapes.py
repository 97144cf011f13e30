"""Order shapes: the possible contents of a shipment and the ways to split an order.

Orders with the same line quantities (say two lines of one unit) share a *shape*. A
shipment's content is a vector of units per line; a *split* of the order is a multiset of
non-empty contents (the shipments, each from a different node) plus the units left unfilled.
For the orders of retail the splits are few, and enumerating them once per shape lets the
pricing evaluate every order of that shape with array operations. Larger orders (many lines
of several units) are priced by a dynamic programme over nodes and contents instead, which
needs the pairs (whole, part, rest) of contents. Either way nothing is approximated.
"""

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

MAX_SPLITS_PER_SHAPE = 4096
"""Largest number of ways to split one order that the engine enumerates."""

MAX_CONTENTS = 4096
MAX_CONTENT_PAIRS = 400_000
"""Limits of the dynamic programme for orders with more splits than that."""


@dataclass(frozen=True, eq=False)
class Shape:
    """Contents and splits of orders whose lines hold `qty` units.

    contents[c] is the units per line of content c (mixed radix; content 0 is empty, and
    index(a - b) = index(a) - index(b) whenever b <= a). When `enumerated`, splits[k] lists
    the contents of a split's shipments (split_blocks[k] of them, padded with -1) and
    split_unfilled[k] the units it leaves unfilled; otherwise there are no splits listed.
    """

    qty: tuple[int, ...]
    enumerated: bool
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
        """Most shipments a plan can have (every unit from a different node, at worst)."""
        if not self.enumerated:
            return int(sum(self.qty))
        return int(self.split_blocks.max()) if len(self.split_blocks) else 0


def n_content_pairs(qty: tuple[int, ...]) -> int:
    return math.prod((q + 1) * (q + 2) // 2 for q in qty)


@lru_cache(maxsize=512)
def content_pairs(qty: tuple[int, ...]) -> tuple[IntArray, IntArray, IntArray]:
    """(whole, part, rest) content indices with 0 < part <= whole and rest = whole - part,
    sorted by whole."""
    contents = content_vectors(qty)
    whole, part = np.nonzero(np.all(contents[None, :, :] <= contents[:, None, :], axis=2))
    keep = part > 0
    whole, part = whole[keep], part[keep]
    rest = whole - part  # mixed radix: the index of a difference is the difference
    for a in (whole, part, rest):
        a.setflags(write=False)
    return whole, part, rest


def n_contents(qty: tuple[int, ...]) -> int:
    return math.prod(q + 1 for q in qty)  # Python ints: 64 lines would overflow int64


def content_vectors(qty: tuple[int, ...]) -> IntArray:
    """Every vector 0 <= c <= qty, the first line varying slowest (row-major)."""
    grid = itertools.product(*(range(q + 1) for q in qty))
    return np.array(list(grid), dtype=np.int64).reshape(-1, len(qty))


def _walk_splits(qty: tuple[int, ...], limit: int) -> list[tuple[int, ...]] | None:
    """Every split (contents in non-increasing index order), or None past `limit` splits."""
    contents = [tuple(c) for c in content_vectors(qty).tolist()]
    splits: list[tuple[int, ...]] = []
    chosen: list[int] = []

    def walk(remaining: tuple[int, ...], top: int) -> bool:
        splits.append(tuple(chosen))
        if len(splits) > limit:
            return False
        for c in range(top, 0, -1):
            vec = contents[c]
            if all(a <= b for a, b in zip(vec, remaining, strict=True)):
                chosen.append(c)
                ok = walk(tuple(b - a for a, b in zip(vec, remaining, strict=True)), c)
                chosen.pop()
                if not ok:
                    return False
        return True

    complete = walk(qty, len(contents) - 1)
    return splits if complete else None


@lru_cache(maxsize=4096)
def enumerable(qty: tuple[int, ...]) -> bool:
    """Whether the splits of orders with these line quantities are few enough to list."""
    if n_contents(qty) > MAX_SPLITS_PER_SHAPE:
        return False
    return _walk_splits(qty, MAX_SPLITS_PER_SHAPE) is not None


def supported(qty: tuple[int, ...]) -> bool:
    """Whether the engine sources orders with these line quantities exactly.

    For example up to 11 lines of one unit, 5 lines of 3 units, 4 lines of 4, or one line
    of 892 units.
    """
    if enumerable(qty):
        return True
    return n_contents(qty) <= MAX_CONTENTS and n_content_pairs(qty) <= MAX_CONTENT_PAIRS


@lru_cache(maxsize=512)
def shape_of(qty: tuple[int, ...]) -> Shape:
    """The shape of orders with these line quantities (cached: few shapes recur)."""
    if not supported(qty):
        raise ValueError(f"orders with line quantities {qty} have too many ways to split")
    found = (_walk_splits(qty, MAX_SPLITS_PER_SHAPE) if enumerable(qty) else None) or []
    contents = content_vectors(qty)
    total = np.array(qty, dtype=np.int64)
    width = max((len(s) for s in found), default=0)
    table = np.full((len(found), max(width, 1)), -1, dtype=np.int64)
    for k, s in enumerate(found):
        table[k, : len(s)] = s
    blocks = np.array([len(s) for s in found], dtype=np.int64)
    covered = np.array([contents[list(s)].sum(axis=0) if s else np.zeros(len(qty)) for s in found])
    unfilled = (total[None, :] - covered.reshape(len(found), len(qty))).sum(axis=1).astype(np.int64)
    units = contents.sum(axis=1)
    for a in (contents, table, blocks, units, unfilled):
        a.setflags(write=False)
    return Shape(
        qty=qty,
        enumerated=enumerable(qty),
        contents=contents,
        content_units=units,
        splits=table,
        split_blocks=blocks,
        split_unfilled=unfilled,
    )
