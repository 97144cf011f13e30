"""Checkout's promise under load: `sourcing-engine serve` on a preset network, an open-loop
generator sending POST /v1/promise at a fixed rate (each request leaves on schedule whether
or not earlier ones came back, so a slow server shows as latency, not as a slower rate),
latency measured from each request's scheduled time.

Carts are the preset's own orders of `lines` lines, each to its destination, so the SKUs
and the places are the network's. Run one load by hand:

    python -m benchmarks.promise_load --preset large --rate 200 --seconds 60 --workers 2
"""

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.service_load import ADMIN, RawHttp, api, percentile
from sourcing_engine.presets import generate


def carts(preset: str, lines: int, count: int) -> list[dict[str, Any]]:
    """Promise request bodies: the preset's orders with `lines` lines (seed 0)."""
    batch = generate(preset, seed=0)
    found = [o for o in batch.orders if len(o.lines) == lines][:count]
    return [
        {
            "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in o.lines],
            "destination": {"lat": o.destination.lat, "lon": o.destination.lon},
        }
        for o in found
    ]


@dataclass
class PromiseLoad:
    sent: int
    statuses: Counter[int]
    latencies_ms: list[float]
    seconds: float
    late_starts: int

    @property
    def figures(self) -> dict[str, Any]:
        ok = self.statuses.get(200, 0)
        return {
            "requests": self.sent,
            "ok": ok,
            "errors": self.sent - ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "achieved_per_s": round(self.sent / self.seconds, 1),
            "p50_ms": _round(percentile(self.latencies_ms, 0.50)),
            "p90_ms": _round(percentile(self.latencies_ms, 0.90)),
            "p99_ms": _round(percentile(self.latencies_ms, 0.99)),
            "max_ms": _round(max(self.latencies_ms, default=None)),
            "requests_waiting_for_a_connection": self.late_starts,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def _open_loop(
    port: int, bodies: list[dict[str, Any]], rate: float, seconds: float, connections: int
) -> PromiseLoad:
    pool: asyncio.Queue[RawHttp] = asyncio.Queue()
    for _ in range(connections):
        conn = RawHttp("127.0.0.1", port, ADMIN)
        await conn.open()
        pool.put_nowait(conn)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    late = 0

    async def one(body: dict[str, Any], due: float) -> None:
        nonlocal late
        if pool.empty():
            late += 1  # every connection busy: the request waits, and the wait is counted
        conn = await pool.get()
        try:
            status, _ = await conn.request("POST", "/v1/promise", body)
        finally:
            pool.put_nowait(conn)
        statuses[status] += 1
        latencies.append((time.perf_counter() - due) * 1000)

    start = time.perf_counter()
    total = int(rate * seconds)
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(bodies[i % len(bodies)], due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()
    return PromiseLoad(total, statuses, latencies, elapsed, late)


def measure_promise(
    preset: str = "large",
    rate: float = 200.0,
    seconds: float = 60.0,
    workers: int = 2,
    lines: int = 5,
    connections: int = 64,
    warmup_s: float = 5.0,
    cwd: Path | None = None,
) -> PromiseLoad:
    """serve the preset on a fresh embedded store, warm up, then run the open loop."""
    with tempfile.TemporaryDirectory() as tmp:
        here = cwd or Path(tmp)
        store = f"sqlite:///{here / 'ledger.db'}"
        bodies = carts(preset, lines, 2000)
        with api(here, store, workers, scenario=preset, start_s=300) as served:
            asyncio.run(_open_loop(served.port, bodies, rate, warmup_s, connections))
            return asyncio.run(_open_loop(served.port, bodies, rate, seconds, connections))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="large")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lines", type=int, default=5)
    args = parser.parse_args()
    result = measure_promise(args.preset, args.rate, args.seconds, args.workers, args.lines)
    print(json.dumps(result.figures, indent=2))


if __name__ == "__main__":
    main()
