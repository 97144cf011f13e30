"""The `optimal` policy: the whole batch as one model, solved to proven optimality.

1. Baselines (closest, fewest-splits, greedy-cost) give a first plan and columns.
2. Column generation on the master problem (solvers.master): the linear relaxation over
   complete order plans, whose new columns come from exact single-order pricing under the
   relaxation's prices (solvers.pricing). Its optimum is a lower bound as strong as the
   Dantzig-Wolfe decomposition's, far stronger than the textbook x <= q*y model; every
   pricing round also gives a valid (Lagrangian) bound, so stopping early keeps a bound.
3. The integer master over the generated columns, warm-started from the best baseline,
   gives the plan; the gap between its cost and the bound says how far from optimal it is.
"""

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from solvers.baselines import closest, fewest_splits, greedy_cost, shape_groups
from solvers.candidates import ShapeGroup
from solvers.compact import prune, solve_compact
from solvers.evaluate import evaluate
from solvers.master import (
    Columns,
    MasterLP,
    ScarceRows,
    prices_of,
    scarce_rows,
    solve_master_mip,
)
from solvers.mip import BACKENDS
from solvers.pricing import OrderPlans, Prices, price_orders
from solvers.problem import SourcingProblem
from solvers.result import Allocation, Result, Status, relative_gap

IntArray = NDArray[np.int64]

MIP_BACKENDS = BACKENDS


@dataclass(frozen=True)
class OptimalParams:
    """time_limit: seconds for the whole solve; gap_tolerance: relative gap at which the
    plan counts as optimal; mip_backend: the OR-Tools backend of the integer master."""

    time_limit: float = 60.0
    gap_tolerance: float = 1e-4
    mip_backend: str = "scip"
    max_rounds: int = 500

    def __post_init__(self) -> None:
        if not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {self.time_limit!r}")
        if not 0 <= self.gap_tolerance < 1:
            raise ValueError(f"gap_tolerance must be in [0, 1), got {self.gap_tolerance!r}")
        if self.mip_backend not in MIP_BACKENDS:
            raise ValueError(
                f"mip_backend must be one of {', '.join(MIP_BACKENDS)}, got {self.mip_backend!r}"
            )


def _allocation_columns(columns: Columns, problem: SourcingProblem, alloc: Allocation) -> IntArray:
    """One column per order: its plan in this allocation."""
    costs = evaluate(problem, alloc)
    order_of = problem.line_order[alloc.line]
    by_order = np.argsort(order_of, kind="stable")
    return columns.add(
        np.arange(problem.n_orders),
        costs.order_cost,
        order_of[by_order],
        alloc.line[by_order],
        alloc.node[by_order],
        alloc.qty[by_order],
    )


def _plan_columns(columns: Columns, plans: OrderPlans, rows: IntArray) -> IntArray:
    row, line, node, qty = plans.line_units()
    keep = np.isin(row, rows)
    remap = np.full(len(plans.group), -1, dtype=np.int64)
    remap[rows] = np.arange(len(rows))
    return columns.add(
        plans.group.orders[rows],
        plans.cost[rows],
        remap[row[keep]],
        line[keep],
        node[keep],
        qty[keep],
    )


