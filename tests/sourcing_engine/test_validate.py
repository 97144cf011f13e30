"""The plan validator on a hand-written batch: a correct plan passes, each violation is named.

Every plan here is priced by `_plan` from the exchange format's formulas written out by
hand (flat linear carrier price, nodes on one meridian so distances are whole degrees of
latitude), so each broken plan is otherwise consistent and must produce exactly one error.
At the end, the validator's prices of random plans over random batches (both rate cards, a
short table, the linear model) are held to the independent pricer's.
"""

import math
import random
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from sourcing_engine.cost_models import (
    LinearCost,
    OrderPenalties,
    ParcelCost,
    ShipmentCostModel,
    default_us_ground,
)
from sourcing_engine.cost_models.parcel import default_it_express
from sourcing_engine.domain import Batch, Destination, Inventory, Item, Line, Node, Order
from sourcing_engine.exchange import PlanSpec
from sourcing_engine.plan_check import ValidationReport, validate_plan
from tests.independent_pricer import BatchPricer
from tests.reference_mip import random_batch

MILES_PER_DEGREE = 3958.8 * math.pi / 180  # one degree of latitude along a meridian
PER_SHIPMENT, PER_UNIT, PER_UNIT_MILE = 5.0, 0.5, 0.01
UNFILLED, SPLIT = 50.0, 2.0

# node id -> (latitude, handling per shipment, handling per unit); all at longitude -75
NODES = {"DC": (40.0, 1.5, 0.25), "ST": (41.0, 0.0, 0.5), "OFF": (42.0, 0.0, 0.0),
         "FAR": (33.0, 0.0, 0.0)}  # fmt: skip
# order id -> (latitude, {sku: qty})
ORDERS = {"O1": (40.0, {"A": 2, "B": 1}), "O2": (41.0, {"A": 1, "B": 2}),
          "O3": (40.0, {"A": 3, "B": 1})}  # fmt: skip

Shipments = dict[str, dict[str, int]]  # node id -> sku -> qty
BASE: dict[str, Shipments] = {
    "O1": {"DC": {"A": 2, "B": 1}},
    "O2": {"ST": {"B": 2}, "DC": {"A": 1}},
    "O3": {"ST": {"A": 1}},
}


def _batch() -> Batch:
    """DC: 2 shipments, 5 units at most; ST: B has safety stock; OFF: not ship-enabled."""
    return Batch(
        nodes=(
            Node(
                "DC",
                "warehouse",
                40.0,
                -75.0,
                ship_capacity=2,
                unit_capacity=5,
                handling_per_shipment=1.5,
                handling_per_unit=0.25,
            ),
            Node("ST", "store", 41.0, -75.0, handling_per_unit=0.5),
            Node("OFF", "store", 42.0, -75.0, ship_enabled=False),
            Node("FAR", "warehouse", 33.0, -75.0),
        ),
        items=(Item("A", 1.0), Item("B", 2.0), Item("C", 0.5)),  # nobody orders C
        inventory=Inventory(
            node=np.array([0, 0, 1, 1, 2, 3]),
            item=np.array([0, 1, 0, 1, 0, 1]),
            on_hand=np.array([5, 3, 3, 3, 10, 5]),
            safety_stock=np.array([1, 0, 0, 1, 0, 0]),
        ),
        shipping=LinearCost(PER_SHIPMENT, PER_UNIT, PER_UNIT_MILE),
        penalties=OrderPenalties(unfilled_per_unit=UNFILLED, split=SPLIT, max_shipments=2),
        orders=tuple(
            Order(oid, Destination(lat, -75.0), tuple(Line(s, q) for s, q in lines.items()))
            for oid, (lat, lines) in ORDERS.items()
        ),
    )


def _shipment_cost(order_id: str, node_id: str, lines: dict[str, int]) -> float:
    """Linear carrier price plus handling, by hand (unknown nodes: a made-up 9.99)."""
    if node_id not in NODES:
        return 9.99
    node_lat, per_shipment, per_unit = NODES[node_id]
    miles = abs(node_lat - ORDERS[order_id][0]) * MILES_PER_DEGREE
    units = sum(lines.values())
    carrier = PER_SHIPMENT + PER_UNIT * units + PER_UNIT_MILE * units * miles
    return carrier + per_shipment + per_unit * units


