"""evaluate: every cost term of hand-built plans, computed by hand; feasibility_errors."""

import numpy as np
import pytest

from sourcing_engine.cost_models import LinearCost, OrderPenalties, default_us_ground
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors, shipment_costs
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation
from tests.solvers.problems import MILES_PER_DEGREE, make_problem, north


def _alloc(*entries: tuple[int, int, int]) -> Allocation:
    """An allocation from (line, node, qty) triples."""
    if not entries:
        return Allocation.empty()
    line, node, qty = zip(*entries, strict=True)
    return Allocation(np.array(line), np.array(node), np.array(qty))


# --- costs ---------------------------------------------------------------------------------


def _linear_problem() -> SourcingProblem:
    """A 1 degree north, B 2 degrees north; order 0 = 2 x SKU0 + 1 x SKU1, order 1 = 3 x SKU0."""
    return make_problem(
        [north(1.0), north(2.0)],
        {(0, 0): 5, (1, 0): 5, (1, 1): 5},
        [[(0, 2), (1, 1)], [(0, 3)]],
        handling_per_shipment=[2.0, 0.0],
        handling_per_unit=[0.5, 0.0],
        shipping=LinearCost(per_shipment=5.0, per_unit=1.0, per_unit_mile=0.01),
        penalties=OrderPenalties(unfilled_per_unit=40.0, split=3.0),
    )


def test_linear_costs_by_hand() -> None:
    """Shipments, handling, one split penalty and unfilled units match a hand computation."""
    problem = _linear_problem()
    d_a, d_b = MILES_PER_DEGREE, 2 * MILES_PER_DEGREE
    costs = evaluate(problem, _alloc((0, 0, 2), (1, 1, 1), (2, 0, 1)))
    o0_a = 5.0 + 2 * (1.0 + 0.01 * d_a) + 2.0 + 0.5 * 2
    o0_b = 5.0 + 1 * (1.0 + 0.01 * d_b)
    o1_a = 5.0 + 1 * (1.0 + 0.01 * d_a) + 2.0 + 0.5 * 1
    assert costs.shipment_order.tolist() == [0, 0, 1]
    assert costs.shipment_node.tolist() == [0, 1, 0]
    assert costs.shipment_units.tolist() == [2, 1, 1]
    assert costs.shipment_cost.tolist() == pytest.approx([o0_a, o0_b, o1_a])
    assert costs.order_shipments.tolist() == [2, 1]
    assert costs.order_unfilled_units.tolist() == [0, 2]
    assert costs.order_cost.tolist() == pytest.approx([o0_a + o0_b + 3.0, o1_a + 2 * 40.0])
    assert costs.total == pytest.approx(o0_a + o0_b + 3.0 + o1_a + 80.0)


def test_lines_at_one_node_are_one_shipment() -> None:
    """Two lines of an order from the same node pay one shipment charge and no split."""
    problem = _linear_problem()
    costs = evaluate(problem, _alloc((0, 1, 2), (1, 1, 1)))
    assert costs.order_shipments.tolist() == [1, 0]
    expected = 5.0 + 3 * (1.0 + 0.01 * 2 * MILES_PER_DEGREE)
    assert costs.order_cost[0] == pytest.approx(expected)


def test_empty_plan_costs_every_unit_unfilled() -> None:
    """With nothing shipped each order pays the unfilled penalty on all its units, no split."""
    costs = evaluate(_linear_problem(), Allocation.empty())
    assert costs.order_shipments.tolist() == [0, 0]
    assert costs.order_unfilled_units.tolist() == [3, 3]
    assert costs.order_cost.tolist() == pytest.approx([120.0, 120.0])
    assert len(costs.shipment_cost) == 0


def test_split_penalty_per_shipment_beyond_the_first() -> None:
    """Three shipments pay two split penalties, one pays none."""
    problem = make_problem(
        [north(1.0), north(2.0), north(3.0)],
        {(0, 0): 1, (1, 1): 1, (2, 2): 1, (0, 3): 1},
        [[(0, 1), (1, 1), (2, 1)], [(3, 1)]],
        shipping=LinearCost(per_shipment=5.0),
        penalties=OrderPenalties(unfilled_per_unit=40.0, split=3.0),
    )
    costs = evaluate(problem, _alloc((0, 0, 1), (1, 1, 1), (2, 2, 1), (3, 0, 1)))
    assert costs.order_shipments.tolist() == [3, 1]
    assert costs.order_cost.tolist() == pytest.approx([3 * 5.0 + 2 * 3.0, 5.0])


def _parcel_problem() -> SourcingProblem:
    """A 1 degree north (zone 2), B 3 degrees north (zone 3); SKU1 is bulky (1000 in3)."""
    return make_problem(
        [north(1.0), north(3.0)],
        {(0, 0): 5, (0, 1): 5, (1, 0): 5, (1, 1): 5},
        [[(0, 2), (1, 1)], [(0, 1)]],
        handling_per_shipment=[2.0, 0.0],
        handling_per_unit=[0.5, 0.0],
        weight_lb=[1.5, 0.5],
        volume_in3=[0.0, 1000.0],
        residential=[True, False],
        shipping=default_us_ground(),
        penalties=OrderPenalties(unfilled_per_unit=40.0, split=3.0),
    )


