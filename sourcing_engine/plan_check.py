"""An independent check of a `sourcing-plan/1` document against its batch.

Everything is recomputed from the batch as docs/exchange-format.md defines it: which nodes
may ship, how much stock each node may give, capacities, shipments per order, the price of
every shipment, every order's cost and the objective. Nothing here comes from `solvers` or
`sourcing_engine.compile`: the point is to catch their mistakes, so this module shares none
of their logic. Only the carrier's price of one parcel is taken from `cost_models` (the
shipping model of the batch, `haversine_miles` and `handling_cost`), which is tested on its
own against hand-computed prices.

Written plainly (dicts and loops) for clarity; prices are computed in one vectorized call so
that a plan of 50,000 orders is checked in a few seconds.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sourcing_engine.cost_models import handling_cost, haversine_miles
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.domain import Batch, Node, Order
from sourcing_engine.exchange import PlanLine, PlanSpec
from sourcing_engine.lookahead.planner import LOOKAHEAD
from sourcing_engine.solvers import POLICIES as SOLVER_POLICIES

POLICIES = tuple(SOLVER_POLICIES)
STATUSES = ("optimal", "feasible", "heuristic")


@dataclass(frozen=True)
class CheckedShipment:
    """One shipment of the plan with its recomputed price.

    cost is the carrier price plus the node's handling recomputed from the batch; where it
    cannot be recomputed (unknown node or SKU, already reported as an error) it is the
    plan's own figure, so that one mistake is reported once and not again in every total.
    """

    order: str
    node: str
    lines: dict[str, int]
    units: int
    cost: float
    claimed_cost: float


@dataclass(frozen=True)
class ValidationReport:
    """What the validator found: every violation, and the plan's costs recomputed.

    objective and order_costs cover the orders of the batch that the plan lists (first
    listing of each); an order the plan leaves out is reported and has no cost here.
    """

    errors: list[str]
    objective: float
    order_costs: dict[str, float]
    shipments: list[CheckedShipment] = field(default_factory=list)
    unfilled_units: dict[str, int] = field(default_factory=dict)
    order_shipments: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def shipment_count(self) -> int:
        return len(self.shipments)

    @property
    def total_unfilled_units(self) -> int:
        return sum(self.unfilled_units.values())


def _close(claimed: float, actual: float, rel_tol: float, abs_tol: float) -> bool:
    return abs(claimed - actual) <= abs_tol + rel_tol * abs(actual)


def _positive_whole(qty: object) -> bool:
    """A plan quantity: a whole number >= 1 (a bool is not a quantity)."""
    return isinstance(qty, int) and not isinstance(qty, bool) and qty >= 1


def _sum_lines(lines: Sequence[PlanLine]) -> dict[str, int]:
    """Units per SKU of a list of plan lines (two lines of one SKU are summed)."""
    out: dict[str, int] = {}
    for line in lines:
        out[line.sku] = out.get(line.sku, 0) + line.qty
    return out


def order_demand(order: Order) -> dict[str, int]:
    """Units ordered per SKU (lines of one SKU summed, as the exchange format says)."""
    out: dict[str, int] = {}
    for line in order.lines:
        out[line.sku] = out.get(line.sku, 0) + line.qty
    return out


def sourceable_stock(batch: Batch) -> dict[tuple[str, str], int]:
    """Units each (node id, SKU) may give: max(on_hand - safety_stock, 0) per position."""
    inv = batch.inventory
    stock: dict[tuple[str, str], int] = {}
    for n, s, on_hand, safety in zip(
        inv.node.tolist(),
        inv.item.tolist(),
        inv.on_hand.tolist(),
        inv.safety_stock.tolist(),
        strict=True,
    ):
        key = (batch.nodes[n].id, batch.items[s].sku)
        stock[key] = stock.get(key, 0) + max(on_hand - safety, 0)
    return stock


def shipment_prices(
    batch: Batch, shipments: Sequence[tuple[Order, Node, Mapping[str, int]]]
) -> list[float]:
    """Carrier price plus handling of each (order, node, units per SKU) shipment.

    Every SKU must be one of the batch's items. The totals (weight, volume, units) are
    summed here; the carrier's price of the resulting parcel is the batch's cost model's.
    """
    items = {item.sku: item for item in batch.items}
    count = len(shipments)
    node_lat = np.empty(count)
    node_lon = np.empty(count)
    dest_lat = np.empty(count)
    dest_lon = np.empty(count)
    weight = np.zeros(count)
    volume = np.zeros(count)
    units = np.zeros(count)
    residential = np.zeros(count, dtype=bool)
    per_shipment = np.empty(count)
    per_unit = np.empty(count)
    for k, (order, node, lines) in enumerate(shipments):
        node_lat[k], node_lon[k] = node.lat, node.lon
        dest_lat[k], dest_lon[k] = order.destination.lat, order.destination.lon
        residential[k] = order.destination.residential
        per_shipment[k] = node.handling_per_shipment
        per_unit[k] = node.handling_per_unit
        w = v = 0.0
        u = 0
        for sku, qty in lines.items():
            w += qty * items[sku].weight_lb
            v += qty * items[sku].volume_in3
            u += qty
        weight[k], volume[k], units[k] = w, v, u
    if count == 0:
        return []
    distance = haversine_miles(node_lat, node_lon, dest_lat, dest_lon)
    carrier = batch.shipping.shipment_cost(distance, weight, volume, units, residential)
    total = np.asarray(carrier, dtype=np.float64) + handling_cost(per_shipment, per_unit, units)
    return [float(c) for c in total]


def validate_plan(
    batch: Batch, plan: PlanSpec, *, rel_tol: float = 1e-6, abs_tol: float = 1e-6
) -> ValidationReport:
    """Check a plan against its batch: feasibility, every cost and the claimed bound.

    Costs match when |claimed - recomputed| <= abs_tol + rel_tol * |recomputed|.
    """
    errors: list[str] = []
    nodes = {node.id: node for node in batch.nodes}
    skus = {item.sku for item in batch.items}
    orders = {order.id: order for order in batch.orders}
    stock = sourceable_stock(batch)
    pen = batch.penalties

    if plan.currency != batch.currency:
        errors.append(f'plan currency "{plan.currency}", the batch\'s is "{batch.currency}"')
    known = [*POLICIES, LOOKAHEAD]  # lookahead: the replay's, not in the registry
    if plan.policy not in known:
        errors.append(f'policy "{plan.policy}" is not one of {", ".join(known)}')
    if plan.status not in STATUSES:
        errors.append(f'status "{plan.status}" is not one of {", ".join(STATUSES)}')

    # --- which orders the plan lists ----------------------------------------------------
    listed: dict[str, int] = {}  # order id -> index of its first listing in the plan
    for k, plan_order in enumerate(plan.orders):
        if plan_order.id not in orders:
            errors.append(f'plan order "{plan_order.id}" is not an order of the batch')
        elif plan_order.id in listed:
            errors.append(f'order "{plan_order.id}" appears more than once in the plan')
        else:
            listed[plan_order.id] = k
    missing = [order.id for order in batch.orders if order.id not in listed]
    for order_id in missing:
        errors.append(f'order "{order_id}" is missing from the plan')
    if not missing:
        positions = [listed[order.id] for order in batch.orders]
        if positions != sorted(positions):
            errors.append("plan orders are not in the batch's order")

    # --- per-order checks; gather the shipments to price --------------------------------
    to_price: list[tuple[Order, Node, Mapping[str, int]]] = []
    priced_index: list[int] = []  # index into to_price, or -1 where it cannot be priced
    shipment_rows: list[tuple[str, str, dict[str, int], int, float]] = []
    shipped_at: dict[tuple[str, str], int] = {}  # (node id, sku) -> units shipped
    node_shipments: dict[str, int] = {}
    node_units: dict[str, int] = {}
    unfilled_units: dict[str, int] = {}
    order_shipments: dict[str, int] = {}
    checked_orders: list[tuple[str, int, int]] = []  # (order id, first shipment row, rows)

    for k, plan_order in enumerate(plan.orders):
        if listed.get(plan_order.id) != k:
            continue  # unknown or repeated: reported above, not costed
        order = orders[plan_order.id]
        where = f'order "{order.id}"'
        demand = order_demand(order)
        shipped: dict[str, int] = {}
        first_row = len(shipment_rows)
        seen_nodes: set[str] = set()
        for shipment in plan_order.shipments:
            at = f'{where}, shipment from node "{shipment.node}"'
            node = nodes.get(shipment.node)
            if node is None:
                errors.append(f'{at}: node "{shipment.node}" is not a node of the batch')
            elif not node.ship_enabled:
                errors.append(f'{at}: node "{shipment.node}" is not ship-enabled')
            if shipment.node in seen_nodes:
                errors.append(f'{where}: more than one shipment from node "{shipment.node}"')
            seen_nodes.add(shipment.node)
            for line in shipment.lines:
                if not _positive_whole(line.qty):
                    errors.append(f'{at}, SKU "{line.sku}": qty {line.qty!r} is not >= 1')
            lines = _sum_lines(shipment.lines)
            if not lines:
                errors.append(f"{at}: the shipment has no lines")
            priceable = node is not None
            for sku, qty in lines.items():
                if sku not in skus:
                    errors.append(f'{at}: SKU "{sku}" is not an item of the batch')
                    priceable = False
                elif sku not in demand:
                    errors.append(f'{at}: SKU "{sku}" is not on the order')
                shipped[sku] = shipped.get(sku, 0) + qty
                if node is not None:
                    shipped_at[(node.id, sku)] = shipped_at.get((node.id, sku), 0) + qty
            units = sum(lines.values())
            if node is not None:
                node_shipments[node.id] = node_shipments.get(node.id, 0) + 1
                node_units[node.id] = node_units.get(node.id, 0) + units
            if priceable:
                assert node is not None
                priced_index.append(len(to_price))
                to_price.append((order, node, lines))
            else:
                priced_index.append(-1)
            shipment_rows.append((order.id, shipment.node, lines, units, shipment.cost))

        for line in plan_order.unfilled:
            if line.sku not in demand:
                errors.append(f'{where}: unfilled SKU "{line.sku}" is not on the order')
            if not _positive_whole(line.qty):
                errors.append(f'{where}, unfilled SKU "{line.sku}": qty {line.qty!r} is not >= 1')
        claimed_unfilled = _sum_lines(plan_order.unfilled)
        missing_units = 0
        for sku, ordered in demand.items():
            sent = shipped.get(sku, 0)
            left = claimed_unfilled.get(sku, 0)
            if sent > ordered:
                errors.append(f'{where}, SKU "{sku}": {sent} units shipped but {ordered} ordered')
            elif sent + left != ordered:
                errors.append(
                    f'{where}, SKU "{sku}": {sent} shipped + {left} unfilled != {ordered} ordered'
                )
            missing_units += max(ordered - sent, 0)
        n_shipments = len(plan_order.shipments)
        if pen.max_shipments != UNLIMITED and n_shipments > pen.max_shipments:
            errors.append(
                f"{where}: {n_shipments} shipments, more than max_shipments_per_order "
                f"({pen.max_shipments})"
            )
        unfilled_units[order.id] = missing_units
        order_shipments[order.id] = n_shipments
        checked_orders.append((order.id, first_row, n_shipments))

    # --- network-wide limits -----------------------------------------------------------
    for (node_id, sku), qty in shipped_at.items():
        limit = stock.get((node_id, sku), 0)
        if qty > limit:
            errors.append(
                f'node "{node_id}", SKU "{sku}": ships {qty} units, but only {limit} may be '
                f"sourced there (on hand minus safety stock)"
            )
    for node_id, count in node_shipments.items():
        cap = nodes[node_id].ship_capacity
        if cap is not None and count > cap:
            errors.append(f'node "{node_id}": {count} shipments, over its capacity of {cap}')
    for node_id, count in node_units.items():
        cap = nodes[node_id].unit_capacity
        if cap is not None and count > cap:
            errors.append(f'node "{node_id}": {count} units, over its capacity of {cap} units')

    # --- costs ------------------------------------------------------------------------
    prices = shipment_prices(batch, to_price)
    shipments: list[CheckedShipment] = []
    for (order_id, node_id, lines, units, claimed), p in zip(
        shipment_rows, priced_index, strict=True
    ):
        cost = prices[p] if p >= 0 else claimed
        if not _close(claimed, cost, rel_tol, abs_tol):
            errors.append(
                f'order "{order_id}", shipment from node "{node_id}": cost {claimed!r}, '
                f"recomputed {cost:.6f}"
            )
        shipments.append(CheckedShipment(order_id, node_id, lines, units, cost, claimed))

    order_costs: dict[str, float] = {}
    for order_id, first_row, n_shipments in checked_orders:
        cost = sum(s.cost for s in shipments[first_row : first_row + n_shipments])
        if n_shipments >= 1:
            cost += pen.split * (n_shipments - 1)
        cost += pen.unfilled_per_unit * unfilled_units[order_id]
        order_costs[order_id] = cost
        claimed = plan.orders[listed[order_id]].cost
        if not _close(claimed, cost, rel_tol, abs_tol):
            errors.append(f'order "{order_id}": cost {claimed!r}, recomputed {cost:.6f}')

    objective = math.fsum(order_costs.values())
    if not _close(plan.objective, objective, rel_tol, abs_tol):
        errors.append(f"objective {plan.objective!r}, recomputed {objective:.6f}")
    errors.extend(_bound_errors(plan, objective, rel_tol, abs_tol))
    return ValidationReport(
        errors=errors,
        objective=objective,
        order_costs=order_costs,
        shipments=shipments,
        unfilled_units=unfilled_units,
        order_shipments=order_shipments,
    )


def _bound_errors(plan: PlanSpec, objective: float, rel_tol: float, abs_tol: float) -> list[str]:
    """The bound and gap: present for solver plans, absent for rules, and consistent."""
    errors: list[str] = []
    bound, gap = plan.bound, plan.gap
    if plan.status == "heuristic" and (bound is not None or gap is not None):
        errors.append('status "heuristic" plans carry no bound and no gap (expected null)')
    if plan.status in ("optimal", "feasible") and bound is None:
        errors.append(f'status "{plan.status}" needs a proven bound, got null')
    if (bound is None) != (gap is None):
        errors.append("bound and gap must both be given or both be null")
    tol = abs_tol + rel_tol * abs(objective)
    if bound is not None and bound > objective + tol:
        errors.append(
            f"bound {bound!r} is above the plan's recomputed objective {objective:.6f}: "
            "no lower bound can exceed the cost of a valid plan"
        )
    if bound is not None and gap is not None:
        if gap < -rel_tol:
            errors.append(f"gap {gap!r} is negative")
        # gap = (objective - bound) / objective, compared in money: gap * objective
        if abs(plan.objective) > abs_tol:
            expected = (plan.objective - bound) / plan.objective
            if abs(gap - max(expected, 0.0)) * abs(plan.objective) > tol:
                errors.append(
                    f"gap {gap!r} is not (objective - bound) / objective = {expected:.9f}"
                )
        elif abs(bound) <= tol and abs(gap) > rel_tol:
            errors.append(f"gap {gap!r}: objective and bound are both 0, expected 0")
    return errors
