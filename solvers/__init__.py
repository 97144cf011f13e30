"""Solvers: numbers in, numbers out. `solve(problem, policy, ...) -> Result`.

Solvers never import the domain (`sourcing_engine`) or the API; they take a read-only
`SourcingProblem` and return a solver-neutral `Result`.
"""

from collections.abc import Callable

from solvers.baselines import closest, fewest_splits, greedy_cost
from solvers.optimal import OptimalParams, solve_optimal
from solvers.problem import UNLIMITED, SourcingProblem
from solvers.result import Allocation, Result, Status

POLICIES: dict[str, Callable[[SourcingProblem], Result]] = {
    "closest": closest,
    "fewest-splits": fewest_splits,
    "greedy-cost": greedy_cost,
    "optimal": solve_optimal,
}


def solve(
    problem: SourcingProblem,
    policy: str = "optimal",
    *,
    time_limit: float = 60.0,
    gap_tolerance: float = 1e-4,
    mip_backend: str = "scip",
) -> Result:
    """Source a batch with a policy; time_limit and the rest apply to `optimal` only."""
    if policy == "optimal":
        params = OptimalParams(
            time_limit=time_limit, gap_tolerance=gap_tolerance, mip_backend=mip_backend
        )
        return solve_optimal(problem, params)
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    return POLICIES[policy](problem)


__all__ = [
    "POLICIES",
    "UNLIMITED",
    "Allocation",
    "OptimalParams",
    "Result",
    "SourcingProblem",
    "Status",
    "solve",
]
