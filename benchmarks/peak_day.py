"""A peak day through the API (issue 9): the `medium` network takes 20,000 orders in one
day, one at a time as they arrive, with its per-day node capacities binding; then the same
orders are planned jointly by `optimal` on the same stock and capacity.

The day's orders are posted in arrival order by a few concurrent clients to `serve` on a
fresh ledger. Afterwards the API's allocations, read back from its replies, form one plan of
the whole batch, which goes through the same independent plan checker as every policy's
(stock and capacity never exceeded, prices recomputed): so an overrun, an oversold unit or a
mispriced plan fails the run. The ledger is checked too: nothing negative, and what it holds
allocated is what the replies said. The cost of the online plan is then set next to the
batch optimum's, term by term (shipping, handling, split and unfilled penalties).

The live service prices as its network settings say: the benchmark sets its split penalty
to the scenario's (1 per extra shipment); its unfilled penalty stays the service's own (an
order it cannot fill whole is refused, which the comparison charges at the scenario's 250 a
unit, as it charges the optimum's unfilled units).

Run by hand: python -m benchmarks.peak_day --store sqlite --orders 2000
"""

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.service_load import ADMIN, RawHttp, api, store_for
from sourcing_engine.compare import PolicyMetrics, checked_metrics
from sourcing_engine.presets import PRESETS, generate, write_scenario
from sourcing_engine.solvers.baselines import heuristic_result
from sourcing_engine.solvers.policies import solve
from sourcing_engine.solvers.result import Allocation
from sourcing_engine.sourcing import CompiledBatch, compile_batch
from sourcing_engine.stores import open_store

ORDERS = 20_000
CLIENTS = 16
OPTIMAL_TIME_LIMIT_S = 120.0


def peak_batch(orders: int = ORDERS, seed: int = 1) -> CompiledBatch:
    """The `medium` network with a day of `orders` orders (its stock and capacities are
    planned from that day's expected demand, so they bind as on the preset)."""
    return compile_batch(generate(replace(PRESETS["medium"], n_orders=orders), seed))


@dataclass
class OnlineDay:
    """What the API answered for the day's orders, in arrival order."""

    allocations: dict[str, list[dict[str, Any]]]  # order id -> its allocated units
    refused: Counter[str]  # error code -> orders refused with it
    errors: list[str]
    seconds: float
    capacity: list[dict[str, Any]]  # GET /v1/capacity after the day
    days: set[str]  # the local days the capacity replies named (one: no midnight crossed)
    oversold_units: int = 0  # units the ledger holds allocated beyond its sellable stock


async def _post_day(port: int, orders: list[dict[str, Any]], clients: int) -> OnlineDay:
    pending = iter(orders)
    day = OnlineDay({}, Counter(), [], 0.0, [], set())

    async def client() -> None:
        http = RawHttp("127.0.0.1", port, ADMIN)
        await http.open()
        try:
            for body in pending:
                status, reply = await http.request("POST", "/v1/orders", body, key=body["id"])
                if status == 201:
                    day.allocations[body["id"]] = reply["allocations"]
                elif status == 409:
                    day.refused[reply["error"]["code"]] += 1
                else:
                    day.errors.append(f"{body['id']}: HTTP {status} {reply}")
        finally:
            http.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    day.seconds = time.perf_counter() - start
    return day


def _settle(port: int) -> None:
    """The scenario's split penalty in the live settings (the rest stays the service's)."""

    async def run() -> None:
        http = RawHttp("127.0.0.1", port, ADMIN)
        await http.open()
        try:
            status, doc = await http.request("GET", "/v1/settings")
            assert status == 200, doc
            doc = {k: v for k, v in doc.items() if k not in ("currency",)}
            doc["split_penalty"] = 1.0
            status, reply = await http.request("PUT", "/v1/settings", doc)
            assert status == 200, reply
        finally:
            http.close()

    asyncio.run(run())


def _capacity(port: int) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        http = RawHttp("127.0.0.1", port, ADMIN)
        await http.open()
        try:
            status, reply = await http.request("GET", "/v1/capacity")
            assert status == 200, reply
            return list(reply["nodes"])
        finally:
            http.close()

    return asyncio.run(run())


def order_bodies(compiled: CompiledBatch) -> list[dict[str, Any]]:
    """The batch's orders as POST /v1/orders bodies, in the batch's (arrival) order."""
    return [
        {
            "id": o.id,
            "destination": {
                "lat": o.destination.lat,
                "lon": o.destination.lon,
                "residential": o.destination.residential,
            },
            "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in o.lines],
        }
        for o in compiled.batch.orders
    ]


