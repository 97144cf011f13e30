"""Large neighbourhood search: improve a plan by re-deciding a few hundred orders at a time.

A neighbourhood is a set of orders that compete for the same scarce resources (stock
positions or node capacity with a positive price in the LP): every other order keeps its
plan, and the chosen orders are re-decided exactly, with every ranked candidate shipment,
on what the others leave (solvers.compact on a subset). The plan never gets worse; it gets
better wherever orders can swap stock or capacity with their neighbours.
"""

import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from solvers.candidates import ShapeGroup
from solvers.compact import Candidates, ranked_candidates, solve_compact
from solvers.evaluate import evaluate
from solvers.master import ScarceRows, resource_use
from solvers.problem import SourcingProblem
from solvers.result import Allocation

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def _order_rows(problem: SourcingProblem, rows: ScarceRows, cands: Candidates) -> sp.csr_matrix:
    """Which scarce rows each order's candidate shipments could use (orders x rows)."""
    xi, li = np.nonzero((cands.line >= 0) & (cands.units > 0))
    entry = problem.stock_entry(cands.node[xi], problem.line_sku[cands.line[xi, li]])
    row = np.concatenate(
        [rows.entry_row[entry], rows.ship_row[cands.node], rows.unit_row[cands.node]]
    )
    order = np.concatenate([cands.order[xi], cands.order, cands.order])
    keep = row >= 0
    matrix = sp.csr_matrix(
        (np.ones(int(keep.sum())), (order[keep], row[keep])),
        shape=(problem.n_orders, rows.n_rows),
    )
    matrix.data[:] = 1.0
    return matrix


def improve(
    problem: SourcingProblem,
    groups: list[ShapeGroup],
    rows: ScarceRows,
    plan: Allocation,
    binding: FloatArray,
    deadline: float,
    *,
    size: int = 200,
    patience: int = 12,
    seed: int = 0,
    backend: str = "scip",
) -> Allocation:
    """Re-decide neighbourhoods of orders around binding resources until the deadline.

    binding: weight of each scarce row (its LP price); neighbourhoods start from rows drawn
    in proportion to it. Stops early after `patience` neighbourhoods without improvement.
    """
    if not (binding > 0).any() or time.perf_counter() >= deadline:
        return plan
    rng = np.random.default_rng(seed)
    everyone = ranked_candidates(groups, np.arange(problem.n_orders))
    order_rows = _order_rows(problem, rows, everyone)
    row_orders = order_rows.T.tocsr()
    best, best_cost = plan, evaluate(problem, plan).total
    weights = binding / binding.sum()
    idle = 0  # neighbourhoods in a row that found nothing better
    while time.perf_counter() < deadline and idle < patience:
        chosen = _neighbourhood(rng, weights, order_rows, row_orders, size)
        idle += 1
        line_order = problem.line_order[best.line]
        keep = ~np.isin(line_order, chosen)
        kept = Allocation(best.line[keep], best.node[keep], best.qty[keep])
        budget = min(5.0, deadline - time.perf_counter())
        outcome = solve_compact(
            problem, rows, _subset(everyone, chosen), best, budget, backend, 0.0,
            orders=chosen, capacity=rows.capacity - resource_use(problem, rows, kept),
        )  # fmt: skip
        if outcome is None:
            continue
        candidate = Allocation.concat([kept, outcome.allocation])
        cost = evaluate(problem, candidate).total
        if cost < best_cost - 1e-9:
            best, best_cost, idle = candidate, cost, 0
        if len(chosen) == problem.n_orders:
            break  # the neighbourhood was the whole batch: nothing else to try
    return best


def _neighbourhood(
    rng: np.random.Generator,
    weights: FloatArray,
    order_rows: sp.csr_matrix,
    row_orders: sp.csr_matrix,
    size: int,
) -> IntArray:
    """Orders reached from a drawn binding row, row by row, until `size` orders."""
    chosen: set[int] = set()
    frontier = [int(rng.choice(len(weights), p=weights))]
    seen_rows = set(frontier)
    while frontier and len(chosen) < size:
        row = frontier.pop(0)
        for o in row_orders.indices[row_orders.indptr[row] : row_orders.indptr[row + 1]]:
            if len(chosen) >= size:
                break
            if int(o) in chosen:
                continue
            chosen.add(int(o))
            for r in order_rows.indices[order_rows.indptr[o] : order_rows.indptr[o + 1]]:
                if int(r) not in seen_rows and weights[r] > 0:
                    seen_rows.add(int(r))
                    frontier.append(int(r))
    return np.array(sorted(chosen), dtype=np.int64)


def _subset(cands: Candidates, orders: IntArray) -> Candidates:
    keep = np.isin(cands.order, orders)
    return Candidates(
        order=cands.order[keep],
        node=cands.node[keep],
        cost=cands.cost[keep],
        line=cands.line[keep],
        units=cands.units[keep],
    )