def _plan(
    shipments: dict[str, Shipments] | None = None,
    *,
    split_shipments: dict[str, list[tuple[str, dict[str, int]]]] | None = None,
    unfilled: dict[str, dict[str, int]] | None = None,
    extra_orders: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
    objective_offset: float = 0.0,
) -> dict[str, Any]:
    """A consistent plan document: costs, unfilled units, objective, bound and gap.

    split_shipments lists an order's shipments explicitly (to repeat a node); unfilled
    overrides what the plan claims is unfilled (costs always use the true shortfall).
    """
    shipments = BASE if shipments is None else shipments
    orders: list[dict[str, Any]] = []
    for order_id in [*ORDERS, *extra_orders]:
        if order_id in drop:
            continue
        listed = (split_shipments or {}).get(order_id) or list(shipments.get(order_id, {}).items())
        demand = ORDERS[order_id][1] if order_id in ORDERS else {}
        shipped = {s: sum(lines.get(s, 0) for _, lines in listed) for s in demand}
        short = {s: q - shipped[s] for s, q in demand.items() if q > shipped[s]}
        ship_docs: list[dict[str, Any]] = [
            {"node": n, "lines": [{"sku": s, "qty": q} for s, q in lines.items()],
             "cost": _shipment_cost(order_id, n, lines)}
            for n, lines in listed
        ]  # fmt: skip
        cost = (
            sum(doc["cost"] for doc in ship_docs)
            + SPLIT * max(len(listed) - 1, 0)
            + UNFILLED * sum(short.values())
        )
        claimed = (unfilled or {}).get(order_id, short)
        orders.append(
            {"id": order_id, "cost": cost, "shipments": ship_docs,
             "unfilled": [{"sku": s, "qty": q} for s, q in claimed.items()]}
        )  # fmt: skip
    objective = sum(o["cost"] for o in orders) + objective_offset
    bound = objective - objective_offset - 1.0
    return {
        "format": "sourcing-plan/1", "policy": "optimal", "status": "feasible",
        "currency": "USD", "objective": objective, "bound": bound,
        "gap": (objective - bound) / objective, "runtime_s": 0.01, "orders": orders,
    }  # fmt: skip


def _check(doc: dict[str, Any]) -> ValidationReport:
    return validate_plan(_batch(), PlanSpec.model_validate(doc))


def _with(order_id: str, shipments: Shipments) -> dict[str, Shipments]:
    return BASE | {order_id: shipments}


def _one_error(doc: dict[str, Any], *fragments: str) -> str:
    """Validate, expect exactly one error, and expect it to contain every fragment."""
    report = _check(doc)
    assert len(report.errors) == 1, report.errors
    for fragment in fragments:
        assert fragment in report.errors[0], report.errors[0]
    return report.errors[0]


# --- a correct plan -------------------------------------------------------------------------


def test_correct_plan_passes_with_hand_computed_costs() -> None:
    """A valid hand-built plan passes, and its costs match the hand computation."""
    report = _check(_plan())
    assert report.errors == []
    assert report.ok
    degree = MILES_PER_DEGREE * PER_UNIT_MILE
    o1 = (5.0 + 0.5 * 3) + (1.5 + 0.25 * 3)  # 3 units from DC, 0 miles
    o2 = (5.0 + 0.5 * 2) + 0.5 * 2 + (5.0 + 0.5 + degree) + (1.5 + 0.25) + SPLIT
    o3 = (5.0 + 0.5 + degree) + 0.5 + UNFILLED * 3  # A from ST, 2 A and 1 B unfilled
    assert report.order_costs == pytest.approx({"O1": o1, "O2": o2, "O3": o3}, abs=1e-12)
    assert report.objective == pytest.approx(o1 + o2 + o3, abs=1e-12)
    assert report.shipment_count == 4
    assert report.unfilled_units == {"O1": 0, "O2": 0, "O3": 3}
    assert report.order_shipments == {"O1": 1, "O2": 2, "O3": 1}


