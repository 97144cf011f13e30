"""Batch solves of the `optimal` policy swept over size, with the gap reached.

Targets (issue 2): 1,000 orders over 200 nodes proven optimal (gap <= 0.01%) in 5 s;
10,000 orders over 1,000 nodes and 20,000 SKUs within 0.5% in 30 s, under 4 GB.
"""

import json
import subprocess
import sys

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import batch_problem
from sourcing_engine.solvers import solve

# (orders, nodes, SKUs, time limit s)
SIZES = [
    (300, 50, 600, 30.0),
    (1000, 200, 2000, 5.0),
    (1000, 200, 2000, 60.0),
    (3000, 400, 6000, 60.0),
    (10000, 1000, 20000, 30.0),
]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}o-{s[1]}n-{s[2]}s-{s[3]:g}s")
def test_batch(benchmark: BenchmarkFixture, size: tuple[int, int, int, float]) -> None:
    """One optimal solve per size; the gap and what bounded it go to extra_info."""
    n_orders, n_nodes, n_skus, limit = size
    problem = batch_problem(n_orders, n_nodes, n_skus)
    result = benchmark.pedantic(
        solve, args=(problem, "optimal"), kwargs={"time_limit": limit}, rounds=1, iterations=1
    )
    greedy = solve(problem, "greedy-cost")
    assert result.objective <= greedy.objective + 1e-6
    benchmark.extra_info.update(
        status=str(result.status),
        objective=result.objective,
        bound=result.bound,
        gap=result.gap,
        greedy_cost=greedy.objective,
        saving_vs_greedy=1.0 - result.objective / greedy.objective,
        **{k: float(v) for k, v in result.stats.items()},
    )


MEMORY_SCRIPT = """
import json, resource, sys
from benchmarks.conftest import batch_problem
from sourcing_engine.solvers import solve
problem = batch_problem(10000, 1000, 20000)
result = solve(problem, "optimal", time_limit=30.0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak_bytes": peak, "gap": result.gap}))
"""


def test_peak_memory_10k(benchmark: BenchmarkFixture) -> None:
    """Peak resident memory of generating and solving the 10,000-order batch (own process)."""

    def run() -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=True
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    figures = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(peak_gib=figures["peak_bytes"] / 2**30, gap=figures["gap"])
    assert figures["peak_bytes"] < 4 * 2**30
