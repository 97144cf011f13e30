"""Policy comparison metrics: hand-checked on a tiny batch, cross-checked on the committed one."""

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sourcing_engine.compare import (
    LEGEND,
    InvalidPlanError,
    PolicyMetrics,
    check_policies,
    compare,
    format_table,
    policy_metrics,
    to_json_data,
    with_savings,
)
from sourcing_engine.cost_models import haversine_miles
from sourcing_engine.exchange import problem_from_data, problem_from_json
from sourcing_engine.plan_check import validate_plan
from sourcing_engine.solvers import Allocation, Result, Status, Termination, solve
from sourcing_engine.solvers.evaluate import evaluate
from sourcing_engine.sourcing import CompiledBatch, compile_batch
from tests.independent_pricer import carrier_price, carrier_terms, great_circle_miles

SMALL = Path(__file__).parents[1] / "fixtures" / "small-seed1" / "problem.json"
HEADERS = ("total cost (USD)", "shipping", "handling", "split pen.", "unfilled pen.", "fill",
           "ship+hand/unit", "ships/order", "split orders", "unfilled units", "miles/ship",
           "runtime", "status", "gap", "vs closest", "unit vs closest",
           "unit vs greedy")  # fmt: skip
PER_SHIPMENT, PER_UNIT, UNFILLED, SPLIT = 5.0, 0.5, 40.0, 2.0
# handling: N0 1.00 a shipment + 0.25 a unit, N1 0.50 a unit
N0_SHIPMENT, N0_UNIT, N1_UNIT = 1.0, 0.25, 0.5


