"""Savings of `optimal` against the rule-based policies on the presets.

Target (issue 2, restated by issue 14): on `medium`, optimal's shipping plus handling per
shipped unit at least 5% below closest's, with fewer shipments per order. (That optimal is
never dearer than greedy-cost in total holds by construction -- it starts from the best
baseline's plan -- so it is no target and no assert here.)

Every policy's plan goes through the plan checker inside `compare` (an invalid plan raises
and fails the benchmark); each policy's cost terms (shipping, handling, split and unfilled
penalties), fill rate and savings per shipped unit go to extra_info for the report. small
and italy are compared 3 times (the report prints optimal's median runtime and its spread;
the baselines are deterministic and optimal proves its plan there); medium once (its
optimal runs to the 120 s limit).
"""

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import run_rounds
from sourcing_engine.compare import PolicyMetrics, compare
from sourcing_engine.presets import generate
from sourcing_engine.sourcing import compile_batch

PRESETS = [("small", 30.0), ("italy", 60.0), ("medium", 120.0)]
ROUNDS = {"small": 3, "italy": 3, "medium": 1}


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p[0])
def test_savings(benchmark: BenchmarkFixture, preset: tuple[str, float]) -> None:
    """Every policy on one preset (seed 1), each plan checked; its figures go to extra_info."""
    name, limit = preset
    compiled = compile_batch(generate(name, 1))
    policies = ["closest", "fewest-splits", "greedy-cost", "optimal"]

    def optimal_figures(rows: list[PolicyMetrics]) -> dict[str, float | None]:
        best = next(row for row in rows if row.policy == "optimal")
        return {
            "optimal_runtime_s": best.runtime_s,
            "optimal_total_cost": best.total_cost,
            "optimal_gap": best.gap,
        }

    rounds = run_rounds(
        benchmark,
        lambda: compare(compiled, policies, time_limit=limit),
        ROUNDS[name],
        optimal_figures,
    )
    rows = rounds[-1]
    by_policy = {row.policy: row for row in rows}
    for row in rows:
        benchmark.extra_info[row.policy] = row.to_dict()
    best, closest = by_policy["optimal"], by_policy["closest"]
    assert best.total_cost < closest.total_cost
    assert (best.shipments_per_order or 0.0) < (closest.shipments_per_order or 0.0)
