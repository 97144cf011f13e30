"""A first plan from the master LP in a fraction of a second: round, repair, improve.

The integer steps of `optimal` (the restricted master, re-deciding neighbourhoods) each
need seconds before they return anything; under a short limit, or on a large batch, they
may return nothing better than the baseline they started from. This plan comes first and
costs little, so even a few seconds' limit ends on a plan close to the LP:

1. round: orders in decreasing LP weight keep the LP plan they lean to most, if it still
   fits what the plans kept before it leave (the LP's whole plans always fit together);
2. repair: the orders left out get the order-by-order greedy plan on what is left;
3. the LP's support columns (and the repaired plan's) in integers, all orders at once,
   started from the repaired plan (solvers.restricted on a small model: most orders have
   one support column), with every column of the orders the LP splits or step 1 left
   out (on the literature family, capacity binding: 39,728 -> 38,974, the optimum being
   34,762; the restricted master over all columns comes next);
4. improve: each order moves to a cheaper generated plan (column) that fits what the
   others leave, the largest saving first, until no move saves anything (1-opt over the
   column pool).
Only the scarce rows can run out (others have room for the whole batch's demand), so a
choice of columns that respects them is a feasible plan.
"""

import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from sourcing_engine.solvers.baselines import greedy_allocation
from sourcing_engine.solvers.candidates import ShapeGroup
from sourcing_engine.solvers.column_generation import allocation_columns, columns_allocation
from sourcing_engine.solvers.master import Columns
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.restricted import solve_restricted
from sourcing_engine.solvers.result import Allocation

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

FIT_TOL = 1e-9
SUPPORT_SHARE = 0.8
"""The MIP over the LP's support columns gets at most this share of the rounding's time."""

MAX_PASSES = 20
"""Improvement passes at most (each applies every non-conflicting saving move it finds)."""


def round_lp(
    problem: SourcingProblem,
    groups: list[ShapeGroup],
    columns: Columns,
    x: FloatArray,
    deadline: float,
    gap: float,
) -> Allocation:
    """A feasible plan for every order from the LP's column values `x` (rounded, repaired,
    improved over the column pool until `deadline` or no move saves); gap: the relative
    gap at which the MIP over the LP's support columns may stop."""
    order_all = np.concatenate(columns.order)
    cost_all = np.concatenate(columns.cost)
    weight = np.zeros(columns.size)
    weight[: len(x)] = x
    support = np.nonzero(weight > 1e-6)[0]
    support = support[np.lexsort((cost_all[support], -weight[support]))]
    matrix = columns.resource_matrix().tocsc()
    slack = columns.rows.capacity.astype(np.float64).copy()
    chosen = np.full(problem.n_orders, -1, dtype=np.int64)
    for j in support.tolist():
        o = order_all[j]
        if chosen[o] >= 0:
            continue
        lo, hi = matrix.indptr[j], matrix.indptr[j + 1]
        r, use = matrix.indices[lo:hi], matrix.data[lo:hi]
        if np.all(use <= slack[r] + FIT_TOL):
            slack[r] -= use
            chosen[o] = j
    kept = columns_allocation(columns, chosen[chosen >= 0])
    left_out = np.nonzero(chosen < 0)[0]
    plan = Allocation.concat([kept, greedy_allocation(problem, groups, left_out, taken=kept)])
    chosen = improve(columns, allocation_columns(columns, problem, plan), deadline)
    # where capacity binds, rounding in sequence leaves orders with nothing near (unfilled
    # or far); the LP's support columns, all orders at once, in integers, usually fix that
    # in a fraction of a second (the repaired plan as the start, so never worse)
    left = deadline - time.perf_counter()
    # the orders the LP splits, or whose LP plan no longer fitted, get all their columns
    # (where capacity binds, the support alone leaves them nothing near)
    split = np.bincount(order_all[support], minlength=problem.n_orders) > 1
    unsettled = split | np.isin(np.arange(problem.n_orders), left_out)
    keep = np.union1d(support, np.nonzero(unsettled[order_all])[0])
    outcome = (
        solve_restricted(columns, keep, chosen, SUPPORT_SHARE * left, gap) if left > 0 else None
    )
    if (
        outcome is not None
        and outcome.objective < np.concatenate(columns.cost)[chosen].sum() - 1e-9
    ):
        chosen = improve(columns, outcome.chosen, deadline)
    return columns_allocation(columns, chosen)


def improve(columns: Columns, chosen: IntArray, deadline: float) -> IntArray:
    """1-opt over the column pool: move orders to cheaper columns that fit what the other
    orders' columns leave, largest saving first, until no move saves or `deadline`."""
    order_all = np.concatenate(columns.order)
    cost_all = np.concatenate(columns.cost)
    matrix = columns.resource_matrix().tocsc()
    capacity = columns.rows.capacity.astype(np.float64)
    chosen = chosen.copy()
    for _ in range(MAX_PASSES):
        if time.perf_counter() >= deadline:
            break
        slack = capacity - np.asarray(matrix[:, chosen].sum(axis=1)).ravel()
        current = chosen[order_all]
        saving = cost_all[current] - cost_all
        cand = np.nonzero(saving > 1e-9)[0]
        if not len(cand):
            break
        # what each candidate needs beyond what its order's current column frees
        extra = (matrix[:, cand] - matrix[:, current[cand]]).tocsc()
        short = extra.data > slack[extra.indices] + FIT_TOL
        col_of = np.repeat(np.arange(len(cand)), np.diff(extra.indptr))
        fits = np.bincount(col_of[short], minlength=len(cand)) == 0
        cand = cand[fits]
        if not len(cand):
            break
        moved = _apply_moves(matrix, chosen, order_all, cand[np.argsort(-saving[cand])], slack)
        if not moved:
            break
    return chosen


def _apply_moves(
    matrix: sp.csc_matrix,
    chosen: IntArray,
    order_all: IntArray,
    moves: IntArray,
    slack: FloatArray,
) -> int:
    """Apply the moves (columns, best first) that still fit, one per order; returns how
    many (chosen and slack updated in place)."""
    moved = 0
    done: set[int] = set()
    for j in moves.tolist():
        o = int(order_all[j])
        if o in done:
            continue
        old = int(chosen[o])
        delta = (matrix[:, [j]] - matrix[:, [old]]).tocsc()
        if np.all(delta.data <= slack[delta.indices] + FIT_TOL):
            slack[delta.indices] -= delta.data
            chosen[o] = j
            done.add(o)
            moved += 1
    return moved
