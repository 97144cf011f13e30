"""The compact model: pruning keeps every shipment of an optimal plan, and the model over
the candidates reaches the reference optimum."""

import time

import numpy as np
import pytest

from sourcing_engine.domain import Batch
from sourcing_engine.solvers.baselines import shape_groups
from sourcing_engine.solvers.candidates import build_group, order_shapes
from sourcing_engine.solvers.compact import (
    Candidates,
    completion_costs,
    prune,
    ranked_candidates,
    solve_compact,
)
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.master import scarce_rows
from sourcing_engine.solvers.result import Allocation
from sourcing_engine.solvers.shapes import shape_of
from sourcing_engine.sourcing import compile_batch
from tests.reference_mip import random_batch, solve_reference
from tests.solvers.pipeline import start_column_generation
from tests.solvers.problems import reference_allocation

SEEDS = range(25)

Shipments = set[tuple[int, int, frozenset[tuple[int, int]]]]


def _batch(seed: int) -> Batch:
    """Half the seeds on the reference's default batches, half on larger ones."""
    if seed % 2 == 0:
        return random_batch(seed)
    return random_batch(seed, max_nodes=6, max_skus=4, max_orders=8)


def _shipments(problem_line_order: np.ndarray, alloc: Allocation) -> Shipments:
    """(order, node, {(line, qty)}) of every shipment of a plan."""
    by: dict[tuple[int, int], set[tuple[int, int]]] = {}
    for ln, n, q in zip(alloc.line.tolist(), alloc.node.tolist(), alloc.qty.tolist(), strict=True):
        by.setdefault((int(problem_line_order[ln]), n), set()).add((ln, q))
    return {(o, n, frozenset(items)) for (o, n), items in by.items()}


def _candidate_shipments(cands: Candidates) -> Shipments:
    """(order, node, {(line, qty)}) of every kept candidate shipment."""
    out: Shipments = set()
    for o, n, lines, units in zip(cands.order, cands.node, cands.line, cands.units, strict=True):
        items = frozenset(
            (int(ln), int(q)) for ln, q in zip(lines, units, strict=True) if ln >= 0 and q > 0
        )
        out.add((int(o), int(n), items))
    return out


def test_completion_costs_by_hand() -> None:
    """rem[r]: cheapest way to cover content r with shipments (repeats allowed) or unfilled."""
    shape = shape_of((2,))
    best = np.array([[np.inf, 3.0, 5.0], [np.inf, 9.0, 30.0]])
    rem = completion_costs(shape, best, 4.0)
    # order 0: one unit 3 (< 4 unfilled); two units 5 in one shipment (< 3 + 3, < 8)
    # order 1: one unit unfilled 4; two units 8 unfilled (< 9 + 4, < 30)
    assert rem.tolist() == [[0.0, 3.0, 5.0], [0.0, 4.0, 8.0]]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("depth", [16, 1])
@pytest.mark.parametrize("rounds", [1, 500])
def test_prune_keeps_the_optimal_plan(seed: int, depth: int, rounds: int) -> None:
    """Pruning at the tightest slack keeps every shipment of the optimal plan."""
    # incumbent = the optimum itself; duals of the first round or of convergence; ranked
    # 16 deep or 1 deep (then orders whose threshold is within reach are re-ranked in full)
    batch = _batch(seed)
    problem = compile_batch(batch).problem
    reference = solve_reference(batch)
    cg = start_column_generation(problem)
    relaxation = cg.run(time.perf_counter() + 30.0, rounds)
    duals = relaxation.duals
    assert duals is not None
    slack = (reference.objective - duals.lagrangian) + duals.min_rc
    groups = shape_groups(problem) if depth == 16 else [
        build_group(problem, qty, orders, depth=depth)
        for qty, orders in order_shapes(problem, np.arange(problem.n_orders)).items()
    ]  # fmt: skip
    cands = prune(problem, groups, duals.prices, duals.sigma, slack)
    wanted = _shipments(problem.line_order, reference_allocation(batch, problem, reference))
    missing = wanted - _candidate_shipments(cands)
    assert not missing, f"seed {seed}: pruned shipments of the optimal plan {missing}"
    # and the model over what is left still reaches the optimum
    outcome = solve_compact(problem, cg.rows, cands, Allocation.empty(), 30.0, gap=0.0)
    assert outcome is not None
    assert evaluate(problem, outcome.allocation).total == pytest.approx(
        reference.objective, rel=1e-6, abs=1e-6
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_compact_on_every_candidate_reaches_the_optimum(seed: int) -> None:
    """Over every feasible shipment the compact model's plan is valid and optimal."""
    batch = _batch(seed)
    problem = compile_batch(batch).problem
    reference = solve_reference(batch)
    groups = [
        build_group(problem, qty, orders, depth=None)
        for qty, orders in order_shapes(problem, np.arange(problem.n_orders)).items()
    ]
    cands = ranked_candidates(groups, np.arange(problem.n_orders))
    outcome = solve_compact(problem, scarce_rows(problem), cands, Allocation.empty(), 30.0, gap=0.0)
    assert outcome is not None
    assert feasibility_errors(problem, outcome.allocation) == []
    total = evaluate(problem, outcome.allocation).total
    assert total == pytest.approx(reference.objective, rel=1e-6, abs=1e-6)
    assert outcome.objective == pytest.approx(total, rel=1e-6, abs=1e-6)
    assert outcome.bound <= outcome.objective + 1e-6 * max(1.0, outcome.objective)
    assert outcome.proven
    assert outcome.n_candidates == len(cands.order)
