"""The package entry point: `solve` dispatches to every policy and validates its input."""

import numpy as np
import pytest

from sourcing_engine.solvers import POLICIES, Limits, Status, Termination, policy, solve
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from tests.solvers.problems import make_problem, north, random_problem


@pytest.mark.parametrize("policy", list(POLICIES))
def test_solve_runs_every_policy(policy: str) -> None:
    """solve(problem, name) returns that policy's valid result."""
    problem = random_problem(3, n_orders=6, scarce=True)
    result = solve(problem, policy, time_limit=10.0)
    assert result.policy == policy
    assert feasibility_errors(problem, result.allocation) == []
    assert (result.status is Status.HEURISTIC) == (policy != "optimal")


@pytest.mark.parametrize("name", list(POLICIES))
def test_every_result_carries_its_costs_and_why_it_stopped(name: str) -> None:
    """A result's costs are its allocation's, term by term, and sum to its objective; rules
    complete, optimal proves (this batch is small)."""
    problem = random_problem(5, n_orders=8, scarce=True)
    result = POLICIES[name].solve(problem, Limits(time_limit_s=20.0))
    again = evaluate(problem, result.allocation)
    assert np.array_equal(result.costs.shipment_node, again.shipment_node)
    assert np.allclose(result.costs.shipment_cost, again.shipment_cost)
    assert np.allclose(result.costs.order_cost, again.order_cost)
    assert result.objective == pytest.approx(result.costs.total)
    expected = Termination.OPTIMAL if name == "optimal" else Termination.COMPLETED
    assert (result.termination, result.message) == (expected, "")


def test_a_time_limit_shorter_than_the_proof_says_so() -> None:
    """Stopped by its limit with a gap left, optimal reports time_limit and a valid bound."""
    problem = random_problem(11, n_orders=400, n_nodes=40, scarce=True)
    result = solve(problem, "optimal", time_limit=0.05, gap_tolerance=0.0)
    assert result.gap is not None
    assert result.bound is not None
    assert result.gap > 0  # 400 scarce orders are not proven in 50 ms
    assert (result.status, result.termination) == (Status.FEASIBLE, Termination.TIME_LIMIT)
    assert result.bound <= result.objective + 1e-6


def test_the_registry_describes_every_policy() -> None:
    """Each policy has its name, a description and its parameters; policy() finds it."""
    assert list(POLICIES) == ["closest", "fewest-splits", "greedy-cost", "optimal"]
    for name, found in POLICIES.items():
        assert policy(name) is found
        assert found.name == name
        assert len(found.description) > 20
    assert POLICIES["optimal"].parameters == {"mip_backend": "highs"}
    with pytest.raises(ValueError, match="time_limit_s"):
        Limits(time_limit_s=0.0)


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
