"""Single-order pricing against every plan of the order, tried one by one (brute_force)."""

import dataclasses
from typing import Any

import numpy as np
import pytest

from sourcing_engine.cost_models import LinearCost, OrderPenalties, default_us_ground
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.solvers.candidates import ShapeGroup, build_group, order_shapes
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.pricing import (
    Availability,
    OrderPlans,
    Prices,
    price_group,
    price_orders,
)
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation
from tests.solvers.brute_force import cheapest_plan, stock_entries
from tests.solvers.problems import MILES_PER_DEGREE, make_problem, north, random_problem

TOL = 1e-7


def _prices(problem: SourcingProblem, rng: np.random.Generator) -> Prices:
    """Random non-negative prices, about half of them zero (as dual prices are)."""

    def draw(n: int, scale: float) -> np.ndarray:
        return rng.uniform(0.0, scale, n) * (rng.random(n) < 0.5)

    return Prices(
        entry=draw(len(problem.stock_qty), 20.0),
        node_ship=draw(problem.n_nodes, 15.0),
        node_unit=draw(problem.n_nodes, 5.0),
    )


def _avail(problem: SourcingProblem, rng: np.random.Generator) -> Availability:
    """Random leftovers: part of the stock, some nodes out of shipments or units."""
    return Availability(
        stock=rng.integers(0, problem.stock_qty + 1),
        ships=np.minimum(
            problem.node_ship_capacity, rng.choice([0, 1, 3, UNLIMITED], problem.n_nodes)
        ),
        units=np.minimum(
            problem.node_unit_capacity, rng.choice([0, 1, 2, 4, UNLIMITED], problem.n_nodes)
        ),
    )


def _variant(
    problem: SourcingProblem, seed: int, kind: str
) -> tuple[Prices | None, Availability | None]:
    rng = np.random.default_rng(seed + 1_000_003)
    prices = _prices(problem, rng) if kind in ("prices", "both") else None
    avail = _avail(problem, rng) if kind in ("avail", "both") else None
    return prices, avail


def _plan_allocation(plans: OrderPlans, row: int) -> Allocation:
    """The reported plan of one row of a priced group."""
    r, line, node, qty = plans.line_units()
    sel = r == row
    return Allocation(line[sel], node[sel], qty[sel])


def _check_plan(
    problem: SourcingProblem,
    plans: OrderPlans,
    row: int,
    prices: Prices | None,
    avail: Availability | None,
) -> None:
    """The reported plan fits, its recomputed cost is `cost` and its priced cost `value`."""
    order = int(plans.group.orders[row])
    alloc = _plan_allocation(plans, row)
    assert np.all(problem.line_order[alloc.line] == order)
    assert feasibility_errors(problem, alloc) == []
    costs = evaluate(problem, alloc)
    assert plans.cost[row] == pytest.approx(costs.order_cost[order], rel=TOL, abs=TOL)
    nodes = plans.block_node[row][plans.block_node[row] >= 0]
    assert len(set(nodes.tolist())) == len(nodes) == costs.order_shipments[order]
    entries = stock_entries(problem)
    pairs = zip(alloc.line.tolist(), alloc.node.tolist(), strict=True)
    entry = np.array([entries[(n, int(problem.line_sku[ln]))] for ln, n in pairs], np.int64)
    units = np.bincount(alloc.node, alloc.qty, minlength=problem.n_nodes)
    shipped = np.bincount(alloc.node, minlength=problem.n_nodes) > 0
    priced = float(costs.order_cost[order])
    if prices is not None:
        priced += float(np.sum(prices.entry[entry] * alloc.qty))
        priced += float(np.sum(prices.node_ship * shipped + prices.node_unit * units))
    assert plans.value[row] == pytest.approx(priced, rel=TOL, abs=TOL)
    if avail is not None:
        assert np.all(alloc.qty <= avail.stock[entry])
        assert np.all(avail.ships[shipped] >= 1)
        assert np.all(units <= avail.units)


