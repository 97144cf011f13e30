"""The ledger's invariants under a long concurrent load (issue 9: zero violations in at least
50,000 operations on each store, capacity and transfers included).

The concurrency tests' hot load (tests/sourcing_engine/stores/invariants.py: holds, commits,
releases, orders, cancels, shipments, receipts and transfers on a few hot positions, with
stock running out and node capacity binding) run for ten minutes on each store, 16 threads
and 3 processes; every step is checked as it happens and the store against every
acknowledgement at the end (any violation fails the run). Recorded with
`pytest benchmarks/test_concurrency.py -m long --benchmark-json benchmarks/results-concurrency.json`
(about 21 minutes).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from sourcing_engine.stores import open_store
from tests.conftest import RedisServer
from tests.sourcing_engine.stores.invariants import Tally, hot_load

SECONDS = 600.0
THREADS, PROCESSES = 16, 3
TARGET_OPS = 50_000


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.long
def test_hot_load_ten_minutes(benchmark: BenchmarkFixture, url: str) -> None:
    store = open_store(url)
    try:
        total: Tally = benchmark.pedantic(
            lambda: hot_load(url, store, SECONDS, THREADS, PROCESSES), rounds=1, iterations=1
        )
    finally:
        store.close()
    benchmark.extra_info.update(
        store=url.split(":")[0],
        seconds=SECONDS,
        operations=total.ops.total(),
        by_kind=dict(total.ops),
        refused=dict(total.refused),
        position_checks=total.checks,
        target_operations=TARGET_OPS,
    )
