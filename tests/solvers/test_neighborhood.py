"""Neighbourhoods: re-deciding orders never makes a plan worse or invalid; re-deciding
every order reaches the reference optimum."""

import time

import numpy as np
import pytest

from sourcing_engine.solvers.baselines import closest, fewest_splits, greedy_cost, shape_groups
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.master import scarce_rows
from sourcing_engine.solvers.neighborhood import Neighbourhoods
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation
from sourcing_engine.sourcing import compile_batch
from tests.reference_mip import random_batch, solve_reference
from tests.solvers.problems import allocation_set, random_problem


def _hoods(problem: SourcingProblem, binding: bool = True) -> Neighbourhoods:
    """Neighbourhoods with every scarce row binding (or none), order duals zero."""
    rows = scarce_rows(problem)
    return Neighbourhoods(
        problem,
        shape_groups(problem),
        rows,
        np.full(rows.n_rows, 1.0 if binding else 0.0),
        np.zeros(problem.n_orders),
    )


def _starts(problem: SourcingProblem) -> dict[str, Allocation]:
    """Feasible plans to improve: the three baselines and the empty plan."""
    return {
        "empty": Allocation.empty(),
        "closest": closest(problem).allocation,
        "fewest-splits": fewest_splits(problem).allocation,
        "greedy-cost": greedy_cost(problem).allocation,
    }


def _order_plan(
    problem: SourcingProblem, plan: Allocation, orders: np.ndarray
) -> set[tuple[int, int, int]]:
    sel = np.isin(problem.line_order[plan.line], orders)
    return allocation_set(Allocation(plan.line[sel], plan.node[sel], plan.qty[sel]))


@pytest.mark.parametrize("seed", range(12))
def test_search_never_worse_and_always_feasible(seed: int) -> None:
    """From every baseline and the empty plan the search returns a feasible, no dearer plan."""
    problem = random_problem(seed, n_nodes=5, n_skus=4, n_orders=14, max_qty=2, scarce=True)
    hoods = _hoods(problem)
    for name, plan in _starts(problem).items():
        assert feasibility_errors(problem, plan) == [], name
        found = hoods.search(plan, time.perf_counter() + 2.0, size=3, patience=4, seed=seed)
        assert feasibility_errors(problem, found) == [], name
        before, after = evaluate(problem, plan).total, evaluate(problem, found).total
        assert after <= before + 1e-9, (name, before, after)


def test_search_improves_the_empty_plan() -> None:
    """The search does something: from shipping nothing it finds a cheaper plan."""
    problem = random_problem(3, n_nodes=5, n_skus=4, n_orders=14, max_qty=2, scarce=True)
    hoods = _hoods(problem)
    assert hoods.binding.any()
    found = hoods.search(Allocation.empty(), time.perf_counter() + 2.0, size=3, patience=4)
    assert evaluate(problem, found).total < evaluate(problem, Allocation.empty()).total


def test_search_without_binding_rows_returns_the_plan() -> None:
    """With no binding row there is no neighbourhood: the plan comes back as it is."""
    problem = random_problem(1, n_orders=6)
    plan = greedy_cost(problem).allocation
    assert _hoods(problem, binding=False).search(plan, time.perf_counter() + 1.0) is plan


@pytest.mark.parametrize("seed", range(15))
def test_redeciding_every_order_reaches_the_optimum(seed: int) -> None:
    """Re-deciding the whole batch from a baseline plan gives the reference optimum."""
    batch = random_batch(seed)
    problem = compile_batch(batch).problem
    optimum = solve_reference(batch).objective
    plan = closest(problem).allocation
    found = _hoods(problem).redecide(plan, np.arange(problem.n_orders), 30.0)
    assert feasibility_errors(problem, found) == []
    assert evaluate(problem, found).total == pytest.approx(optimum, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_redecide_keeps_the_other_orders(seed: int) -> None:
    """Re-deciding some orders keeps the others' shipments, stays feasible, costs no more."""
    problem = random_problem(seed, n_nodes=5, n_skus=4, n_orders=10, max_qty=2, scarce=True)
    plan = fewest_splits(problem).allocation
    rng = np.random.default_rng(seed)
    orders = np.sort(rng.choice(problem.n_orders, size=4, replace=False))
    others = np.setdiff1d(np.arange(problem.n_orders), orders)
    found = _hoods(problem).redecide(plan, orders, 30.0)
    assert _order_plan(problem, found, others) == _order_plan(problem, plan, others)
    assert feasibility_errors(problem, found) == []
    assert evaluate(problem, found).total <= evaluate(problem, plan).total + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_around_grows_through_binding_rows_only(seed: int) -> None:
    """A neighbourhood holds its seeds, at most `size` orders, and grows only via binding rows."""
    problem = random_problem(seed, n_nodes=5, n_skus=4, n_orders=14, max_qty=2, scarce=True)
    seeds = np.array([0, 5])
    grown = _hoods(problem).around(seeds, 6)
    assert set(seeds.tolist()) <= set(grown.tolist())
    assert len(grown) <= 6
    assert np.all(np.diff(grown) > 0)
    assert _hoods(problem, binding=False).around(seeds, 6).tolist() == [0, 5]