def _groups(problem: SourcingProblem, depth: int | None = 16) -> list[ShapeGroup]:
    return [
        build_group(problem, qty, orders, depth=depth)
        for qty, orders in order_shapes(problem, np.arange(problem.n_orders)).items()
    ]


def _as_dp(group: ShapeGroup) -> ShapeGroup:
    """The group priced by the dynamic programme instead of its enumerated splits."""
    return dataclasses.replace(group, shape=dataclasses.replace(group.shape, enumerated=False))


KINDS = ["plain", "prices", "avail", "both"]
CONFIGS: dict[str, dict[str, Any]] = {
    "mixed": {"n_nodes": 4, "n_orders": 6, "max_qty": 2},
    "scarce": {"n_nodes": 5, "n_orders": 6, "max_qty": 3, "scarce": True},  # many splits
    "plenty": {"n_nodes": 5, "n_orders": 6, "max_qty": 2, "scarce": False},
}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_price_orders_equals_brute_force(config: str, seed: int, kind: str) -> None:
    """Every order's priced value is the least over all its plans, and the plan is that one."""
    problem = random_problem(seed, **CONFIGS[config])
    prices, avail = _variant(problem, seed, kind)
    for plans in price_orders(problem, _groups(problem), prices, avail):
        for row, o in enumerate(plans.group.orders.tolist()):
            best = cheapest_plan(problem, o, prices, avail)
            assert plans.value[row] == pytest.approx(best.value, rel=TOL, abs=TOL), (seed, o)
            _check_plan(problem, plans, row, prices, avail)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("max_shipments", [1, 2])
def test_cap_on_shipments(seed: int, max_shipments: int) -> None:
    """With at most 1 or 2 shipments per order the optimum is still the brute-force one."""
    problem = random_problem(seed, n_nodes=4, n_orders=5, max_qty=3, max_shipments=max_shipments)
    prices, avail = _variant(problem, seed, "both")
    for groups in (_groups(problem), [_as_dp(g) for g in _groups(problem, None)]):
        for plans in price_orders(problem, groups, prices, avail):
            for row, o in enumerate(plans.group.orders.tolist()):
                best = cheapest_plan(problem, o, prices, avail)
                assert plans.value[row] == pytest.approx(best.value, rel=TOL, abs=TOL), (seed, o)
                _check_plan(problem, plans, row, prices, avail)
                assert np.sum(plans.block_node[row] >= 0) <= max_shipments


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_dynamic_programme_equals_brute_force(config: str, seed: int, kind: str) -> None:
    """The dynamic programme gives the brute-force value and a plan costing what it reports."""
    problem = random_problem(seed, **CONFIGS[config])
    prices, avail = _variant(problem, seed, kind)
    for group in _groups(problem, None):
        plans, exact = price_group(problem, _as_dp(group), prices, avail)
        assert exact.all()
        for row, o in enumerate(group.orders.tolist()):
            best = cheapest_plan(problem, o, prices, avail)
            assert plans.value[row] == pytest.approx(best.value, rel=TOL, abs=TOL), (seed, o)
            _check_plan(problem, plans, row, prices, avail)


