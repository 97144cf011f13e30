"""The order-lifecycle API under load, as deployed: `sourcing-engine serve` on the demo network
(22 nodes; 20 of its SKUs stocked at every node, two of them with 5 units a node so that
they run out and carts for them are refused), 64 concurrent clients each looping
reserve-then-commit, and a probe allocating single orders (POST /v1/orders) meanwhile; and
32 clients driving orders through every step of their life (the mixed load).

Targets (issue 3): Redis store >= 3,000 reserve-and-commit operations per second from 64
clients over 3 API processes with zero invariant violations; embedded store >= 1,000/s;
p99 of a single-order allocate under that load <= 50 ms.

One reserve + commit pair (two HTTP requests, both 201) counts as one operation. Everything
-- API workers, redis-server, the load's clients and the probe -- shares one machine, so the
figures include what the clients take from the API; `benchmarks/service_load.py` has the
harness (and runs one load from the command line, for profiling).
"""

import tempfile
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.conftest import run_rounds
from benchmarks.service_load import Measured, measure, measure_mixed, store_for

ROUNDS = 3  # each round on a fresh store; the report prints medians and their spread
SECONDS = 20.0
CLIENTS = 64
TARGET_OPS = {"redis": 3000.0, "sqlite": 1000.0}
TARGET_SINGLE_ORDER_P99_MS = 50.0
MIXED_CLIENTS = 32
TARGET_MIXED_CPU_MS = 1.5
TARGET_MIXED_P99_MS = 250.0


@pytest.mark.parametrize(
    ("store", "workers"),
    [("redis", 3), ("sqlite", 1), ("sqlite", 3)],
    ids=["redis-3-workers", "sqlite-1-worker", "sqlite-3-workers"],
)
def test_service_load(
    benchmark: BenchmarkFixture, tmp_path: Path, store: str, workers: int
) -> None:
    """64 clients reserve+commit for 20 s, a probe times single orders; store = every 2xx.
    Three rounds, each on a fresh store."""

    def one_round() -> Measured:
        data_dir = Path(tempfile.mkdtemp(dir=tmp_path))
        with store_for(store, data_dir) as url:
            return measure(url, workers, clients=CLIENTS, seconds=SECONDS, cwd=data_dir)

    results = run_rounds(benchmark, one_round, ROUNDS, lambda m: m.figures)
    violations = [v for m in results for v in m.violations]
    figures = benchmark.extra_info
    benchmark.extra_info.update(
        target_reserve_commit_per_s=TARGET_OPS[store],
        meets_throughput_target=figures["reserve_commit_per_s"] >= TARGET_OPS[store],
        target_single_order_p99_ms=TARGET_SINGLE_ORDER_P99_MS,
        meets_single_order_target=(figures["single_order_p99_ms"] or float("inf"))
        <= TARGET_SINGLE_ORDER_P99_MS,
        violations=violations[:20],
    )
    assert violations == [], violations[:20]
    assert all(m.figures["pairs"] > 0 for m in results)
    # the scarce SKUs ran out, so an oversell would have shown in the store check. Which
    # workers served is recorded (workers_reached), not asserted: the load's 64 kept
    # connections stay where they were accepted, and uvicorn does not balance them (once,
    # on a machine loaded by other work, one worker took all 64); the concurrency test
    # (tests/api/test_concurrency_workers.py) asserts that every worker served.
    assert all(m.figures["refused_for_stock"] > 0 for m in results)


def test_service_mixed_load(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    """32 clients drive orders through their whole life on Redis with 3 workers (holds,
    commits, creates, releases, cancels, ships, rejects, returns, each write keyed); the
    store must match what every reply said. Targets (issue 6): API CPU per request <= 1.5 ms,
    p99 <= 250 ms. Three rounds, each on a fresh store."""

    def one_round() -> Measured:
        data_dir = Path(tempfile.mkdtemp(dir=tmp_path))
        with store_for("redis", data_dir) as url:
            return measure_mixed(url, 3, clients=MIXED_CLIENTS, seconds=SECONDS, cwd=data_dir)

    results = run_rounds(benchmark, one_round, ROUNDS, lambda m: m.figures)
    violations = [v for m in results for v in m.violations]
    benchmark.extra_info.update(
        target_api_cpu_ms_per_request=TARGET_MIXED_CPU_MS,
        target_request_p99_ms=TARGET_MIXED_P99_MS,
        violations=violations[:20],
    )
    assert violations == [], violations[:20]
    assert all(m.figures["requests_per_s"] > 0 for m in results)
