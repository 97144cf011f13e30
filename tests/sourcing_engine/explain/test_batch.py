"""The batch's explanation held to the truth: each stated shadow price is the objective
change when that unit is added to the batch (its document: one more unit on hand, or one
more shipment or unit of a node's capacity) and the batch is solved again to proven
optimality; a dual called exact equals the relaxation re-solved; the redirected orders are
those whose plan costs more than their own cheapest, each alone, by the brute force."""

from dataclasses import replace

import numpy as np
import pytest

from sourcing_engine.domain import Batch, Inventory
from sourcing_engine.explain.batch import explain_batch
from sourcing_engine.explain.context import BatchPlan
from sourcing_engine.presets import generate, sized
from sourcing_engine.solvers import solve
from sourcing_engine.sourcing import compile_batch
from tests.solvers.brute_force import cheapest_plan

TOL = 1e-6


def one_more(batch: Batch, kind: str, node: str, sku: str | None) -> Batch:
    """The batch's document with one unit more: on hand at (node, sku), or of the node's
    shipment or unit capacity."""
    n = next(i for i, x in enumerate(batch.nodes) if x.id == node)
    if kind == "stock":
        s = next(i for i, it in enumerate(batch.items) if it.sku == sku)
        inv = batch.inventory
        on_hand = inv.on_hand.copy()
        (row,) = np.nonzero((inv.node == n) & (inv.item == s))[0]
        on_hand[row] += 1
        return replace(batch, inventory=Inventory(inv.node, inv.item, on_hand, inv.safety_stock))
    field = "ship_capacity" if kind == "shipments" else "unit_capacity"
    x = batch.nodes[n]
    nodes = list(batch.nodes)
    nodes[n] = replace(x, **{field: getattr(x, field) + 1})
    return replace(batch, nodes=tuple(nodes))


def optimum(batch: Batch) -> float:
    result = solve(compile_batch(batch).problem, "optimal", time_limit=30.0, gap_tolerance=0.0)
    assert str(result.status) == "optimal"
    return result.objective


@pytest.mark.parametrize("size", [(30, 6, 10), (40, 6, 12)], ids=lambda s: f"{s[0]}o-{s[1]}n")
def test_a_stated_shadow_price_is_the_change_when_the_unit_is_added_and_resolved(
    size: tuple[int, int, int],
) -> None:
    batch = generate(sized(*size), 3)
    compiled = compile_batch(batch)
    plan = compiled.plan_document(solve(compiled.problem, "optimal", gap_tolerance=0.0))
    found = explain_batch(BatchPlan(compiled, plan), top=4, check="integer")
    base = optimum(batch)
    assert found.integer_objective == pytest.approx(base, abs=TOL)
    assert found.objective == pytest.approx(base, abs=TOL)
    assert found.relaxation <= base + TOL
    assert found.shadow_prices
    assert found.shadow_prices[0].dual > 1.0
    for s in found.shadow_prices:
        assert s.integer == pytest.approx(base - optimum(one_more(batch, s.kind, s.node, s.sku)),
                                          abs=TOL), s  # fmt: skip
        assert s.resolved is not None
        assert s.exact == (abs(s.dual - s.resolved) <= TOL)
        assert s.resolved <= s.dual + TOL  # one whole unit is never worth more than the slope
    # the listing is by re-solved value, largest first
    values = [s.resolved for s in found.shadow_prices]
    assert values == sorted(values, reverse=True)  # type: ignore[type-var]


def test_redirected_orders_are_those_dearer_than_their_own_cheapest_plan() -> None:
    batch = generate(sized(30, 6, 10), 3)
    compiled = compile_batch(batch)
    plan = compiled.plan_document(solve(compiled.problem, "optimal", gap_tolerance=0.0))
    found = explain_batch(BatchPlan(compiled, plan), top=1)
    problem = compiled.problem
    cost = {p.id: p.cost for p in plan.orders}
    expected = {}
    for o, order in enumerate(batch.orders):
        alone = cheapest_plan(problem, o).cost
        if cost[order.id] > alone + TOL:
            expected[order.id] = alone
    assert expected
    assert {r.order_id: r.alone for r in found.redirected} == pytest.approx(expected, abs=TOL)
    assert found.redirect_cost == pytest.approx(
        sum(cost[o] - a for o, a in expected.items()), abs=TOL
    )
    greedy = solve(problem, "greedy-cost").objective
    assert found.gained_vs_greedy == pytest.approx(greedy - sum(cost.values()), abs=TOL)
