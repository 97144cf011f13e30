"""A batch's explanation: what one more unit of stock or capacity would be worth where it
is worth most, and the orders the batch sourced away from their own cheapest plan.

Shadow prices are the duals of the master LP (solvers.shadow). A dual is the slope at the
current stock; it is exact for one whole unit only when the LP's basis holds over that
unit. So the largest duals are each checked by re-solving the relaxation with the unit
added, and listed by that re-solved value with the dual next to it ("exact": the two
agree). check="integer" also re-solves the whole batch with `optimal` for each listed
resource (small batches): the integer batch's saving, which is what a planner would get.
"""

import time
from dataclasses import dataclass

import numpy as np

from sourcing_engine.explain.context import BatchPlan
from sourcing_engine.solvers import solve
from sourcing_engine.solvers.baselines import greedy_cost, shape_groups
from sourcing_engine.solvers.pricing import Availability, price_orders
from sourcing_engine.solvers.shadow import BatchRelaxation, Resource, with_one_more

EXACT_TOLERANCE = 1e-6
CHECKED_PER_LISTED = 2
"""The duals re-solved per resource listed (the largest by re-solved value are listed)."""


@dataclass(frozen=True)
class ShadowPrice:
    kind: str
    node: str
    sku: str | None
    dual: float
    resolved: float | None
    """Relaxation's optimum now minus with the unit added (None: not re-solved in time)."""
    integer: float | None = None
    """The integer batch's optimum now minus with the unit added (check="integer")."""

    @property
    def exact(self) -> bool:
        return self.resolved is not None and abs(self.dual - self.resolved) <= EXACT_TOLERANCE

    def to_data(self) -> dict[str, object]:
        data: dict[str, object] = {
            "resource": self.kind, "node": self.node, "sku": self.sku,
            "dual": round(self.dual, 6),
            "resolved": None if self.resolved is None else round(self.resolved, 6),
            "exact": self.exact,
        }  # fmt: skip
        if self.integer is not None:
            data["integer"] = round(self.integer, 6)
        return data


@dataclass(frozen=True)
class Redirected:
    """An order the batch sourced away from its own cheapest plan (on the batch's stock
    and capacity, as if alone)."""

    order_id: str
    cost: float
    alone: float

    @property
    def extra(self) -> float:
        return self.cost - self.alone


@dataclass(frozen=True)
class BatchExplanation:
    currency: str
    objective: float
    relaxation: float
    converged: bool
    shadow_prices: tuple[ShadowPrice, ...]
    redirected: tuple[Redirected, ...]
    greedy_objective: float
    integer_objective: float | None = None

    @property
    def redirect_cost(self) -> float:
        return sum(r.extra for r in self.redirected)

    @property
    def gained_vs_greedy(self) -> float:
        """What the joint plan saves against each order in turn taking its cheapest plan on
        what is left (greedy-cost): the batch's gain from sourcing orders away."""
        return self.greedy_objective - self.objective

    def to_data(self) -> dict[str, object]:
        return {
            "currency": self.currency,
            "objective": round(self.objective, 6),
            "relaxation": round(self.relaxation, 6),
            "relaxation_converged": self.converged,
            "integer_objective": self.integer_objective,
            "shadow_prices": [s.to_data() for s in self.shadow_prices],
            "redirected_orders": [
                {
                    "order_id": r.order_id,
                    "cost": round(r.cost, 6),
                    "alone": round(r.alone, 6),
                    "extra": round(r.extra, 6),
                }
                for r in self.redirected
            ],
            "redirect_cost": round(self.redirect_cost, 6),
            "greedy_cost_objective": round(self.greedy_objective, 6),
            "gained_vs_greedy_cost": round(self.gained_vs_greedy, 6),
        }


def explain_batch(
    bp: BatchPlan, top: int = 10, time_limit_s: float = 30.0, check: str = "relaxation"
) -> BatchExplanation:
    """The batch's shadow prices (the `top` largest by re-solved value) and its redirected
    orders. check: "relaxation" or "integer" (also re-solve the batch with `optimal`, to
    proven optimality, per listed resource: small batches only)."""
    if check not in ("relaxation", "integer"):
        raise ValueError(f'check must be "relaxation" or "integer", got {check!r}')
    deadline = time.perf_counter() + time_limit_s
    compiled = bp.compiled
    problem, batch = compiled.problem, compiled.batch
    relax = BatchRelaxation(problem, bp.allocation, max(0.1, deadline - time.perf_counter()))
    checked = []
    for resource, dual in relax.listed()[: CHECKED_PER_LISTED * top]:
        if dual <= EXACT_TOLERANCE:
            break
        left = max(0.1, deadline - time.perf_counter())
        plus = relax.value_with_one_more(resource, left)
        checked.append((resource, dual, None if plus is None else relax.value - plus))
    checked.sort(key=lambda c: (-(c[2] if c[2] is not None else c[1]), -c[1]))
    base = None
    if check == "integer":
        base = solve(problem, "optimal", time_limit=time_limit_s, gap_tolerance=0.0).objective
    prices = []
    for resource, dual, resolved in checked[:top]:
        integer = None
        if base is not None:
            plus_problem = with_one_more(problem, resource)
            integer = base - solve(plus_problem, "optimal", time_limit=time_limit_s,
                                   gap_tolerance=0.0).objective  # fmt: skip
        node, sku = _where(bp, resource)
        prices.append(ShadowPrice(resource.kind, node, sku, dual, resolved, integer))
    objective = float(sum(p.cost for p in bp.plans.values()))
    return BatchExplanation(
        currency=batch.currency, objective=objective, relaxation=relax.value,
        converged=relax.converged, shadow_prices=tuple(prices),
        redirected=tuple(_redirected(bp)), greedy_objective=greedy_cost(problem).objective,
        integer_objective=base,
    )  # fmt: skip


def _where(bp: BatchPlan, resource: Resource) -> tuple[str, str | None]:
    batch, problem = bp.compiled.batch, bp.compiled.problem
    if resource.kind == "stock":
        node = int(problem.stock_node[resource.index])
        sku = int(problem.stock_sku_of_entry[resource.index])
        return batch.nodes[node].id, batch.items[sku].sku
    return batch.nodes[resource.index].id, None


def _redirected(bp: BatchPlan) -> list[Redirected]:
    """Orders whose plan costs more than their own cheapest plan on the batch's stock and
    capacity (each priced alone, exactly; orders too large to price exactly are left out)."""
    problem = bp.compiled.problem
    avail = Availability(problem.stock_qty, problem.node_ship_capacity, problem.node_unit_capacity)
    alone = np.full(problem.n_orders, np.nan)
    for plans in price_orders(problem, shape_groups(problem), avail=avail):
        alone[plans.group.orders] = plans.cost
    out = []
    for o, order_id in enumerate(bp.order_ids):
        plan = bp.plans.get(order_id)
        if plan is None or np.isnan(alone[o]):
            continue
        if plan.cost > alone[o] + EXACT_TOLERANCE:
            out.append(Redirected(order_id, plan.cost, float(alone[o])))
    out.sort(key=lambda r: -r.extra)
    return out
