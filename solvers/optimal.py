"""The `optimal` policy: the whole batch as one model, solved to proven optimality.

1. Baselines (closest, fewest-splits, greedy-cost) give a first plan and first columns.
2. Column generation (solvers.column_generation): the master LP over complete order plans,
   with new plans from exact single-order pricing under its prices. Its optimum is the
   Dantzig-Wolfe bound, far stronger than the textbook x <= q*y model's; every round also
   proves a Lagrangian bound, so stopping early keeps a bound.
3. Plans: diving fixes the LP's choices step by step, re-solving the LP for the rest; then
   a large neighbourhood search (solvers.neighborhood) re-decides groups of orders.
4. Proof: the LP's prices prune every candidate shipment that cannot be in a plan cheaper
   than the incumbent; a compact shipment-level model over the rest (solvers.compact)
   closes the gap, and its bound holds for the whole batch.
The plan returned is never dearer than the best baseline. A plan from any step replaces the
incumbent only if it is cheaper and passes `feasibility_errors` (`Incumbent`): a step that
returns an infeasible plan is a bug, counted in the stats and named in the message, never a
plan or a bound.
"""

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.solvers.baselines import (
    Remaining,
    closest,
    fewest_splits,
    greedy_cost,
    oversized,
    rule_shipments,
    shape_groups,
)
from sourcing_engine.solvers.column_generation import (
    ColumnGeneration,
    allocation_columns,
    columns_allocation,
    plan_columns,
)
from sourcing_engine.solvers.compact import Candidates, prune, solve_compact
from sourcing_engine.solvers.evaluate import evaluate, feasibility_errors
from sourcing_engine.solvers.master import Columns, ScarceRows, scarce_rows
from sourcing_engine.solvers.mip import BACKENDS, NoSolution
from sourcing_engine.solvers.neighborhood import Neighbourhoods
from sourcing_engine.solvers.pricing import price_orders
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.restricted import solve_restricted
from sourcing_engine.solvers.result import Allocation, Result, Status, Termination, relative_gap
from sourcing_engine.solvers.rounding import round_lp

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

MIP_BACKENDS = BACKENDS

MAX_EXACT_CANDIDATES = 200_000

SMALL_EXACT_CANDIDATES = 30_000
"""Up to this many candidate shipments the exact model runs at once, without a search."""

FREE_PER_SPLIT = 1.5
"""Rounding re-decides the orders the LP splits and this many times as many in all."""

COMPACT_S_PER_CANDIDATE = 3e-5
"""The compact model needs about this many seconds per candidate shipment before it can
end (building it, and the solver's root, which may overrun its time limit): 3 s for
100,000."""

PRUNE_S_PER_ORDER_NODE = 6e-7
"""Pruning the candidate shipments takes about this many seconds per order and node
(measured 0.11 s at 1,000 x 200, 5.7 s at 10,000 x 1,000)."""

SHRINKABLE = 3
"""Pruning again after the search pays only if the candidates were at most this many times
too many for the exact model (a better plan prunes more, not tenfold more)."""

CG_SHARE = 0.5
"""Column generation ends by this share of the time the baselines left, converged or not:
the plan needs the rest (a short limit shortens every phase instead of leaving none to the
plan)."""

ROUND_SHARE = 0.15
"""Rounding the LP (solvers.rounding: its MIP over the LP's support columns, and improving
over the column pool) gets at most this share of the time left (it usually ends in well
under a second)."""

RESTRICTED_SHARE = 0.5
"""The restricted master in integers gets at most this share of the time left."""


