"""A peak day through the API (issue 9): 20,000 orders of the `medium` network posted one at a
time with the per-day capacities binding, then the same orders planned by `optimal`
(benchmarks/peak_day.py says how). Recorded with
`pytest benchmarks/test_peak_day.py -m long --benchmark-json benchmarks/results-peakday.json`
(about 10 minutes on the shared 2-core machine: the orders go at the store's write pace).

Asserted: no request failed, no capacity overrun, no unit oversold (the plan checker and the
ledger check raise on either). Reported, not asserted: the online plan's cost against the
batch optimum's (target: within 10%), term by term.
"""

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks.peak_day import (
    CLIENTS,
    OPTIMAL_TIME_LIMIT_S,
    figures,
    online_metrics,
    optimal_metrics,
    peak_batch,
    run_online,
)


@pytest.mark.long
def test_peak_day_through_the_api(benchmark: BenchmarkFixture) -> None:
    compiled = peak_batch()
    day = benchmark.pedantic(
        lambda: run_online(compiled, "sqlite", 1, CLIENTS), rounds=1, iterations=1
    )
    found = figures(
        online_metrics(compiled, day), optimal_metrics(compiled, OPTIMAL_TIME_LIMIT_S), day
    )
    benchmark.extra_info.update(found)
    assert found["errors"] == 0, day.errors[:5]
    assert found["capacity_overruns"] == 0
    assert found["oversold_units"] == 0
    assert found["allocated"] > 0.9 * found["orders"]
