"""Re-deciding groups of orders that compete for the same scarce resources.

A neighbourhood is a set of orders whose candidate shipments share scarce resources
(stock positions or node capacity with a positive price in the LP). Every other order keeps
its plan, and the neighbourhood is re-decided exactly, with every ranked candidate shipment,
on what the others leave (solvers.compact on a subset). Used twice by `optimal`: to round
the LP (re-deciding the orders it splits, with their neighbours) and as a large
neighbourhood search that never makes the plan worse.
"""

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from sourcing_engine.solvers.baselines import greedy_allocation
from sourcing_engine.solvers.candidates import ShapeGroup
from sourcing_engine.solvers.compact import Candidates, ranked_candidates, solve_compact
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.master import ScarceRows, resource_matrix, resource_use
from sourcing_engine.solvers.mip import NoSolution
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class Neighbourhoods:
    """Every order's ranked candidate shipments, and which scarce rows they could use."""

    def __init__(
        self,
        problem: SourcingProblem,
        groups: list[ShapeGroup],
        rows: ScarceRows,
        row_price: FloatArray,
        sigma: FloatArray,
        backend: str = "highs",
    ) -> None:
        self.problem, self.groups, self.rows, self.backend = problem, groups, rows, backend
        self.row_price, self.sigma = row_price, sigma
        self.binding = row_price > 0
        self.cands = ranked_candidates(groups, np.arange(problem.n_orders))
        self.order_rows = _order_rows(problem, rows, self.cands)
        self.row_orders = self.order_rows.T.tocsr()

    def around(self, seeds: IntArray, size: int) -> IntArray:
        """The seed orders and those reached through binding rows, breadth first, up to
        `size` orders."""
        chosen: dict[int, None] = dict.fromkeys(seeds.tolist())  # insertion-ordered set
        queue = [int(o) for o in seeds]
        seen_rows: set[int] = set()
        while queue and len(chosen) < size:
            o = queue.pop(0)
            for r in self.order_rows.indices[
                self.order_rows.indptr[o] : self.order_rows.indptr[o + 1]
            ]:
                if int(r) in seen_rows or not self.binding[r]:
                    continue
                seen_rows.add(int(r))
                lo, hi = self.row_orders.indptr[r], self.row_orders.indptr[r + 1]
                for other in self.row_orders.indices[lo:hi].tolist():
                    if len(chosen) >= size:
                        break
                    if other not in chosen:
                        chosen[other] = None
                        queue.append(other)
        return np.array(sorted(chosen), dtype=np.int64)

    def redecide(
        self, plan: Allocation, orders: IntArray, time_limit_s: float, gap: float = 0.0
    ) -> Allocation:
        """The plan with `orders` re-decided on what the other orders leave: exactly if
        time allows, else at least as well as the greedy plan of those orders there.

        plan's units for `orders` only serve as a hint (they need not fit).
        """
        line_order = self.problem.line_order[plan.line]
        keep = ~np.isin(line_order, orders)
        kept = Allocation(plan.line[keep], plan.node[keep], plan.qty[keep])
        greedy = Allocation.concat(
            [kept, greedy_allocation(self.problem, self.groups, orders, taken=kept)]
        )
        hint = min(
            (greedy, plan),
            key=lambda a: evaluate(self.problem, a).total if self._fits(a) else np.inf,
        )
        try:
            outcome = solve_compact(
                self.problem, self.rows, _subset(self.cands, orders), hint, time_limit_s,
                self.backend, gap, orders=orders,
                capacity=self.rows.capacity - resource_use(self.problem, self.rows, kept),
            )  # fmt: skip
        except NoSolution:
            return hint  # out of time before any solution: the hint stands
        exact = Allocation.concat([kept, outcome.allocation])
        return min((exact, hint), key=lambda a: evaluate(self.problem, a).total)

    def _fits(self, plan: Allocation) -> bool:
        return not feasibility_errors(self.problem, plan)

    def search(
        self,
        plan: Allocation,
        deadline: float,
        *,
        size: int = 200,
        patience: int = 12,
        seed: int = 0,
        stop: Callable[[], bool] | None = None,
    ) -> Allocation:
        """Re-decide neighbourhoods around binding rows until the deadline, keeping every
        improvement; neighbourhoods grow while small ones find nothing, and the search stops
        after `patience` of them in a row without improvement (or when `stop()` says so).

        Neighbourhoods alternate between two seeds: the orders around a binding row, and an
        order drawn by how much its plan loses against the LP (its reduced cost), where an
        improvement is most likely.
        """
        if not self.binding.any():
            return plan
        rng = np.random.default_rng(seed)
        weights = self.binding / self.binding.sum()
        best, best_cost = plan, evaluate(self.problem, plan).total
        losing = self._losses(best)
        idle, step = 0, 0
        while time.perf_counter() < deadline and idle < patience and not (stop and stop()):
            grown = min(self.problem.n_orders, size * (1 + idle // 4))
            step += 1
            if step % 2 and losing.sum() > 0:
                seeds = np.array([rng.choice(len(losing), p=losing / losing.sum())])
            else:
                row = int(rng.choice(len(weights), p=weights))
                lo, hi = self.row_orders.indptr[row], self.row_orders.indptr[row + 1]
                seeds = self.row_orders.indices[lo:hi].astype(np.int64)
            chosen = self.around(seeds, grown)
            idle += 1
            budget = min(5.0, deadline - time.perf_counter())
            if budget <= 0:
                break
            candidate = self.redecide(best, chosen, budget)
            cost = evaluate(self.problem, candidate).total
            if cost < best_cost - 1e-9:
                best, best_cost, idle = candidate, cost, 0
                losing = self._losses(best)
            if len(chosen) == self.problem.n_orders:
                break  # the neighbourhood was the whole batch: nothing else to try
        return best

    def _losses(self, plan: Allocation) -> FloatArray:
        """Each order's reduced cost under the LP's prices (>= 0 where the LP is optimal):
        what its plan costs beyond what the LP would pay for it."""
        p = self.problem
        order = p.line_order[plan.line]
        usage = resource_matrix(p, self.rows, order, plan.line, plan.node, plan.qty, p.n_orders)
        rc = evaluate(p, plan).order_cost - self.sigma + usage.T @ self.row_price
        result: FloatArray = np.maximum(rc, 0.0)
        return result


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


def _subset(cands: Candidates, orders: IntArray) -> Candidates:
    keep = np.isin(cands.order, orders)
    return Candidates(
        order=cands.order[keep],
        node=cands.node[keep],
        cost=cands.cost[keep],
        line=cands.line[keep],
        units=cands.units[keep],
    )
