"""Shared fixtures of the benchmark suites (run: pytest benchmarks, see README).

Recorded figures describe a commit: a run that writes results (--benchmark-json, -save,
-autosave) refuses a tree with uncommitted or untracked files, and the results file names the
commit (commit_info: id, dirty, dirty_files). SOURCING_ENGINE_BENCH_ALLOW_DIRTY=1 lets a
development run record anyway; its results then say "dirty" (and the report prints so).
"""

import os
import statistics
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from sourcing_engine.compare import checked_metrics
from sourcing_engine.cost_models import OrderPenalties, default_us_ground
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.presets import generate, sized
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Result
from sourcing_engine.sourcing import CompiledBatch, compile_batch

ALLOW_DIRTY = "SOURCING_ENGINE_BENCH_ALLOW_DIRTY"
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def dense_one_order(qty: tuple[int, ...], n_nodes: int = 1000, seed: int = 0) -> SourcingProblem:
    """One order whose every SKU is stocked at every one of n_nodes nodes: the worst case of
    checkout sourcing (no node can be skipped for lack of stock)."""
    rng = np.random.default_rng(seed)
    n_lines = len(qty)
    return SourcingProblem(
        node_lat=rng.uniform(26.0, 48.0, n_nodes),
        node_lon=rng.uniform(-123.0, -70.0, n_nodes),
        node_ship_capacity=np.full(n_nodes, UNLIMITED),
        node_unit_capacity=np.full(n_nodes, UNLIMITED),
        node_handling_per_shipment=rng.uniform(1.0, 4.0, n_nodes),
        node_handling_per_unit=rng.uniform(0.2, 1.2, n_nodes),
        node_ship_enabled=np.ones(n_nodes, dtype=bool),
        sku_weight_lb=rng.uniform(0.3, 10.0, n_lines),
        sku_volume_in3=rng.uniform(50.0, 2000.0, n_lines),
        stock_sku_ptr=np.arange(0, n_nodes * n_lines + 1, n_nodes),
        stock_node=np.tile(np.arange(n_nodes), n_lines),
        stock_qty=rng.integers(1, 4, n_nodes * n_lines),
        order_lat=np.array([39.1]),
        order_lon=np.array([-94.6]),
        order_residential=np.array([True]),
        order_line_ptr=np.array([0, n_lines]),
        line_sku=np.arange(n_lines),
        line_qty=np.array(qty),
        shipping=default_us_ground(),
        penalties=OrderPenalties(unfilled_per_unit=250.0, split=1.0),
    )


_CACHE: dict[tuple[int, int, int, int], CompiledBatch] = {}


def compiled_batch(n_orders: int, n_nodes: int, n_skus: int, seed: int = 1) -> CompiledBatch:
    """A generated batch of the given size (presets.sized), compiled once per session."""
    key = (n_orders, n_nodes, n_skus, seed)
    if key not in _CACHE:
        _CACHE[key] = compile_batch(generate(sized(n_orders, n_nodes, n_skus), seed))
    return _CACHE[key]


def batch_problem(n_orders: int, n_nodes: int, n_skus: int, seed: int = 1) -> SourcingProblem:
    """The solver's arrays of compiled_batch(...)."""
    return compiled_batch(n_orders, n_nodes, n_skus, seed).problem


def check_plan(compiled: CompiledBatch, result: Result) -> None:
    """The plan checker on a benchmark's plan (outside the timed part): an invalid plan, or a
    checked cost other than the solver's, raises InvalidPlanError and fails the benchmark."""
    checked_metrics(compiled, result)


def run_rounds(
    benchmark: BenchmarkFixture,
    run: Callable[[], T],
    rounds: int,
    figures: Callable[[T], Mapping[str, Any]],
) -> list[T]:
    """Run a slow benchmark `rounds` times (the timing stats are then over the rounds) and
    record each round's figures in extra_info["runs"] and the median of each numeric one at
    the top level (others: the last round's), so the report prints the median with its
    spread (min-max) over the rounds."""
    results: list[T] = []
    benchmark.pedantic(lambda: results.append(run()), rounds=rounds, iterations=1)
    runs = [dict(figures(r)) for r in results]
    benchmark.extra_info["runs"] = runs
    for key, last in runs[-1].items():
        values = [v for r in runs if isinstance(v := r.get(key), int | float)]
        numeric = values and not isinstance(last, bool)
        benchmark.extra_info[key] = statistics.median(values) if numeric else last
    return results


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def uncommitted_files() -> list[str]:
    """Tracked files that differ from HEAD and untracked files not ignored (an untracked
    module can change what runs as much as an edit)."""
    return [line[3:] for line in _git("status", "--porcelain").splitlines() if line.strip()]


def _records(config: pytest.Config) -> bool:
    return any(
        config.getoption(option, None)
        for option in ("benchmark_json", "benchmark_save", "benchmark_autosave")
    )


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to record figures from a tree that is not a commit (see the module's doc)."""
    if not _records(config) or os.environ.get(ALLOW_DIRTY) == "1":
        return
    dirty = uncommitted_files()
    if dirty:
        listed = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise pytest.UsageError(
            f"benchmarks: refusing to record results from an uncommitted tree ({listed}); "
            f"commit first so the figures name the code they measured, or set {ALLOW_DIRTY}=1 "
            "for a development run (its results are then marked dirty)"
        )


def pytest_benchmark_update_commit_info(config: pytest.Config, commit_info: dict[str, Any]) -> None:
    """pytest-benchmark's `dirty` misses untracked files: record ours, and which files."""
    dirty = uncommitted_files()
    commit_info["id"] = _git("rev-parse", "HEAD").strip()
    commit_info["dirty"] = bool(dirty)
    commit_info["dirty_files"] = dirty


@pytest.fixture(scope="session")
def problem_factory() -> object:
    return batch_problem


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the opt-in `long` benchmarks out of a plain `pytest benchmarks` (deselected, not
    skipped); `-m long` (or any -m expression naming it) runs them."""
    if "long" in (config.getoption("-m") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("long") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
