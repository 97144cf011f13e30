"""Allocation validation and helpers, and the relative gap."""

import math
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from sourcing_engine.solvers.result import (
    Allocation,
    PlanCosts,
    Result,
    Status,
    Termination,
    relative_gap,
)


def test_allocation_arrays_are_read_only_copies() -> None:
    """An allocation copies its inputs to read-only int64 arrays."""
    line: NDArray[Any] = np.array([0, 1], dtype=np.int32)
    alloc = Allocation(line, np.array([2, 3]), np.array([1, 4]))
    line[0] = 5
    assert alloc.line.tolist() == [0, 1]
    assert alloc.qty.dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        alloc.qty[0] = 2


def test_allocation_refuses_bad_input() -> None:
    """Mismatched lengths and non-positive quantities are refused."""
    with pytest.raises(ValueError, match="same length"):
        Allocation(np.array([0, 1]), np.array([0]), np.array([1, 1]))
    with pytest.raises(ValueError, match="positive"):
        Allocation(np.array([0]), np.array([0]), np.array([0]))


def test_empty_and_concat() -> None:
    """empty() has no entries; concat joins parts in order and of nothing gives empty."""
    assert len(Allocation.empty()) == 0
    a = Allocation(np.array([0]), np.array([1]), np.array([2]))
    b = Allocation(np.array([3, 4]), np.array([5, 6]), np.array([7, 8]))
    joined = Allocation.concat([a, Allocation.empty(), b])
    assert joined.line.tolist() == [0, 3, 4]
    assert joined.node.tolist() == [1, 5, 6]
    assert joined.qty.tolist() == [2, 7, 8]
    assert len(Allocation.concat([])) == 0


@pytest.mark.parametrize(
    ("objective", "bound", "expected"),
    [
        (100.0, 90.0, 0.1),
        (100.0, 100.0, 0.0),
        (100.0, 100.5, 0.0),  # a bound above the plan (rounding) is no negative gap
        (0.0, 0.0, 0.0),
        (0.0, -1e-12, 0.0),
        (0.0, -1.0, math.inf),
    ],
)
def test_relative_gap(objective: float, bound: float, expected: float) -> None:
    """(objective - bound) / objective, never negative, 0 when both are 0."""
    assert relative_gap(objective, bound) == pytest.approx(expected)


def test_result_stats_default_to_a_fresh_dict() -> None:
    """Two results never share their stats dictionary."""
    z, f = np.zeros(0, dtype=np.int64), np.zeros(0)
    costs = PlanCosts(z, z, z, f, z, z, f)
    a, b = (
        Result("x", Status.HEURISTIC, 0.0, None, None, 0.0, Allocation.empty(), costs,
               Termination.COMPLETED)
        for _ in "ab"
    )  # fmt: skip
    a.stats["k"] = 1.0
    assert b.stats == {}
    assert Status("optimal") is Status.OPTIMAL
