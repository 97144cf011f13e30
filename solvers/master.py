"""The master problem: choose one plan per order, orders sharing stock and capacity.

Each column is a complete plan of one order (its shipments and unfilled units) at its exact
cost. Rows: one per order (choose exactly one plan) and one per scarce resource: a stock
position, or a node's shipment or unit capacity, that the batch's demand could exceed
(positions that cannot run out need no row). Solving the linear relaxation gives a lower
bound and prices for the scarce resources (solvers.column_generation).
"""

import os
import sys
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from sourcing_engine.solvers.arrays import unique
from sourcing_engine.solvers.pricing import Prices
from sourcing_engine.solvers.problem import UNLIMITED, SourcingProblem
from sourcing_engine.solvers.result import Allocation

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ScarceRows:
    """Which resources get a row, and the row of each (-1: cannot run out, no row)."""

    entry_row: IntArray  # per stock entry
    ship_row: IntArray  # per node
    unit_row: IntArray  # per node
    capacity: FloatArray  # right-hand side per resource row

    @property
    def n_rows(self) -> int:
        return len(self.capacity)


def scarce_rows(problem: SourcingProblem) -> ScarceRows:
    """Rows for stock positions and node capacities the batch's demand could exceed."""
    demand_by_sku = np.bincount(problem.line_sku, problem.line_qty, minlength=problem.n_skus)
    entry_demand = demand_by_sku[problem.stock_sku_of_entry]
    scarce_entry = entry_demand > problem.stock_qty

    # orders and units that could reach each node: those with a SKU the node stocks
    line_entries = _line_entry_pairs(problem)
    line, entry = line_entries
    node = problem.stock_node[entry]
    order_node = unique(problem.line_order[line] * problem.n_nodes + node)
    orders_per_node = np.bincount(order_node % problem.n_nodes, minlength=problem.n_nodes)
    units_per_node = np.bincount(node, problem.line_qty[line], minlength=problem.n_nodes)
    scarce_ship = (problem.node_ship_capacity < orders_per_node) & (
        problem.node_ship_capacity < UNLIMITED
    )
    scarce_unit = (problem.node_unit_capacity < units_per_node) & (
        problem.node_unit_capacity < UNLIMITED
    )

    counts = [int(scarce_entry.sum()), int(scarce_ship.sum()), int(scarce_unit.sum())]
    entry_row = np.full(len(problem.stock_qty), -1, dtype=np.int64)
    entry_row[scarce_entry] = np.arange(counts[0])
    ship_row = np.full(problem.n_nodes, -1, dtype=np.int64)
    ship_row[scarce_ship] = counts[0] + np.arange(counts[1])
    unit_row = np.full(problem.n_nodes, -1, dtype=np.int64)
    unit_row[scarce_unit] = counts[0] + counts[1] + np.arange(counts[2])
    capacity = np.concatenate(
        [
            problem.stock_qty[scarce_entry],
            problem.node_ship_capacity[scarce_ship],
            problem.node_unit_capacity[scarce_unit],
        ]
    ).astype(np.float64)
    return ScarceRows(entry_row, ship_row, unit_row, capacity)


def _line_entry_pairs(problem: SourcingProblem) -> tuple[IntArray, IntArray]:
    """Every (line, stock entry) pair of the line's SKU."""
    lo = problem.stock_sku_ptr[problem.line_sku]
    counts = problem.stock_sku_ptr[problem.line_sku + 1] - lo
    line = np.repeat(np.arange(problem.n_lines), counts)
    entry = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return line, entry + np.repeat(lo, counts)


@dataclass(eq=False)
class Columns:
    """The plans generated so far, with their costs and resource use."""

    problem: SourcingProblem
    rows: ScarceRows
    order: list[IntArray] = field(default_factory=list)
    cost: list[FloatArray] = field(default_factory=list)
    # plan content: (column, line, node, qty)
    unit_col: list[IntArray] = field(default_factory=list)
    unit_line: list[IntArray] = field(default_factory=list)
    unit_node: list[IntArray] = field(default_factory=list)
    unit_qty: list[IntArray] = field(default_factory=list)
    seen: dict[bytes, int] = field(default_factory=dict)
    size: int = 0

    def add(
        self,
        order: IntArray,
        cost: FloatArray,
        col: IntArray,
        line: IntArray,
        node: IntArray,
        qty: IntArray,
    ) -> IntArray:
        """Add plans (order[j], cost[j]; units with col == j, col sorted).

        Returns every plan's column id; a plan already present keeps its id.
        """
        ptr = np.searchsorted(col, np.arange(len(order) + 1))
        ids = np.empty(len(order), dtype=np.int64)
        keep: list[int] = []
        for j in range(len(order)):
            lo, hi = ptr[j], ptr[j + 1]
            # the same plan with its units listed in another order is the same column: HiGHS
            # 1.16 merges identical columns in presolve and then misreads a start that uses
            # the second of two (it reported 31,988 for a plan costing 32,768, and stopped)
            units = lo + np.lexsort((qty[lo:hi], node[lo:hi], line[lo:hi]))
            key = np.concatenate(([order[j]], line[units], node[units], qty[units])).tobytes()
            known = self.seen.get(key)
            if known is None:
                known = self.seen[key] = self.size + len(keep)
                keep.append(j)
            ids[j] = known
        kept = np.array(keep, dtype=np.int64)
        new_id = np.full(len(order), -1, dtype=np.int64)
        new_id[kept] = self.size + np.arange(len(kept))
        mask = new_id[col] >= 0
        self.order.append(order[kept])
        self.cost.append(cost[kept])
        self.unit_col.append(new_id[col[mask]])
        self.unit_line.append(line[mask])
        self.unit_node.append(node[mask])
        self.unit_qty.append(qty[mask])
        self.size += len(kept)
        return ids

    def flat(self) -> tuple[IntArray, FloatArray, IntArray, IntArray, IntArray, IntArray]:
        return (
            np.concatenate(self.order),
            np.concatenate(self.cost),
            np.concatenate(self.unit_col),
            np.concatenate(self.unit_line),
            np.concatenate(self.unit_node),
            np.concatenate(self.unit_qty),
        )

    def resource_matrix(self, first: int = 0) -> sp.csr_matrix:
        """Resource use (rows x columns) of columns first.. as a sparse matrix."""
        _, _, col, line, node, qty = self.flat()
        sel = col >= first
        return resource_matrix(
            self.problem, self.rows, col[sel] - first, line[sel], node[sel], qty[sel],
            self.size - first,
        )  # fmt: skip


