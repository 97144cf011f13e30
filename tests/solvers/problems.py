"""Small solver problems for the unit tests: built by hand, or drawn from a seeded generator.

`make_problem` builds a `SourcingProblem` from readable lists (nodes, stock per (node, SKU),
orders as (SKU, qty) lines); `random_problem(seed)` draws one with continuous handling
costs, weights and places, so that two different plans almost never cost the same.
`reference_allocation` turns the reference MIP's solution into solver indices.
"""

import math
from collections.abc import Mapping, Sequence

import numpy as np

from sourcing_engine.cost_models import (
    EARTH_RADIUS_MILES,
    LinearCost,
    OrderPenalties,
    default_us_ground,
)
from sourcing_engine.cost_models.base import ShipmentCostModel
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.domain import Batch
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation
from tests.reference_mip import ReferenceSolution

ORDER_AT = (40.0, -90.0)
"""Where hand-built orders go by default."""

MILES_PER_DEGREE = EARTH_RADIUS_MILES * math.pi / 180.0
"""Great-circle miles of one degree of latitude along a meridian."""


def north(degrees: float) -> tuple[float, float]:
    """A place `degrees` of latitude north of ORDER_AT (degrees * MILES_PER_DEGREE away)."""
    return (ORDER_AT[0] + degrees, ORDER_AT[1])


def make_problem(
    nodes: Sequence[tuple[float, float]],
    stock: Mapping[tuple[int, int], int],
    orders: Sequence[Sequence[tuple[int, int]]],
    *,
    n_skus: int | None = None,
    order_at: Sequence[tuple[float, float]] | None = None,
    ship_capacity: Sequence[int] | None = None,
    unit_capacity: Sequence[int] | None = None,
    handling_per_shipment: Sequence[float] | None = None,
    handling_per_unit: Sequence[float] | None = None,
    ship_enabled: Sequence[bool] | None = None,
    weight_lb: Sequence[float] | None = None,
    volume_in3: Sequence[float] | None = None,
    residential: Sequence[bool] | None = None,
    shipping: ShipmentCostModel | None = None,
    penalties: OrderPenalties | None = None,
) -> SourcingProblem:
    """A problem from nodes (lat, lon), stock {(node, sku): qty} and orders [[(sku, qty)]].

    Defaults: unlimited capacities, no handling, every node ship-enabled, 1 lb SKUs without
    volume, orders at ORDER_AT (residential), $5 per shipment, $100 per unfilled unit.
    """
    n = len(nodes)
    s = (
        n_skus
        if n_skus is not None
        else 1 + max([sku for _, sku in stock] + [sku for o in orders for sku, _ in o], default=0)
    )
    keys = sorted(stock, key=lambda k: (k[1], k[0]))
    stock_ptr = np.zeros(s + 1, dtype=np.int64)
    for _, sku in keys:
        stock_ptr[sku + 1] += 1
    at = list(order_at) if order_at is not None else [ORDER_AT] * len(orders)
    line_ptr = np.cumsum([0] + [len(o) for o in orders])
    return SourcingProblem(
        node_lat=np.array([lat for lat, _ in nodes], dtype=np.float64),
        node_lon=np.array([lon for _, lon in nodes], dtype=np.float64),
        node_ship_capacity=np.array(ship_capacity or [UNLIMITED] * n, dtype=np.int64),
        node_unit_capacity=np.array(unit_capacity or [UNLIMITED] * n, dtype=np.int64),
        node_handling_per_shipment=np.array(handling_per_shipment or [0.0] * n),
        node_handling_per_unit=np.array(handling_per_unit or [0.0] * n),
        node_ship_enabled=np.array(ship_enabled or [True] * n, dtype=bool),
        sku_weight_lb=np.array(weight_lb or [1.0] * s, dtype=np.float64),
        sku_volume_in3=np.array(volume_in3 or [0.0] * s, dtype=np.float64),
        stock_sku_ptr=np.cumsum(stock_ptr),
        stock_node=np.array([node for node, _ in keys], dtype=np.int64),
        stock_qty=np.array([stock[k] for k in keys], dtype=np.int64),
        order_lat=np.array([lat for lat, _ in at], dtype=np.float64),
        order_lon=np.array([lon for _, lon in at], dtype=np.float64),
        order_residential=np.array(residential or [True] * len(orders), dtype=bool),
        order_line_ptr=np.asarray(line_ptr, dtype=np.int64),
        line_sku=np.array([sku for o in orders for sku, _ in o], dtype=np.int64),
        line_qty=np.array([qty for o in orders for _, qty in o], dtype=np.int64),
        shipping=shipping or LinearCost(per_shipment=5.0),
        penalties=penalties or OrderPenalties(unfilled_per_unit=100.0),
    )


