"""The reference MIP itself: hand-computed optima, and brute force over every plan.

The brute force prices with the independent pricer (as the reference does) but reads demand
and stock through the plan checker's helpers, not the reference's own; the reference's plans
then go through the plan checker, which prices through `cost_models`: a pricing mistake on
either side makes them disagree.
"""

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sourcing_engine.cost_models import LinearCost, OrderPenalties
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.domain import Batch, Destination, Inventory, Item, Line, Node, Order
from sourcing_engine.plan_check import order_demand, sourceable_stock, validate_plan
from tests.independent_pricer import shipment_prices
from tests.reference_mip import random_batch, reference_plan, solve_reference

SEEDS = st.integers(0, 2**32 - 1)

# --- hand-computed optima -----------------------------------------------------------------


def _three_node_batch(
    split: float, max_shipments: int = UNLIMITED, c_capacity: int | None = None
) -> Batch:
    """Order O wants one S0 and one S1; A stocks S0, B stocks S1, C both (handling 6).

    Flat linear price of 5 per shipment, so: A + B costs 10 + split, C alone costs 11.
    """
    nodes = (
        Node("A", "store", 40.0, -75.0),
        Node("B", "store", 41.0, -80.0),
        Node("C", "warehouse", 35.0, -100.0, ship_capacity=c_capacity, handling_per_shipment=6.0),
    )
    return Batch(
        nodes=nodes,
        items=(Item("S0", 1.0), Item("S1", 2.0)),
        inventory=Inventory(
            node=np.array([0, 1, 2, 2]),
            item=np.array([0, 1, 0, 1]),
            on_hand=np.array([1, 1, 5, 5]),
            safety_stock=np.array([0, 0, 0, 0]),
        ),
        shipping=LinearCost(per_shipment=5.0),
        penalties=OrderPenalties(unfilled_per_unit=100.0, split=split, max_shipments=max_shipments),
        orders=(Order("O", Destination(39.0, -77.0), (Line("S0", 1), Line("S1", 1))),),
    )


@pytest.mark.parametrize(
    ("split", "max_shipments", "c_capacity", "expected", "expected_nodes"),
    [
        (0.0, UNLIMITED, None, 10.0, {"A", "B"}),  # split from A and B: 5 + 5
        (4.0, UNLIMITED, None, 11.0, {"C"}),  # 5 + 5 + 4 > 5 + 6
        (0.0, 1, None, 11.0, {"C"}),  # one shipment allowed: only C has both
        (0.0, 1, 0, 105.0, None),  # C has no capacity: one of A, B; one unit unfilled
    ],
)
def test_reference_hand_computed(
    split: float,
    max_shipments: int,
    c_capacity: int | None,
    expected: float,
    expected_nodes: set[str] | None,
) -> None:
    """The reference finds the hand-computed optimum of a split-or-not choice."""
    batch = _three_node_batch(split, max_shipments, c_capacity)
    solution = solve_reference(batch)
    assert solution.objective == pytest.approx(expected, abs=1e-9)
    if expected_nodes is not None:
        assert set(solution.shipments["O"]) == expected_nodes
    else:
        assert len(solution.shipments["O"]) == 1
        assert sum(solution.unfilled["O"].values()) == 1


def test_reference_leaves_unfilled_when_cheaper() -> None:
    """With a unit penalty of 3, leaving both units unfilled (6) beats shipping (>= 8)."""
    batch = replace(
        _three_node_batch(0.0, 1, 0), penalties=OrderPenalties(3.0, 0.0, max_shipments=1)
    )
    solution = solve_reference(batch)
    assert solution.objective == pytest.approx(6.0, abs=1e-9)
    assert solution.shipments["O"] == {}
    assert solution.unfilled["O"] == {"S0": 1, "S1": 1}


# --- brute force ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Option:
    """One way to source one order: its shipments and what they use."""

    cost: float
    shipments: int
    use: dict[tuple[str, str], int]  # (node id, sku) -> units
    node_units: dict[str, int]


