"""An exact sourcing model, written independently of `solvers`, for checking them.

Shipment-based: for every order o, ship-enabled node n and content vector c (units of each
of the order's SKUs, 0 <= c_s <= min(ordered, sourceable at n), not all zero) one binary
x[o,n,c] priced exactly (carrier + handling of that very parcel + split penalty), integer
unfilled units u[o,s] and a binary y[o] "the order ships at all". The split penalty of an
order is split * (sum x - y), exact because y = 1 exactly when the order has a shipment.
Solved with `scipy.optimize.milp` (HiGHS) to a zero relative gap.

The number of content vectors grows as the product of the line quantities, so this is for
small batches only (about 6 orders, 6 nodes, lines of up to 3 units). Prices come from the
independent pricer (tests/independent_pricer.py, written from the documents), and demand and
sourceable stock are read off the batch here: nothing is imported from `solvers`,
`sourcing_engine.plan_check` or `sourcing_engine.sourcing`, and nothing prices through
`cost_models`, so the reference can catch a pricing mistake that they share.

Also here: `random_batch(seed)`, the random small batches that the reference's own test
and the solver cross-check draw (hypothesis draws the seeds, so a failure names its seed).
"""

import itertools
import math
import random
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from sourcing_engine.cost_models import (
    LinearCost,
    OrderPenalties,
    ShipmentCostModel,
    default_us_ground,
)
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.domain import Batch, Destination, Inventory, Item, Line, Node, Order
from sourcing_engine.exchange import PlanLine, PlanOrder, PlanShipment, PlanSpec
from tests.independent_pricer import shipment_prices

MAX_VARIABLES = 50_000
"""Refuse batches whose model would be larger than this (the reference is for tiny ones)."""

Shipments = dict[str, dict[str, dict[str, int]]]
"""order id -> node id -> SKU -> units."""


@dataclass(frozen=True)
class ReferenceSolution:
    """An optimal plan: its cost, shipments per order and unfilled units per order."""

    objective: float
    shipments: Shipments
    unfilled: dict[str, dict[str, int]]
    bound: float | None = None
    """HiGHS's proven lower bound: equal to objective when proven optimal (solve_reference
    raises otherwise unless require_optimal=False, which returns the plan at the limit)."""
    proven: bool = True


def order_demand(order: Order) -> dict[str, int]:
    """Units ordered per SKU (two lines of one SKU are summed, as the format says)."""
    demand: dict[str, int] = {}
    for line in order.lines:
        demand[line.sku] = demand.get(line.sku, 0) + line.qty
    return demand


def sourceable_stock(batch: Batch) -> dict[tuple[str, str], int]:
    """Units each (node id, SKU) may give: on hand minus safety stock, never below 0."""
    inv = batch.inventory
    stock: dict[tuple[str, str], int] = {}
    for k in range(len(inv.node)):
        key = (batch.nodes[int(inv.node[k])].id, batch.items[int(inv.item[k])].sku)
        left = int(inv.on_hand[k]) - int(inv.safety_stock[k])
        stock[key] = stock.get(key, 0) + max(left, 0)
    return stock


@dataclass(frozen=True)
class _Candidate:
    order: int
    node: int
    content: dict[str, int]
    units: int
    cost: float


def _candidates(batch: Batch, max_variables: int = MAX_VARIABLES) -> list[_Candidate]:
    """Every (order, enabled node, non-empty content) shipment, priced."""
    stock = sourceable_stock(batch)
    raw: list[tuple[int, int, dict[str, int]]] = []
    for o, order in enumerate(batch.orders):
        demand = order_demand(order)
        skus = list(demand)
        for n, node in enumerate(batch.nodes):
            if not node.ship_enabled:
                continue
            ranges = [range(min(demand[s], stock.get((node.id, s), 0)) + 1) for s in skus]
            for units in itertools.product(*ranges):
                if any(units):
                    raw.append((o, n, {s: q for s, q in zip(skus, units, strict=True) if q}))
    if len(raw) > max_variables:
        raise ValueError(f"{len(raw)} candidate shipments: too many for the reference model")
    prices = shipment_prices(
        batch, [(batch.orders[o], batch.nodes[n], content) for o, n, content in raw]
    )
    return [
        _Candidate(o, n, content, sum(content.values()), price)
        for (o, n, content), price in zip(raw, prices, strict=True)
    ]


