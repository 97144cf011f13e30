"""Shapes: contents in mixed radix, splits counted independently, limits, content pairs."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from sourcing_engine.solvers.shapes import (
    MAX_CONTENT_PAIRS,
    MAX_CONTENTS,
    content_pairs,
    content_vectors,
    enumerable,
    n_content_pairs,
    n_contents,
    shape_of,
    supported,
)

SMALL_SHAPES = [
    qty for n in range(1, 4) for qty in itertools.combinations_with_replacement(range(3, 0, -1), n)
] + [(4, 1), (5,), (2, 2, 2, 1), (1, 1, 1, 1)]


def _bell(n: int) -> int:
    """Number of partitions of an n-element set (Bell triangle)."""
    row = [1]
    for _ in range(n):
        nxt = [row[-1]]
        for v in row:
            nxt.append(nxt[-1] + v)
        row = nxt
    return row[0]


def _count_splits(qty: tuple[int, ...]) -> int:
    """Multisets of non-empty contents whose sum is at most qty, counted by recursion."""
    contents = [c for c in itertools.product(*(range(q + 1) for q in qty)) if any(c)]

    def count(left: tuple[int, ...], start: int) -> int:
        total = 1  # stop here: the rest is unfilled
        for k in range(start, len(contents)):
            c = contents[k]
            if all(a <= b for a, b in zip(c, left, strict=True)):
                total += count(tuple(b - a for a, b in zip(c, left, strict=True)), k)
        return total

    return count(qty, 0)


@pytest.mark.parametrize("qty", SMALL_SHAPES)
def test_contents_are_mixed_radix(qty: tuple[int, ...]) -> None:
    """Content 0 is empty, every vector 0..qty appears once, and index(a-b) = index(a)-index(b)."""
    contents = content_vectors(qty)
    index = {tuple(c): i for i, c in enumerate(contents.tolist())}
    assert len(index) == len(contents) == n_contents(qty) == math.prod(q + 1 for q in qty)
    assert contents[0].tolist() == [0] * len(qty)
    assert contents[-1].tolist() == list(qty)
    for a, b in itertools.product(index, repeat=2):
        if all(y <= x for x, y in zip(a, b, strict=True)):
            diff = tuple(x - y for x, y in zip(a, b, strict=True))
            assert index[diff] == index[a] - index[b]


@pytest.mark.parametrize(
    ("qty", "expected"),
    [((1,), 2), ((1, 1), 5), ((2,), 4), ((1, 1, 1), 15), ((3,), 7), ((2, 1), 11)],
)
def test_number_of_splits_small(qty: tuple[int, ...], expected: int) -> None:
    """Small shapes have the splits counted by hand (ship nothing is one of them)."""
    assert len(shape_of(qty).splits) == expected


@pytest.mark.parametrize("n", range(1, 7))
def test_splits_of_single_unit_lines_are_bell_numbers(n: int) -> None:
    """n lines of one unit split in Bell(n + 1) ways (partitions with an unfilled block)."""
    assert len(shape_of((1,) * n).splits) == _bell(n + 1)


@pytest.mark.parametrize("qty", SMALL_SHAPES)
def test_splits_are_every_multiset_once(qty: tuple[int, ...]) -> None:
    """Splits are every multiset of contents within the order, once, with blocks and unfilled."""
    shape = shape_of(qty)
    assert shape.enumerated
    seen: set[tuple[tuple[int, int], ...]] = set()
    for k, row in enumerate(shape.splits.tolist()):
        blocks = [c for c in row if c >= 0]
        assert row[len(blocks) :] == [-1] * (len(row) - len(blocks))
        assert all(c > 0 for c in blocks)
        assert blocks == sorted(blocks, reverse=True)
        covered = shape.contents[blocks].sum(axis=0) if blocks else np.zeros(len(qty))
        assert np.all(covered <= np.array(qty))
        assert shape.split_blocks[k] == len(blocks)
        assert shape.split_unfilled[k] == sum(qty) - covered.sum()
        seen.add(tuple(sorted(Counter(blocks).items())))
    assert len(seen) == len(shape.splits) == _count_splits(qty)
    assert shape.max_blocks == sum(qty)
    assert shape.content_units.tolist() == shape.contents.sum(axis=1).tolist()


def test_shape_arrays_are_read_only() -> None:
    """A cached shape cannot be changed by a caller."""
    shape = shape_of((2, 1))
    for a in (shape.contents, shape.splits, shape.split_blocks, shape.split_unfilled):
        with pytest.raises(ValueError, match="read-only"):
            a.flat[0] = 0


@pytest.mark.parametrize(
    ("qty", "expected"),
    [
        ((1,) * 11, True),
        ((1,) * 12, False),  # 3^12 content pairs
        ((3,) * 5, True),
        ((3,) * 6, False),
        ((4,) * 4, True),
        ((4,) * 5, False),
        ((890,), True),
        ((892,), True),
        ((893,), False),  # 894 * 895 / 2 pairs > 400,000
        ((1,) * 64, False),
        ((2,) * 64, False),
        ((1000,) * 64, False),
    ],
)
def test_supported_limits(qty: tuple[int, ...], expected: bool) -> None:
    """Supported iff splits are few or the programme's limits hold; 64 lines do not overflow."""
    assert supported(qty) is expected
    by_limits = n_contents(qty) <= MAX_CONTENTS and n_content_pairs(qty) <= MAX_CONTENT_PAIRS
    assert expected == (enumerable(qty) or by_limits)


def test_64_lines_count_exactly() -> None:
    """Counts of 64-line shapes are exact Python integers (2^64 contents, not a wrapped int64)."""
    assert n_contents((1,) * 64) == 2**64
    assert n_content_pairs((1,) * 64) == 3**64
    assert not enumerable((1,) * 64)
    with pytest.raises(ValueError, match="too many ways to split"):
        shape_of((1,) * 64)


def test_large_supported_shape_is_not_enumerated() -> None:
    """A shape past the split limit is still built, for the dynamic programme, without splits."""
    shape = shape_of((1,) * 8)  # Bell(9) = 21147 splits
    assert not shape.enumerated
    assert len(shape.splits) == 0
    assert shape.n_contents == 256
    assert shape.max_blocks == 8


@pytest.mark.parametrize("qty", [(1,), (2,), (1, 1), (2, 1), (3, 2, 1), (2, 2, 2)])
def test_content_pairs(qty: tuple[int, ...]) -> None:
    """(whole, part, rest): every 0 < part <= whole once, rest = whole - part, sorted by whole."""
    whole, part, rest = content_pairs(qty)
    contents = content_vectors(qty)
    assert len(whole) == n_content_pairs(qty) - n_contents(qty)
    assert np.all(np.diff(whole) >= 0)
    assert np.all(part > 0)
    assert np.array_equal(contents[rest], contents[whole] - contents[part])
    assert np.all(contents[part] <= contents[whole])
    pairs = set(zip(whole.tolist(), part.tolist(), strict=True))
    assert len(pairs) == len(whole)
    expected = {
        (w, p)
        for w, p in itertools.product(range(len(contents)), range(1, len(contents)))
        if np.all(contents[p] <= contents[w])
    }
    assert pairs == expected
