"""The one bridge between the domain and the solvers: domain data -> `SourcingProblem` ->
policy -> `Result` -> plans with ids and costs.

Batch files and the live service both go through here. A batch sources its orders on its
inventory's sourceable stock (on hand minus safety stock). The live service sources on the
ledger's *available* stock (on hand minus safety stock, allocations and unexpired holds),
so the engine only ever proposes units the store can still give; the store re-checks them
atomically when it allocates them. One order is solved with `greedy-cost`, which on one
order is the exact single-order pricing; a batch with the joint `optimal` policy.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models import OrderPenalties, ShipmentCostModel, default_us_ground
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.domain import (
    DEFAULT_UNFILLED_PENALTY,
    Batch,
    Destination,
    Item,
    Line,
    Node,
    Order,
    Plan,
    Position,
    Shipment,
    Unit,
)
from sourcing_engine.errors import InsufficientStock, Shortage, UnknownItems
from sourcing_engine.exchange import PlanSpec, plan_spec
from sourcing_engine.lookahead.planner import (
    LOOKAHEAD,
    Sample,
    known_orders,
    sample_prices,
    source_lookahead,
)
from sourcing_engine.solvers import Allocation, PlanCosts, Result, SourcingProblem, solve
from sourcing_engine.solvers.evaluate import evaluate

IntArray = NDArray[np.int64]
Capacities = tuple[IntArray, IntArray]
"""Shipments and units each node may take, by node index."""


def _frozen(values: Sequence[object], dtype: type) -> NDArray[Any]:
    a: NDArray[Any] = np.array(values, dtype=dtype)
    a.setflags(write=False)
    return a


class Network:
    """Nodes with their solver arrays, built once and shared by every problem over them
    (the live service keeps one while its node list is fresh)."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = tuple(nodes)
        self.ids = [n.id for n in self.nodes]
        self.index = {node_id: i for i, node_id in enumerate(self.ids)}
        self.lat = _frozen([n.lat for n in nodes], np.float64)
        self.lon = _frozen([n.lon for n in nodes], np.float64)
        self.ship_capacity = _frozen([_cap(n.ship_capacity) for n in nodes], np.int64)
        self.unit_capacity = _frozen([_cap(n.unit_capacity) for n in nodes], np.int64)
        self.handling_per_shipment = _frozen([n.handling_per_shipment for n in nodes], np.float64)
        self.handling_per_unit = _frozen([n.handling_per_unit for n in nodes], np.float64)
        self.ship_enabled = _frozen([n.ship_enabled for n in nodes], np.bool_)
        self.unlimited = _frozen([UNLIMITED] * len(self.nodes), np.int64)

    def __len__(self) -> int:
        return len(self.nodes)


def _cap(value: int | None) -> int:
    return UNLIMITED if value is None else value


