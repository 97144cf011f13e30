"""Rounding the master LP (solvers.rounding): a feasible plan at once, never below the
bound, and 1-opt over the column pool leaves no cheaper single-order move that fits."""

import time

import numpy as np
import pytest

from sourcing_engine.families import family_batch
from sourcing_engine.solvers.baselines import greedy_cost
from sourcing_engine.solvers.column_generation import (
    ColumnGeneration,
    allocation_columns,
    columns_allocation,
)
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation
from sourcing_engine.solvers.rounding import improve, round_lp
from sourcing_engine.sourcing import compile_batch
from tests.solvers.pipeline import start_column_generation
from tests.solvers.problems import random_problem


def _no_cheaper_move(problem: SourcingProblem, cg: ColumnGeneration, chosen: np.ndarray) -> None:
    """Every cheaper column of every order, swapped in alone, breaks a constraint."""
    columns = cg.columns
    order_of = np.concatenate(columns.order)
    cost = np.concatenate(columns.cost)
    for j in range(columns.size):
        o = order_of[j]
        if cost[j] < cost[chosen[o]] - 1e-9:
            moved = chosen.copy()
            moved[o] = j
            assert feasibility_errors(problem, columns_allocation(columns, moved)), (o, j)


def _rounded(problem: SourcingProblem, rounds: int) -> tuple[ColumnGeneration, float, float]:
    cg = start_column_generation(problem, "warm")
    relaxation = cg.run(time.perf_counter() + 30.0, max_rounds=rounds)
    assert relaxation.x is not None
    plan = round_lp(problem, cg.groups, cg.columns, relaxation.x, time.perf_counter() + 30.0, 0.0)
    assert feasibility_errors(problem, plan) == []
    return cg, evaluate(problem, plan).total, relaxation.bound


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("rounds", [1, 50])
def test_rounded_plan_is_feasible_and_above_the_bound(seed: int, rounds: int) -> None:
    """Random scarce batches, after one round of column generation (an early LP) or at
    convergence: the plan is feasible and costs at least the bound the LP proved."""
    problem = random_problem(seed, n_orders=8, n_nodes=4, scarce=True)
    _, cost, bound = _rounded(problem, rounds)
    assert cost >= bound - 1e-6 * max(1.0, abs(bound))


@pytest.mark.parametrize("family", ["literature", "scarce", "italy"])
def test_rounded_plan_on_families(family: str) -> None:
    """100-order family batches (capacity binding, stock scarce, stores): feasible, above
    the bound, and cheaper than greedy-cost's plan (which it does not start from)."""
    options = {"n_nodes": 12} if family == "italy" else {}
    problem = compile_batch(family_batch(family, 100, 1, **options)).problem
    _, cost, bound = _rounded(problem, 50)
    assert bound - 1e-6 * abs(bound) <= cost < greedy_cost(problem).objective


@pytest.mark.parametrize("seed", range(8))
def test_improve_leaves_no_cheaper_single_move(seed: int) -> None:
    """From the all-unfilled plan (the dearest start), 1-opt ends where no order has a
    cheaper generated plan that fits what the others use, checked move by move; its plan
    is feasible and no dearer than the start."""
    problem = random_problem(seed, n_orders=6, n_nodes=3, scarce=True)
    cg = start_column_generation(problem, "warm")
    cg.run(time.perf_counter() + 30.0, max_rounds=50)

    start = allocation_columns(cg.columns, problem, Allocation.empty())
    chosen = improve(cg.columns, start, time.perf_counter() + 30.0)
    plan = columns_allocation(cg.columns, chosen)
    assert feasibility_errors(problem, plan) == []
    before = evaluate(problem, columns_allocation(cg.columns, start)).total
    assert evaluate(problem, plan).total <= before + 1e-9
    _no_cheaper_move(problem, cg, chosen)
