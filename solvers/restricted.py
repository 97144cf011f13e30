"""The restricted master in integers: one generated plan per order, with HiGHS's MIP.

Column generation leaves thousands of complete order plans, among them the ones the LP
mixes. Where stock is scarce and capacity loose, rounding the LP plan by plan is slow to
reach what the LP promises, but choosing among the plans already generated, all orders at
once, with the scarce rows as constraints, usually gets within a fraction of a percent of
the bound in seconds ("price and branch"). HiGHS starts from the incumbent (`setSolution`),
so it never ends worse than the plan it was given, and stops at the caller's gap against
its own bound (the restricted master's: at least the batch's bound).
"""

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from sourcing_engine.solvers.master import Columns
from sourcing_engine.solvers.mip import consistent

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RestrictedOutcome:
    chosen: IntArray  # the column chosen for each order (orders 0..n-1)
    objective: float
    bound: float  # HiGHS's bound on the restricted master (not a bound for the batch)


def solve_restricted(
    columns: Columns,
    keep: IntArray,
    start: IntArray,
    time_limit_s: float,
    gap: float,
) -> RestrictedOutcome | None:
    """One of the `keep` columns per order, at least cost, within the scarce rows.

    start: a feasible column per order (the incumbent's, among `keep`), the MIP's start.
    None when HiGHS ends with no solution (out of time before reading the start).
    """
    order_all = np.concatenate(columns.order)
    cost_all = np.concatenate(columns.cost)
    keep = np.union1d(keep, start)
    n_orders = int(order_all.max()) + 1
    order, cost = order_all[keep], cost_all[keep]
    resources = columns.resource_matrix().tocsc()[:, keep]
    convexity = sp.csr_matrix(
        (np.ones(len(keep)), (order, np.arange(len(keep)))), shape=(n_orders, len(keep))
    )
    matrix = sp.vstack([convexity, resources]).tocsr()  # addRows reads rows
    rows = columns.rows
    lower = np.concatenate([np.ones(n_orders), np.full(rows.n_rows, -np.inf)])
    upper = np.concatenate([np.ones(n_orders), rows.capacity])

    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("time_limit", max(0.01, time_limit_s))
    highs.setOptionValue("mip_rel_gap", gap)
    n = len(keep)
    highs.addVars(n, np.zeros(n), np.ones(n))
    highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost.astype(np.float64))
    highs.addRows(
        len(lower), lower, upper, matrix.nnz,
        matrix.indptr[:-1].astype(np.int32), matrix.indices.astype(np.int32),
        matrix.data.astype(np.float64),
    )  # fmt: skip
    highs.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger)
    )
    x0 = np.zeros(n)
    x0[np.searchsorted(keep, start)] = 1.0
    solution = highspy.HighsSolution()
    solution.col_value = x0.tolist()
    solution.value_valid = True
    highs.setSolution(solution)
    highs.run()
    info = highs.getInfo()
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        return None
    x = np.asarray(highs.getSolution().col_value)
    picked = keep[x > 0.5]
    objective = float(info.objective_function_value)
    if not consistent(objective, float(cost_all[picked].sum())):
        return None  # HiGHS's answer does not price its own plan: trust neither
    chosen = np.full(n_orders, -1, dtype=np.int64)
    chosen[order_all[picked]] = picked
    return RestrictedOutcome(chosen, objective, float(info.mip_dual_bound))
