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
from solvers.compact import prune, solve_compact
from solvers.evaluate import evaluate
from solvers.master import Columns, MasterLP, prices_of, scarce_rows, solve_master_mip
from solvers.mip import BACKENDS
from solvers.pricing import OrderPlans, price_orders
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

    lp = MasterLP(problem, rows)
    bound = -np.inf
    lp_value = np.inf
    rounds = 0
    converged = False
    min_rc = np.zeros(problem.n_orders)
    while rounds < params.max_rounds and left() > 0:
        lp.sync(columns)
        lp_value, sigma, price, _ = lp.solve(left())
        rounds += 1
        prices = prices_of(problem, rows, price)
        all_plans = price_orders(problem, groups, prices)
        total_rc = 0.0
        added = 0
        for plans in all_plans:
            rc = plans.value - sigma[plans.group.orders]
            min_rc[plans.group.orders] = np.minimum(rc, 0.0)
            total_rc += float(np.minimum(rc, 0.0).sum())
            tol = 1e-9 * np.maximum(1.0, np.abs(sigma[plans.group.orders]))
            improving = np.nonzero(rc < -tol)[0]
            if len(improving):
                before = columns.size
                _plan_columns(columns, plans, improving)
                added += columns.size - before
        bound = max(bound, lp_value + total_rc)
        if added == 0:
            bound = max(bound, lp_value)
            converged = True
            break
    stats.update(cg_rounds=rounds, columns=columns.size, lp_value=float(lp_value))
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
    stats["converged"] = float(converged)

    bound = min(float(bound), best_obj)
    if relative_gap(best_obj, bound) > params.gap_tolerance and converged and left() > 0:
        # any plan cheaper than best_obj uses order plans of reduced cost <= this slack
        slack = (best_obj - bound) + min_rc
        cands = prune(problem, groups, prices, sigma, slack)
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


def _columns_allocation(columns: Columns, chosen: IntArray) -> Allocation:
    _, _, col, line, node, qty = columns.flat()
    sel = np.isin(col, chosen)
    return Allocation(line[sel], node[sel], qty[sel])
