"""Domain batch -> solver arrays, and solver result -> plan with ids and costs."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cost_models import OrderPenalties, ShipmentCostModel
from cost_models.objective import UNLIMITED
from solvers.evaluate import evaluate
from solvers.problem import SourcingProblem
from solvers.result import Result
from solvers.shapes import supported
from sourcing_engine.domain import Batch, Item, Node, Order
from sourcing_engine.errors import InputError
from sourcing_engine.exchange import PlanLine, PlanOrder, PlanShipment, PlanSpec
from sourcing_engine.ledger import ItemRecord, NodeRecord

IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class CompiledBatch:
    """A batch and its solver problem, with the maps between ids and indices."""

    batch: Batch
    problem: SourcingProblem


def compile_batch(batch: Batch) -> CompiledBatch:
    """Build the read-only solver arrays of a batch."""
    nodes, items, orders = batch.nodes, batch.items, batch.orders
    too_large = [
        f'orders[{k}] (id "{o.id}"): {len(o.lines)} lines of '
        f"{'+'.join(str(ln.qty) for ln in o.lines)} units have too many ways to split to "
        "source exactly (the limit is 4,096 possible shipment contents); split it into "
        "smaller orders"
        for k, o in enumerate(orders)
        if not supported(tuple(sorted((ln.qty for ln in o.lines), reverse=True)))
    ]
    if too_large:
        raise InputError(too_large)
    inv = batch.inventory
    problem = build_problem(
        nodes, items, (inv.item, inv.node, inv.sourceable), orders, batch.shipping, batch.penalties
    )
    return CompiledBatch(batch=batch, problem=problem)


def build_problem(
    nodes: Sequence[Node | NodeRecord],
    items: Sequence[Item | ItemRecord],
    stock: tuple[IntArray, IntArray, IntArray],
    orders: Sequence[Order],
    shipping: ShipmentCostModel,
    penalties: OrderPenalties,
    *,
    capacities: bool = True,
) -> SourcingProblem:
    """The solver arrays of orders over a network: nodes and items by index, each order's
    lines by the index of their SKU in `items`.

    stock: (SKU index, node index, units) columns, one entry per SKU and node, in any order;
    entries without units (<= 0) are left out. capacities=False: every node unlimited.
    """
    sku_index = {it.sku: i for i, it in enumerate(items)}
    stock_sku, stock_node, stock_qty = stock
    keep = stock_qty > 0
    by_sku_node = np.lexsort((stock_node[keep], stock_sku[keep]))
    stock_ptr = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(np.bincount(stock_sku[keep], minlength=len(items)), out=stock_ptr[1:])

    line_counts = np.fromiter((len(o.lines) for o in orders), dtype=np.int64, count=len(orders))
    line_ptr = np.zeros(len(orders) + 1, dtype=np.int64)
    np.cumsum(line_counts, out=line_ptr[1:])
    line_sku = np.fromiter(
        (sku_index[ln.sku] for o in orders for ln in o.lines), dtype=np.int64, count=line_ptr[-1]
    )
    line_qty = np.fromiter(
        (ln.qty for o in orders for ln in o.lines), dtype=np.int64, count=line_ptr[-1]
    )

    def cap(v: int | None) -> int:
        return UNLIMITED if v is None or not capacities else v

    return SourcingProblem(
        node_lat=np.array([n.lat for n in nodes], dtype=np.float64),
        node_lon=np.array([n.lon for n in nodes], dtype=np.float64),
        node_ship_capacity=np.array([cap(n.ship_capacity) for n in nodes], dtype=np.int64),
        node_unit_capacity=np.array([cap(n.unit_capacity) for n in nodes], dtype=np.int64),
        node_handling_per_shipment=np.array([n.handling_per_shipment for n in nodes]),
        node_handling_per_unit=np.array([n.handling_per_unit for n in nodes]),
        node_ship_enabled=np.array([n.ship_enabled for n in nodes], dtype=bool),
        sku_weight_lb=np.array([it.weight_lb for it in items], dtype=np.float64),
        sku_volume_in3=np.array(
            [it.dims_in[0] * it.dims_in[1] * it.dims_in[2] for it in items], dtype=np.float64
        ),
        stock_sku_ptr=stock_ptr,
        stock_node=stock_node[keep][by_sku_node],
        stock_qty=stock_qty[keep][by_sku_node],
        order_lat=np.array([o.lat for o in orders], dtype=np.float64),
        order_lon=np.array([o.lon for o in orders], dtype=np.float64),
        order_residential=np.array([o.residential for o in orders], dtype=bool),
        order_line_ptr=line_ptr,
        line_sku=line_sku,
        line_qty=line_qty,
        shipping=shipping,
        penalties=penalties,
    )


def plan_from_result(compiled: CompiledBatch, result: Result) -> PlanSpec:
    """The plan document of a solver result: shipments per order with ids and costs."""
    batch, problem = compiled.batch, compiled.problem
    alloc = result.allocation
    costs = evaluate(problem, alloc)
    node_ids = [n.id for n in batch.nodes]
    skus = [it.sku for it in batch.items]

    # shipment index of every allocation entry, in the order evaluate() groups them
    ship_key = costs.shipment_order * problem.n_nodes + costs.shipment_node
    entry_key = problem.line_order[alloc.line] * problem.n_nodes + alloc.node
    entry_ship = np.searchsorted(ship_key, entry_key)
    by_ship = np.argsort(entry_ship, kind="stable")
    ship_ptr = np.searchsorted(entry_ship[by_ship], np.arange(len(ship_key) + 1))
    order_ship_ptr = np.searchsorted(costs.shipment_order, np.arange(problem.n_orders + 1))
    shipped = np.bincount(alloc.line, alloc.qty, minlength=problem.n_lines).astype(np.int64)

    orders: list[PlanOrder] = []
    line_sku = problem.line_sku.tolist()
    line_qty = problem.line_qty.tolist()
    shipped_l = shipped.tolist()
    for o, order in enumerate(batch.orders):
        shipments = []
        for s in range(order_ship_ptr[o], order_ship_ptr[o + 1]):
            entries = by_ship[ship_ptr[s] : ship_ptr[s + 1]]
            shipments.append(
                PlanShipment(
                    node=node_ids[costs.shipment_node[s]],
                    lines=[
                        PlanLine(sku=skus[line_sku[alloc.line[e]]], qty=int(alloc.qty[e]))
                        for e in sorted(entries.tolist(), key=lambda e: int(alloc.line[e]))
                    ],
                    cost=round(float(costs.shipment_cost[s]), 6),
                )
            )
        lo, hi = problem.order_line_ptr[o], problem.order_line_ptr[o + 1]
        unfilled = [
            PlanLine(sku=skus[line_sku[ln]], qty=line_qty[ln] - shipped_l[ln])
            for ln in range(lo, hi)
            if line_qty[ln] > shipped_l[ln]
        ]
        orders.append(
            PlanOrder(
                id=order.id,
                cost=round(float(costs.order_cost[o]), 6),
                shipments=shipments,
                unfilled=unfilled,
            )
        )
    return PlanSpec(
        policy=result.policy,
        status=str(result.status),
        currency=batch.currency,
        objective=round(result.objective, 6),
        bound=None if result.bound is None else round(result.bound, 6),
        gap=result.gap,
        runtime_s=round(result.runtime_s, 4),
        orders=orders,
    )