def _order_options(batch: Batch) -> list[list[_Option]]:
    """Every way to source each order alone (at most one shipment per node)."""
    stock = sourceable_stock(batch)
    pen = batch.penalties
    enabled = [node for node in batch.nodes if node.ship_enabled]
    per_order: list[list[dict[str, dict[str, int]]]] = []
    for order in batch.orders:
        demand = order_demand(order)
        skus = list(demand)
        contents = [
            [
                dict(zip(skus, units, strict=True))
                for units in itertools.product(
                    *[range(min(demand[s], stock.get((node.id, s), 0)) + 1) for s in skus]
                )
            ]
            for node in enabled
        ]
        plans: list[dict[str, dict[str, int]]] = []
        for choice in itertools.product(*contents):
            if all(sum(c[s] for c in choice) <= demand[s] for s in skus):
                plans.append(
                    {
                        node.id: {s: q for s, q in c.items() if q}
                        for node, c in zip(enabled, choice, strict=True)
                        if any(c.values())
                    }
                )
        per_order.append(plans)

    node_of = {node.id: node for node in batch.nodes}
    priced: list[tuple[int, str, dict[str, int]]] = [
        (o, node_id, content)
        for o, plans in enumerate(per_order)
        for plan in plans
        for node_id, content in plan.items()
    ]
    prices = iter(
        shipment_prices(batch, [(batch.orders[o], node_of[n], content) for o, n, content in priced])
    )
    options: list[list[_Option]] = []
    for order, plans in zip(batch.orders, per_order, strict=True):
        demand = order_demand(order)
        order_options = []
        for plan in plans:
            shipped = sum(q for content in plan.values() for q in content.values())
            cost = (
                sum(next(prices) for _ in plan)
                + pen.split * max(len(plan) - 1, 0)
                + pen.unfilled_per_unit * (sum(demand.values()) - shipped)
            )
            if len(plan) > pen.max_shipments:
                continue
            order_options.append(
                _Option(
                    cost=cost,
                    shipments=len(plan),
                    use={(n, s): q for n, content in plan.items() for s, q in content.items()},
                    node_units={n: sum(content.values()) for n, content in plan.items()},
                )
            )
        options.append(order_options)
    return options


def _brute_force_optimum(batch: Batch) -> float:
    """The cheapest valid plan, by trying every combination of per-order options."""
    stock = sourceable_stock(batch)
    best = math.inf
    for combo in itertools.product(*_order_options(batch)):
        use: dict[tuple[str, str], int] = {}
        ships: dict[str, int] = {}
        units: dict[str, int] = {}
        for option in combo:
            for key, q in option.use.items():
                use[key] = use.get(key, 0) + q
            for n, q in option.node_units.items():
                ships[n] = ships.get(n, 0) + 1
                units[n] = units.get(n, 0) + q
        if any(q > stock.get(key, 0) for key, q in use.items()):
            continue
        if any(
            (node.ship_capacity is not None and ships.get(node.id, 0) > node.ship_capacity)
            or (node.unit_capacity is not None and units.get(node.id, 0) > node.unit_capacity)
            for node in batch.nodes
        ):
            continue
        best = min(best, sum(option.cost for option in combo))
    return best


@settings(max_examples=60, deadline=None)
@given(SEEDS)
def test_reference_matches_brute_force(seed: int) -> None:
    """The reference's optimum equals the cheapest of all plans, enumerated one by one."""
    batch = random_batch(seed, max_nodes=3, max_skus=2, max_orders=2, max_qty=2)
    solution = solve_reference(batch)
    expected = _brute_force_optimum(batch)
    assert solution.objective == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_reference_plan_passes_validator(seed: int) -> None:
    """The reference's plan is valid and the validator recomputes the same objective."""
    batch = random_batch(seed)
    solution = solve_reference(batch)
    report = validate_plan(batch, reference_plan(batch, solution))
    assert report.errors == []
    assert report.objective == pytest.approx(solution.objective, rel=1e-9, abs=1e-9)
