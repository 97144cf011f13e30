"""Shadow prices of a batch: what one more unit of a scarce resource is worth.

The master LP (solvers.master) over complete order plans has one row per scarce resource
(a stock position, or a node's shipment or unit capacity that the batch could exceed). Its
dual value is the marginal value of that resource in the relaxation. A marginal is only the
slope at the current right-hand side: one whole unit more may be worth less (the basis
changes on the way), and the integer batch may gain something else again. So every listed
price is checked by re-solving: the relaxation with the row raised by one (column
generation continued, so plans the extra unit makes worth having are generated), and on
request the integer batch with `optimal`.
"""

import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.solvers.baselines import closest, greedy_cost, shape_groups
from sourcing_engine.solvers.column_generation import (
    ColumnGeneration,
    Relaxation,
    allocation_columns,
    plan_columns,
)
from sourcing_engine.solvers.master import Columns, ScarceRows, scarce_rows
from sourcing_engine.solvers.pricing import price_orders
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

KINDS = ("stock", "shipments", "units")


@dataclass(frozen=True)
class Resource:
    """One scarce resource: a stock entry (kind "stock", index: stock entry) or a node's
    shipment or unit capacity (index: node)."""

    kind: str
    index: int


class BatchRelaxation:
    """The batch's master LP solved to convergence, kept to be re-solved with one unit more
    of a resource."""

    def __init__(
        self, problem: SourcingProblem, plan: Allocation | None, time_limit_s: float
    ) -> None:
        self.problem = problem
        self.rows: ScarceRows = scarce_rows(problem)
        groups = shape_groups(problem)
        columns = Columns(problem, self.rows)
        seeds = [greedy_cost(problem, groups).allocation, closest(problem).allocation]
        for alloc in [*seeds, *([plan] if plan is not None else []), Allocation.empty()]:
            allocation_columns(columns, problem, alloc)
        for plans in price_orders(problem, groups):
            plan_columns(columns, plans, np.arange(len(plans.group)))
        self.cg = ColumnGeneration(problem, groups, self.rows, columns)
        self.relaxation: Relaxation = self.cg.run(time.perf_counter() + time_limit_s, 10_000)

    @property
    def converged(self) -> bool:
        return self.relaxation.converged

    @property
    def value(self) -> float:
        return self.relaxation.lp_value

    def row_of(self, resource: Resource) -> int:
        """The LP row of a resource, -1 if it has none (the batch cannot exhaust it)."""
        table = {"stock": self.rows.entry_row, "shipments": self.rows.ship_row,
                 "units": self.rows.unit_row}[resource.kind]  # fmt: skip
        return int(table[resource.index])

    def listed(self) -> list[tuple[Resource, float]]:
        """Every resource with a row and its dual price, largest first."""
        duals = self.relaxation.duals
        if duals is None:
            return []
        out: list[tuple[Resource, float]] = []
        for kind, table in (("stock", self.rows.entry_row), ("shipments", self.rows.ship_row),
                            ("units", self.rows.unit_row)):  # fmt: skip
            (index,) = np.nonzero(table >= 0)
            out += [
                (Resource(kind, int(i)), float(duals.row_price[table[i]])) for i in index.tolist()
            ]
        out.sort(key=lambda rp: (-rp[1], rp[0].kind, rp[0].index))
        return out

    def value_with_one_more(self, resource: Resource, time_limit_s: float) -> float | None:
        """The relaxation's optimum with one unit more of the resource (None: not converged
        in time). A resource without a row cannot bind: the optimum is unchanged."""
        row = self.row_of(resource)
        if row < 0:
            return self.value
        lp_row = self.problem.n_orders + row
        capacity = float(self.rows.capacity[row])
        highs = self.cg.lp.highs
        highs.changeRowBounds(lp_row, -np.inf, capacity + 1.0)
        try:
            found = self.cg.run(time.perf_counter() + time_limit_s, 10_000)
        finally:
            highs.changeRowBounds(lp_row, -np.inf, capacity)
        return found.lp_value if found.converged else None


def with_one_more(problem: SourcingProblem, resource: Resource) -> SourcingProblem:
    """The same batch with one unit more of a resource (to re-solve it whole)."""
    if resource.kind == "stock":
        stock = problem.stock_qty.copy()
        stock[resource.index] += 1
        return replace(problem, stock_qty=stock)
    name = "node_ship_capacity" if resource.kind == "shipments" else "node_unit_capacity"
    capacity = getattr(problem, name).copy()
    capacity[resource.index] += 1
    result: SourcingProblem = replace(problem, **{name: capacity})
    return result