def build_problem(
    network: Network,
    items: Sequence[Item],
    stock: tuple[IntArray, IntArray, IntArray],
    orders: Sequence[Order],
    shipping: ShipmentCostModel,
    penalties: OrderPenalties,
    *,
    capacities: bool | Capacities = True,
) -> SourcingProblem:
    """The solver arrays of orders over a network: nodes and items by index, each order's
    lines by the index of their SKU in `items`.

    stock: (SKU index, node index, units) columns, one entry per SKU and node, in any order;
    entries without units (<= 0) are left out. capacities=False: every node unlimited; or
    the (shipments, units) each node may still take (the live service's left for the day).
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

    net = network
    if isinstance(capacities, tuple):
        ship_cap, unit_cap = capacities
    else:
        ship_cap, unit_cap = (
            (net.ship_capacity, net.unit_capacity) if capacities else (net.unlimited,) * 2
        )
    return SourcingProblem(
        node_lat=net.lat,
        node_lon=net.lon,
        node_ship_capacity=ship_cap,
        node_unit_capacity=unit_cap,
        node_handling_per_shipment=net.handling_per_shipment,
        node_handling_per_unit=net.handling_per_unit,
        node_ship_enabled=net.ship_enabled,
        sku_weight_lb=np.array([it.weight_lb for it in items], dtype=np.float64),
        sku_volume_in3=np.array([it.volume_in3 for it in items], dtype=np.float64),
        stock_sku_ptr=stock_ptr,
        stock_node=stock_node[keep][by_sku_node],
        stock_qty=stock_qty[keep][by_sku_node],
        order_lat=np.array([o.destination.lat for o in orders], dtype=np.float64),
        order_lon=np.array([o.destination.lon for o in orders], dtype=np.float64),
        order_residential=np.array([o.destination.residential for o in orders], dtype=bool),
        order_line_ptr=line_ptr,
        line_sku=line_sku,
        line_qty=line_qty,
        shipping=shipping,
        penalties=penalties,
    )


def read_plans(
    problem: SourcingProblem,
    allocation: Allocation,
    costs: PlanCosts,
    order_ids: Sequence[str],
    node_ids: Sequence[str],
    skus: Sequence[str],
    currency: str,
) -> list[Plan]:
    """Each order's plan, by id: its shipments with their costs (as the solver priced them:
    `costs` is the allocation's), its lines left unfilled, and the order's cost."""
    alloc = allocation
    # shipment index of every allocation entry, in the order the costs group them
    ship_key = costs.shipment_order * problem.n_nodes + costs.shipment_node
    entry_key = problem.line_order[alloc.line] * problem.n_nodes + alloc.node
    entry_ship = np.searchsorted(ship_key, entry_key)
    by_ship = np.lexsort((alloc.line, entry_ship))
    ship_ptr = np.searchsorted(entry_ship[by_ship], np.arange(len(ship_key) + 1))
    order_ship_ptr = np.searchsorted(costs.shipment_order, np.arange(problem.n_orders + 1))
    shipped = (
        np.bincount(alloc.line, alloc.qty, minlength=problem.n_lines).astype(np.int64).tolist()
    )

    line_sku, line_qty = problem.line_sku.tolist(), problem.line_qty.tolist()
    entry_line, entry_qty = alloc.line[by_ship].tolist(), alloc.qty[by_ship].tolist()
    ship_node, ship_cost = costs.shipment_node.tolist(), costs.shipment_cost.tolist()
    ship_ptr_l, order_ship_l = ship_ptr.tolist(), order_ship_ptr.tolist()
    line_ptr, order_cost = problem.order_line_ptr.tolist(), costs.order_cost.tolist()
    plans: list[Plan] = []
    for o, order_id in enumerate(order_ids):
        shipments = tuple(
            Shipment(
                node=node_ids[ship_node[s]],
                lines=tuple(
                    Line(skus[line_sku[entry_line[e]]], entry_qty[e])
                    for e in range(ship_ptr_l[s], ship_ptr_l[s + 1])
                ),
                cost=round(ship_cost[s], 6),
            )
            for s in range(order_ship_l[o], order_ship_l[o + 1])
        )
        unfilled = tuple(
            Line(skus[line_sku[ln]], line_qty[ln] - shipped[ln])
            for ln in range(line_ptr[o], line_ptr[o + 1])
            if line_qty[ln] > shipped[ln]
        )
        plans.append(Plan(order_id, shipments, unfilled, round(order_cost[o], 6), currency))
    return plans


def plan_units(plan: Plan) -> tuple[Unit, ...]:
    """The units a plan takes, per node and SKU, sorted."""
    return tuple(
        sorted(
            (Unit(s.node, ln.sku, ln.qty) for s in plan.shipments for ln in s.lines),
            key=lambda u: (u.node, u.sku),
        )
    )


# --- batches ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CompiledBatch:
    """A batch and its solver problem (nodes, SKUs and orders in the batch's order)."""

    batch: Batch
    problem: SourcingProblem

    def plans(self, result: Result) -> list[Plan]:
        """Each order's plan with ids and the costs the solver computed."""
        b = self.batch
        return read_plans(
            self.problem, result.allocation, result.costs, [o.id for o in b.orders],
            [n.id for n in b.nodes], [i.sku for i in b.items], b.currency,
        )  # fmt: skip

    def plan_document(self, result: Result) -> PlanSpec:
        """The `sourcing-plan/1` document of a policy's result on this batch."""
        return plan_spec(result, self.plans(result), self.batch.currency)


def compile_batch(batch: Batch) -> CompiledBatch:
    """Build the read-only solver arrays of a batch."""
    inv = batch.inventory
    problem = build_problem(
        Network(batch.nodes), batch.items, (inv.item, inv.node, inv.sourceable), batch.orders,
        batch.shipping, batch.penalties,
    )  # fmt: skip
    return CompiledBatch(batch=batch, problem=problem)


# --- live stock ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourcingConfig:
    """The live service's cost model and penalties (service configuration, not per
    request)."""

    shipping: ShipmentCostModel = field(default_factory=default_us_ground)
    unfilled_penalty_per_unit: float = DEFAULT_UNFILLED_PENALTY
    split_penalty: float = 0.0
    max_shipments_per_order: int | None = None

    @property
    def penalties(self) -> OrderPenalties:
        return OrderPenalties(
            unfilled_per_unit=self.unfilled_penalty_per_unit,
            split=self.split_penalty,
            max_shipments=self.max_shipments_per_order or UNLIMITED,
        )


@dataclass(frozen=True)
class Sourced:
    """The engine's answer for one order: its plan (units per node, with costs), and the
    lines it could not cover."""

    order: Order
    plan: Plan
    shortages: tuple[Shortage, ...]

    @property
    def units(self) -> tuple[Unit, ...]:
        return plan_units(self.plan)

    def require_complete(self) -> Plan:
        """The plan, or InsufficientStock with every short line: no partial allocations."""
        if self.shortages:
            raise InsufficientStock(self.shortages)
        return self.plan


def check_items(skus: Collection[str], items: Mapping[str, Item]) -> None:
    """UnknownItems naming every SKU the network has no item record (weight, size) for."""
    unknown = sorted(s for s in skus if s not in items)
    if unknown:
        raise UnknownItems(unknown)


class _Sourcing:
    """A network and the items of one sourcing, with the SKU <-> index maps."""

    def __init__(self, network: Network, items: Sequence[Item]) -> None:
        self.network = network
        self.items = items
        self.skus = [it.sku for it in items]
        self.sku_index = {s: i for i, s in enumerate(self.skus)}

    def problem(
        self,
        orders: Sequence[Order],
        stock: dict[tuple[int, int], int],
        config: SourcingConfig,
        *,
        capacities: bool | Capacities,
    ) -> SourcingProblem:
        """stock: (sku index, node index) -> units the engine may take (> 0)."""
        keys = list(stock)
        columns = (
            np.fromiter((s for s, _ in keys), dtype=np.int64, count=len(keys)),
            np.fromiter((n for _, n in keys), dtype=np.int64, count=len(keys)),
            np.fromiter((stock[k] for k in keys), dtype=np.int64, count=len(keys)),
        )
        return build_problem(
            self.network, self.items, columns, orders, config.shipping, config.penalties,
            capacities=capacities,
        )  # fmt: skip

    def plans(
        self,
        problem: SourcingProblem,
        orders: Sequence[Order],
        allocation: Allocation,
        costs: PlanCosts,
        currency: str,
    ) -> list[Plan]:
        return read_plans(
            problem, allocation, costs, [o.id for o in orders], self.network.ids, self.skus,
            currency,
        )  # fmt: skip


def source(
    orders: Sequence[Order],
    network: Network,
    items: dict[str, Item],
    positions: Sequence[Position],
    config: SourcingConfig,
    *,
    exclude: Collection[str] = (),
    joint_time_limit: float | None = None,
    capacity_left: Capacities | None = None,
) -> list[Sourced]:
    """Source orders on the available stock of `positions`, never from `exclude` nodes
    (`source_batch` without the solver's result)."""
    return source_batch(
        orders, network, items, positions, config, exclude=exclude,
        joint_time_limit=joint_time_limit, capacity_left=capacity_left,
    )[0]  # fmt: skip


def source_batch(
    orders: Sequence[Order],
    network: Network,
    items: dict[str, Item],
    positions: Sequence[Position],
    config: SourcingConfig,
    *,
    exclude: Collection[str] = (),
    joint_time_limit: float | None = None,
    capacity_left: Capacities | None = None,
    policy: str | None = None,
    forecast: Sample | None = None,
) -> tuple[list[Sourced], Result]:
    """Source orders on the available stock of `positions`, never from `exclude` nodes;
    each order's plan, and the policy's result for the whole (status, cost, bound, gap).

    One order (or joint_time_limit None) is solved with `greedy-cost`: orders in sequence,
    each given its exact cheapest plan against what the ones before it left. With a time
    limit the orders are solved jointly with `optimal`. capacity_left: what each node may
    still ship (shipments, units), for single orders too; else a joint solve respects the
    nodes' capacities and a single order none. (Both take an order too large to
    price exactly with the cheaper of the `fewest-splits` and `closest` rules.) policy: the
    policy to solve with instead (a batch's choice), within joint_time_limit; `lookahead`
    prices the resources with the forecast sample's relaxation on the same stock and
    capacity (none: as greedy-cost).
    """
    skus = sorted({ln.sku for o in orders for ln in o.lines})
    check_items(skus, items)
    sample = known_orders(forecast.orders, items) if forecast is not None else []
    skus = sorted({*skus, *(ln.sku for o in sample for ln in o.lines)})
    net = _Sourcing(network, [items[s] for s in skus])
    excluded = set(exclude)
    stock: dict[tuple[int, int], int] = {}
    for p in positions:
        n = network.index.get(p.node)
        s = net.sku_index.get(p.sku)
        if n is None or s is None or p.node in excluded:
            continue
        stock[(s, n)] = stock.get((s, n), 0) + p.available

    capacities = capacity_left if capacity_left is not None else joint_time_limit is not None
    problem = net.problem(orders, stock, config, capacities=capacities)
    if policy == LOOKAHEAD:
        day = None
        if forecast is not None:
            sampled = replace(forecast, orders=tuple(sample))
            day = sample_prices(
                sampled, lambda some: net.problem(some, stock, config, capacities=capacities)
            )
        result = source_lookahead(problem, day)
    elif policy is not None:
        result = solve(problem, policy, time_limit=joint_time_limit or 10.0)
    elif joint_time_limit is None or len(orders) == 1:
        result = solve(problem, "greedy-cost")
    else:
        result = solve(problem, "optimal", time_limit=joint_time_limit)
    found = net.plans(problem, orders, result.allocation, result.costs, config.shipping.currency)
    plans = {p.order_id: p for p in found}
    return [
        Sourced(o, plans[o.id], _shortages(net, o, plans[o.id], stock, excluded)) for o in orders
    ], result


def _shortages(
    net: _Sourcing,
    order: Order,
    plan: Plan,
    stock: dict[tuple[int, int], int],
    excluded: Collection[str],
) -> tuple[Shortage, ...]:
    """Every line the plan leaves short: the nodes that were tried and what they had."""
    out = []
    for line in plan.unfilled:
        s = net.sku_index[line.sku]
        tried = [
            (n.id, stock.get((s, i), 0))
            for i, n in enumerate(net.network.nodes)
            if n.ship_enabled and n.id not in excluded
        ]
        tried = [(node, q) for node, q in tried if q > 0]
        out.append(
            Shortage(
                sku=line.sku,
                nodes=tuple(sorted(node for node, _ in tried)),
                requested=order.quantities[line.sku],
                available=sum(q for _, q in tried),
            )
        )
    return tuple(out)


def price(
    destination: Destination,
    units: Sequence[Unit],
    network: Network,
    items: dict[str, Item],
    config: SourcingConfig,
) -> Plan:
    """The plan of units going to a destination (an order's after a step, a hold's when it
    is committed to another destination), each shipment priced with the cost model.

    Pricing only: the plan was feasible when made; capacities and enablement do not apply.
    A node no longer in the network (nodes are never deleted, but a plan must still
    render) keeps its shipment, priced at 0, rather than failing the whole request.
    """
    merged: dict[tuple[str, str], int] = {}
    for u in units:
        merged[(u.node, u.sku)] = merged.get((u.node, u.sku), 0) + u.qty
    currency = config.shipping.currency
    priced = {k: q for k, q in merged.items() if k[0] in network.index}
    missing = tuple(
        Shipment(node, tuple(Line(s, q) for (n, s), q in sorted(merged.items()) if n == node), 0.0)
        for node in sorted({n for n, _ in merged if n not in network.index})
    )
    if not priced:
        return Plan("", missing, (), 0.0, currency)
    totals: dict[str, int] = {}
    for (_, sku), qty in priced.items():
        totals[sku] = totals.get(sku, 0) + qty
    skus = sorted(totals)
    check_items(skus, items)
    net = _Sourcing(network, [items[s] for s in skus])
    order = Order.of("", destination, sorted(totals.items()))
    stock = {(net.sku_index[s], network.index[n]): q for (n, s), q in priced.items()}
    problem = net.problem([order], stock, config, capacities=False)
    line_of = {ln.sku: i for i, ln in enumerate(order.lines)}
    keys = sorted(priced)
    alloc = Allocation(
        np.array([line_of[s] for _, s in keys], dtype=np.int64),
        np.array([network.index[n] for n, _ in keys], dtype=np.int64),
        np.array([priced[k] for k in keys], dtype=np.int64),
    )
    plan = net.plans(problem, [order], alloc, evaluate(problem, alloc), currency)[0]
    if not missing:
        return plan
    shipments = tuple(sorted((*plan.shipments, *missing), key=lambda s: s.node))
    return Plan("", shipments, (), plan.cost, currency)
