"""Checkout sourcing: the cheapest plan of one order over 1,000 nodes that all stock it.

Target (issue 2): 2 ms median for up to 5 lines.
"""

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import dense_one_order
from sourcing_engine.solvers import solve

SHAPES = [(1,), (1, 1), (1, 1, 1), (1, 1, 1, 1, 1), (2, 1, 1, 1, 1)]


@pytest.mark.parametrize("qty", SHAPES, ids=lambda q: "+".join(map(str, q)))
def test_single_order(benchmark: BenchmarkFixture, qty: tuple[int, ...]) -> None:
    """Exact single-order sourcing (greedy-cost on one order) over 1,000 stocked nodes."""
    problem = dense_one_order(qty)
    result = benchmark(solve, problem, "greedy-cost")
    assert result.allocation.qty.sum() == sum(qty)  # everything shipped
    benchmark.extra_info.update(lines=len(qty), units=sum(qty), nodes=problem.n_nodes)
