"""Candidate ranking: cost order per content, thresholds, infeasible nodes never ranked."""

import math

import numpy as np
import pytest

from sourcing_engine.cost_models import LinearCost, OrderPenalties
from sourcing_engine.solvers.candidates import build_group, canonical_lines, order_shapes
from sourcing_engine.solvers.problem import SourcingProblem
from tests.solvers.brute_force import shipment_cost, stock_entries
from tests.solvers.problems import MILES_PER_DEGREE, make_problem, north, random_problem

SPLIT = 2.0


def _ladder(qty: int) -> SourcingProblem:
    """One order of `qty` x SKU0 and nine nodes north of it, cost rising with distance.

    Feasible: 5 (0.7 deg, 1 unit at most), 1 (1 deg), 2 (2 deg, 1 in stock), 0 (3 deg),
    8 (4 deg). Never: 3 disabled, 4 no shipments, 6 no units, 7 no SKU0.
    """
    degrees = [3.0, 1.0, 2.0, 0.5, 0.6, 0.7, 0.8, 0.9, 4.0]
    stock = {(n, 0): 5 for n in range(9) if n != 7} | {(2, 0): 1, (7, 1): 5}
    return make_problem(
        [north(d) for d in degrees],
        stock,
        [[(0, qty)]],
        ship_enabled=[n != 3 for n in range(9)],
        ship_capacity=[0 if n == 4 else 100 for n in range(9)],
        unit_capacity=[1 if n == 5 else 0 if n == 6 else 100 for n in range(9)],
        shipping=LinearCost(per_shipment=5.0, per_unit_mile=0.01),
        penalties=OrderPenalties(unfilled_per_unit=100.0, split=SPLIT),
    )


def _ladder_cost(degrees: float, units: int) -> float:
    return 5.0 + units * 0.01 * degrees * MILES_PER_DEGREE + SPLIT


DEG = {0: 3.0, 1: 1.0, 2: 2.0, 5: 0.7, 8: 4.0}


def test_every_feasible_node_ranked_in_cost_order() -> None:
    """depth=None keeps every feasible node per content, cheapest first, priced with split."""
    group = build_group(_ladder(2), (2,), np.array([0]), depth=None)
    assert group.node[0, 0].tolist() == [-1] * 5  # the empty content is never shipped
    assert group.node[0, 1].tolist() == [5, 1, 2, 0, 8]
    assert group.node[0, 2].tolist() == [1, 0, 8, -1, -1]
    assert group.cost[0, 1].tolist() == pytest.approx(
        [_ladder_cost(DEG[n], 1) for n in (5, 1, 2, 0, 8)]
    )
    assert group.cost[0, 2, :3].tolist() == pytest.approx(
        [_ladder_cost(DEG[n], 2) for n in (1, 0, 8)]
    )
    assert np.all(np.isinf(group.cost[0, 2, 3:]))
    assert np.all(np.isinf(group.threshold))


def test_depth_keeps_the_cheapest_and_the_threshold_is_the_next() -> None:
    """depth=2 keeps two nodes per content; the threshold is the cost of the best left out."""
    group = build_group(_ladder(2), (2,), np.array([0]), depth=2)
    assert group.node[0, 1].tolist() == [5, 1]
    assert group.node[0, 2].tolist() == [1, 0]
    assert group.threshold[0, 1] == pytest.approx(_ladder_cost(DEG[2], 1))
    assert group.threshold[0, 2] == pytest.approx(_ladder_cost(DEG[8], 2))
    assert math.isinf(group.threshold[0, 0])


def test_depth_one_single_unit() -> None:
    """A one-unit order ranked one deep keeps the cheapest node and the next as threshold."""
    group = build_group(_ladder(1), (1,), np.array([0]), depth=1)
    assert group.node[0, 1].tolist() == [5]
    assert group.threshold[0, 1] == pytest.approx(_ladder_cost(DEG[1], 1))