@dataclass(frozen=True)
class OptimalParams:
    """time_limit: seconds for the whole solve; gap_tolerance: relative gap at which the
    plan counts as optimal; mip_backend: the solver of the integer models (rounding,
    neighbourhoods, the compact proof): HiGHS by default (at 30 s on the 1,000-order
    families it closed 2-3x more of the gap than SCIP, and proved the linear-cost ones
    2-3x sooner), SCIP or CP-SAT through OR-Tools. processes: 2 lets this process search
    for better plans while the compact proof runs in a child process (where the machine
    has two cores); 1 (the default) searches first, then proves (in a child process too
    when the model is large, see `_prove_in_child`): on an
    idle machine two processes proved sized 1,000 x 200 in 25 s against 51 s, but an API
    with several workers on the same cores should not take two of them unasked."""

    time_limit: float = 60.0
    gap_tolerance: float = 1e-4
    mip_backend: str = "highs"
    max_rounds: int = 500
    processes: int = 1

    def __post_init__(self) -> None:
        if self.processes not in (1, 2):
            raise ValueError(f"processes must be 1 or 2, got {self.processes!r}")
        if not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {self.time_limit!r}")
        if not 0 <= self.gap_tolerance < 1:
            raise ValueError(f"gap_tolerance must be in [0, 1), got {self.gap_tolerance!r}")
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds must be >= 1, got {self.max_rounds!r}")
        if self.mip_backend not in MIP_BACKENDS:
            raise ValueError(
                f"mip_backend must be one of {', '.join(MIP_BACKENDS)}, got {self.mip_backend!r}"
            )


class Incumbent:
    """The best plan so far and its cost; `consider` replaces it by a cheaper, feasible plan.

    Every plan the steps of `solve_optimal` return goes through `consider`: a cheaper plan
    that breaks a constraint (`feasibility_errors`) is refused and its errors kept in
    `rejected`, so the incumbent is always a valid plan and its cost a valid upper bound.
    """

    def __init__(self, problem: SourcingProblem, allocation: Allocation, objective: float):
        self.problem = problem
        self.allocation = allocation
        self.objective = objective
        self.rejected: list[str] = []

    def consider(self, allocation: Allocation) -> bool:
        """Take the plan if it is cheaper (by more than 1e-9) and feasible; say whether."""
        total = evaluate(self.problem, allocation).total
        if not total < self.objective - 1e-9:
            return False
        errors = feasibility_errors(self.problem, allocation)
        if errors:
            self.rejected.append("; ".join(errors))
            return False
        self.allocation, self.objective = allocation, total
        return True


