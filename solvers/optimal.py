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
from solvers.compact import prune, ranked_candidates, solve_compact
from solvers.evaluate import evaluate
from solvers.master import (
    Columns,
    MasterLP,
    ScarceRows,
    prices_of,
    resource_use,
    scarce_rows,
)
from solvers.mip import BACKENDS
from solvers.neighborhood import improve
from solvers.pricing import OrderPlans, Prices, price_orders
from solvers.problem import SourcingProblem
from solvers.result import Allocation, Result, Status, relative_gap

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

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
    for plans in price_orders(problem, groups):  # each order's own best, as if alone
        _plan_columns(columns, plans, np.arange(len(plans.group)))
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
    best_columns = hint

    def consider(alloc: Allocation) -> None:
        nonlocal best_alloc, best_obj, best_columns
        total = evaluate(problem, alloc).total
        if total < best_obj - 1e-9:
            best_alloc, best_obj = alloc, total
            best_columns = _allocation_columns(columns, problem, alloc)

    if relaxation.x is not None and left() > 0:
        # round: keep the plans the LP takes whole, decide the other orders exactly with
        # every candidate shipment, on what the kept plans leave
        fixed = _integral_columns(columns, relaxation.x)
        kept = _columns_allocation(columns, fixed)
        free = np.setdiff1d(np.arange(problem.n_orders), np.concatenate(columns.order)[fixed])
        stats["lp_fractional_orders"] = len(free)
        rounded = solve_compact(
            problem, rows, ranked_candidates(groups, free), best_alloc, 0.25 * left(),
            params.mip_backend, params.gap_tolerance, orders=free,
            capacity=rows.capacity - resource_use(problem, rows, kept),
        )  # fmt: skip
        if rounded is not None:
            consider(Allocation.concat([kept, rounded.allocation]))
        stats["rounded_objective"] = best_obj
    duals = relaxation.duals

    def search(until: float) -> None:
        """Improve the plan by neighbourhood search until `until` (a clock time)."""
        assert duals is not None
        consider(
            improve(
                problem, groups, rows, best_alloc, duals.row_price, until,
                seed=int(stats.get("cg_rounds", 0)), backend=params.mip_backend,
            )
        )  # fmt: skip

    if relative_gap(best_obj, bound) > params.gap_tolerance and duals is not None:
        search(time.perf_counter() + 0.3 * max(0.0, left()))
    stats["mip_s"] = time.perf_counter() - t0 - stats["baseline_s"] - stats["cg_s"]

    bound = min(float(bound), best_obj)
    if relative_gap(best_obj, bound) > params.gap_tolerance and duals is not None and left() > 0:
        # any plan cheaper than best_obj uses order plans of reduced cost <= this slack
        slack = (best_obj - duals.lagrangian) + duals.min_rc
        cands = prune(problem, groups, duals.prices, duals.sigma, slack)
        stats["compact_candidates"] = len(cands.order)
        if len(cands.order) > MAX_EXACT_CANDIDATES:
            search(deadline)  # too big to close: spend the time on a better plan
        else:
            exact = solve_compact(
                problem, rows, cands, best_alloc, left(), params.mip_backend,
                params.gap_tolerance,
            )  # fmt: skip
            if exact is not None:
                consider(exact.allocation)
                bound = max(bound, min(exact.bound, best_obj))
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
    row_price: NDArray[np.float64]  # price of each scarce row
    prices: Prices  # the same, per stock entry and node
    min_rc: NDArray[np.float64]  # least reduced cost of each order's plans (<= 0)
    lagrangian: float


@dataclass(frozen=True, eq=False)
class Relaxation:
    bound: float
    lp_value: float
    rounds: int
    converged: bool
    duals: Duals | None
    x: NDArray[np.float64] | None  # the LP's column values, when it converged


CONVERGED_GAP = 1e-7

MAX_EXACT_CANDIDATES = 60_000
"""Above this many candidate shipments the exact model would not close in useful time."""
"""Column generation stops when the LP optimum is this close (relative) to the bound."""