@pytest.mark.parametrize("seed", range(3))
def test_large_order_priced_by_dynamic_programme(seed: int) -> None:
    """Seven one-unit lines (too many splits to list) are priced exactly by the programme."""
    rng = np.random.default_rng(seed)
    problem = make_problem(
        [north(float(d)) for d in rng.uniform(0.5, 8.0, 3)],
        {(n, s): int(rng.integers(1, 3)) for n in range(3) for s in range(7) if rng.random() < 0.7},
        [[(s, 1) for s in range(7)]],
        handling_per_shipment=rng.uniform(0.0, 4.0, 3).tolist(),
        weight_lb=rng.uniform(0.3, 5.0, 7).tolist(),
        unit_capacity=[int(c) for c in rng.choice([3, 5, UNLIMITED], 3)],
        shipping=LinearCost(per_shipment=6.0, per_unit_mile=0.002),
        penalties=OrderPenalties(
            unfilled_per_unit=25.0, split=1.5, max_shipments=[UNLIMITED, 2, 1][seed]
        ),
    )
    (group,) = _groups(problem)
    assert not group.shape.enumerated
    prices, avail = _variant(problem, seed, "both")
    for p, a in ((None, None), (prices, avail)):
        (plans,) = price_orders(problem, [group], p, a)
        assert plans.value[0] == pytest.approx(cheapest_plan(problem, 0, p, a).value, rel=TOL)
        _check_plan(problem, plans, 0, p, a)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("depth", [1, 2])
def test_shallow_ranking_is_repriced_exactly(seed: int, depth: int) -> None:
    """Ranked 1 or 2 deep, pricing is still exact; answers marked exact are exact."""
    problem = random_problem(seed, n_nodes=5, n_skus=3, n_orders=6, max_qty=2, scarce=False)
    prices, avail = _variant(problem, seed, "both")
    groups = _groups(problem, depth)
    for group, plans in zip(groups, price_orders(problem, groups, prices, avail), strict=True):
        alone, exact = price_group(problem, group, prices, avail)
        for row, o in enumerate(group.orders.tolist()):
            best = cheapest_plan(problem, o, prices, avail)
            assert plans.value[row] == pytest.approx(best.value, rel=TOL, abs=TOL), (seed, o)
            _check_plan(problem, plans, row, prices, avail)
            if exact[row]:
                assert alone.value[row] == pytest.approx(best.value, rel=TOL, abs=TOL)


def test_prices_push_the_ranking_past_its_threshold() -> None:
    """A price on the only kept node makes the answer unproven; re-pricing fixes it."""
    problem = make_problem(
        [north(1.0), north(2.0), north(3.0)],
        {(0, 0): 5, (1, 0): 5, (2, 0): 5},
        [[(0, 1)]],
        shipping=LinearCost(per_shipment=5.0, per_unit_mile=0.01),
    )
    group = build_group(problem, (1,), np.array([0]), depth=1)
    assert group.node[0, 1].tolist() == [0]
    prices = Prices(entry=np.zeros(3), node_ship=np.array([50.0, 0.0, 0.0]), node_unit=np.zeros(3))
    plans, exact = price_group(problem, group, prices)
    assert not exact[0]
    (fixed,) = price_orders(problem, [group], prices)
    assert fixed.block_node[0].tolist() == [1]
    assert fixed.value[0] == pytest.approx(cheapest_plan(problem, 0, prices).value)
    assert fixed.value[0] < plans.value[0]


def test_nothing_in_stock_leaves_the_order_unfilled() -> None:
    """An order nobody can ship costs its unfilled penalty and has no shipments."""
    problem = make_problem([north(1.0)], {(0, 1): 3}, [[(0, 2)]], n_skus=2)
    (plans,) = price_orders(problem, _groups(problem))
    assert plans.value[0] == pytest.approx(200.0)
    assert plans.cost[0] == pytest.approx(200.0)
    assert np.all(plans.block_node[0] < 0)


def test_unfilled_beats_an_expensive_shipment() -> None:
    """When shipping costs more than the unfilled penalty the plan ships nothing."""
    problem = make_problem(
        [north(1.0)], {(0, 0): 3}, [[(0, 1)]],
        shipping=LinearCost(per_shipment=30.0), penalties=OrderPenalties(unfilled_per_unit=20.0),
    )  # fmt: skip
    (plans,) = price_orders(problem, _groups(problem))
    assert plans.value[0] == pytest.approx(20.0)
    assert np.all(plans.block_node[0] < 0)


