"""The package entry point: `solve` dispatches to every policy and validates its input."""

import pytest

from sourcing_engine.solvers import POLICIES, Status, solve
from sourcing_engine.solvers.evaluate import feasibility_errors
from tests.solvers.problems import make_problem, north, random_problem


@pytest.mark.parametrize("policy", list(POLICIES))
def test_solve_runs_every_policy(policy: str) -> None:
    """solve(problem, name) returns that policy's valid result."""
    problem = random_problem(3, n_orders=6, scarce=True)
    result = solve(problem, policy, time_limit=10.0)
    assert result.policy == policy
    assert feasibility_errors(problem, result.allocation) == []
    assert (result.status is Status.HEURISTIC) == (policy != "optimal")


def test_unknown_policy_names_the_choices() -> None:
    """An unknown policy is refused with the list of known ones."""
    with pytest.raises(ValueError, match=r"unknown policy 'cheapest'.*closest, fewest-splits"):
        solve(random_problem(0), "cheapest")


def test_optimal_parameters_pass_through() -> None:
    """solve validates the optimal policy's parameters (the error names the field)."""
    with pytest.raises(ValueError, match="time_limit"):
        solve(random_problem(0), "optimal", time_limit=0.0)
    with pytest.raises(ValueError, match="mip_backend"):
        solve(random_problem(0), "optimal", mip_backend="glpk")


DEGENERATE = {
    "no nodes": (make_problem([], {}, [[(0, 1)], [(1, 2)]], n_skus=2), 300.0),
    "no orders": (make_problem([north(1.0)], {(0, 0): 1}, []), 0.0),
    "no stock": (make_problem([north(1.0)], {}, [[(0, 1)]]), 100.0),
}


@pytest.mark.parametrize("case", list(DEGENERATE))
@pytest.mark.parametrize("policy", list(POLICIES))
def test_degenerate_batches(policy: str, case: str) -> None:
    """Without nodes, orders or stock every policy returns the all-unfilled plan, proven."""
    problem, cost = DEGENERATE[case]
    result = solve(problem, policy, time_limit=10.0)
    assert len(result.allocation) == 0
    assert result.objective == pytest.approx(cost)
    if policy == "optimal":
        assert result.bound == pytest.approx(cost)
        assert result.gap == 0.0
        assert result.status is Status.OPTIMAL
