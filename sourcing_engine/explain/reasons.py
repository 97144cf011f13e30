"""Why a node that was nearer, or cheaper for one of the plan's shipments, did not ship.

Each reason is a fact of the problem data and the plan, with its figures, so that it can
be checked: no stock; stock only in safety stock; stock taken by other orders (named);
shipment or unit capacity taken by other orders (named); shipping disabled; excluded after
the node rejected the order; or, where it could have shipped a shipment's whole content,
what that shipment would have cost from it (never less than the plan's, for a plan that
is the order's best on what it was left); or it held only part of any shipment's content.

Too slow for a service level is not a reason here: a batch order carries no service level
(the checkout promise dates each option and says which nodes a level reaches).
"""

from dataclasses import dataclass, field

import numpy as np

from sourcing_engine.explain.context import OrderContext
from sourcing_engine.explain.itemize import PlanItems
from sourcing_engine.solvers.evaluate import shipment_costs

PRICE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Reason:
    code: str
    sku: str | None = None
    figures: dict[str, object] = field(default_factory=dict)

    def to_data(self) -> dict[str, object]:
        data: dict[str, object] = {"code": self.code}
        if self.sku is not None:
            data["sku"] = self.sku
        return {**data, **self.figures}


@dataclass(frozen=True)
class UnusedNode:
    node: str
    kind: str
    miles: float
    nearer: bool
    cheaper_than: tuple[str, ...]
    """The plan's shipments (by node) it would have shipped for less, contents alone."""
    reasons: tuple[Reason, ...]

    def to_data(self) -> dict[str, object]:
        return {
            "node": self.node, "kind": self.kind, "distance_miles": round(self.miles, 1),
            "nearer": self.nearer, "cheaper_than": list(self.cheaper_than),
            "reasons": [r.to_data() for r in self.reasons],
        }  # fmt: skip


def unused_nodes(ctx: OrderContext, chosen: PlanItems) -> list[UnusedNode]:
    """Every node not in the plan that was nearer than its farthest shipment, or would have
    shipped one of its shipments' contents for less, nearest first, with its reasons."""
    p = ctx.problem
    n_nodes = p.n_nodes
    nodes = np.arange(n_nodes)
    miles = p.distance_miles(np.zeros(n_nodes, dtype=np.int64), nodes)
    node_of = {n: i for i, n in enumerate(ctx.node_ids)}
    used = {node_of[s.node] for s in chosen.shipments}
    sku_of = {s: i for i, s in enumerate(ctx.skus)}
    if chosen.shipments:
        nearer = miles < max(s.miles for s in chosen.shipments)
    else:  # nothing shipped: every node that has any of the order's SKUs on hand
        nearer = np.zeros(n_nodes, dtype=bool)
        for n, _ in ctx.facts.stock:
            nearer[n] = True
    cheaper_than: dict[int, list[str]] = {}
    prices: list[np.typing.NDArray[np.float64]] = []
    for s in chosen.shipments:
        skus = [sku_of[ln.sku] for ln in s.lines]
        qty = np.array([ln.qty for ln in s.lines], dtype=np.float64)
        weight = np.full(n_nodes, float(qty @ p.sku_weight_lb[skus]))
        volume = np.full(n_nodes, float(qty @ p.sku_volume_in3[skus]))
        price = shipment_costs(p, np.zeros(n_nodes, dtype=np.int64), nodes, weight, volume,
                               np.full(n_nodes, float(s.units)), miles)  # fmt: skip
        prices.append(price)
        for n in np.nonzero(price < s.cost - PRICE_TOLERANCE)[0].tolist():
            cheaper_than.setdefault(n, []).append(s.node)
    candidates = (set(np.nonzero(nearer)[0].tolist()) | set(cheaper_than)) - used
    out = []
    for n in sorted(candidates, key=lambda i: (miles[i], ctx.node_ids[i])):
        out.append(UnusedNode(
            node=ctx.node_ids[n], kind=ctx.node_kinds[n], miles=float(miles[n]),
            nearer=bool(nearer[n]), cheaper_than=tuple(cheaper_than.get(n, ())),
            reasons=tuple(_reasons(ctx, chosen, n, prices)),
        ))  # fmt: skip
    return out


def _reasons(
    ctx: OrderContext, chosen: PlanItems, n: int, prices: list[np.typing.NDArray[np.float64]]
) -> list[Reason]:
    p = ctx.problem
    out: list[Reason] = []
    if n in ctx.excluded:
        out.append(Reason("excluded"))
    if not p.node_ship_enabled[n]:
        out.append(Reason("shipping_disabled"))
    can: dict[str, int] = {}
    for ln in ctx.order.lines:
        fact = ctx.facts.stock_at(n, ln.sku)
        taken = [{"by": who, "qty": q} for who, q in fact.taken]
        figures: dict[str, object] = {
            "on_hand": fact.on_hand, "safety_stock": fact.safety_stock, "needed": ln.qty,
        }  # fmt: skip
        if fact.left >= ln.qty:
            can[ln.sku] = ln.qty
            continue
        if fact.left > 0:
            can[ln.sku] = fact.left
            out.append(Reason("short", ln.sku, {**figures, "left": fact.left, "taken": taken}))
        elif fact.on_hand <= 0:
            out.append(Reason("no_stock", ln.sku, {"needed": ln.qty}))
        elif fact.sourceable <= 0:
            out.append(Reason("safety_stock", ln.sku, figures))
        else:
            out.append(Reason("taken_by_orders", ln.sku, {**figures, "taken": taken}))
    if out and not can:
        return out
    if n in ctx.excluded or not p.node_ship_enabled[n]:
        return out
    ships = ctx.facts.ships.get(n)
    units = ctx.facts.units.get(n)
    if ships is not None and ships.left is not None and ships.left < 1:
        taken = [{"by": w, "shipments": q} for w, q in ships.taken]
        out.append(Reason("shipment_capacity_taken", None,
                          {"capacity": ships.capacity, "taken": taken}))  # fmt: skip
        return out
    units_left = None if units is None else units.left
    if units is not None and units_left is not None and units_left < 1:
        out.append(Reason("unit_capacity_taken", None, {
            "capacity": units.capacity, "taken": [{"by": w, "units": q} for w, q in units.taken],
        }))  # fmt: skip
        return out
    could = False
    for s, price in zip(chosen.shipments, prices, strict=True):
        whole = all(can.get(ln.sku, 0) >= ln.qty for ln in s.lines)
        if whole and (units_left is None or units_left >= s.units):
            could = True
            # a plan that is the order's best on what it was left is never beaten here
            code = "dearer" if price[n] >= s.cost - PRICE_TOLERANCE else "cheaper_not_taken"
            out.append(Reason(code, None, {
                "instead_of": s.node, "cost_from_here": round(float(price[n]), 6),
                "cost_in_plan": round(s.cost, 6),
            }))  # fmt: skip
    if not could and can:
        out.append(Reason("partial", None, {"holds": dict(sorted(can.items()))}))
    return out
