"""Running an integer model on an OR-Tools backend, the same way for every model."""

import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.linear_solver.python import model_builder_helper as mbh

FloatArray = NDArray[np.float64]

BACKENDS = ("scip", "cp_sat", "highs")
"""Backends for the integer models: HiGHS through highspy directly (the default: it takes
the hint as a starting solution, where OR-Tools 9.15 crashes HiGHS given a hint), SCIP and
CP-SAT through OR-Tools."""


class NoSolution(Exception):
    """The backend ended without any solution; `status` says why (e.g. INFEASIBLE, or
    NOT_SOLVED when the time limit came first)."""

    def __init__(self, backend: str, status: str) -> None:
        self.status = status
        super().__init__(f"{backend} found no solution ({status})")


@dataclass(frozen=True, eq=False)
class MipSolution:
    values: FloatArray
    objective: float
    bound: float
    proven: bool


def solve_mip(
    objective: FloatArray,
    upper: FloatArray,
    matrix: sp.csr_matrix,
    row_lower: FloatArray,
    row_upper: FloatArray,
    hint: dict[int, float],
    *,
    time_limit_s: float,
    gap: float,
    backend: str = "highs",
    presolve: bool = True,
) -> MipSolution:
    """min objective.x, row_lower <= matrix.x <= row_upper, 0 <= x <= upper, x integer.

    One thread (the machines are small and shared); stops at the relative gap `gap`.
    presolve=False turns HiGHS's presolve off (the other backends keep theirs): on models
    of about 100,000 binaries its probing ran past the time limit and left no bound (see
    solvers.compact). NoSolution when the backend ends without one.
    """
    if backend == "highs":
        return _solve_highs(
            objective, upper, matrix, row_lower, row_upper, hint, time_limit_s, gap, presolve
        )
    model: Any = mbh.ModelBuilderHelper()  # its stubs mistype numpy arguments
    n = len(objective)
    model.fill_model_from_sparse_data(np.zeros(n), upper, objective, row_lower, row_upper, matrix)
    for j in range(n):
        model.set_var_integrality(j, True)
    for j, v in hint.items():
        model.add_hint(j, v)
    solver: Any = mbh.ModelSolverHelper(backend)
    solver.set_time_limit_in_seconds(max(0.01, time_limit_s))
    params = {
        "scip": f"parallel/maxnthreads = 1\nlimits/gap = {gap}\n",
        "cp_sat": f"relative_gap_limit:{gap}, num_workers:1",
    }
    solver.set_solver_specific_parameters(params[backend])
    solver.solve(model)
    status = solver.status()
    if not solver.has_solution():
        raise NoSolution(backend, getattr(status, "name", str(status)))
    return MipSolution(
        values=np.asarray(solver.variable_values(), dtype=np.float64),
        objective=float(solver.objective_value()),
        bound=float(solver.best_objective_bound()),
        proven=status == mbh.SolveStatus.OPTIMAL,
    )


def _solve_highs(
    objective: FloatArray,
    upper: FloatArray,
    matrix: sp.csr_matrix,
    row_lower: FloatArray,
    row_upper: FloatArray,
    hint: dict[int, float],
    time_limit_s: float,
    gap: float,
    presolve: bool,
) -> MipSolution:
    """The same model with HiGHS's MIP (highspy), the hint as its starting solution."""
    t0 = time.perf_counter()
    highs: Any = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("threads", 1)
    highs.setOptionValue("mip_rel_gap", gap)
    if not presolve:
        highs.setOptionValue("presolve", "off")
    n = len(objective)
    lower_bounds = np.zeros(n)
    highs.addVars(n, lower_bounds, np.asarray(upper, dtype=np.float64))
    idx = np.arange(n, dtype=np.int32)
    highs.changeColsCost(n, idx, np.asarray(objective, dtype=np.float64))
    highs.changeColsIntegrality(n, idx, np.full(n, highspy.HighsVarType.kInteger))
    csr = sp.csr_matrix(matrix)
    highs.addRows(
        csr.shape[0], np.asarray(row_lower, np.float64), np.asarray(row_upper, np.float64),
        csr.nnz, csr.indptr[:-1].astype(np.int32), csr.indices.astype(np.int32),
        csr.data.astype(np.float64),
    )  # fmt: skip
    if hint:
        keys = np.fromiter(hint.keys(), dtype=np.int32, count=len(hint))
        values = np.fromiter(hint.values(), dtype=np.float64, count=len(hint))
        highs.setSolution(len(keys), keys, values)
    # the limit counts from the call: loading a large model takes a share of it
    highs.setOptionValue("time_limit", max(0.01, time_limit_s - (time.perf_counter() - t0)))
    highs.run()
    info = highs.getInfo()
    status = highs.getModelStatus()
    if info.primal_solution_status != FEASIBLE_SOLUTION:
        # the names OR-Tools gives (NoSolution.status reads the same for every backend)
        name = {
            highspy.HighsModelStatus.kInfeasible: "INFEASIBLE",
            highspy.HighsModelStatus.kUnbounded: "UNBOUNDED",
            highspy.HighsModelStatus.kUnboundedOrInfeasible: "INFEASIBLE_OR_UNBOUNDED",
        }.get(status, "NOT_SOLVED")
        raise NoSolution("highs", name)
    values = np.asarray(highs.getSolution().col_value, dtype=np.float64)
    reported = float(info.objective_function_value)
    if not consistent(reported, float(np.asarray(objective, dtype=np.float64) @ values)):
        # its incumbent's value is wrong, so what it pruned against it (and its bound) is
        # too: the plan and bound so far stand (see Columns.add for the case met)
        raise NoSolution("highs", "INCONSISTENT")
    return MipSolution(
        values=values,
        objective=reported,
        bound=float(info.mip_dual_bound),
        proven=status == highspy.HighsModelStatus.kOptimal,
    )


def consistent(reported: float, recomputed: float) -> bool:
    """Whether a solver's objective agrees with its solution's cost, recomputed."""
    return abs(reported - recomputed) <= 1e-6 * max(1.0, abs(recomputed))


FEASIBLE_SOLUTION = 2
"""HiGHS's kSolutionStatusFeasible."""