def test_parcel_price_matches_hand_computation() -> None:
    """A parcel shipment costs the rate card's price by hand: zone 2, 3 lb, surcharges."""
    batch = Batch(
        nodes=(Node("DC", "warehouse", 40.0, -75.0, handling_per_shipment=1.0),),
        items=(Item("A", 2.5, (10.0, 8.0, 4.0)),),  # 320 in3 / 139 = 2.3 lb < 2.5 lb
        inventory=Inventory(np.array([0]), np.array([0]), np.array([1]), np.array([0])),
        shipping=default_us_ground(),
        penalties=OrderPenalties(unfilled_per_unit=100.0),
        orders=(Order("O", Destination(40.5, -75.0, residential=True), (Line("A", 1),)),),
    )
    price = (10.20 + 0.60 * 2 + 4.45) * 1.15 + 1.0  # zone 2 (35 mi), 3 billable lb
    doc = {
        "policy": "greedy-cost", "status": "heuristic", "objective": price, "bound": None,
        "gap": None, "runtime_s": 0.0,
        "orders": [{"id": "O", "cost": price, "unfilled": [], "shipments": [
            {"node": "DC", "lines": [{"sku": "A", "qty": 1}], "cost": price}]}],
    }  # fmt: skip
    report = validate_plan(batch, PlanSpec.model_validate(doc))
    assert report.errors == []
    assert report.shipments[0].cost == pytest.approx(price, abs=1e-12)


# --- each violation on its own ----------------------------------------------------------------


def test_oversell_past_safety_stock() -> None:
    """Shipping into a node's safety stock is an oversell naming the node and SKU."""
    _one_error(_plan(_with("O3", {"ST": {"A": 1, "B": 1}})), 'node "ST"', 'SKU "B"', "3 units")


def test_units_from_node_without_stock() -> None:
    """Units from a node that does not stock the SKU: nothing may be sourced there."""
    _one_error(_plan(_with("O3", {"FAR": {"A": 1}})), 'node "FAR"', 'SKU "A"', "only 0")


def test_shipment_from_unknown_node() -> None:
    """A shipment from a node the batch does not have is reported with the order."""
    _one_error(_plan(_with("O3", {"XX": {"A": 1}})), 'order "O3"', 'node "XX"', "not a node")


def test_shipment_from_disabled_node() -> None:
    """A shipment from a node that is not ship-enabled is reported with the order."""
    _one_error(_plan(_with("O3", {"OFF": {"A": 1}})), 'order "O3"', 'node "OFF"', "ship-enabled")


def test_over_shipment_capacity() -> None:
    """A third shipment from DC (capacity 2) is reported on DC."""
    _one_error(_plan(_with("O3", {"DC": {"A": 1}})), 'node "DC"', "3 shipments", "capacity of 2")


def test_over_unit_capacity() -> None:
    """Six units from DC (capacity 5) is reported on DC."""
    doc = _plan(_with("O2", {"DC": {"A": 1, "B": 2}}))
    _one_error(doc, 'node "DC"', "6 units", "capacity of 5")


def test_too_many_shipments_for_order() -> None:
    """Three shipments for one order (at most 2) are reported on the order."""
    doc = _plan(_with("O2", {"DC": {"A": 1}, "ST": {"B": 1}, "FAR": {"B": 1}}))
    _one_error(doc, 'order "O2"', "3 shipments", "max_shipments_per_order")


def test_two_shipments_from_one_node() -> None:
    """Two shipments of one order from one node are reported with both ids."""
    doc = _plan(split_shipments={"O3": [("ST", {"A": 1}), ("ST", {"A": 1})]})
    _one_error(doc, 'order "O3"', 'more than one shipment from node "ST"')


def test_missing_order() -> None:
    """An order of the batch left out of the plan is named."""
    _one_error(_plan(drop=("O2",)), 'order "O2"', "missing")


