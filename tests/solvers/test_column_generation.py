"""Column generation: its bounds against the reference optimum, round by round, and the
duals at convergence pricing every plan of every order at a non-negative reduced cost."""

import time

import numpy as np
import pytest

from sourcing_engine.domain import Batch
from sourcing_engine.solvers.baselines import greedy_cost
from sourcing_engine.solvers.candidates import build_group, order_shapes
from sourcing_engine.solvers.column_generation import (
    allocation_columns,
    columns_allocation,
)
from sourcing_engine.solvers.evaluate import evaluate
from sourcing_engine.solvers.master import Columns, scarce_rows
from sourcing_engine.solvers.pricing import price_orders
from sourcing_engine.sourcing import compile_batch
from tests.reference_mip import random_batch, solve_reference
from tests.solvers.pipeline import start_column_generation
from tests.solvers.problems import allocation_set, random_problem

SEEDS = range(30)
STARTS = ["warm", "cold"]
"""warm: the columns `optimal` starts from, on the reference's default batches; cold: only
the all-unfilled plan, on batches of up to 10 orders and 6 nodes (more rounds)."""


def batch_of(seed: int, how: str) -> Batch:
    if how == "warm":
        return random_batch(seed)
    return random_batch(seed, max_nodes=6, max_skus=4, max_orders=10)


def tol(value: float) -> float:
    return 1e-6 * max(1.0, abs(value))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("how", STARTS)
def test_bounds_never_exceed_the_reference_optimum(how: str, seed: int) -> None:
    """Each round: Lagrangian <= LP value, both <= the optimum, LP values never rise."""
    batch = batch_of(seed, how)
    problem = compile_batch(batch).problem
    optimum = solve_reference(batch).objective
    cg = start_column_generation(problem, how)
    deadline = time.perf_counter() + 30.0
    previous = np.inf
    for _ in range(500):
        relaxation = cg.run(deadline, max_rounds=1)
        assert relaxation.rounds == 1
        assert relaxation.duals is not None
        lagrangian = relaxation.duals.lagrangian
        assert lagrangian <= relaxation.lp_value + tol(relaxation.lp_value)
        assert lagrangian <= optimum + tol(optimum)
        assert relaxation.bound == pytest.approx(lagrangian)
        assert relaxation.lp_value <= previous + tol(previous)
        assert np.all(relaxation.duals.min_rc <= 0.0)
        previous = relaxation.lp_value
        if relaxation.converged:
            break
    assert relaxation.converged
    assert relaxation.lp_value <= optimum + tol(optimum)
    assert relaxation.lp_value == pytest.approx(relaxation.bound, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("how", STARTS)
def test_duals_at_convergence_price_every_plan_non_negative(how: str, seed: int) -> None:
    """At convergence no plan of any order has reduced cost below -1e-6 under the duals."""
    problem = compile_batch(batch_of(seed, how)).problem
    cg = start_column_generation(problem, how)
    relaxation = cg.run(time.perf_counter() + 30.0, max_rounds=500)
    assert relaxation.converged
    assert relaxation.duals is not None
    assert relaxation.x is not None
    duals = relaxation.duals
    full = [
        build_group(problem, qty, orders, depth=None)
        for qty, orders in order_shapes(problem, np.arange(problem.n_orders)).items()
    ]
    for plans in price_orders(problem, full, duals.prices):
        sigma = duals.sigma[plans.group.orders]
        assert np.all(plans.value - sigma >= -1e-6 * np.maximum(1.0, np.abs(sigma)))
    order, cost, *_ = cg.columns.flat()
    use = cg.columns.resource_matrix().T @ duals.row_price
    rc = cost + use - duals.sigma[order]
    assert np.all(rc >= -1e-6 * np.maximum(1.0, np.abs(duals.sigma[order])))
    # the LP's solution: one plan per order in total, costing the LP value
    x = relaxation.x
    assert np.bincount(order, x, minlength=problem.n_orders) == pytest.approx(1.0)
    assert float(cost @ x) == pytest.approx(relaxation.lp_value, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("seed", range(10))
def test_allocation_columns_round_trip(seed: int) -> None:
    """A plan stored as one column per order comes back unchanged, at its orders' costs."""
    problem = random_problem(seed, n_orders=6)
    alloc = greedy_cost(problem).allocation
    columns = Columns(problem, scarce_rows(problem))
    ids = allocation_columns(columns, problem, alloc)
    assert allocation_set(columns_allocation(columns, ids)) == allocation_set(alloc)
    order, cost, *_ = columns.flat()
    assert order[ids].tolist() == list(range(problem.n_orders))
    assert cost[ids] == pytest.approx(evaluate(problem, alloc).order_cost)


def test_max_rounds_and_deadline_stop_early() -> None:
    """No round runs past the deadline, and a round cap of 1 stops after one round."""
    problem = compile_batch(random_batch(5)).problem
    stopped = start_column_generation(problem).run(time.perf_counter() - 1.0, max_rounds=10)
    assert stopped.rounds == 0
    assert stopped.bound == -np.inf
    assert stopped.duals is None
    one = start_column_generation(problem).run(time.perf_counter() + 30.0, max_rounds=1)
    assert one.rounds == 1
