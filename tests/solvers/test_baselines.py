"""Rule-based policies: hand-built cases for closest and fewest-splits, greedy-cost against
a naive order-by-order loop, and every policy within stock, capacity and the cap."""

from collections.abc import Callable

import numpy as np
import pytest

from sourcing_engine.cost_models import LinearCost, OrderPenalties
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.solvers.baselines import closest, fewest_splits, greedy_allocation, greedy_cost
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.pricing import Availability
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation, Result, Status
from tests.solvers.brute_force import cheapest_plan, stock_entries
from tests.solvers.problems import allocation_set, make_problem, north, random_problem

POLICIES: dict[str, Callable[[SourcingProblem], Result]] = {
    "closest": closest,
    "fewest-splits": fewest_splits,
    "greedy-cost": greedy_cost,
}


def _line_ladder(
    unit_capacity: list[int] | None = None, max_shipments: int = UNLIMITED
) -> SourcingProblem:
    """One order of 3 x SKU0. Nodes by distance: 0 disabled, 1 no shipments (both stocked),
    2 one unit, 3 no SKU0, 4 five units, 5 five units."""
    return make_problem(
        [north(0.5), north(0.7), north(1.0), north(2.0), north(3.0), north(4.0)],
        {(0, 0): 10, (1, 0): 10, (2, 0): 1, (3, 1): 10, (4, 0): 5, (5, 0): 5},
        [[(0, 3)]],
        ship_enabled=[False, True, True, True, True, True],
        ship_capacity=[10, 0, 10, 10, 10, 10],
        unit_capacity=unit_capacity,
        penalties=OrderPenalties(unfilled_per_unit=100.0, max_shipments=max_shipments),
    )


def test_closest_spills_to_the_next_nearest() -> None:
    """closest takes the nearest node with stock, then the rest from the next nearest."""
    result = closest(_line_ladder())
    assert allocation_set(result.allocation) == {(0, 2, 1), (0, 4, 2)}


def test_closest_respects_unit_capacity() -> None:
    """A node with room for one unit ships one; the next nearest ships the rest."""
    result = closest(_line_ladder(unit_capacity=[10, 10, 10, 10, 1, 10]))
    assert allocation_set(result.allocation) == {(0, 2, 1), (0, 4, 1), (0, 5, 1)}


def test_closest_stops_at_the_cap() -> None:
    """With one shipment allowed closest ships from the nearest node and leaves the rest."""
    result = closest(_line_ladder(max_shipments=1))
    assert allocation_set(result.allocation) == {(0, 2, 1)}
    assert evaluate(_line_ladder(max_shipments=1), result.allocation).order_unfilled_units[0] == 2


def _two_lines(far_both: list[float]) -> SourcingProblem:
    """Order = 1 x SKU0 + 1 x SKU1; node 0 (1 deg) has SKU0, node 1 (1.5 deg) SKU1, nodes
    2.. (at `far_both` degrees) have both."""
    nodes = [north(1.0), north(1.5), *[north(d) for d in far_both]]
    stock = {(0, 0): 5, (1, 1): 5} | {(n, s): 5 for n in range(2, len(nodes)) for s in (0, 1)}
    return make_problem(nodes, stock, [[(0, 1), (1, 1)]])


def test_closest_splits_lines_fewest_splits_does_not() -> None:
    """closest splits lines by nearness; fewest-splits uses the nearest node that has both."""
    problem = _two_lines([5.0, 4.0])
    assert allocation_set(closest(problem).allocation) == {(0, 0, 1), (1, 1, 1)}
    assert allocation_set(fewest_splits(problem).allocation) == {(0, 3, 1), (1, 3, 1)}


def test_fewest_splits_nearest_covering_pair() -> None:
    """With no node covering the order, fewest-splits uses the nearest covering pair."""
    problem = make_problem(
        [north(1.0), north(2.0), north(3.0), north(0.5)],
        {(0, 0): 5, (1, 1): 5, (2, 0): 5, (3, 1): 5},
        [[(0, 1), (1, 1)]],
    )
    assert allocation_set(fewest_splits(problem).allocation) == {(0, 0, 1), (1, 3, 1)}


def test_fewest_splits_falls_back_to_best_covering_nodes() -> None:
    """Three lines at three nodes ship in three shipments; with a cap of 2 one is unfilled."""
    for cap, shipments in ((UNLIMITED, 3), (2, 2)):
        problem = make_problem(
            [north(1.0), north(2.0), north(3.0)],
            {(0, 0): 5, (1, 1): 5, (2, 2): 5},
            [[(0, 1), (1, 2), (2, 1)]],
            penalties=OrderPenalties(unfilled_per_unit=100.0, max_shipments=cap),
        )
        costs = evaluate(problem, fewest_splits(problem).allocation)
        assert costs.order_shipments[0] == shipments
        assert costs.order_unfilled_units[0] == (0 if cap == UNLIMITED else 1)
        if cap == 2:  # the two nodes covering most units: SKU1's two units, then the nearest
            assert set(costs.shipment_node.tolist()) == {0, 1}


