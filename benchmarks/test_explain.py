"""Explanations on a 1,000-order batch (200 nodes, 2,000 SKUs) once its plan exists.

Targets (issue 13): one order explained (itemized plan, next best plans, reasons of the
nearer or cheaper nodes, the rules on the same stock, the summary) in at most 50 ms; the
batch's shadow-price listing (the master LP solved, its 20 largest duals each re-solved
with one unit more, the top 10 listed; the redirected orders) in at most 5 s.
"""

import itertools
import time

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from sourcing_engine.explain.batch import explain_batch
from sourcing_engine.explain.context import BatchPlan
from sourcing_engine.explain.order import explain
from sourcing_engine.explain.summary import summary
from sourcing_engine.presets import generate, sized
from sourcing_engine.solvers import solve
from sourcing_engine.sourcing import compile_batch

ORDERS, NODES, SKUS = 1000, 200, 2000
PLAN_TIME_LIMIT_S = 5.0
TARGET_ORDER_MS = 50.0
TARGET_BATCH_S = 5.0


@pytest.fixture(scope="module")
def planned() -> tuple[BatchPlan, float]:
    """The batch, its optimal plan (5 s), and the seconds to index the plan for explaining."""
    compiled = compile_batch(generate(sized(ORDERS, NODES, SKUS), 1))
    plan = compiled.plan_document(solve(compiled.problem, "optimal", time_limit=PLAN_TIME_LIMIT_S))
    t0 = time.perf_counter()
    bp = BatchPlan(compiled, plan)
    return bp, time.perf_counter() - t0


def test_explain_one_order(benchmark: BenchmarkFixture, planned: tuple[BatchPlan, float]) -> None:
    """Each round explains the next order of the batch, with its summary."""
    bp, index_s = planned
    ids = itertools.cycle(bp.order_ids)

    def one() -> str:
        return summary(explain(bp.order_context(next(ids))), "en")

    text = benchmark.pedantic(one, rounds=ORDERS, iterations=1, warmup_rounds=5)
    assert text
    assert benchmark.stats is not None
    stats = benchmark.stats.stats
    benchmark.extra_info.update(
        orders=ORDERS, nodes=NODES, skus=SKUS, index_ms=index_s * 1e3,
        p99_ms=sorted(stats.data)[int(0.99 * len(stats.data))] * 1e3,
        target_ms=TARGET_ORDER_MS,
    )  # fmt: skip


def test_shadow_price_listing(
    benchmark: BenchmarkFixture, planned: tuple[BatchPlan, float]
) -> None:
    bp, _ = planned
    found = benchmark.pedantic(explain_batch, args=(bp,), kwargs={"top": 10}, rounds=2,
                               iterations=1)  # fmt: skip
    assert found.converged
    assert found.shadow_prices
    benchmark.extra_info.update(
        orders=ORDERS, nodes=NODES, listed=len(found.shadow_prices),
        exact=sum(s.exact for s in found.shadow_prices),
        largest=found.shadow_prices[0].resolved, redirected=len(found.redirected),
        target_s=TARGET_BATCH_S,
    )  # fmt: skip
