"""Batch solves of the `optimal` policy swept over size, with the gap reached.

Targets (issue 2): 1,000 orders over 200 nodes proven optimal (gap <= 0.01%) in 5 s;
10,000 orders over 1,000 nodes and 20,000 SKUs within 0.5% in 30 s, under 4 GB.

Each size is solved several times (ROUNDS: 5 for the short solves, 3 for the minute-long
ones); the report prints the median time and gap with their spread. Every plan goes
through the plan checker after its timed solve (an invalid plan fails the benchmark). The
peak-memory run is one process, once.
"""

import json
import subprocess
import sys

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import check_plan, compiled_batch, run_rounds
from sourcing_engine.solvers import Result, solve

# (orders, nodes, SKUs, time limit s)
SIZES = [
    (300, 50, 600, 30.0),
    (1000, 200, 2000, 5.0),
    (1000, 200, 2000, 60.0),
    (3000, 400, 6000, 60.0),
    (10000, 1000, 20000, 30.0),
]


def rounds_for(size: tuple[int, int, int, float]) -> int:
    """Repeats of one size: 5 where a solve takes seconds, 3 where it takes half a minute
    or a minute (its time limit)."""
    return 5 if size[0] <= 300 or size[3] <= 5.0 else 3


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}o-{s[1]}n-{s[2]}s-{s[3]:g}s")
def test_batch(benchmark: BenchmarkFixture, size: tuple[int, int, int, float]) -> None:
    """One optimal solve per size; the gap and what bounded it go to extra_info."""
    n_orders, n_nodes, n_skus, limit = size
    compiled = compiled_batch(n_orders, n_nodes, n_skus)
    greedy = solve(compiled.problem, "greedy-cost")

    def figures(result: Result) -> dict[str, float | None]:
        return {
            "seconds": result.runtime_s,
            "objective": result.objective,
            "bound": result.bound,
            "gap": result.gap,
            "saving_vs_greedy": 1.0 - result.objective / greedy.objective,
            **{k: float(v) for k, v in result.stats.items()},
        }

    results = run_rounds(
        benchmark,
        lambda: solve(compiled.problem, "optimal", time_limit=limit),
        rounds_for(size),
        figures,
    )
    for result in results:
        check_plan(compiled, result)
    benchmark.extra_info.update(
        status=", ".join(sorted({str(r.status) for r in results})), greedy_cost=greedy.objective
    )


MEMORY_SCRIPT = """
import json, resource, sys
from sourcing_engine.presets import generate, sized
from sourcing_engine.solvers import solve
from sourcing_engine.sourcing import compile_batch
problem = compile_batch(generate(sized(10000, 1000, 20000), 1)).problem
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
