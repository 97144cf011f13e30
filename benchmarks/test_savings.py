"""Savings of `optimal` against the rule-based policies on the presets.

Target (issue 2): on `medium`, optimal at least 5% cheaper than closest, with fewer
shipments per order, and never dearer than greedy-cost.

Every policy's plan goes through the plan checker inside `compare` (an invalid plan raises
and fails the benchmark); each policy's cost terms (shipping, handling, split and unfilled
penalties), fill rate and savings per shipped unit go to extra_info for the report.
"""

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from sourcing_engine.compare import compare
from sourcing_engine.presets import generate
from sourcing_engine.sourcing import compile_batch

PRESETS = [("small", 30.0), ("italy", 60.0), ("medium", 120.0)]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p[0])
def test_savings(benchmark: BenchmarkFixture, preset: tuple[str, float]) -> None:
    """Every policy on one preset (seed 1), each plan checked; its figures go to extra_info."""
    name, limit = preset
    compiled = compile_batch(generate(name, 1))
    policies = ["closest", "fewest-splits", "greedy-cost", "optimal"]
    rows = benchmark.pedantic(
        lambda: compare(compiled, policies, time_limit=limit), rounds=1, iterations=1
    )
    by_policy = {row.policy: row for row in rows}
    for row in rows:
        benchmark.extra_info[row.policy] = row.to_dict()
    best, closest = by_policy["optimal"], by_policy["closest"]
    assert best.total_cost <= by_policy["greedy-cost"].total_cost + 1e-6
    assert best.total_cost <= 0.95 * closest.total_cost
    assert (best.shipments_per_order or 0.0) < (closest.shipments_per_order or 0.0)