def resource_matrix(
    problem: SourcingProblem,
    rows: ScarceRows,
    col: IntArray,
    line: IntArray,
    node: IntArray,
    qty: IntArray,
    n_cols: int,
) -> sp.csr_matrix:
    """Scarce resources used by plans given as units (plan col, line, node, qty)."""
    entry = problem.stock_entry(node, problem.line_sku[line])
    e_row = rows.entry_row[entry]
    # one shipment per (plan, node)
    ship_key = unique(col * problem.n_nodes + node)
    s_col, s_node = ship_key // problem.n_nodes, ship_key % problem.n_nodes
    s_row = rows.ship_row[s_node]
    u_row = rows.unit_row[node]
    row = np.concatenate([e_row, s_row, u_row])
    cols = np.concatenate([col, s_col, col])
    vals = np.concatenate([qty, np.ones(len(s_col)), qty]).astype(np.float64)
    keep = row >= 0
    return sp.csr_matrix((vals[keep], (row[keep], cols[keep])), shape=(rows.n_rows, n_cols))


def resource_use(problem: SourcingProblem, rows: ScarceRows, alloc: Allocation) -> FloatArray:
    """How much of each scarce resource an allocation uses."""
    order = problem.line_order[alloc.line]
    matrix = resource_matrix(
        problem, rows, order, alloc.line, alloc.node, alloc.qty, problem.n_orders
    )
    return np.asarray(matrix.sum(axis=1)).ravel()


def _first_highs_quietly() -> None:
    """HiGHS prints a banner on stdout when the process makes its first model; make that one
    with stdout pointed at /dev/null, at import, so CLI output and JSON on stdout stay clean."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


_first_highs_quietly()


@dataclass(frozen=True, eq=False)
class LpSolution:
    value: float
    sigma: FloatArray  # dual of each order's "one plan" row
    price: FloatArray  # price (>= 0) of each scarce resource row
    x: FloatArray  # value of each column


class MasterLP:
    """The linear relaxation, kept in one HiGHS model that grows column by column.

    HiGHS restarts from its last basis after columns are added, so each round only
    pivots the new columns in (measured 5-50x faster than re-solving, and than GLOP).
    """

    def __init__(self, problem: SourcingProblem, rows: ScarceRows) -> None:
        self.highs = highspy.Highs()  # type: ignore[no-untyped-call]
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("threads", 1)
        self.n_orders = problem.n_orders
        lower = np.concatenate([np.ones(problem.n_orders), np.full(rows.n_rows, -np.inf)])
        upper = np.concatenate([np.ones(problem.n_orders), rows.capacity])
        empty = np.zeros(0, dtype=np.int32)
        self.highs.addRows(len(lower), lower, upper, 0, empty, empty, np.zeros(0))
        self.n_columns = 0

    def sync(self, columns: Columns) -> None:
        """Add the columns generated since the last call."""
        first = self.n_columns
        if first == columns.size:
            return
        order = np.concatenate(columns.order)[first:]
        cost = np.concatenate(columns.cost)[first:]
        resources = columns.resource_matrix(first=first)
        convexity = sp.csr_matrix(
            (np.ones(len(order)), (order, np.arange(len(order)))),
            shape=(self.n_orders, len(order)),
        )
        matrix = sp.vstack([convexity, resources]).tocsc()
        n = len(order)
        self.highs.addCols(
            n,
            cost.astype(np.float64),
            np.zeros(n),
            np.full(n, np.inf),
            matrix.nnz,
            matrix.indptr[:-1].astype(np.int32),
            matrix.indices.astype(np.int32),
            matrix.data.astype(np.float64),
        )
        self.n_columns = columns.size

    def solve(self, time_limit_s: float) -> LpSolution | None:
        """The optimum of the relaxation, or None if the time ran out first."""
        self.highs.setOptionValue("time_limit", max(0.01, time_limit_s))
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        solution = self.highs.getSolution()
        duals = np.asarray(solution.row_dual, dtype=np.float64)
        return LpSolution(
            value=float(self.highs.getInfo().objective_function_value),
            sigma=duals[: self.n_orders],
            price=np.maximum(-duals[self.n_orders :], 0.0),
            x=np.asarray(solution.col_value, dtype=np.float64),
        )


def prices_of(problem: SourcingProblem, rows: ScarceRows, price: FloatArray) -> Prices:
    """Resource row prices as prices per stock entry unit, node shipment and node unit."""
    padded = np.concatenate([price, [0.0]])  # row -1 -> price 0
    return Prices(
        entry=padded[rows.entry_row],
        node_ship=padded[rows.ship_row],
        node_unit=padded[rows.unit_row],
    )