def solve_optimal(problem: SourcingProblem, params: OptimalParams | None = None) -> Result:
    params = params or OptimalParams()
    big = oversized(problem)
    if len(big):
        return _with_oversized(problem, big, params)
    t0 = time.perf_counter()
    deadline = t0 + params.time_limit

    def left() -> float:
        return deadline - time.perf_counter()

    groups = shape_groups(problem)
    baselines = [greedy_cost(problem, groups), closest(problem), fewest_splits(problem)]
    incumbent = min(baselines, key=lambda r: r.objective)
    stats: dict[str, float] = {"baseline_s": time.perf_counter() - t0}

    rows = scarce_rows(problem)
    columns = Columns(problem, rows)
    for other in baselines:
        allocation_columns(columns, problem, other.allocation)
    allocation_columns(columns, problem, Allocation.empty())  # all unfilled: always feasible
    alone = 0.0  # each order's own best, as if alone: columns, and a first bound
    for plans in price_orders(problem, groups):
        plan_columns(columns, plans, np.arange(len(plans.group)))
        alone += float(plans.value.sum())
    stats["scarce_rows"] = rows.n_rows

    cg = ColumnGeneration(problem, groups, rows, columns)
    # the LP need not be closer to its bound than a tenth of the gap the caller accepts
    # a share of what the baselines left (under load they may take most of a short limit)
    cg_deadline = min(deadline, time.perf_counter() + CG_SHARE * left())
    relaxation = cg.run(
        cg_deadline, params.max_rounds, stop_gap=max(1e-7, params.gap_tolerance / 10)
    )
    duals = relaxation.duals  # the root's: they price the whole batch, for the proof
    bound = max(relaxation.bound, alone)
    stats.update(
        cg_rounds=relaxation.rounds,
        columns=columns.size,
        lp_value=relaxation.lp_value,
        converged=float(relaxation.converged),
    )
    stats["cg_s"] = time.perf_counter() - t0 - stats["baseline_s"]

    best = Incumbent(problem, incumbent.allocation, incumbent.objective)
    consider = best.consider
    message = ""

    if relaxation.x is not None and relative_gap(best.objective, bound) > params.gap_tolerance:
        # a plan close to the LP at once, so that no later step's time decides the quality
        t_round = time.perf_counter()
        consider(
            round_lp(problem, groups, columns, relaxation.x, t_round + ROUND_SHARE * left(),
                     params.gap_tolerance)
        )  # fmt: skip
        stats["lp_rounding_objective"] = best.objective
        stats["lp_rounding_s"] = time.perf_counter() - t_round

    if relative_gap(best.objective, bound) > params.gap_tolerance and left() > 0:
        # price and branch (it needs only the columns: even with no LP solved in time, it
        # chooses among each order's own best plan and the baselines'); one generated plan
        # per order, all orders at once, in integers
        t_restricted = time.perf_counter()
        outcome = solve_restricted(
            columns,
            np.arange(columns.size),
            allocation_columns(columns, problem, best.allocation),
            RESTRICTED_SHARE * left(),
            params.gap_tolerance,
        )
        if outcome is not None:
            consider(columns_allocation(columns, outcome.chosen))
        stats["restricted_objective"] = best.objective
        stats["restricted_s"] = time.perf_counter() - t_restricted

    hoods = (
        Neighbourhoods(problem, groups, rows, duals.row_price, duals.sigma, params.mip_backend)
        if duals is not None and relative_gap(best.objective, bound) > params.gap_tolerance
        else None
    )
    if hoods is not None and relaxation.x is not None:
        # round: keep the plans the LP takes whole; re-decide the orders it splits, with
        # their neighbours, exactly on what the kept plans leave
        chosen = _most_chosen_columns(columns, relaxation.x)
        split = np.nonzero(relaxation.x[chosen] < 1.0 - 1e-6)[0]
        stats["lp_split_orders"] = len(split)
        # the best plan so far (the LP's rounded plan or the restricted master's) keeps
        # every order outside the neighbourhood, and hints the rest
        start = best.allocation
        if len(split):
            free = hoods.around(split, int(FREE_PER_SPLIT * len(split)))
            consider(hoods.redecide(start, free, 0.4 * left(), params.gap_tolerance))
        else:
            consider(start)
        stats["rounded_objective"] = best.objective
    stats["plans_s"] = time.perf_counter() - t0 - stats["baseline_s"] - stats["cg_s"]

    def candidates() -> Candidates:
        """Shipments that can be in a plan cheaper than the incumbent (by reduced cost)."""
        assert duals is not None
        slack = (best.objective - duals.lagrangian) + duals.min_rc
        return prune(problem, groups, duals.prices, duals.sigma, slack)

    bound = min(float(bound), best.objective)
    if (
        relative_gap(best.objective, bound) > params.gap_tolerance
        and duals is not None
        and left() > 0
    ):
        assert hoods is not None
        if left() < PRUNE_S_PER_ORDER_NODE * problem.n_orders * problem.n_nodes:
            # no time to prune (let alone prove): the rest of the time goes to the plan
            consider(hoods.search(best.allocation, deadline, patience=10**9))
        else:
            bound, message = _prove(problem, rows, hoods, best, bound, candidates, params,
                                    deadline, stats)  # fmt: skip
    bound = min(bound, best.objective)
    gap = relative_gap(best.objective, bound)
    proven = gap <= params.gap_tolerance
    if proven:
        termination = Termination.OPTIMAL
    elif message:
        termination = Termination.ERROR
    else:
        termination = Termination.TIME_LIMIT
    stats["infeasible_plans_rejected"] = len(best.rejected)
    if best.rejected:
        rejected = f"{len(best.rejected)} infeasible plan(s) refused ({best.rejected[0]})"
        message = f"{message}; {rejected}" if message else rejected
    costs = evaluate(problem, best.allocation)
    return Result(
        policy="optimal",
        status=Status.OPTIMAL if proven else Status.FEASIBLE,
        objective=costs.total,
        bound=bound,
        gap=gap,
        runtime_s=time.perf_counter() - t0,
        allocation=best.allocation,
        costs=costs,
        termination=termination,
        message=message,
        stats=stats,
    )


