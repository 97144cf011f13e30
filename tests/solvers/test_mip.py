"""solve_mip: a small integer model solved to its hand-computed optimum on both backends."""

import numpy as np
import pytest
import scipy.sparse as sp

from sourcing_engine.solvers.mip import BACKENDS, NoSolution, solve_mip


def _knapsack() -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray]:
    """max 5a + 4b + 3c (as min of the negation), 2a + 3b + c <= 5, 0 <= a, b, c <= 1.

    Optimum a = b = 1 (weight 5, value 9): a + c is worth 8, all three weigh 6."""
    objective = np.array([-5.0, -4.0, -3.0])
    upper = np.ones(3)
    matrix = sp.csr_matrix(np.array([[2.0, 3.0, 1.0]]))
    return objective, upper, matrix, np.array([-np.inf]), np.array([5.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_knapsack_optimum(backend: str) -> None:
    """Both backends find a = b = 1, c = 0 at -9 and prove it."""
    solution = solve_mip(*_knapsack(), {}, time_limit_s=10.0, gap=0.0, backend=backend)
    assert solution.values.tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert solution.objective == pytest.approx(-9.0)
    assert solution.bound <= solution.objective + 1e-6
    assert solution.proven


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_poor_hint_does_not_change_the_optimum(backend: str) -> None:
    """Hinting the worse plan a = c = 1 still ends at the optimum."""
    solution = solve_mip(
        *_knapsack(), {0: 1.0, 1: 0.0, 2: 1.0}, time_limit_s=10.0, gap=0.0, backend=backend
    )
    assert solution.objective == pytest.approx(-9.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_integrality_and_general_bounds(backend: str) -> None:
    """Variables are integers within their bounds: x + y = 3, not the LP's 3.5."""
    solution = solve_mip(
        np.array([-1.0, -1.0]), np.array([2.0, 10.0]), sp.csr_matrix(np.array([[2.0, 2.0]])),
        np.array([-np.inf]), np.array([7.0]), {}, time_limit_s=10.0, gap=0.0, backend=backend,
    )  # fmt: skip
    assert solution.objective == pytest.approx(-3.0)
    assert solution.values[0] <= 2.0 + 1e-9
    assert np.allclose(solution.values, np.round(solution.values))


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_model_has_no_solution(backend: str) -> None:
    """x + y = 3 with x, y <= 1 has no solution: NoSolution saying so, not a made-up plan."""
    with pytest.raises(NoSolution, match="INFEASIBLE") as err:
        solve_mip(
            np.array([1.0, 1.0]), np.ones(2), sp.csr_matrix(np.array([[1.0, 1.0]])),
            np.array([3.0]), np.array([3.0]), {}, time_limit_s=10.0, gap=0.0, backend=backend,
        )  # fmt: skip
    assert err.value.status == "INFEASIBLE"
