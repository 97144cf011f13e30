"""Column generation on the master problem, and diving to an integer plan.

The master LP (solvers.master) chooses one plan per order; exact single-order pricing
(solvers.pricing) under the LP's prices finds the plans it lacks. Every round prices every
order exactly, so every round proves a Lagrangian bound, converged or not.

"""

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.solvers.candidates import ShapeGroup
from sourcing_engine.solvers.evaluate import evaluate
from sourcing_engine.solvers.master import Columns, MasterLP, ScarceRows, prices_of
from sourcing_engine.solvers.pricing import OrderPlans, Prices, price_orders
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

CONVERGED_GAP = 1e-7
"""Column generation stops when the LP optimum is this close (relative) to the bound."""


@dataclass(frozen=True, eq=False)
class Duals:
    """One round's dual values, and the Lagrangian bound they prove."""

    sigma: FloatArray  # dual of each order's "one plan" row
    row_price: FloatArray  # price of each scarce row
    prices: Prices  # the same, per stock entry and node
    min_rc: FloatArray  # least reduced cost of each order's plans (<= 0)
    lagrangian: float


@dataclass(frozen=True, eq=False)
class Relaxation:
    bound: float
    lp_value: float
    rounds: int
    converged: bool
    duals: Duals | None
    x: FloatArray | None  # the LP's column values (the last LP's if not converged)


def allocation_columns(columns: Columns, problem: SourcingProblem, alloc: Allocation) -> IntArray:
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


def plan_columns(columns: Columns, plans: OrderPlans, rows: IntArray) -> IntArray:
    """Columns for the plans of some rows of a priced group."""
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


def columns_allocation(columns: Columns, chosen: IntArray) -> Allocation:
    """The allocation made of some columns' plans."""
    _, _, col, line, node, qty = columns.flat()
    sel = np.isin(col, chosen)
    return Allocation(line[sel], node[sel], qty[sel])


class ColumnGeneration:
    """The master LP and the plans generated for it, grown round by round."""

    def __init__(
        self,
        problem: SourcingProblem,
        groups: list[ShapeGroup],
        rows: ScarceRows,
        columns: Columns,
    ) -> None:
        self.problem, self.groups, self.rows, self.columns = problem, groups, rows, columns
        self.lp = MasterLP(problem, rows)
        self.value = np.full(problem.n_orders, np.inf)  # each order's cheapest priced plan
        self.volatile = np.zeros(problem.n_orders, dtype=bool)  # priced on every node
        self.previous: Prices | None = None
        self.rounds = 0

    def run(self, deadline: float, max_rounds: int, stop_gap: float = CONVERGED_GAP) -> Relaxation:
        """Solve the master LP over all order plans, generating the plans it needs.

        An order is priced again only when a price among its candidate shipments changed
        (its cheapest plan cannot have changed otherwise), or when its dual rose above that
        plan. Stops when the LP optimum is within `stop_gap` (relative) of the bound.
        """
        bound, lp_value, rounds = -np.inf, float("inf"), 0
        duals: Duals | None = None
        x: FloatArray | None = None
        while rounds < max_rounds and time.perf_counter() < deadline:
            self.lp.sync(self.columns)
            solution = self.lp.solve(deadline - time.perf_counter())
            if solution is None:
                break
            rounds += 1
            self.rounds += 1
            lp_value, sigma, x = solution.value, solution.sigma, solution.x
            prices = prices_of(self.problem, self.rows, solution.price)
            added = self._price(prices, sigma)
            min_rc = np.minimum(self.value - sigma, 0.0)
            lagrangian = lp_value + float(min_rc.sum())
            duals = Duals(sigma, solution.price, prices, min_rc, lagrangian)
            bound = max(bound, lagrangian)
            if added == 0 or lp_value - lagrangian <= stop_gap * max(1.0, abs(lp_value)):
                return Relaxation(bound, lp_value, rounds, True, duals, solution.x)
        return Relaxation(bound, lp_value, rounds, False, duals, x)

    def _price(self, prices: Prices, sigma: FloatArray) -> int:
        """Price the orders that may have a new cheapest plan; returns the columns added."""
        tol = 1e-9 * np.maximum(1.0, np.abs(sigma))
        changed_entry, changed_node = _changed(self.previous, prices)
        self.previous = prices
        added = 0
        for group in self.groups:
            orders = group.orders
            stale = _touched(group, changed_entry, changed_node)
            stale |= self.value[orders] - sigma[orders] < -tol[orders]
            stale |= self.volatile[orders]  # any node's price may have changed its plan
            rows_ = np.nonzero(stale)[0]
            if not len(rows_):
                continue
            (plans,) = price_orders(self.problem, [group.subset(rows_)], prices)
            self.value[plans.group.orders] = plans.value
            self.volatile[plans.group.orders] = plans.every_node
            rc = plans.value - sigma[plans.group.orders]
            improving = np.nonzero(rc < -tol[plans.group.orders])[0]
            if len(improving):
                before = self.columns.size
                plan_columns(self.columns, plans, improving)
                added += self.columns.size - before
        return added


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
