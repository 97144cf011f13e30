"""`optimal` on every instance family against the independent reference MIP.

Each family (sourcing_engine.families) at 100 orders on a small network: the optimal plan
passes the independent validator and costs the reference's optimum; the bound `optimal`
claims, proven or stopped after one round of column generation, is never above it.
"""

import pytest

from sourcing_engine.families import FAMILIES, family_batch
from sourcing_engine.plan_check import validate_plan
from sourcing_engine.solvers import solve
from sourcing_engine.solvers.optimal import OptimalParams, solve_optimal
from sourcing_engine.sourcing import compile_batch
from tests.reference_mip import solve_reference

SMALL = {
    "sized": {"n_nodes": 12},
    "literature": {"n_warehouses": 6, "n_stores": 4},
    "scarce": {"n_stores": 6},
    "parcel": {"n_nodes": 12},
    "italy": {"n_nodes": 12},
}
REL_TOL = 1e-6


def test_every_family_is_cross_checked() -> None:
    """A new family gets a small size here too."""
    assert set(SMALL) == set(FAMILIES)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("family", sorted(SMALL))
def test_optimal_on_family_reaches_reference(family: str, seed: int) -> None:
    """100 orders: a valid plan at the reference optimum; proven and early bounds below it."""
    batch = family_batch(family, 100, seed, **SMALL[family])
    compiled = compile_batch(batch)
    ref = solve_reference(batch)
    tol = REL_TOL * max(1.0, ref.objective)

    result = solve(compiled.problem, "optimal", time_limit=60.0, gap_tolerance=1e-9)
    report = validate_plan(batch, compiled.plan_document(result))
    assert report.ok, report.errors
    assert result.objective == pytest.approx(ref.objective, rel=REL_TOL)
    assert report.objective == pytest.approx(ref.objective, rel=REL_TOL)
    assert result.bound is not None
    assert result.bound <= ref.objective + tol

    # stopped early: one round of column generation, its Lagrangian bound claimed as is
    early = solve_optimal(
        compiled.problem, OptimalParams(time_limit=60.0, gap_tolerance=0.5, max_rounds=1)
    )
    assert early.bound is not None
    assert early.bound <= ref.objective + tol
    assert early.objective >= ref.objective - tol
    assert validate_plan(batch, compiled.plan_document(early)).ok