def _six_single_units(
    rng: np.random.Generator | None = None,
) -> tuple[SourcingProblem, list[float]]:
    """Six one-unit lines; seven nodes (1..7 degrees away) that ship one unit each and stock
    every SKU (or, with rng, a random part of them). Returns the problem and each node's
    one-unit shipment cost."""
    stock = {(n, s): 1 for n in range(7) for s in range(6)}
    if rng is not None:
        stock = {k: v for k, v in stock.items() if rng.random() < 0.8}
    problem = make_problem(
        [north(float(d)) for d in range(1, 8)],
        stock,
        [[(s, 1) for s in range(6)]],
        n_skus=6,
        unit_capacity=[1] * 7,
        shipping=LinearCost(per_shipment=5.0, per_unit_mile=0.01),
        penalties=OrderPenalties(unfilled_per_unit=100.0, split=0.5),
    )
    return problem, [5.0 + 0.01 * d * MILES_PER_DEGREE for d in range(1, 8)]


def test_six_shipments_on_distinct_nodes_by_hand() -> None:
    """Six units with one shared cheapest node go to six distinct nodes, by hand."""
    problem, cost = _six_single_units()
    (group,) = _groups(problem)
    assert group.shape.enumerated
    (plans,) = price_orders(problem, [group])
    assert plans.value[0] == pytest.approx(sum(cost[:6]) + 5 * 0.5)
    assert sorted(plans.block_node[0][plans.block_node[0] >= 0].tolist()) == [0, 1, 2, 3, 4, 5]
    _check_plan(problem, plans, 0, None, None)
    prices = Prices(
        entry=np.zeros(42), node_ship=np.array([50.0] + [0.0] * 6), node_unit=np.zeros(7)
    )
    (plans,) = price_orders(problem, [group], prices)
    assert plans.value[0] == pytest.approx(sum(cost[1:]) + 5 * 0.5)
    _check_plan(problem, plans, 0, prices, None)


@pytest.mark.parametrize("seed", range(3))
def test_six_shipments_brute_force(seed: int) -> None:
    """Plans of six shipments (past the array search of node combinations) are exact."""
    rng = np.random.default_rng(seed)
    problem, _ = _six_single_units(rng)
    prices, avail = _variant(problem, seed, "both")
    (group,) = _groups(problem)
    for p, a in ((None, None), (prices, avail)):
        (plans,) = price_orders(problem, [group], p, a)
        assert plans.value[0] == pytest.approx(cheapest_plan(problem, 0, p, a).value, rel=TOL)
        _check_plan(problem, plans, 0, p, a)


@pytest.mark.parametrize("seed", range(4))
def test_many_units_of_one_line(seed: int) -> None:
    """A 40-unit line (too many splits to list) is priced at the brute-force optimum."""
    rng = np.random.default_rng(seed)
    problem = make_problem(
        [north(float(d)) for d in rng.uniform(0.5, 20.0, 4)],
        {(n, 0): int(rng.integers(5, 30)) for n in range(4)},
        [[(0, 40)]],
        handling_per_shipment=rng.uniform(0.0, 4.0, 4).tolist(),
        handling_per_unit=rng.uniform(0.0, 0.5, 4).tolist(),
        unit_capacity=[int(c) for c in rng.choice([12, 25, UNLIMITED], 4)],
        weight_lb=[float(rng.uniform(0.5, 3.0))],
        shipping=default_us_ground(),
        penalties=OrderPenalties(
            unfilled_per_unit=15.0, split=2.0, max_shipments=[UNLIMITED, 2, 3, 1][seed]
        ),
    )
    (group,) = _groups(problem)
    assert not group.shape.enumerated
    prices, avail = _variant(problem, seed, "both")
    for p, a in ((None, None), (prices, None), (prices, avail)):
        (plans,) = price_orders(problem, [group], p, a)
        assert plans.value[0] == pytest.approx(cheapest_plan(problem, 0, p, a).value, rel=TOL)
        _check_plan(problem, plans, 0, p, a)