def test_depth_never_below_the_most_shipments() -> None:
    """A split into k shipments needs k nodes per content: depth 1 still keeps max_blocks."""
    group = build_group(_ladder(2), (2,), np.array([0]), depth=1)
    assert group.node.shape[2] == 2


def test_entries_point_at_the_stock_of_each_line() -> None:
    """entry[g, c, m, l] is the stock entry of (node, SKU of line l), -1 where unranked."""
    problem = _ladder(2)
    group = build_group(problem, (2,), np.array([0]), depth=None)
    entries = stock_entries(problem)
    for c in range(3):
        for m, n in enumerate(group.node[0, c].tolist()):
            expected = -1 if n < 0 else entries[(n, 0)]
            assert group.entry[0, c, m, 0] == expected


def test_order_shapes_and_canonical_lines() -> None:
    """Orders group by line quantities (largest first); lines are listed largest first."""
    problem = make_problem(
        [north(1.0)], {(0, 0): 1},
        [[(0, 1), (1, 2)], [(2, 2), (1, 1)], [(0, 3)], [(1, 1), (0, 1)]],
    )  # fmt: skip
    groups = order_shapes(problem, np.arange(4))
    assert {k: v.tolist() for k, v in groups.items()} == {(2, 1): [0, 1], (3,): [2], (1, 1): [3]}
    assert canonical_lines(problem, np.array([0, 1]), 2).tolist() == [[1, 0], [2, 3]]


def _feasible_costs(
    problem: SourcingProblem, order: int, lines: list[int], content: list[int]
) -> dict[int, float]:
    """Cost (with split penalty) of shipping the content from each node that can, by hand."""
    entries = stock_entries(problem)
    units = sum(content)
    out: dict[int, float] = {}
    for n in range(problem.n_nodes):
        if not problem.node_ship_enabled[n] or problem.node_ship_capacity[n] < 1:
            continue
        if problem.node_unit_capacity[n] < units:
            continue
        items = {ln: q for ln, q in zip(lines, content, strict=True) if q}
        stocked = [entries.get((n, int(problem.line_sku[ln]))) for ln in items]
        if any(
            e is None or problem.stock_qty[e] < items[ln]
            for e, ln in zip(stocked, items, strict=True)
        ):
            continue
        out[n] = shipment_cost(problem, order, n, items) + problem.penalties.split
    return out


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("depth", [None, 1, 3])
def test_ranking_matches_hand_costs(seed: int, depth: int | None) -> None:
    """Kept nodes are the cheapest feasible at hand-computed costs; threshold = next one."""
    problem = random_problem(seed, n_nodes=6, n_skus=3, n_orders=6, max_qty=2)
    for qty, orders in order_shapes(problem, np.arange(problem.n_orders)).items():
        group = build_group(problem, qty, orders, depth=depth)
        shape = group.shape
        keep = math.inf if depth is None else max(depth, shape.max_blocks)
        for g, o in enumerate(orders.tolist()):
            lines = group.lines[g].tolist()
            assert sorted(lines) == list(
                range(problem.order_line_ptr[o], problem.order_line_ptr[o + 1])
            )
            for c in range(1, shape.n_contents):
                by_hand = _feasible_costs(problem, o, lines, shape.contents[c].tolist())
                ranked = sorted(by_hand.values())
                kept = group.node[g, c]
                finite = kept >= 0
                assert np.array_equal(finite, np.isfinite(group.cost[g, c]))
                assert np.all(np.diff(group.cost[g, c][finite]) >= 0)
                assert set(kept[finite].tolist()) <= set(by_hand)
                n_kept = int(min(keep, len(ranked)))
                assert int(finite.sum()) == n_kept
                for m in range(n_kept):
                    assert group.cost[g, c, m] == pytest.approx(by_hand[int(kept[m])], rel=1e-12)
                    assert group.cost[g, c, m] == pytest.approx(ranked[m], rel=1e-12)
                expected = ranked[n_kept] if n_kept < len(ranked) else math.inf
                assert group.threshold[g, c] == pytest.approx(expected, rel=1e-12)
