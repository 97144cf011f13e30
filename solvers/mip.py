"""Running an integer model on an OR-Tools backend, the same way for every model."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from ortools.linear_solver.python import model_builder_helper as mbh

FloatArray = NDArray[np.float64]

BACKENDS = ("scip", "cp_sat")
"""OR-Tools backends for the integer models. SCIP is the default (measured fastest to prove
our models); HiGHS is left out: OR-Tools 9.15 crashes it when given a solution hint."""


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
    backend: str = "scip",
) -> MipSolution:
    """min objective.x, row_lower <= matrix.x <= row_upper, 0 <= x <= upper, x integer.

    One thread (the machines are small and shared); stops at the relative gap `gap`.
    NoSolution when the backend ends without one.
    """
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