def solve_optimal(problem: SourcingProblem, params: OptimalParams | None = None) -> Result:
    params = params or OptimalParams()
    t0 = time.perf_counter()
    deadline = t0 + params.time_limit

    def left() -> float:
        return deadline - time.perf_counter()

    groups = shape_groups(problem)
    baselines = [greedy_cost(problem, groups), closest(problem), fewest_splits(problem)]
    incumbent = min(baselines, key=lambda r: r.objective)
    stats: dict[str, float] = {"baseline_s": time.perf_counter() - t0}

    rows = scarce_rows(problem)
    columns = Columns(problem, rows)
    hint = _allocation_columns(columns, problem, incumbent.allocation)
    for other in baselines:
        _allocation_columns(columns, problem, other.allocation)
    _allocation_columns(columns, problem, Allocation.empty())  # all unfilled: always feasible
    stats["scarce_rows"] = rows.n_rows

    relaxation = column_generation(problem, groups, rows, columns, deadline, params.max_rounds)
    bound = relaxation.bound
    stats.update(
        cg_rounds=relaxation.rounds,
        columns=columns.size,
        lp_value=relaxation.lp_value,
        converged=float(relaxation.converged),
    )
    stats["cg_s"] = time.perf_counter() - t0 - stats["baseline_s"]

    best_alloc, best_obj = incumbent.allocation, incumbent.objective
    if left() > 0:
        outcome = solve_master_mip(
            columns, hint, left(), backend=params.mip_backend, gap=params.gap_tolerance
        )
        if outcome is not None and outcome.objective < best_obj - 1e-9:
            best_alloc = _columns_allocation(columns, outcome.chosen)
            best_obj = evaluate(problem, best_alloc).total
    stats["mip_s"] = time.perf_counter() - t0 - stats["baseline_s"] - stats["cg_s"]

    bound = min(float(bound), best_obj)
    duals = relaxation.duals
    if relative_gap(best_obj, bound) > params.gap_tolerance and duals is not None and left() > 0:
        # any plan cheaper than best_obj uses order plans of reduced cost <= this slack
        slack = (best_obj - duals.lagrangian) + duals.min_rc
        cands = prune(problem, groups, duals.prices, duals.sigma, slack)
        stats["compact_candidates"] = len(cands.order)
        outcome_c = solve_compact(
            problem,
            rows,
            cands,
            best_alloc,
            left(),
            backend=params.mip_backend,
            gap=params.gap_tolerance,
        )
        if outcome_c is not None:
            if outcome_c.objective < best_obj - 1e-9:
                best_alloc = outcome_c.allocation
                best_obj = evaluate(problem, best_alloc).total
            bound = max(bound, min(outcome_c.bound, best_obj))
        stats["compact_s"] = (
            time.perf_counter() - t0 - sum(stats[k] for k in ("baseline_s", "cg_s", "mip_s"))
        )
    bound = min(bound, best_obj)
    gap = relative_gap(best_obj, bound)
    return Result(
        policy="optimal",
        status=Status.OPTIMAL if gap <= params.gap_tolerance else Status.FEASIBLE,
        objective=best_obj,
        bound=bound,
        gap=gap,
        runtime_s=time.perf_counter() - t0,
        allocation=best_alloc,
        stats=stats,
    )


@dataclass(frozen=True, eq=False)
class Duals:
    """One round's dual values, and the Lagrangian bound they prove."""

    sigma: NDArray[np.float64]
    prices: Prices
    min_rc: NDArray[np.float64]  # least reduced cost of each order's plans (<= 0)
    lagrangian: float


@dataclass(frozen=True, eq=False)
class Relaxation:
    bound: float
    lp_value: float
    rounds: int
    converged: bool
    duals: Duals | None


CONVERGED_GAP = 1e-7
"""Column generation stops when the LP optimum is this close (relative) to the bound."""


def column_generation(
    problem: SourcingProblem,
    groups: list[ShapeGroup],
    rows: ScarceRows,
    columns: Columns,
    deadline: float,
    max_rounds: int,
) -> Relaxation:
    """Solve the master LP over all order plans, generating the plans it needs.

    Every round prices every order exactly, so every round proves a bound (the Lagrangian
    bound of its duals), whether or not the loop gets to converge.
    """
    lp = MasterLP(problem, rows)
    bound, lp_value, rounds = -np.inf, float("inf"), 0
    duals: Duals | None = None
    while rounds < max_rounds and time.perf_counter() < deadline:
        lp.sync(columns)
        solution = lp.solve(deadline - time.perf_counter())
        if solution is None:
            break
        rounds += 1
        lp_value = solution.value
        prices = prices_of(problem, rows, solution.price)
        min_rc = np.zeros(problem.n_orders)
        added = 0
        for plans in price_orders(problem, groups, prices):
            orders = plans.group.orders
            rc = plans.value - solution.sigma[orders]
            min_rc[orders] = np.minimum(rc, 0.0)
            improving = np.nonzero(rc < -1e-9 * np.maximum(1.0, np.abs(solution.sigma[orders])))[0]
            if len(improving):
                before = columns.size
                _plan_columns(columns, plans, improving)
                added += columns.size - before
        lagrangian = lp_value + float(min_rc.sum())
        duals = Duals(solution.sigma, prices, min_rc, lagrangian)
        bound = max(bound, lagrangian)
        if added == 0 or lp_value - lagrangian <= CONVERGED_GAP * max(1.0, abs(lp_value)):
            return Relaxation(max(bound, lagrangian), lp_value, rounds, True, duals)
    return Relaxation(bound, lp_value, rounds, False, duals)


def _columns_allocation(columns: Columns, chosen: IntArray) -> Allocation:
    _, _, col, line, node, qty = columns.flat()
    sel = np.isin(col, chosen)
    return Allocation(line[sel], node[sel], qty[sel])