def column_generation(
    problem: SourcingProblem,
    groups: list[ShapeGroup],
    rows: ScarceRows,
    columns: Columns,
    deadline: float,
    max_rounds: int,
    stop_gap: float = CONVERGED_GAP,
) -> Relaxation:
    """Solve the master LP over all order plans, generating the plans it needs.

    Every round knows every order's cheapest plan under the round's prices, so every round
    proves a bound (the Lagrangian bound of its duals), whether or not the loop converges.
    An order is priced again only when a price among its candidate shipments changed (its
    cheapest plan cannot have changed otherwise), or when its dual rose above that plan.
    Stops when the LP optimum is within `stop_gap` (relative) of the bound.
    """
    lp = MasterLP(problem, rows)
    bound, lp_value, rounds = -np.inf, float("inf"), 0
    duals: Duals | None = None
    value = np.full(problem.n_orders, np.inf)  # each order's cheapest priced plan, last known
    previous: Prices | None = None
    while rounds < max_rounds and time.perf_counter() < deadline:
        lp.sync(columns)
        solution = lp.solve(deadline - time.perf_counter())
        if solution is None:
            break
        rounds += 1
        lp_value, sigma = solution.value, solution.sigma
        prices = prices_of(problem, rows, solution.price)
        tol = 1e-9 * np.maximum(1.0, np.abs(sigma))
        changed_entry, changed_node = _changed(previous, prices)
        added = 0
        for group in groups:
            orders = group.orders
            stale = _touched(group, changed_entry, changed_node)
            stale |= value[orders] - sigma[orders] < -tol[orders]
            rows_ = np.nonzero(stale)[0]
            if not len(rows_):
                continue
            (plans,) = price_orders(problem, [group.subset(rows_)], prices)
            value[plans.group.orders] = plans.value
            rc = plans.value - sigma[plans.group.orders]
            improving = np.nonzero(rc < -tol[plans.group.orders])[0]
            if len(improving):
                before = columns.size
                _plan_columns(columns, plans, improving)
                added += columns.size - before
        previous = prices
        min_rc = np.minimum(value - sigma, 0.0)
        lagrangian = lp_value + float(min_rc.sum())
        duals = Duals(sigma, solution.price, prices, min_rc, lagrangian)
        bound = max(bound, lagrangian)
        if added == 0 or lp_value - lagrangian <= stop_gap * max(1.0, abs(lp_value)):
            return Relaxation(bound, lp_value, rounds, True, duals, solution.x)
    return Relaxation(bound, lp_value, rounds, False, duals, None)


def _changed(previous: Prices | None, prices: Prices) -> tuple[BoolArray, BoolArray]:
    """Which stock entries and nodes have a different price than last round."""
    if previous is None:
        return np.ones(len(prices.entry), dtype=bool), np.ones(len(prices.node_ship), dtype=bool)
    entry = previous.entry != prices.entry
    node = (previous.node_ship != prices.node_ship) | (previous.node_unit != prices.node_unit)
    return entry, node


def _touched(group: ShapeGroup, changed_entry: BoolArray, changed_node: BoolArray) -> BoolArray:
    """Orders of the group with a changed price among their ranked candidate shipments."""
    by_entry = np.append(changed_entry, False)[group.entry]  # entry -1 picks the False
    by_node = np.append(changed_node, False)[group.node]
    result = np.any(by_entry, axis=(1, 2, 3)) | np.any(by_node, axis=(1, 2))
    return np.asarray(result, dtype=bool)


def _integral_columns(columns: Columns, x: NDArray[np.float64]) -> IntArray:
    """The columns the LP takes whole (value 1), one per order at most."""
    whole = np.nonzero(x > 1.0 - 1e-6)[0]
    order = np.concatenate(columns.order)[whole]
    _, first = np.unique(order, return_index=True)
    result: IntArray = whole[first]
    return result


def _columns_allocation(columns: Columns, chosen: IntArray) -> Allocation:
    _, _, col, line, node, qty = columns.flat()
    sel = np.isin(col, chosen)
    return Allocation(line[sel], node[sel], qty[sel])