def run_online(compiled: CompiledBatch, kind: str, workers: int, clients: int) -> OnlineDay:
    """Serve the batch's network on a fresh `kind` ledger and post the day's orders; check
    the ledger afterwards (nothing negative; allocated = what the replies said)."""
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        scenario = write_scenario(compiled.batch, cwd / "scenario")
        with store_for(kind, cwd) as store, api(cwd, store.url, workers, str(scenario)) as served:
            _settle(served.port)
            before = {n["node"]: n["day"] for n in _capacity(served.port)}
            day = asyncio.run(_post_day(served.port, order_bodies(compiled), clients))
            day.capacity = _capacity(served.port)
            day.days = set(before.values()) | {n["day"] for n in day.capacity}
            if any(before[n["node"]] != n["day"] for n in day.capacity):
                raise RuntimeError("the day ran past a node's local midnight: run it again")
            _check_ledger(compiled, store.url, day)
    return day


def _check_ledger(compiled: CompiledBatch, url: str, day: OnlineDay) -> None:
    told: Counter[tuple[str, str]] = Counter()
    for units in day.allocations.values():
        for u in units:
            told[(u["node"], u["sku"])] += u["qty"]
    store = open_store(url)
    try:
        skus = [i.sku for i in compiled.batch.items]
        positions = store.positions(skus)
    finally:
        store.close()
    day.oversold_units = sum(
        max(0, p.allocated + p.reserved - (p.on_hand - p.safety_stock)) for p in positions
    )
    negative = [p for p in positions if min(p.on_hand, p.reserved, p.allocated) < 0]
    held = {(p.node, p.sku): p.allocated for p in positions if p.allocated}
    if negative or day.oversold_units or held != dict(told):
        raise AssertionError(
            f"ledger: {len(negative)} negative positions, {day.oversold_units} units oversold; "
            f"allocated {sum(held.values())} units, the replies {sum(told.values())}"
        )


def online_metrics(compiled: CompiledBatch, day: OnlineDay) -> PolicyMetrics:
    """The API's allocations as one plan of the batch, through the independent checker."""
    b, problem = compiled.batch, compiled.problem
    node_of = {n.id: k for k, n in enumerate(b.nodes)}
    sku_of = {i.sku: k for k, i in enumerate(b.items)}
    line_of: dict[tuple[str, int], int] = {}
    ptr, line_sku = problem.order_line_ptr, problem.line_sku
    for k, o in enumerate(b.orders):
        for line in range(int(ptr[k]), int(ptr[k + 1])):
            line_of[(o.id, int(line_sku[line]))] = line
    lines, nodes, qty = [], [], []
    for order_id, units in day.allocations.items():
        for u in units:
            lines.append(line_of[(order_id, sku_of[u["sku"]])])
            nodes.append(node_of[u["node"]])
            qty.append(u["qty"])
    alloc = Allocation(np.array(lines), np.array(nodes), np.array(qty))
    # the live service sources each order alone with greedy-cost: the plan checker knows the
    # policies by name, and this is that policy, applied one order at a time
    online = heuristic_result("greedy-cost", problem, alloc, time.perf_counter())
    return checked_metrics(compiled, online)


def optimal_metrics(compiled: CompiledBatch, time_limit: float) -> PolicyMetrics:
    return checked_metrics(compiled, solve(compiled.problem, "optimal", time_limit=time_limit))


def figures(online: PolicyMetrics, best: PolicyMetrics, day: OnlineDay) -> dict[str, Any]:
    """The comparison, term by term, and the checks' counts."""
    over = [
        n["node"]
        for n in day.capacity
        if (n["shipments_left"] is not None and n["shipments"] > n["ship_capacity"])
        or (n["units_left"] is not None and n["units"] > n["unit_capacity"])
    ]
    binding = sum(1 for n in day.capacity if n["shipments_left"] == 0 or n["units_left"] == 0)
    return {
        "orders": len(day.allocations) + sum(day.refused.values()),
        "allocated": len(day.allocations),
        "refused": dict(day.refused),
        "errors": len(day.errors),
        "orders_per_s": round((len(day.allocations) + sum(day.refused.values())) / day.seconds, 1),
        "capacity_overruns": len(over),
        "nodes_full_at_close": binding,
        "oversold_units": day.oversold_units,
        "online": asdict(online),
        "optimal": asdict(best),
        "cost_ratio": online.total_cost / best.total_cost,
        "shipping_handling_ratio": (online.shipping_cost + online.handling_cost)
        / (best.shipping_cost + best.handling_cost),
        "target_cost_ratio": 1.10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["redis", "sqlite"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--orders", type=int, default=ORDERS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--time-limit", type=float, default=OPTIMAL_TIME_LIMIT_S)
    args = parser.parse_args()
    compiled = peak_batch(args.orders)
    day = run_online(compiled, args.store, args.workers, args.clients)
    found = figures(online_metrics(compiled, day), optimal_metrics(compiled, args.time_limit), day)
    print(json.dumps(found, indent=1, default=str))


if __name__ == "__main__":
    main()
