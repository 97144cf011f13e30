"""The restricted master in integers: the cheapest feasible choice of one generated plan per
order, checked against trying every choice (on batches small enough to list them)."""

import itertools
import time

import numpy as np
import pytest

from sourcing_engine.families import family_batch
from sourcing_engine.solvers.baselines import greedy_cost
from sourcing_engine.solvers.column_generation import allocation_columns, columns_allocation
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.restricted import solve_restricted
from sourcing_engine.solvers.rounding import round_lp
from sourcing_engine.sourcing import compile_batch
from tests.solvers.pipeline import start_column_generation
from tests.solvers.problems import random_problem


@pytest.mark.parametrize("seed", range(12))
def test_restricted_master_is_the_best_choice_of_generated_plans(seed: int) -> None:
    """Its plan is feasible, no dearer than the start, and as cheap as the best feasible
    choice among all combinations of the generated plans (found by listing them)."""
    problem = random_problem(seed, n_orders=4, n_nodes=3, scarce=True)
    cg = start_column_generation(problem, "warm")
    cg.run(time.perf_counter() + 10.0, max_rounds=3)
    columns = cg.columns
    start = allocation_columns(columns, problem, greedy_cost(problem).allocation)
    outcome = solve_restricted(columns, np.arange(columns.size), start, 10.0, 0.0)
    assert outcome is not None
    plan = columns_allocation(columns, outcome.chosen)
    assert feasibility_errors(problem, plan) == []
    cost = evaluate(problem, plan).total
    assert cost == pytest.approx(outcome.objective, rel=1e-9, abs=1e-9)
    assert cost <= evaluate(problem, columns_allocation(columns, start)).total + 1e-9

    order_of = np.concatenate(columns.order)
    choices = [np.nonzero(order_of == o)[0] for o in range(problem.n_orders)]
    best = np.inf
    for pick in itertools.product(*choices):
        candidate = columns_allocation(columns, np.array(pick))
        if not feasibility_errors(problem, candidate):
            best = min(best, evaluate(problem, candidate).total)
    assert cost == pytest.approx(best, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("family", ["sized", "literature", "scarce"])
def test_restricted_master_from_the_rounded_plan_prices_its_own_plan(family: str) -> None:
    """Started from the LP's rounded plan (solvers.rounding), its reported objective is
    its plan's cost, recomputed, and no dearer than the start (HiGHS 1.16 once reported a
    cost below the LP bound for the start it returned)."""
    problem = compile_batch(family_batch(family, 200, 1)).problem
    cg = start_column_generation(problem, "warm")
    relaxation = cg.run(time.perf_counter() + 60.0, max_rounds=500)
    assert relaxation.x is not None
    rounded = round_lp(problem, cg.groups, cg.columns, relaxation.x, time.perf_counter() + 30, 0.0)
    start = allocation_columns(cg.columns, problem, rounded)
    outcome = solve_restricted(cg.columns, np.arange(cg.columns.size), start, 60.0, 0.0)
    assert outcome is not None
    plan = columns_allocation(cg.columns, outcome.chosen)
    assert feasibility_errors(problem, plan) == []
    cost = evaluate(problem, plan).total
    assert outcome.objective == pytest.approx(cost, rel=1e-9)
    assert relaxation.lp_value - 1e-6 * cost <= cost <= evaluate(problem, rounded).total + 1e-9