def random_problem(
    seed: int,
    *,
    n_nodes: int = 4,
    n_skus: int = 3,
    n_orders: int = 5,
    max_lines: int = 3,
    max_qty: int = 2,
    scarce: bool | None = None,
    max_shipments: int | None = None,
    max_stock: int | None = None,
    capacities: bool = True,
) -> SourcingProblem:
    """A random problem (numpy Generator(seed)): binding capacities when `scarce`, both
    cost models, split penalty, a cap on shipments; costs continuous, so ties are rare.
    Stock positions hold 1..max_stock units (default 2 when scarce, else 5); without
    `capacities` every node can ship any number of shipments and units."""
    rng = np.random.default_rng(seed)
    scarce = bool(rng.random() < 0.5) if scarce is None else scarce

    def places(k: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.uniform(30.0, 47.0, k), rng.uniform(-122.0, -72.0, k)

    node_lat, node_lon = places(n_nodes)
    order_lat, order_lon = places(n_orders)
    caps = [0, 1, 2, 3, UNLIMITED] if scarce else [2, 6, UNLIMITED, UNLIMITED]
    unit_caps = [1, 2, 4, UNLIMITED] if scarce else [6, 12, UNLIMITED, UNLIMITED]
    if not capacities:
        caps = unit_caps = [UNLIMITED]
    stock: dict[tuple[int, int], int] = {}
    for n in range(n_nodes):
        for sku in range(n_skus):
            if rng.random() < (0.6 if scarce else 0.8):
                top = max_stock if max_stock is not None else 2 if scarce else 5
                stock[(n, sku)] = int(rng.integers(1, top + 1))
    orders = []
    for _ in range(n_orders):
        k = int(rng.integers(1, min(max_lines, n_skus) + 1))
        skus = rng.choice(n_skus, size=k, replace=False)
        orders.append([(int(sku), int(rng.integers(1, max_qty + 1))) for sku in skus])
    shipping: ShipmentCostModel = (
        default_us_ground()
        if rng.random() < 0.5
        else LinearCost(
            per_shipment=float(rng.uniform(2.0, 9.0)),
            per_unit=float(rng.uniform(0.0, 1.5)),
            per_unit_mile=float(rng.uniform(0.0, 0.004)),
        )
    )
    if max_shipments is None:
        max_shipments = int(rng.choice([UNLIMITED, UNLIMITED, 1, 2, 3]))
    penalties = OrderPenalties(
        unfilled_per_unit=float(rng.uniform(30.0, 250.0)),
        split=float(rng.choice([0.0, rng.uniform(0.5, 5.0)])),
        max_shipments=max_shipments,
    )
    return make_problem(
        list(zip(node_lat.tolist(), node_lon.tolist(), strict=True)),
        stock,
        orders,
        n_skus=n_skus,
        order_at=list(zip(order_lat.tolist(), order_lon.tolist(), strict=True)),
        ship_capacity=[int(rng.choice(caps)) for _ in range(n_nodes)],
        unit_capacity=[int(rng.choice(unit_caps)) for _ in range(n_nodes)],
        handling_per_shipment=rng.uniform(0.0, 3.0, n_nodes).tolist(),
        handling_per_unit=rng.uniform(0.0, 1.0, n_nodes).tolist(),
        ship_enabled=(rng.random(n_nodes) < 0.85).tolist(),
        weight_lb=rng.uniform(0.2, 12.0, n_skus).tolist(),
        volume_in3=(rng.uniform(100.0, 3000.0, n_skus) * (rng.random(n_skus) < 0.5)).tolist(),
        residential=(rng.random(n_orders) < 0.7).tolist(),
        shipping=shipping,
        penalties=penalties,
    )


def reference_allocation(
    batch: Batch, problem: SourcingProblem, solution: ReferenceSolution
) -> Allocation:
    """The reference MIP's plan in the compiled problem's indices (orders, nodes, lines)."""
    node_index = {node.id: k for k, node in enumerate(batch.nodes)}
    sku_index = {item.sku: k for k, item in enumerate(batch.items)}
    lines: list[int] = []
    nodes: list[int] = []
    qtys: list[int] = []
    for o, order in enumerate(batch.orders):
        own = range(int(problem.order_line_ptr[o]), int(problem.order_line_ptr[o + 1]))
        line_of = {int(problem.line_sku[ln]): ln for ln in own}
        for node_id, content in solution.shipments[order.id].items():
            for sku, qty in content.items():
                lines.append(line_of[sku_index[sku]])
                nodes.append(node_index[node_id])
                qtys.append(qty)
    return Allocation(
        np.array(lines, dtype=np.int64), np.array(nodes, dtype=np.int64), np.array(qtys)
    )


def allocation_set(alloc: Allocation) -> set[tuple[int, int, int]]:
    """An allocation as a set of (line, node, qty), to compare plans regardless of order."""
    return set(zip(alloc.line.tolist(), alloc.node.tolist(), alloc.qty.tolist(), strict=True))