def solve_reference(
    batch: Batch,
    *,
    time_limit: float = 120.0,
    max_variables: int = MAX_VARIABLES,
    require_optimal: bool = True,
) -> ReferenceSolution:
    """Solve the batch exactly; raise RuntimeError if HiGHS does not prove optimality
    (require_optimal=False: return its best plan at the time limit, with the bound it
    proved, proven=False). max_variables: candidate shipments allowed (the large-batch
    check in benchmarks/test_reference_large.py raises it)."""
    pen = batch.penalties
    cands = _candidates(batch, max_variables)
    demands = [order_demand(order) for order in batch.orders]
    # variables: x (one per candidate), then u (one per order and SKU), then y (per order)
    u_index: dict[tuple[int, str], int] = {}
    for o, demand in enumerate(demands):
        for sku in demand:
            u_index[(o, sku)] = len(cands) + len(u_index)
    y0 = len(cands) + len(u_index)
    n_vars = y0 + len(batch.orders)

    cost = np.zeros(n_vars)
    upper = np.ones(n_vars)
    for k, cand in enumerate(cands):
        cost[k] = cand.cost + pen.split
    for (o, sku), j in u_index.items():
        cost[j] = pen.unfilled_per_unit
        upper[j] = demands[o][sku]
    cost[y0:] = -pen.split

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add_row(coefs: dict[int, float], low: float, high: float) -> None:
        r = len(lo)
        for j, v in coefs.items():
            rows.append(r)
            cols.append(j)
            vals.append(v)
        lo.append(low)
        hi.append(high)

    by_order: dict[int, list[int]] = {}
    by_order_node: dict[tuple[int, int], list[int]] = {}
    by_node: dict[int, list[int]] = {}
    by_node_sku: dict[tuple[int, str], list[int]] = {}
    for k, cand in enumerate(cands):
        by_order.setdefault(cand.order, []).append(k)
        by_order_node.setdefault((cand.order, cand.node), []).append(k)
        by_node.setdefault(cand.node, []).append(k)
        for sku in cand.content:
            by_node_sku.setdefault((cand.node, sku), []).append(k)

    # every unit of every order line is shipped or unfilled
    for (o, sku), j in u_index.items():
        coefs: dict[int, float] = {j: 1.0}
        for k in by_order.get(o, []):
            if sku in cands[k].content:
                coefs[k] = float(cands[k].content[sku])
        add_row(coefs, demands[o][sku], demands[o][sku])
    # at most one shipment per order and node
    for ks in by_order_node.values():
        add_row(dict.fromkeys(ks, 1.0), 0.0, 1.0)
    # sourceable stock per node and SKU
    stock = sourceable_stock(batch)
    for (n, sku), ks in by_node_sku.items():
        limit = stock.get((batch.nodes[n].id, sku), 0)
        add_row({k: float(cands[k].content[sku]) for k in ks}, 0.0, limit)
    # node capacities
    for n, ks in by_node.items():
        node = batch.nodes[n]
        if node.ship_capacity is not None:
            add_row(dict.fromkeys(ks, 1.0), 0.0, node.ship_capacity)
        if node.unit_capacity is not None:
            add_row({k: float(cands[k].units) for k in ks}, 0.0, node.unit_capacity)
    # shipments per order, and y[o] = 1 exactly when order o ships at all
    for o in range(len(batch.orders)):
        ks = by_order.get(o, [])
        if pen.max_shipments != UNLIMITED:
            add_row(dict.fromkeys(ks, 1.0), 0.0, pen.max_shipments)
        add_row({y0 + o: 1.0} | dict.fromkeys(ks, -1.0), -math.inf, 0.0)  # y <= sum x
        for k in ks:
            add_row({k: 1.0, y0 + o: -1.0}, -math.inf, 0.0)  # x <= y

    matrix = coo_array((vals, (rows, cols)), shape=(len(lo), n_vars)).tocsr()
    res = milp(
        cost,
        integrality=np.ones(n_vars),
        bounds=Bounds(np.zeros(n_vars), upper),
        constraints=[LinearConstraint(matrix, lo, hi)] if lo else [],
        options={"mip_rel_gap": 0.0, "time_limit": time_limit},
    )
    proven = res.status == 0
    if res.x is None or (require_optimal and not proven):
        raise RuntimeError(f"reference MIP not solved to optimality: {res.message}")
    x = np.rint(res.x).astype(np.int64)

    shipments: Shipments = {order.id: {} for order in batch.orders}
    for k, cand in enumerate(cands):
        if x[k]:
            order_id = batch.orders[cand.order].id
            shipments[order_id][batch.nodes[cand.node].id] = dict(cand.content)
    unfilled: dict[str, dict[str, int]] = {order.id: {} for order in batch.orders}
    for (o, sku), j in u_index.items():
        if x[j]:
            unfilled[batch.orders[o].id][sku] = int(x[j])
    # the objective of the allocation itself, not HiGHS's floating-point sum
    objective = math.fsum(
        [cand.cost for k, cand in enumerate(cands) if x[k]]
        + [pen.split * max(len(s) - 1, 0) for s in shipments.values()]
        + [pen.unfilled_per_unit * q for u in unfilled.values() for q in u.values()]
    )
    if abs(objective - res.fun) > 1e-6 * max(1.0, abs(objective)):
        raise RuntimeError(f"reference objective {objective} differs from HiGHS's {res.fun}")
    bound = objective if proven else float(getattr(res, "mip_dual_bound", -math.inf))
    return ReferenceSolution(objective, shipments, unfilled, bound=bound, proven=proven)