def _with_oversized(problem: SourcingProblem, big: IntArray, params: OptimalParams) -> Result:
    """Orders too large to price exactly (too many ways to split) are sourced first, each
    by the cheaper of the closest and fewest-splits rules, and the rest of the batch is
    solved on what they leave. There is then no proven bound for the whole batch: the big
    orders' plans are not proven best."""
    t0 = time.perf_counter()
    remaining = Remaining(problem)
    for o in big.tolist():
        remaining.commit(rule_shipments(remaining, o))
    fixed = remaining.allocation()
    rest = np.setdiff1d(np.arange(problem.n_orders), big)
    sub, line_of = problem.restricted(
        rest,
        used_entry=problem.stock_qty - remaining.stock,
        used_ships=problem.node_ship_capacity - remaining.ships,
        used_units=problem.node_unit_capacity - remaining.units,
    )
    left = max(0.01, params.time_limit - (time.perf_counter() - t0))
    solved = solve_optimal(sub, replace(params, time_limit=left))
    a = solved.allocation
    allocation = Allocation.concat([fixed, Allocation(line_of[a.line], a.node, a.qty)])
    costs = evaluate(problem, allocation)
    ids = ", ".join(str(o) for o in big[:10].tolist()) + (" ..." if len(big) > 10 else "")
    message = (
        f"{len(big)} order(s) too large to price exactly (order index {ids}) were sourced "
        f"first by rule; the other {len(rest)} are {solved.status} (gap {solved.gap}) on "
        "what they left, so the batch has no proven bound"
    )
    return Result(
        policy="optimal",
        status=Status.HEURISTIC,
        objective=costs.total,
        bound=None,
        gap=None,
        runtime_s=time.perf_counter() - t0,
        allocation=allocation,
        costs=costs,
        termination=solved.termination,
        message=" ".join(m for m in (message, solved.message) if m),
        stats=solved.stats,
    )


def _most_chosen_columns(columns: Columns, x: NDArray[np.float64]) -> IntArray:
    """Each order's column with the largest LP value (orders 0..n-1)."""
    order = np.concatenate(columns.order)[: len(x)]
    by = np.lexsort((-x, order))
    first = np.concatenate([[True], order[by][1:] != order[by][:-1]])
    result: IntArray = by[first]
    return result


def _prove(
    problem: SourcingProblem,
    rows: ScarceRows,
    hoods: Neighbourhoods,
    best: Incumbent,
    bound: float,
    candidates: Callable[[], Candidates],
    params: OptimalParams,
    deadline: float,
    stats: dict[str, float],
) -> tuple[float, str]:
    """The compact model over the candidate shipments that can beat the incumbent, after a
    search when they are many; returns the bound and a message (empty unless it failed)."""

    def left() -> float:
        return deadline - time.perf_counter()

    t_prune = time.perf_counter()
    cands = candidates()
    stats["prune_s"] = t_prune = time.perf_counter() - t_prune
    beside = _two_cores(params)  # the search runs beside the proof instead of before it
    if not beside and len(cands.order) > SMALL_EXACT_CANDIDATES:
        # a big proof: first a better plan, which also shrinks what the proof must cover
        best.consider(hoods.search(best.allocation, time.perf_counter() + 0.3 * left(), patience=6))
        if len(cands.order) <= SHRINKABLE * MAX_EXACT_CANDIDATES and left() > 2 * t_prune:
            cands = candidates()
        stats["search_objective"] = best.objective
    stats["compact_candidates"] = len(cands.order)
    if len(cands.order) > MAX_EXACT_CANDIDATES or left() < COMPACT_S_PER_CANDIDATE * len(
        cands.order
    ):
        # too big to close, or too little time to build it: all the time goes to the plan
        best.consider(hoods.search(best.allocation, deadline, patience=10**9))
        stats["search_objective"] = best.objective
        return bound, ""
    if relative_gap(best.objective, bound) <= params.gap_tolerance:
        return bound, ""
    if beside or len(cands.order) > SMALL_EXACT_CANDIDATES:
        return _prove_in_child(problem, rows, hoods if beside else None, best, bound, cands,
                               params, deadline, stats)  # fmt: skip
    try:  # a small model: here, with HiGHS's presolve, which pays on it
        exact = solve_compact(problem, rows, cands, best.allocation, left(), params.mip_backend,
                              params.gap_tolerance)  # fmt: skip
    except NoSolution as exc:  # the plan so far stands, with the bound so far
        return bound, f"compact model: {exc}"
    best.consider(exact.allocation)
    return max(bound, min(exact.bound, best.objective)), ""