def test_parcel_costs_by_hand() -> None:
    """Zones, billable (dimensional) weight, residential and fuel surcharges, by hand."""
    problem = _parcel_problem()
    costs = evaluate(problem, _alloc((0, 0, 2), (1, 1, 1), (2, 1, 1)))
    # order 0 from A: 3.0 lb, zone 2: 10.20 + 0.60 * 2, residential, fuel 15%, handling 3
    o0_a = (10.20 + 0.60 * 2 + 4.45) * 1.15 + 2.0 + 0.5 * 2
    # order 0 from B: 0.5 lb but 1000 / 139 = 7.2 -> 8 lb, zone 3: 10.65 + 0.80 * 7
    o0_b = (10.65 + 0.80 * 7 + 4.45) * 1.15
    # order 1 from B: 1.5 -> 2 lb, zone 3, not residential
    o1_b = (10.65 + 0.80 * 1) * 1.15
    assert costs.shipment_cost.tolist() == pytest.approx([o0_a, o0_b, o1_b])
    assert costs.order_cost.tolist() == pytest.approx([o0_a + o0_b + 3.0, o1_b])


def test_parcel_prices_one_parcel_per_shipment() -> None:
    """Lines shipped together are one parcel: weights and volumes add before rounding up."""
    problem = _parcel_problem()
    costs = evaluate(problem, _alloc((0, 0, 2), (1, 0, 1)))
    # 3.5 lb and 1000 in3 in one box: billable 8 lb in zone 2
    expected = (10.20 + 0.60 * 7 + 4.45) * 1.15 + 2.0 + 0.5 * 3
    assert costs.shipment_cost.tolist() == pytest.approx([expected])


def test_shipment_costs_match_evaluate() -> None:
    """shipment_costs priced directly equals what evaluate charges for the same parcels."""
    problem = _parcel_problem()
    direct = shipment_costs(
        problem, np.array([0, 1]), np.array([1, 0]), np.array([3.5, 1.5]),
        np.array([1000.0, 0.0]), np.array([3, 1]),
    )  # fmt: skip
    costs = evaluate(problem, _alloc((0, 1, 2), (1, 1, 1), (2, 0, 1)))
    assert direct.tolist() == pytest.approx(costs.shipment_cost.tolist())


# --- feasibility -----------------------------------------------------------------------------


def _feasibility_problem() -> SourcingProblem:
    """A: 2 x SKU0; B: SKU0, SKU1 (1 shipment, 3 units); C disabled; D: SKU1, SKU2.

    Order 0 = lines 0..2 (3 x SKU0, 2 x SKU1, 1 x SKU2), order 1 = line 3 (1 x SKU0);
    at most 2 shipments per order.
    """
    return make_problem(
        [north(1.0), north(2.0), north(3.0), north(4.0)],
        {(0, 0): 2, (1, 0): 5, (1, 1): 5, (2, 0): 5, (3, 1): 3, (3, 2): 3},
        [[(0, 3), (1, 2), (2, 1)], [(0, 1)]],
        ship_capacity=[10, 1, 10, 10],
        unit_capacity=[10, 3, 10, 10],
        ship_enabled=[True, True, False, True],
        penalties=OrderPenalties(unfilled_per_unit=40.0, max_shipments=2),
    )


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([(0, 0, 2), (1, 3, 2), (2, 3, 1), (3, 1, 1)], []),
        ([], []),
        ([(0, 0, 3)], ["1 stock positions oversold"]),
        ([(0, 1, 1), (3, 1, 1)], ["a node's shipment capacity is exceeded"]),
        ([(0, 1, 3), (1, 1, 1)], ["a node's unit capacity is exceeded"]),
        ([(3, 2, 1)], ["units shipped from a node that is not ship-enabled"]),
        ([(0, 0, 2), (1, 1, 1), (2, 3, 1)], ["an order has more shipments than allowed"]),
        ([(3, 1, 2)], ["1 lines get more than ordered"]),
        ([(2, 0, 1)], ["units taken from a node that does not stock the SKU"]),
        ([(0, 0, 1), (0, 0, 1)], ["a (line, node) pair appears twice"]),
        ([(9, 0, 1)], ["allocation refers to a line that does not exist"]),
        ([(0, 7, 1)], ["allocation refers to a node that does not exist"]),
    ],
)
def test_feasibility_errors(entries: list[tuple[int, int, int]], expected: list[str]) -> None:
    """Each violation is reported, alone, by a message saying what is wrong."""
    assert feasibility_errors(_feasibility_problem(), _alloc(*entries)) == expected