def reference_plan(batch: Batch, solution: ReferenceSolution) -> PlanSpec:
    """The `sourcing-plan/1` document of a reference solution (bound = objective)."""
    pen = batch.penalties
    node_of = {node.id: node for node in batch.nodes}
    orders: list[PlanOrder] = []
    for order in batch.orders:
        sent = solution.shipments[order.id]
        prices = shipment_prices(
            batch, [(order, node_of[node_id], content) for node_id, content in sent.items()]
        )
        left = solution.unfilled[order.id]
        cost = (
            sum(prices)
            + pen.split * max(len(sent) - 1, 0)
            + pen.unfilled_per_unit * sum(left.values())
        )
        orders.append(
            PlanOrder(
                id=order.id,
                cost=cost,
                shipments=[
                    PlanShipment(
                        node=node_id,
                        lines=[PlanLine(sku=s, qty=q) for s, q in content.items()],
                        cost=price,
                    )
                    for (node_id, content), price in zip(sent.items(), prices, strict=True)
                ],
                unfilled=[PlanLine(sku=s, qty=q) for s, q in left.items()],
            )
        )
    return PlanSpec(
        policy="optimal",
        status="optimal",
        currency=batch.currency,
        objective=solution.objective,
        bound=solution.objective,
        gap=0.0,
        runtime_s=0.0,
        orders=orders,
    )


# --- random small batches ----------------------------------------------------------------


def random_batch(
    seed: int,
    *,
    max_nodes: int = 4,
    max_skus: int = 3,
    max_orders: int = 5,
    max_qty: int = 3,
) -> Batch:
    """A random small batch: capacities (often binding), safety stock, both cost models.

    Drawn from `random.Random(seed)` rather than hypothesis's own draws, which favour
    degenerate batches (one node, no stock) far too often to exercise a solver.
    """
    rng = random.Random(seed)

    def size(largest: int) -> int:  # 1..largest, the largest twice as likely
        return int(rng.choice((*range(1, largest + 1), largest)))

    def lat() -> float:  # continental US, 0.1 degree steps
        return rng.randint(300, 470) / 10

    def lon() -> float:
        return rng.randint(-1220, -720) / 10

    n_nodes, n_skus, n_orders = size(max_nodes), size(max_skus), size(max_orders)
    scarce = rng.random() < 0.5  # tight stock and capacities, or plenty of both
    nodes = tuple(
        Node(
            id=f"N{n}",
            kind=rng.choice(("warehouse", "store")),
            lat=lat(),
            lon=lon(),
            ship_capacity=rng.choice((None, 0, 1, 2, 3) if scarce else (None, None, None, 2, 4)),
            unit_capacity=rng.choice((None, 1, 2, 4, 6) if scarce else (None, None, None, 4, 8)),
            handling_per_shipment=rng.choice((0.0, 1.5, 3.0)),
            handling_per_unit=rng.choice((0.0, 0.35, 1.1)),
            ship_enabled=rng.random() < 0.85,
        )
        for n in range(n_nodes)
    )
    items = tuple(
        Item(
            sku=f"S{s}",
            weight_lb=rng.choice((0.3, 1.0, 2.5, 7.0, 15.0)),
            dims_in=rng.choice(((0.0, 0.0, 0.0), (10.0, 8.0, 4.0), (20.0, 14.0, 12.0))),
        )
        for s in range(n_skus)
    )
    inv_node: list[int] = []
    inv_item: list[int] = []
    on_hand: list[int] = []
    safety: list[int] = []
    for n in range(n_nodes):
        for s in range(n_skus):
            if rng.random() < (0.65 if scarce else 0.85):
                inv_node.append(n)
                inv_item.append(s)
                on_hand.append(rng.choice((0, 1, 2, 2, 3, 4) if scarce else (1, 3, 5, 8, 12)))
                safety.append(rng.choice((0, 0, 0, 0, 1, 2)))
    shipping: ShipmentCostModel = (
        default_us_ground()
        if rng.random() < 0.5
        else LinearCost(
            per_shipment=rng.choice((2.0, 5.0, 9.0)),
            per_unit=rng.choice((0.0, 0.5, 1.25)),
            per_unit_mile=rng.choice((0.0, 0.001, 0.004)),
        )
    )
    penalties = OrderPenalties(
        unfilled_per_unit=rng.choice((30.0, 60.0, 120.0, 250.0)),
        split=rng.choice((0.0, 0.0, 0.75, 4.0)),
        max_shipments=rng.choice((UNLIMITED, UNLIMITED, 1, 2, 3)),
    )

    def order(o: int) -> Order:
        # the draws in the order they were always made, so seeds keep their batches
        la, lo = lat(), lon()
        lines = tuple(Line(f"S{s}", size(max_qty)) for s in rng.sample(range(n_skus), size(n_skus)))
        return Order(f"O{o}", Destination(la, lo, rng.random() < 0.7), lines)

    orders = tuple(order(o) for o in range(n_orders))
    return Batch(
        nodes=nodes,
        items=items,
        inventory=Inventory(
            node=np.array(inv_node, dtype=np.int64),
            item=np.array(inv_item, dtype=np.int64),
            on_hand=np.array(on_hand, dtype=np.int64),
            safety_stock=np.array(safety, dtype=np.int64),
        ),
        shipping=shipping,
        penalties=penalties,
        orders=orders,
        name=f"random batch {seed}",
    )
