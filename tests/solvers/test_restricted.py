"""The restricted master in integers: the cheapest feasible choice of one generated plan per
order, checked against trying every choice (on batches small enough to list them)."""

import itertools
import time

import numpy as np
import pytest

from sourcing_engine.solvers.baselines import greedy_cost
from sourcing_engine.solvers.column_generation import allocation_columns, columns_allocation
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.restricted import solve_restricted
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
