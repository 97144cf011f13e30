"""The plans an order did not get, each exact, feasible and priced.

All of them are computed on the order's context (explain.context: the stock and capacity
the rest of the plan left it), with the exact single-order pricing (`greedy-cost` on one
order is that pricing; an order too large to price exactly gets the better rule plan):

- the next best plans: the best plan without the chosen plan's main node, then the best
  without that plan's main node as well (each is the cheapest plan under its exclusions);
- the best plan in one shipment, when the chosen plan splits;
- what the `closest` and `greedy-cost` rules would have given the order on the same stock
  (`greedy-cost` on one order is its own cheapest plan).
"""

from dataclasses import dataclass, replace

import numpy as np

from sourcing_engine.explain.context import OrderContext
from sourcing_engine.explain.itemize import PlanItems, itemize
from sourcing_engine.solvers import Allocation, SourcingProblem
from sourcing_engine.solvers.baselines import closest, greedy_cost

COST_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Alternative:
    """A plan the order could have had: what it was asked to avoid, its items, and how much
    dearer than the chosen plan it is, term by term."""

    kind: str
    """"without_node", "one_shipment", "rule:closest", "rule:greedy-cost"."""
    without: tuple[str, ...]
    allocation: Allocation
    items: PlanItems
    extra: float
    lost_by: dict[str, float]

    def to_data(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "without_nodes": list(self.without),
            "plan": self.items.to_data(),
            "extra_cost": round(self.extra, 6),
            "lost_by": {k: round(v, 6) for k, v in self.lost_by.items() if abs(v) > 1e-9},
        }


def main_node(items: PlanItems) -> str | None:
    """The shipment carrying the most units (the dearer one of equals)."""
    if not items.shipments:
        return None
    return max(items.shipments, key=lambda s: (s.units, s.cost)).node


def _without(problem: SourcingProblem, nodes: list[int]) -> SourcingProblem:
    cap = problem.node_ship_capacity.copy()
    cap[nodes] = 0
    result: SourcingProblem = replace(problem, node_ship_capacity=cap)
    return result


def _one_shipment(problem: SourcingProblem) -> SourcingProblem:
    result: SourcingProblem = replace(
        problem, penalties=replace(problem.penalties, max_shipments=1)
    )
    return result


class Alternatives:
    """Plans of one order under exclusions, priced against the chosen one."""

    def __init__(self, ctx: OrderContext, chosen: PlanItems) -> None:
        self.ctx = ctx
        self.chosen = chosen
        self.node_of = {n: i for i, n in enumerate(ctx.node_ids)}

    def _make(self, kind: str, without: tuple[str, ...], alloc: Allocation) -> Alternative:
        items = itemize(self.ctx.problem, alloc, self.ctx.node_ids, self.ctx.skus)
        mine, theirs = self.chosen.term_totals(), items.term_totals()
        lost_by = {k: theirs[k] - mine[k] for k in mine}
        return Alternative(kind, without, alloc, items, items.cost - self.chosen.cost, lost_by)

    def best(self, kind: str, without: tuple[str, ...], problem: SourcingProblem) -> Alternative:
        return self._make(kind, without, greedy_cost(problem).allocation)

    def next_best(self, count: int = 2) -> list[Alternative]:
        """The best plan without the chosen main node, then without that plan's main node
        too, and so on (count plans, fewer when no node is left), then the best plan in one
        shipment if the chosen plan splits."""
        out: list[Alternative] = []
        excluded: list[str] = []
        main = main_node(self.chosen)
        while main is not None and len(out) < count:
            excluded.append(main)
            problem = _without(self.ctx.problem, [self.node_of[n] for n in excluded])
            alt = self.best("without_node", tuple(excluded), problem)
            if not alt.items.shipments:  # nothing left to ship from: the order unfilled
                out.append(alt)
                break
            out.append(alt)
            main = main_node(alt.items)
        if len(self.chosen.shipments) > 1:
            out.append(self.best("one_shipment", (), _one_shipment(self.ctx.problem)))
        return out

    def rules(self) -> dict[str, Alternative]:
        """What `closest` and `greedy-cost` would give this order on the same stock."""
        p = self.ctx.problem
        if p.n_lines == 0:  # every line cancelled: nothing to source (closest needs a line)
            empty = Allocation.empty()
            return {"closest": self._make("rule:closest", (), empty),
                    "greedy-cost": self._make("rule:greedy-cost", (), empty)}  # fmt: skip
        return {
            "closest": self._make("rule:closest", (), closest(p).allocation),
            "greedy-cost": self._make("rule:greedy-cost", (), greedy_cost(p).allocation),
        }


def allocation_key(alloc: Allocation) -> tuple[tuple[int, int, int], ...]:
    order = np.lexsort((alloc.node, alloc.line))
    return tuple(
        zip(alloc.line[order].tolist(), alloc.node[order].tolist(), alloc.qty[order].tolist(),
            strict=True)
    )  # fmt: skip
