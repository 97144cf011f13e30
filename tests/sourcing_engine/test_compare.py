"""Policy comparison metrics: hand-checked on a tiny batch, cross-checked on the committed one."""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sourcing_engine.compare import (
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

SMALL = Path(__file__).parents[1] / "fixtures" / "small-seed1" / "problem.json"
HEADERS = ("total cost (USD)", "cost/order", "ships/order", "split orders", "unfilled units",
           "miles/ship", "runtime", "status", "gap", "vs closest")  # fmt: skip
PER_SHIPMENT, PER_UNIT, UNFILLED, SPLIT = 5.0, 0.5, 40.0, 2.0


def _tiny() -> CompiledBatch:
    """Two nodes on one meridian, three orders; a linear carrier price without distance."""
    doc: dict[str, Any] = {
        "format": "sourcing-problem/1",
        "name": "tiny",
        "nodes": [
            {"id": "N0", "kind": "warehouse", "lat": 40.0, "lon": -75.0},
            {"id": "N1", "kind": "store", "lat": 41.0, "lon": -75.0},
        ],
        "items": [{"sku": "A", "weight_lb": 1.0}, {"sku": "B", "weight_lb": 1.0}],
        "inventory": [
            {"node": "N0", "sku": "A", "on_hand": 10},
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
    return compile_batch(problem_from_data(doc))


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
    total = sum(PER_SHIPMENT + PER_UNIT * u for u, _ in shipments) + SPLIT + 2 * UNFILLED
    miles = float(np.mean(haversine_miles(
        np.full(4, 40.0), np.full(4, -75.0),
        np.array([40.0 + d for _, d in shipments]), np.full(4, -75.0),
    )))  # fmt: skip
    assert m.policy == "closest"
    assert m.status == "heuristic"
    assert m.currency == "USD"
    assert m.total_cost == pytest.approx(total)
    assert m.orders == 3
    assert m.cost_per_order == pytest.approx(total / 3)
    assert m.shipments == 4
    assert m.shipments_per_order == pytest.approx(4 / 3)
    assert m.split_order_share == pytest.approx(1 / 3)
    assert m.unfilled_units == 2
    assert m.avg_miles_per_shipment == pytest.approx(miles)
    assert m.runtime_s == 0.25
    assert (m.bound, m.gap, m.savings_vs_closest_pct) == (None, None, None)


def test_empty_plan_has_no_per_shipment_figures() -> None:
    """A plan that ships nothing has no split share and no miles (None, not 0 or NaN)."""
    compiled = _tiny()
    empty = _result(compiled, Allocation.empty(), 0.0)
    m = policy_metrics(compiled.problem, empty)
    assert m.shipments == 0
    assert m.unfilled_units == 7
    assert m.total_cost == pytest.approx(7 * UNFILLED)
    assert m.split_order_share is None
    assert m.avg_miles_per_shipment is None


def _row(policy: str, total: float) -> PolicyMetrics:
    return PolicyMetrics(
        policy, "heuristic", "USD", total, 1, total, 1, 1.0, 0.0, 0, 1.0, 0.1, None, None
    )


def test_savings_are_percent_of_closest_cost() -> None:
    """Savings are (closest - policy) / closest in percent; without closest they stay None."""
    rows = with_savings([_row("greedy-cost", 75.0), _row("closest", 100.0), _row("x", 110.0)])
    assert [r.savings_vs_closest_pct for r in rows] == pytest.approx([25.0, 0.0, -10.0])
    assert all(r.savings_vs_closest_pct is None for r in with_savings([_row("optimal", 5.0)]))


def test_compare_on_committed_scenario_agrees_with_the_validator() -> None:
    """Each policy's total equals the validator's recomputed objective of its plan."""
    compiled = compile_batch(problem_from_json(SMALL.read_bytes()))
    rows = compare(compiled, ["closest", "fewest-splits", "greedy-cost"])
    assert [r.policy for r in rows] == ["closest", "fewest-splits", "greedy-cost"]
    for row in rows:
        plan = compiled.plan_document(solve(compiled.problem, row.policy))
        report = validate_plan(compiled.batch, plan)
        assert report.ok, report.errors
        assert row.total_cost == pytest.approx(report.objective, rel=1e-9)
        assert row.unfilled_units == report.total_unfilled_units
        assert row.shipments == report.shipment_count
    assert rows[0].savings_vs_closest_pct == 0.0
    greedy_savings = rows[2].savings_vs_closest_pct
    assert greedy_savings is not None
    assert greedy_savings > 0


def test_format_table_shows_every_metric_and_dash_without_closest() -> None:
    """The table has a header with the currency, one line per policy, and "—" for no value."""
    table = format_table([_row("greedy-cost", 1234.5), _row("optimal", 1000.0)])
    lines = table.splitlines()
    assert len(lines) == 4
    for header in HEADERS:
        assert header in lines[0]
    assert "1,234.50" in lines[2]
    assert lines[2].rstrip().endswith("—")


def test_json_document_is_strict_json() -> None:
    """The JSON figures round-trip, with an unbounded gap written as null, not Infinity."""
    row = PolicyMetrics(
        "optimal", "feasible", "USD", 1.0, 1, 1.0, 1, 1.0, 0.0, 0, 1.0, 0.1, -1.0, math.inf
    )
    text = json.dumps(to_json_data([row], problem_name="p"), allow_nan=False)
    data = json.loads(text)
    assert data["problem"] == "p"
    assert data["policies"][0]["gap"] is None
    assert data["policies"][0]["bound"] == -1.0


@pytest.mark.parametrize(
    ("names", "message"),
    [(["closest", "fast"], "unknown policy 'fast'"), (["optimal", "optimal"], "given twice"),
     ([], "no policy given")],
)  # fmt: skip
def test_check_policies_names_the_bad_entry(names: list[str], message: str) -> None:
    """An unknown, repeated or missing policy is a ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        check_policies(names)