PROOF_GRACE_S = 1.0
"""How long past the deadline to wait for the proving process's answer (it stops at the
deadline itself; this covers handing its plan back) before it is stopped."""


def _two_cores(params: OptimalParams) -> bool:
    """Whether to search beside the proof: asked for, and two cores."""
    return params.processes > 1 and (os.cpu_count() or 1) > 1


def _prove_in_child(
    problem: SourcingProblem,
    rows: ScarceRows,
    hoods: Neighbourhoods | None,
    best: Incumbent,
    bound: float,
    cands: Candidates,
    params: OptimalParams,
    deadline: float,
    stats: dict[str, float],
) -> tuple[float, str]:
    """The compact model in a child process, stopped if it has not answered PROOF_GRACE_S
    after the deadline: HiGHS does not check its time limit everywhere (its presolve, and
    once the root's cut loop, ran 15-25 s past it), and the caller's limit is a promise.
    With `hoods`, this process searches neighbourhoods meanwhile; the better plan wins, the
    proof's bound stands. stats say what each side contributed (search_gain, compact_gain:
    cost taken off the plan). The child is forked, or spawned where this process runs
    other threads (forking a threaded process can deadlock the child)."""
    context = (
        multiprocessing.get_context("fork")
        if threading.active_count() == 1
        else multiprocessing.get_context("spawn")
    )
    receiver, sender = context.Pipe(duplex=False)
    # monotonic: the one clock both processes read the same (the deadline is perf_counter's)
    child_deadline = time.monotonic() + (deadline - time.perf_counter())
    child = context.Process(
        target=_compact_in_child,
        args=(sender, problem, rows, cands, best.allocation, child_deadline, params.mip_backend,
              params.gap_tolerance),
        daemon=True,
    )  # fmt: skip
    child.start()
    sender.close()
    stats["proof_processes"] = 2 if hoods is not None else 1
    before = best.objective
    if hoods is not None:
        best.consider(hoods.search(best.allocation, deadline, patience=10**9, stop=receiver.poll))
        stats["search_objective"] = best.objective
        stats["search_gain"] = before - best.objective
    wait = max(0.0, deadline - time.perf_counter()) + PROOF_GRACE_S
    answer = receiver.recv() if receiver.poll(wait) else None
    if child.is_alive():
        child.terminate()
    child.join()
    receiver.close()
    stats["proof_stopped"] = float(answer is None)
    if answer is None:  # out of time: the plan so far stands, with the bound so far
        return bound, ""
    if isinstance(answer, str):  # it failed: the same, and the caller is told why
        return bound, f"compact model: {answer}"
    allocation, proven_bound = answer
    searched = best.objective
    best.consider(allocation)
    stats["compact_gain"] = searched - best.objective
    stats["compact_bound"] = proven_bound
    # plans cheaper than the incumbent the candidates were pruned for use only candidates
    return max(bound, min(proven_bound, best.objective)), ""


def _compact_in_child(
    sender: Connection,
    problem: SourcingProblem,
    rows: ScarceRows,
    cands: Candidates,
    hint: Allocation,
    deadline: float,
    backend: str,
    gap: float,
) -> None:
    """The child process: the compact model until `deadline` (time.monotonic), its plan and
    bound (or why none) sent back."""
    try:
        outcome = solve_compact(
            problem, rows, cands, hint, deadline - time.monotonic(), backend, gap, presolve=False
        )
        sender.send((outcome.allocation, outcome.bound))
    except NoSolution as exc:
        sender.send(str(exc))
    finally:
        sender.close()