def test_unknown_order() -> None:
    """An order id the batch does not have is named."""
    _one_error(_plan(extra_orders=("ZZ",)), '"ZZ"', "not an order of the batch")


def test_repeated_order() -> None:
    """An order listed twice is named."""
    doc = _plan()
    doc["orders"].append(doc["orders"][0])
    doc["objective"] += doc["orders"][0]["cost"]
    doc["bound"] = doc["objective"] - 1.0
    doc["gap"] = 1.0 / doc["objective"]
    _check_contains(doc, 'order "O1" appears more than once')


def test_orders_out_of_sequence() -> None:
    """Orders must be listed in the batch's order."""
    doc = _plan()
    doc["orders"].reverse()
    _one_error(doc, "not in the batch's order")


def test_wrong_shipment_cost() -> None:
    """A shipment cost off by a cent is named by order and node."""
    doc = _plan()
    doc["orders"][1]["shipments"][1]["cost"] += 0.01
    _one_error(doc, 'order "O2"', 'node "DC"', "recomputed")


def test_wrong_order_cost() -> None:
    """An order cost off by one is named."""
    doc = _plan()
    doc["orders"][0]["cost"] += 1.0
    _one_error(doc, 'order "O1": cost', "recomputed")


def test_order_cost_without_split_penalty() -> None:
    """An order cost that forgets the split penalty is caught."""
    doc = _plan()
    doc["orders"][1]["cost"] -= SPLIT
    _one_error(doc, 'order "O2": cost')


def test_wrong_objective() -> None:
    """An objective that is not the sum of the order costs is caught."""
    _one_error(_plan(objective_offset=0.5), "objective", "recomputed")


def test_unfilled_qty_mismatch() -> None:
    """Shipped plus unfilled units must equal the ordered quantity, per SKU."""
    doc = _plan(unfilled={"O3": {"A": 1, "B": 1}})
    _one_error(doc, 'order "O3"', 'SKU "A"', "1 shipped + 1 unfilled != 3 ordered")


def test_more_shipped_than_ordered() -> None:
    """Shipping more units than ordered is named by order and SKU."""
    doc = _plan(_with("O1", {"DC": {"A": 3, "B": 1}}))
    _one_error(doc, 'order "O1"', 'SKU "A"', "3 units shipped but 2 ordered")


def test_sku_not_on_order() -> None:
    """Shipping a SKU of the catalogue that the order does not have is named."""
    doc = _plan(_with("O1", {"DC": {"A": 2, "B": 1, "C": 1}}))
    _check_contains(doc, 'order "O1"', 'SKU "C" is not on the order')


def test_sku_not_in_catalogue() -> None:
    """Shipping a SKU that is no item of the batch is named."""
    doc = _plan(_with("O1", {"DC": {"A": 2, "B": 1}, "ST": {"Z": 1}}))
    _check_contains(doc, 'order "O1"', 'SKU "Z" is not an item of the batch')


def test_bound_above_objective() -> None:
    """A lower bound above the plan's cost is impossible and is reported."""
    doc = _plan()
    doc["bound"] = doc["objective"] + 1.0
    doc["gap"] = 0.0
    _one_error(doc, "bound", "above")


def test_gap_inconsistent() -> None:
    """A gap that is not (objective - bound) / objective is reported."""
    doc = _plan()
    doc["gap"] = 0.5
    _one_error(doc, "gap 0.5")


def test_heuristic_with_bound() -> None:
    """A rule's plan (status heuristic) carries no bound."""
    doc = _plan()
    doc["status"] = "heuristic"
    _one_error(doc, "heuristic", "no bound")


def test_optimal_without_bound() -> None:
    """An optimal plan must give the bound it was proven against."""
    doc = _plan()
    doc["status"], doc["bound"], doc["gap"] = "optimal", None, None
    _one_error(doc, '"optimal" needs a proven bound')


def test_currency_mismatch() -> None:
    """A plan in another currency than the batch's is reported."""
    doc = _plan()
    doc["currency"] = "EUR"
    _one_error(doc, '"EUR"', '"USD"')


