"""Cost of a plan, recomputed from the problem: the one place solvers price shipments."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models import ShipmentCostModel, handling_cost
from sourcing_engine.solvers.arrays import unique
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation, PlanCosts

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def shipment_costs(
    problem: SourcingProblem,
    order: IntArray,
    node: IntArray,
    weight_lb: NDArray[Any],
    volume_in3: NDArray[Any],
    units: NDArray[Any],
    distance_miles: FloatArray | None = None,
    shipping: ShipmentCostModel | None = None,
) -> FloatArray:
    """Carrier charge (by the problem's cost model unless another is given) plus node
    handling for shipments of the given contents."""
    if distance_miles is None:
        distance_miles = problem.distance_miles(order, node)
    carrier = (shipping or problem.shipping).shipment_cost(
        distance_miles, weight_lb, volume_in3, units, problem.order_residential[order]
    )
    handling = handling_cost(
        problem.node_handling_per_shipment[node], problem.node_handling_per_unit[node], units
    )
    result: FloatArray = carrier + handling
    return result


def evaluate(
    problem: SourcingProblem, allocation: Allocation, shipping: ShipmentCostModel | None = None
) -> PlanCosts:
    """Group an allocation into shipments and price every term of the objective (the
    shipments by `shipping` if given: another service of the carrier)."""
    order_of = problem.line_order[allocation.line]
    sku = problem.line_sku[allocation.line]
    key = order_of * problem.n_nodes + allocation.node
    keys, inverse = np.unique(key, return_inverse=True)
    n_ship = len(keys)
    ship_order = keys // problem.n_nodes
    ship_node = keys % problem.n_nodes
    qty = allocation.qty.astype(np.float64)
    weight = np.bincount(inverse, qty * problem.sku_weight_lb[sku], minlength=n_ship)
    volume = np.bincount(inverse, qty * problem.sku_volume_in3[sku], minlength=n_ship)
    units = np.bincount(inverse, qty, minlength=n_ship)
    cost = shipment_costs(problem, ship_order, ship_node, weight, volume, units, shipping=shipping)

    n_orders = problem.n_orders
    order_shipments = np.bincount(ship_order, minlength=n_orders).astype(np.int64)
    ordered = np.bincount(problem.line_order, problem.line_qty, minlength=n_orders)
    shipped = np.bincount(order_of, qty, minlength=n_orders)
    unfilled = np.rint(ordered - shipped).astype(np.int64)
    order_cost = np.bincount(ship_order, cost, minlength=n_orders) + (
        problem.penalties.order_penalty(order_shipments, unfilled)
    )
    return PlanCosts(
        shipment_order=ship_order,
        shipment_node=ship_node,
        shipment_units=np.rint(units).astype(np.int64),
        shipment_cost=cost,
        order_shipments=order_shipments,
        order_unfilled_units=unfilled,
        order_cost=order_cost,
    )


def feasibility_errors(problem: SourcingProblem, allocation: Allocation) -> list[str]:
    """Constraint violations of an allocation (empty when feasible); for solver self-checks."""
    errors: list[str] = []
    if len(allocation) == 0:
        return errors
    if allocation.line.min() < 0 or allocation.line.max() >= problem.n_lines:
        return ["allocation refers to a line that does not exist"]
    if allocation.node.min() < 0 or allocation.node.max() >= problem.n_nodes:
        return ["allocation refers to a node that does not exist"]
    pair = allocation.line * problem.n_nodes + allocation.node
    if len(unique(pair)) != len(pair):
        errors.append("a (line, node) pair appears twice")
    per_line = np.bincount(allocation.line, allocation.qty, minlength=problem.n_lines)
    if np.any(per_line > problem.line_qty):
        errors.append(f"{int(np.sum(per_line > problem.line_qty))} lines get more than ordered")
    sku = problem.line_sku[allocation.line]
    entry = problem.stock_entry(allocation.node, sku)
    if np.any(entry < 0):
        errors.append("units taken from a node that does not stock the SKU")
    else:
        used = np.bincount(entry, allocation.qty, minlength=len(problem.stock_qty))
        if np.any(used > problem.stock_qty):
            errors.append(f"{int(np.sum(used > problem.stock_qty))} stock positions oversold")
    if np.any(~problem.node_ship_enabled[allocation.node]):
        errors.append("units shipped from a node that is not ship-enabled")
    costs = evaluate(problem, allocation)
    ships = np.bincount(costs.shipment_node, minlength=problem.n_nodes)
    units = np.bincount(costs.shipment_node, costs.shipment_units, minlength=problem.n_nodes)
    if np.any(ships > problem.node_ship_capacity):
        errors.append("a node's shipment capacity is exceeded")
    if np.any(units > problem.node_unit_capacity):
        errors.append("a node's unit capacity is exceeded")
    if np.any(costs.order_shipments > problem.penalties.max_shipments):
        errors.append("an order has more shipments than allowed")
    return errors
