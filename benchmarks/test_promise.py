"""Checkout's promise: every delivery option of a 5-line cart, on the `large` network
(1,010 nodes; a popular SKU is stocked at hundreds of them).

Targets (issue 8): in process, a 5-line cart over 1,000 nodes: p50 <= 1 ms, p99 <= 5 ms; over
HTTP on the embedded store, 200 promise requests per second for 60 s: p99 <= 25 ms, no
errors. Measured three ways in process -- the engine alone on stock in memory, the service
on the embedded store reading live stock, and the service reusing a promise's stock read for
a second (SOURCING_ENGINE_PROMISE_STOCK_CACHE_S=1) -- and once over HTTP
(`benchmarks/promise_load.py`). Carts are the preset's own 5-line orders, each promised at
its own destination; each run goes over them twice and times the second pass (shapes and
calendars warm, as in a running server).
"""

import datetime as dt
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.promise_load import measure_promise
from sourcing_engine.domain import Batch, Order, Position
from sourcing_engine.presets import generate
from sourcing_engine.promise.carriers import default_carrier
from sourcing_engine.promise.network import PromiseNetwork
from sourcing_engine.promise.options import promise
from sourcing_engine.service import Service, ServiceConfig
from sourcing_engine.sourcing import Network
from sourcing_engine.stores import open_store

CARTS = 300
AT = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)  # a Thursday, 10:00 in New York
TARGET_P50_MS, TARGET_P99_MS = 1.0, 5.0
TARGET_HTTP_RATE, TARGET_HTTP_P99_MS = 200.0, 25.0


@pytest.fixture(scope="module")
def large() -> Batch:
    return generate("large", seed=0)


def five_line_carts(batch: Batch) -> list[Order]:
    return [o for o in batch.orders if len(o.lines) == 5][:CARTS]


def timed(carts: list[Order], run: Callable[[Order], object]) -> dict[str, float]:
    """p50 / p90 / p99 / mean in ms of the second of two passes over the carts."""
    for cart in carts:
        run(cart)
    ms = []
    for cart in carts:
        t0 = time.perf_counter()
        run(cart)
        ms.append((time.perf_counter() - t0) * 1000)
    p50, p90, p99 = np.percentile(ms, [50, 90, 99]).tolist()
    return {
        "p50_ms": round(p50, 3),
        "p90_ms": round(p90, 3),
        "p99_ms": round(p99, 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def record(benchmark: BenchmarkFixture, figures: dict[str, float], **extra: object) -> None:
    benchmark.extra_info.update(
        figures,
        carts=CARTS,
        lines=5,
        target_p50_ms=TARGET_P50_MS,
        target_p99_ms=TARGET_P99_MS,
        meets_target=figures["p50_ms"] <= TARGET_P50_MS and figures["p99_ms"] <= TARGET_P99_MS,
        **extra,
    )


def test_promise_engine_in_memory(benchmark: BenchmarkFixture, large: Batch) -> None:
    """The engine alone: stock handed over from memory, every method, 5-line carts."""
    carrier = large.carrier or default_carrier("US", large.shipping)
    net = PromiseNetwork(Network(large.nodes), carrier)
    items = {i.sku: i for i in large.items}
    by_sku: dict[str, list[Position]] = {}
    skus = [i.sku for i in large.items]
    nodes = [n.id for n in large.nodes]
    inv = large.inventory
    for n, s, on_hand, safety in zip(
        inv.node.tolist(), inv.item.tolist(), inv.on_hand.tolist(), inv.safety_stock.tolist(),
        strict=True,
    ):  # fmt: skip
        by_sku.setdefault(skus[s], []).append(Position(nodes[n], skus[s], on_hand, safety, 0, 0))

    def read(wanted: Sequence[str], at_nodes: Sequence[str] | None) -> list[Position]:
        return [p for sku in wanted for p in by_sku.get(sku, [])]

    def run(o: Order) -> object:
        return promise(o.quantities, o.destination, AT, net, items, read, lambda _: [],
                       large.penalties)  # fmt: skip

    figures = benchmark.pedantic(timed, args=(five_line_carts(large), run), rounds=1, iterations=1)
    record(benchmark, figures, store="memory")


@pytest.fixture(scope="module")
def ledger(large: Batch, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("promise") / "ledger.db"
    service = Service(open_store(f"sqlite:///{path}"))
    try:
        service.load_network(large)
    finally:
        service.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize("cache_s", [0.0, 1.0], ids=["live-stock", "stock-cached-1s"])
def test_promise_service_embedded_store(
    benchmark: BenchmarkFixture, large: Batch, ledger: str, cache_s: float
) -> None:
    """Service.promise on the embedded store: stock read live per promise, or a promise's
    read reused for a second by the next promises of those SKUs."""
    service = Service(open_store(ledger), ServiceConfig(promise_stock_cache_s=cache_s))
    try:
        carts = five_line_carts(large)
        figures = benchmark.pedantic(
            timed,
            args=(carts, lambda o: service.promise(o.quantities, o.destination, AT)),
            rounds=1,
            iterations=1,
        )
    finally:
        service.close()
    record(benchmark, figures, store="sqlite", stock_cache_s=cache_s)


@pytest.mark.parametrize(
    ("preset", "lines"), [("large", 5), ("small", 3)], ids=["large-5-lines", "small-3-lines"]
)
def test_promise_http_load(
    benchmark: BenchmarkFixture, tmp_path: Path, preset: str, lines: int
) -> None:
    """serve --scenario PRESET (embedded store, 2 workers), 200 promises/s for 60 s, open
    loop; `small` is the demo network `serve` starts with."""
    result = benchmark.pedantic(
        measure_promise,
        kwargs={
            "preset": preset,
            "lines": lines,
            "rate": TARGET_HTTP_RATE,
            "seconds": 60.0,
            "workers": 2,
            "cwd": tmp_path,
        },
        rounds=1,
        iterations=1,
    )
    figures = result.figures
    benchmark.extra_info.update(
        figures,
        preset=preset,
        lines=lines,
        target_rate_per_s=TARGET_HTTP_RATE,
        target_p99_ms=TARGET_HTTP_P99_MS,
        meets_target=figures["errors"] == 0
        and (figures["p99_ms"] or float("inf")) <= TARGET_HTTP_P99_MS,
    )
    assert figures["errors"] == 0, figures["statuses"]
