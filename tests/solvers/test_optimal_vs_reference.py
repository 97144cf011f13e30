"""The solvers against the independent reference MIP and the independent plan validator.

Random small batches (both cost models, binding capacities, safety stock, split penalty,
shipment limits) are compiled and solved by every policy; each plan must pass
`validate_plan`, the optimal policy must reach the reference's optimum, and no policy may
beat it. A failure prints the batch, both objectives and both plans.
"""

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sourcing_engine.domain import Batch
from sourcing_engine.exchange import PlanSpec, problem_to_data
from sourcing_engine.plan_check import validate_plan
from sourcing_engine.solvers import POLICIES, Limits, solve
from sourcing_engine.sourcing import compile_batch
from tests.reference_mip import random_batch, reference_plan, solve_reference

SEEDS = st.integers(0, 2**32 - 1)
NO_STOCK = 884585951
"""A batch whose only stock position is all safety stock: nothing may be sourced anywhere."""
STOPPED_EARLY = 1929245186
"""A batch where the optimal policy once stopped at a 3.9% gap, 0.35 above the optimum."""
REL_TOL = 1e-6


def _mismatch(
    seed: int, batch: Batch, what: str, plan: PlanSpec, reference: PlanSpec, errors: list[str]
) -> str:
    """A failure message with everything needed to reproduce and compare."""
    return "\n".join(
        [
            f"seed {seed}: {what}",
            *(f"  validator: {e}" for e in errors),
            f"solver objective {plan.objective!r}, reference objective {reference.objective!r}",
            "problem: " + json.dumps(problem_to_data(batch)),
            "solver plan: " + plan.model_dump_json(),
            "reference plan: " + reference.model_dump_json(),
        ]
    )


@settings(max_examples=60, deadline=None)
@given(SEEDS)
@example(seed=NO_STOCK)
@example(seed=STOPPED_EARLY)
def test_optimal_reaches_reference_optimum(seed: int) -> None:
    """The optimal policy's plan is valid, costs the reference optimum, and its bound holds."""
    batch = random_batch(seed)
    compiled = compile_batch(batch)
    result = solve(compiled.problem, "optimal", time_limit=60.0, gap_tolerance=1e-9)
    plan = compiled.plan_document(result)
    report = validate_plan(batch, plan)
    ref = solve_reference(batch)
    ref_plan = reference_plan(batch, ref)

    assert report.ok, _mismatch(seed, batch, "invalid plan", plan, ref_plan, report.errors)
    assert result.objective == pytest.approx(ref.objective, rel=REL_TOL, abs=REL_TOL), _mismatch(
        seed, batch, "objective differs from the reference optimum", plan, ref_plan, []
    )
    assert report.objective == pytest.approx(ref.objective, rel=REL_TOL, abs=REL_TOL)
    assert result.bound is not None
    assert result.bound <= ref.objective + REL_TOL * max(1.0, ref.objective), _mismatch(
        seed, batch, f"bound {result.bound!r} above the reference optimum", plan, ref_plan, []
    )


@settings(max_examples=60, deadline=None)
@given(SEEDS)
@example(seed=NO_STOCK)
def test_every_policy_valid_and_never_below_reference(seed: int) -> None:
    """Every policy's plan passes the validator and costs no less than the reference optimum."""
    batch = random_batch(seed)
    compiled = compile_batch(batch)
    ref = solve_reference(batch)
    ref_plan = reference_plan(batch, ref)
    assert set(POLICIES) == {"closest", "fewest-splits", "greedy-cost", "optimal"}
    for name, policy in POLICIES.items():
        result = policy.solve(compiled.problem, Limits())
        plan = compiled.plan_document(result)
        report = validate_plan(batch, plan)
        assert report.ok, _mismatch(
            seed, batch, f"{name}: invalid plan", plan, ref_plan, report.errors
        )
        assert report.objective >= ref.objective - REL_TOL * max(1.0, ref.objective), _mismatch(
            seed, batch, f"{name} beats the reference optimum", plan, ref_plan, []
        )