def _order_alloc(alloc: Allocation, problem: SourcingProblem, order: int) -> Allocation:
    sel = problem.line_order[alloc.line] == order
    return Allocation(alloc.line[sel], alloc.node[sel], alloc.qty[sel])


def _check_greedy(
    problem: SourcingProblem,
    plan: Allocation,
    orders: list[int] | None = None,
    taken: Allocation | None = None,
) -> None:
    """Walk the orders in sequence (after the units `taken`): each order's plan fits what is
    left and costs the brute-force optimum against what is left; then it is taken away."""
    entries = stock_entries(problem)
    stock = problem.stock_qty.copy()
    ships = problem.node_ship_capacity.copy()
    units = problem.node_unit_capacity.copy()

    def take(alloc: Allocation) -> None:
        for ln, n, q in zip(
            alloc.line.tolist(), alloc.node.tolist(), alloc.qty.tolist(), strict=True
        ):
            stock[entries[(n, int(problem.line_sku[ln]))]] -= q
            units[n] -= q
        for _, n in set(
            zip(problem.line_order[alloc.line].tolist(), alloc.node.tolist(), strict=True)
        ):
            ships[n] -= 1

    if taken is not None:
        take(taken)
    for o in range(problem.n_orders) if orders is None else orders:
        avail = Availability(stock=stock.copy(), ships=ships.copy(), units=units.copy())
        best = cheapest_plan(problem, o, avail=avail)
        mine = _order_alloc(plan, problem, o)
        cost = evaluate(problem, mine).order_cost[o]
        assert cost == pytest.approx(best.cost, rel=1e-9, abs=1e-9), f"order {o}"
        take(mine)
        assert np.all(stock >= 0), f"order {o} oversells"
        assert np.all(ships >= 0), f"order {o} exceeds a shipment capacity"
        assert np.all(units >= 0), f"order {o} exceeds a unit capacity"


@pytest.mark.parametrize("seed", range(20))
def test_greedy_cost_is_the_order_by_order_optimum(seed: int) -> None:
    """greedy-cost gives each order, in sequence, its cheapest plan on what is left."""
    problem = random_problem(seed, n_nodes=4, n_orders=8, max_qty=2)
    _check_greedy(problem, greedy_cost(problem).allocation)


@pytest.mark.parametrize("seed", range(12))
def test_greedy_allocation_on_what_others_leave(seed: int) -> None:
    """Greedy of some orders in a given sequence is order-by-order optimal on what others leave."""
    problem = random_problem(seed, n_nodes=4, n_orders=8, max_qty=2, scarce=True)
    kept_orders = np.arange(0, problem.n_orders, 2)
    base = closest(problem).allocation
    keep = np.isin(problem.line_order[base.line], kept_orders)
    taken = Allocation(base.line[keep], base.node[keep], base.qty[keep])
    sequence = np.arange(problem.n_orders - 1, 0, -2)  # the odd orders, last first
    plan = greedy_allocation(problem, None, sequence, taken=taken)
    assert set(problem.line_order[plan.line].tolist()) <= set(sequence.tolist())
    _check_greedy(problem, plan, sequence.tolist(), taken)
    assert feasibility_errors(problem, Allocation.concat([taken, plan])) == []


def test_greedy_cost_across_chunks() -> None:
    """300 orders (past one pricing chunk), stock running out: still exactly order by order."""
    problem = random_problem(
        7, n_nodes=5, n_skus=4, n_orders=300, max_lines=2, max_qty=2, scarce=False,
        max_stock=80, capacities=False,
    )  # fmt: skip
    plan = greedy_cost(problem).allocation
    _check_greedy(problem, plan)
    assert feasibility_errors(problem, plan) == []


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("policy", list(POLICIES))
def test_policies_respect_every_constraint(policy: str, seed: int) -> None:
    """Every plan keeps within stock, capacities, enabled nodes and the cap, at its own cost."""
    problem = random_problem(seed, n_nodes=5, n_orders=10, max_qty=3, scarce=seed % 2 == 0)
    result = POLICIES[policy](problem)
    assert feasibility_errors(problem, result.allocation) == []
    assert result.objective == pytest.approx(evaluate(problem, result.allocation).total)
    assert result.status is Status.HEURISTIC
    assert result.bound is None
    assert result.gap is None
    assert result.policy == policy


@pytest.mark.parametrize("policy", list(POLICIES))
def test_policies_on_a_tight_node(policy: str) -> None:
    """One node with room for one shipment serves only the first order; the second waits."""
    problem = make_problem(
        [north(1.0)], {(0, 0): 10}, [[(0, 1)], [(0, 1)]], ship_capacity=[1],
        shipping=LinearCost(per_shipment=5.0),
    )  # fmt: skip
    result = POLICIES[policy](problem)
    assert allocation_set(result.allocation) == {(0, 0, 1)}
    assert result.objective == pytest.approx(5.0 + 100.0)