def test_errors_accumulate() -> None:
    """Several violations in one plan are all reported, not just the first."""
    doc = _plan(_with("O3", {"OFF": {"A": 1}}), drop=("O1",))
    doc["orders"][0]["shipments"][0]["cost"] += 1.0
    errors = _check(doc).errors
    assert any("OFF" in e for e in errors)
    assert any('"O1"' in e and "missing" in e for e in errors)
    assert any('order "O2", shipment from node "ST": cost' in e for e in errors)


def _check_contains(doc: dict[str, Any], *fragments: str) -> None:
    errors = _check(doc).errors
    assert any(all(f in e for f in fragments) for e in errors), errors


# --- prices of random plans, against the independent pricer -----------------------------------

SHORT_CARD = ParcelCost(rates=((4.0, 5.5, 8.0), (6.0, 7.0, 11.0)), zone_bands_miles=(700.0,),
                        fuel_surcharge_pct=12.0, residential_surcharge=3.1)  # fmt: skip
"""Two zones, three weights: most parcels of the random batches weigh more than the table."""


def _random_plan(batch: Batch, rng: random.Random) -> tuple[dict[str, Any], list[float]]:
    """A plan whose every unit is shipped from a random node or left unfilled (stock and
    capacities ignored: only prices matter here), its costs from the independent pricer;
    also the independent price of each of its shipments, in the plan's order."""
    pricer = BatchPricer(batch)
    orders: list[dict[str, Any]] = []
    prices: list[float] = []
    for order in batch.orders:
        nodes = rng.sample(batch.nodes, rng.randint(0, len(batch.nodes)))
        sent: dict[str, dict[str, int]] = {node.id: {} for node in nodes}
        left: dict[str, int] = {}
        for line in order.lines:
            for _ in range(line.qty):
                k = rng.randrange(len(nodes) + 1)
                content = sent[nodes[k].id] if k < len(nodes) else left
                content[line.sku] = content.get(line.sku, 0) + 1
        sent = {node_id: content for node_id, content in sent.items() if content}
        node_of = {node.id: node for node in batch.nodes}
        costs = [pricer.shipment(order, node_of[n], content) for n, content in sent.items()]
        prices += costs
        orders.append(
            {"id": order.id, "cost": pricer.order(order, sent),
             "shipments": [{"node": n, "cost": c,
                            "lines": [{"sku": s, "qty": q} for s, q in content.items()]}
                           for (n, content), c in zip(sent.items(), costs, strict=True)],
             "unfilled": [{"sku": s, "qty": q} for s, q in left.items()]}
        )  # fmt: skip
    doc = {
        "policy": "closest", "status": "heuristic", "currency": batch.currency,
        "objective": math.fsum(o["cost"] for o in orders), "bound": None, "gap": None,
        "runtime_s": 0.0, "orders": orders,
    }  # fmt: skip
    return doc, prices


def test_validator_prices_agree_with_independent_pricer() -> None:
    """On 300 random plans the validator recomputes every shipment and order cost and the
    objective exactly as the independent pricer does (it reports no cost as wrong)."""
    rng = random.Random(20261203)
    models: list[ShipmentCostModel | None] = [None, default_it_express(), SHORT_CARD]
    for seed in range(300):
        batch = random_batch(seed)  # US ground or linear, residential or not
        model = rng.choice(models)
        if model is not None:
            batch = replace(batch, shipping=model)
        doc, prices = _random_plan(batch, rng)
        report = validate_plan(batch, PlanSpec.model_validate(doc))
        where = f"seed {seed}, {type(batch.shipping).__name__}"
        wrong = [e for e in report.errors if "recomputed" in e]
        assert wrong == [], f"{where}: {wrong}"
        assert [s.cost for s in report.shipments] == pytest.approx(prices, rel=1e-9, abs=1e-9)
        for order in doc["orders"]:
            assert report.order_costs[order["id"]] == pytest.approx(order["cost"], rel=1e-9)
        assert report.objective == pytest.approx(doc["objective"], rel=1e-9), where