def _tiny_doc(a_on_hand: int = 10) -> dict[str, Any]:
    """Two nodes on one meridian, three orders; a linear carrier price without distance."""
    return {
        "format": "sourcing-problem/1",
        "name": "tiny",
        "nodes": [
            {"id": "N0", "kind": "warehouse", "lat": 40.0, "lon": -75.0,
             "handling": {"per_shipment": N0_SHIPMENT, "per_unit": N0_UNIT}},
            {"id": "N1", "kind": "store", "lat": 41.0, "lon": -75.0,
             "handling": {"per_unit": N1_UNIT}},
        ],
        "items": [{"sku": "A", "weight_lb": 1.0}, {"sku": "B", "weight_lb": 1.0}],
        "inventory": [
            {"node": "N0", "sku": "A", "on_hand": a_on_hand},
            {"node": "N1", "sku": "B", "on_hand": 10},
        ],
        "cost_model": {"type": "linear", "per_shipment": PER_SHIPMENT, "per_unit": PER_UNIT},
        "unfilled_penalty_per_unit": UNFILLED,
        "split_penalty": SPLIT,
        "orders": [
            {"id": "O0", "destination": {"lat": 40.0, "lon": -75.0},
             "lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]},
            {"id": "O1", "destination": {"lat": 42.0, "lon": -75.0},
             "lines": [{"sku": "A", "qty": 1}]},
            {"id": "O2", "destination": {"lat": 41.0, "lon": -75.0},
             "lines": [{"sku": "B", "qty": 3}]},
        ],
    }  # fmt: skip


def _tiny() -> CompiledBatch:
    return compile_batch(problem_from_data(_tiny_doc()))


def _result(compiled: CompiledBatch, allocation: Allocation, runtime_s: float) -> Result:
    """A rule's result for this allocation, its objective left at 0: compare must measure
    the plan itself."""
    costs = evaluate(compiled.problem, allocation)
    return Result(
        "closest", Status.HEURISTIC, 0.0, None, None, runtime_s, allocation, costs,
        Termination.COMPLETED,
    )  # fmt: skip


def _tiny_result(compiled: CompiledBatch) -> Result:
    """O0 split over N0 (2 A) and N1 (1 B); O1 from N0; O2 gets 1 of 3 B from N1."""
    # lines: 0 = O0/A, 1 = O0/B, 2 = O1/A, 3 = O2/B
    allocation = Allocation(
        line=np.array([0, 1, 2, 3]), node=np.array([0, 1, 0, 1]), qty=np.array([2, 1, 1, 1])
    )
    return _result(compiled, allocation, 0.25)


def test_policy_metrics_match_hand_computed_figures() -> None:
    """Every figure of a hand-made plan equals the figure worked out by hand."""
    compiled = _tiny()
    m = policy_metrics(compiled.problem, _tiny_result(compiled))

    shipments = [(2, 0.0), (1, 1.0), (1, 2.0), (1, 0.0)]  # (units, degrees node -> destination)
    shipping = sum(PER_SHIPMENT + PER_UNIT * u for u, _ in shipments)  # 6 + 5.5 * 3 = 22.5
    handling = (N0_SHIPMENT + N0_UNIT * 2) + N1_UNIT + (N0_SHIPMENT + N0_UNIT) + N1_UNIT  # 3.75
    total = shipping + handling + SPLIT + 2 * UNFILLED  # O0 is split; O2 misses 2 units
    miles = float(np.mean(haversine_miles(
        np.full(4, 40.0), np.full(4, -75.0),
        np.array([40.0 + d for _, d in shipments]), np.full(4, -75.0),
    )))  # fmt: skip
    assert m.policy == "closest"
    assert m.status == "heuristic"
    assert m.currency == "USD"
    assert m.total_cost == pytest.approx(total)
    assert (m.shipping_cost, m.handling_cost) == pytest.approx((22.5, 3.75))
    assert (m.split_penalty, m.unfilled_penalty) == pytest.approx((SPLIT, 2 * UNFILLED))
    assert (m.units_ordered, m.units_shipped) == (7, 5)
    assert m.fill_rate == pytest.approx(5 / 7)
    assert m.shipping_handling_per_unit == pytest.approx((22.5 + 3.75) / 5)
    assert m.orders == 3
    assert m.cost_per_order == pytest.approx(total / 3)
    assert m.shipments == 4
    assert m.shipments_per_order == pytest.approx(4 / 3)
    assert m.split_order_share == pytest.approx(1 / 3)
    assert m.unfilled_units == 2
    assert m.avg_miles_per_shipment == pytest.approx(miles)
    assert m.runtime_s == 0.25
    assert (m.bound, m.gap, m.savings_vs_closest_pct) == (None, None, None)
    assert (m.per_unit_savings_vs_closest_pct, m.per_unit_savings_vs_greedy_cost_pct) == (
        None,
        None,
    )


def test_empty_plan_has_no_per_shipment_figures() -> None:
    """A plan that ships nothing has no split share and no miles (None, not 0 or NaN)."""
    compiled = _tiny()
    empty = _result(compiled, Allocation.empty(), 0.0)
    m = policy_metrics(compiled.problem, empty)
    assert m.shipments == 0
    assert m.unfilled_units == 7
    assert m.total_cost == pytest.approx(7 * UNFILLED)
    assert (m.shipping_cost, m.handling_cost, m.split_penalty) == (0.0, 0.0, 0.0)
    assert (m.units_shipped, m.fill_rate) == (0, 0.0)
    assert m.shipping_handling_per_unit is None
    assert m.split_order_share is None
    assert m.avg_miles_per_shipment is None


def _row(policy: str, total: float, per_unit: float | None = 4.0, **kw: Any) -> PolicyMetrics:
    """A row whose total and shipping-plus-handling per shipped unit are as given."""
    figures: dict[str, Any] = {
        "policy": policy, "status": "heuristic", "currency": "USD", "total_cost": total,
        "shipping_cost": total / 2, "handling_cost": total / 4, "split_penalty": total / 8,
        "unfilled_penalty": total / 8, "units_ordered": 10, "units_shipped": 9,
        "fill_rate": 0.9, "shipping_handling_per_unit": per_unit, "orders": 1,
        "cost_per_order": total, "shipments": 1, "shipments_per_order": 1.0,
        "split_order_share": 0.0, "unfilled_units": 1, "avg_miles_per_shipment": 1.0,
        "runtime_s": 0.1, "bound": None, "gap": None,
    }  # fmt: skip
    return PolicyMetrics(**(figures | kw))


def test_savings_are_percent_of_closest_cost() -> None:
    """Savings are (closest - policy) / closest in percent; without closest they stay None."""
    rows = with_savings([_row("greedy-cost", 75.0), _row("closest", 100.0), _row("x", 110.0)])
    assert [r.savings_vs_closest_pct for r in rows] == pytest.approx([25.0, 0.0, -10.0])
    assert all(r.savings_vs_closest_pct is None for r in with_savings([_row("optimal", 5.0)]))


def test_per_unit_savings_against_closest_and_greedy_cost() -> None:
    """Shipping plus handling per shipped unit: (baseline - policy) / baseline in percent,
    against closest and greedy-cost; None without the baseline or without shipped units."""
    rows = with_savings([_row("closest", 100.0, 5.0), _row("greedy-cost", 90.0, 4.0),
                         _row("optimal", 80.0, 4.2), _row("x", 500.0, None)])  # fmt: skip
    vs_closest = [r.per_unit_savings_vs_closest_pct for r in rows]
    vs_greedy = [r.per_unit_savings_vs_greedy_cost_pct for r in rows]
    assert vs_closest[:3] == pytest.approx([0.0, 20.0, 16.0])  # (5 - 4.2) / 5 = 16%
    assert vs_greedy[:3] == pytest.approx([-25.0, 0.0, -5.0])  # dearer per unit: negative
    assert (vs_closest[3], vs_greedy[3]) == (None, None)
    alone = with_savings([_row("optimal", 80.0, 4.2)])[0]
    assert (alone.per_unit_savings_vs_closest_pct, alone.per_unit_savings_vs_greedy_cost_pct) == (
        None,
        None,
    )


def test_compare_on_committed_scenario_agrees_with_the_validator() -> None:
    """Each policy's total equals the validator's recomputed objective of its plan."""
    compiled = compile_batch(problem_from_json(SMALL.read_bytes()))
    rows = compare(compiled, ["closest", "fewest-splits", "greedy-cost"])
    assert [r.policy for r in rows] == ["closest", "fewest-splits", "greedy-cost"]
    batch = compiled.batch
    nodes = {node.id: node for node in batch.nodes}
    orders = {order.id: order for order in batch.orders}
    items = {item.sku: item for item in batch.items}
    terms = carrier_terms(batch.shipping)
    for row in rows:
        plan = compiled.plan_document(solve(compiled.problem, row.policy))
        report = validate_plan(batch, plan)
        assert report.ok, report.errors
        assert row.total_cost == pytest.approx(report.objective, rel=1e-9)
        assert row.unfilled_units == report.total_unfilled_units
        assert row.shipments == report.shipment_count
        # the cost terms, recomputed shipment by shipment with the independent pricer
        handling = shipping = 0.0
        for s in report.shipments:
            node, dest = nodes[s.node], orders[s.order].destination
            handling += node.handling_per_shipment + node.handling_per_unit * s.units
            weight = sum(q * items[sku].weight_lb for sku, q in s.lines.items())
            volume = sum(q * items[sku].volume_in3 for sku, q in s.lines.items())
            miles = great_circle_miles(node.lat, node.lon, dest.lat, dest.lon)
            shipping += carrier_price(terms, miles, weight, volume, s.units, dest.residential)
        extra = sum(max(k - 1, 0) for k in report.order_shipments.values())
        shipped = sum(s.units for s in report.shipments)
        ordered = sum(line.qty for order in batch.orders for line in order.lines)
        assert row.handling_cost == pytest.approx(handling, rel=1e-9)
        assert row.shipping_cost == pytest.approx(shipping, rel=1e-9)
        assert row.split_penalty == pytest.approx(batch.penalties.split * extra, rel=1e-9)
        assert row.unfilled_penalty == pytest.approx(
            batch.penalties.unfilled_per_unit * report.total_unfilled_units, rel=1e-9
        )
        assert (row.units_shipped, row.units_ordered) == (shipped, ordered)
        assert row.fill_rate == pytest.approx(shipped / ordered)
        assert row.shipping_handling_per_unit == pytest.approx((shipping + handling) / shipped)
    assert rows[0].savings_vs_closest_pct == 0.0
    greedy_savings = rows[2].savings_vs_closest_pct
    assert greedy_savings is not None
    assert greedy_savings > 0
    assert rows[2].per_unit_savings_vs_greedy_cost_pct == 0.0


def test_compare_raises_on_a_plan_the_checker_refuses() -> None:
    """A plan that oversells the batch it is checked against is an InvalidPlanError naming
    the policy and the oversold position, not a row of figures."""
    compiled = _tiny()  # solved with 10 A at N0; checked against a batch with 1 A there
    short = replace(compiled, batch=problem_from_data(_tiny_doc(a_on_hand=1)))
    with pytest.raises(InvalidPlanError, match=r"closest plan .*node \"N0\", SKU \"A\"") as info:
        compare(short, ["closest"])
    assert info.value.policy == "closest"
    assert len(info.value.errors) == 1


def test_format_table_shows_every_metric_and_dash_without_closest() -> None:
    """The table has a header with the currency, one line per policy, and "—" for no value;
    the legend names every term of the total and the per-unit figure."""
    rows = with_savings([_row("greedy-cost", 1234.5, 5.0), _row("optimal", 1000.0, 4.0)])
    lines = format_table(rows).splitlines()
    assert len(lines) == 4
    for header in HEADERS:
        assert header in lines[0]
    # total, shipping, handling, split and unfilled penalties, fill, per unit
    assert lines[2].split()[1:8] == ["1,234.50", "617.25", "308.62", "154.31", "154.31", "90.0%",
                                     "5.00"]  # fmt: skip
    assert lines[3].split()[-3:] == ["—", "—", "20.0%"]  # no closest; 20% below greedy-cost
    legend = " ".join(LEGEND)
    for term in ("shipping", "handling", "split", "unfilled", "units shipped / units ordered",
                 "(shipping + handling) / units shipped", "greedy-cost"):  # fmt: skip
        assert term in legend


def test_json_document_is_strict_json() -> None:
    """The JSON figures round-trip, with an unbounded gap written as null, not Infinity."""
    row = _row("optimal", 1.0, status="feasible", bound=-1.0, gap=math.inf)
    text = json.dumps(to_json_data([row], problem_name="p"), allow_nan=False)
    data = json.loads(text)
    assert data["problem"] == "p"
    assert data["per_unit_baselines"] == ["closest", "greedy-cost"]
    figures = data["policies"][0]
    assert figures["gap"] is None
    assert figures["bound"] == -1.0
    for key in ("shipping_cost", "handling_cost", "split_penalty", "unfilled_penalty",
                "fill_rate", "shipping_handling_per_unit", "per_unit_savings_vs_closest_pct",
                "per_unit_savings_vs_greedy_cost_pct"):  # fmt: skip
        assert key in figures


@pytest.mark.parametrize(
    ("names", "message"),
    [(["closest", "fast"], "unknown policy 'fast'"), (["optimal", "optimal"], "given twice"),
     ([], "no policy given")],
)  # fmt: skip
def test_check_policies_names_the_bad_entry(names: list[str], message: str) -> None:
    """An unknown, repeated or missing policy is a ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        check_policies(names)
