"""`optimal` against the independent reference MIP on large batches (opt-in: -m long).

Issue 14: the branches large batches take (the exact-candidate limits, the compact model,
the neighbourhood search) were checked against nothing independent. Here batches of 200 to
2,000 orders of several instance families (sourcing_engine.families) are solved by
`optimal` (its plan through the plan checker) and by the reference MIP of
tests/reference_mip.py (every candidate shipment priced by the independent pricer, HiGHS
with a long limit). Recorded: both objectives, the bound each proved, whether the objectives
match where both are proven, and whether each bound is valid (no bound above the other
side's feasible plan). Run alone into its own file:

    pytest benchmarks/test_reference_large.py -m long \
        --benchmark-json=benchmarks/results-reference.json

Which cases a run took is in its results (a subset may be run with -k). The larger sizes
take long (the reference may use its whole limit) and are recorded by size, each run at
one commit into its own file, so a run cut short loses only its own size:

    pytest benchmarks/test_reference_large.py -m long -k 1000o \
        --benchmark-json=benchmarks/results-reference-1000.json
    (and -k 2000o into results-reference-2000.json)
"""

import time

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import check_plan
from sourcing_engine.families import family_batch
from sourcing_engine.solvers import solve
from sourcing_engine.sourcing import compile_batch
from tests.reference_mip import solve_reference

OPTIMAL_LIMIT_S = 120.0
REFERENCE_LIMIT_S = 1800.0
MAX_CANDIDATES = 3_000_000  # candidate shipments of the reference model (memory)
REL_TOL = 1e-6
CASES = [
    (family, n_orders)
    for n_orders in (200, 500, 1000, 2000)
    for family in ("sized", "literature", "scarce", "parcel", "italy")
]


@pytest.mark.long
@pytest.mark.parametrize(("family", "n_orders"), CASES, ids=[f"{f}-{n}o" for f, n in CASES])
def test_optimal_vs_reference_large(
    benchmark: BenchmarkFixture, family: str, n_orders: int
) -> None:
    """One batch: optimal (timed) and the reference; both plans valid, each bound valid
    against the other's plan, the objectives equal where both are proven."""
    batch = family_batch(family, n_orders, 1)
    compiled = compile_batch(batch)
    result = benchmark.pedantic(
        solve,
        args=(compiled.problem, "optimal"),
        kwargs={"time_limit": OPTIMAL_LIMIT_S, "gap_tolerance": 1e-9},
        rounds=1,
        iterations=1,
    )
    check_plan(compiled, result)
    started = time.perf_counter()
    ref = solve_reference(
        batch, time_limit=REFERENCE_LIMIT_S, max_variables=MAX_CANDIDATES, require_optimal=False
    )
    ref_s = time.perf_counter() - started

    tol = REL_TOL * max(1.0, abs(ref.objective))
    optimal_proven = str(result.status) == "optimal"
    both_proven = optimal_proven and ref.proven
    optimal_bound_valid = result.bound is None or result.bound <= ref.objective + tol
    reference_bound_valid = ref.bound is None or ref.bound <= result.objective + tol
    benchmark.extra_info.update(
        family=family,
        orders=n_orders,
        nodes=len(batch.nodes),
        optimal_status=str(result.status),
        optimal_objective=result.objective,
        optimal_bound=result.bound,
        optimal_gap=result.gap,
        optimal_s=result.runtime_s,
        reference_objective=ref.objective,
        reference_bound=ref.bound,
        reference_proven=ref.proven,
        reference_s=ref_s,
        difference_pct=100.0 * (result.objective - ref.objective) / ref.objective,
        objectives_match=abs(result.objective - ref.objective) <= tol if both_proven else None,
        optimal_bound_valid=optimal_bound_valid,
        reference_bound_valid=reference_bound_valid,
    )
    assert optimal_bound_valid, f"optimal's bound {result.bound} above the reference's plan"
    assert reference_bound_valid, f"the reference's bound {ref.bound} above optimal's plan"
    if both_proven:
        assert result.objective == pytest.approx(ref.objective, rel=REL_TOL)
