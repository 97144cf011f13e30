"""Re-optimization racing new orders, shipments, cancels and stock receipts, on SQLite and
Redis (two services on one store, as two API processes): every invariant holds at the end,
checked independently of the service: nothing oversold or negative, every position's parts
add up to on hand, each node's allocated units are exactly what the orders hold there,
on hand is what was there plus receipts minus what the orders shipped, each order's lines
are its allocated plus shipped units, and no node took more than its capacity today."""

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sourcing_engine.domain import Destination, Item, Node, Order, sku_totals
from sourcing_engine.errors import Conflict, InsufficientCapacity, InsufficientStock, NotFound
from sourcing_engine.reoptimization import RunInProgress, reoptimize
from sourcing_engine.service import Adjustment, Service
from sourcing_engine.stores.base import Store
from sourcing_engine.stores.redis import RedisStore
from sourcing_engine.stores.sqlite import SqliteStore
from tests.sourcing_engine.stores.invariants import check_positions

NJ_UNITS = 30  # NJ's units a day: binds during the race (it receives more than that)
NODES = [
    Node("DC-NJ", "warehouse", 40.79, -74.06, unit_capacity=NJ_UNITS),
    Node("DC-LA", "warehouse", 34.05, -118.24),
    Node("DC-TX", "warehouse", 32.78, -96.80),
]
SKUS = ("A", "B")
START = {"DC-NJ": 4, "DC-LA": 60, "DC-TX": 30}  # per SKU
CUSTOMERS = [Destination(40.71, -74.01), Destination(42.36, -71.06), Destination(39.95, -75.17)]
ORDERS = 80


@pytest.fixture(params=["sqlite", "redis"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    """Two services on one store (as two API processes), the network stocked, a window."""
    stores: list[Store]
    if request.param == "sqlite":
        stores = [SqliteStore(tmp_path / "ledger.db") for _ in range(2)]
    else:
        url = request.getfixturevalue("redis_url")
        namespace = f"reopt-race-{random.Random().getrandbits(48):x}"
        stores = [RedisStore(url, namespace=namespace) for _ in range(2)]
    one, two = (Service(s) for s in stores)
    one.upsert_nodes(NODES)
    one.upsert_items([Item(s, 1.0) for s in SKUS])
    for node, qty in START.items():
        one.set_stock(node, dict.fromkeys(SKUS, (qty, 0)), "count")
    one.put_network_settings(replace(one.network_settings(), hold_minutes=60, move_threshold=0.0))
    yield one, two
    one.close()
    two.close()


def test_reoptimization_racing_orders_and_shipments_keeps_every_invariant(
    services: tuple[Service, Service],
) -> None:
    one, two = services
    received: Counter[tuple[str, str]] = Counter()
    moved: list[int] = []
    placed = [0]
    stop = threading.Event()
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the test, not lost in a thread
                errors.append(exc)
                stop.set()

        return run

    def place() -> None:
        local = random.Random(1)
        for k in range(ORDERS):
            placed[0] = k
            lines = [(s, local.randint(1, 2)) for s in local.sample(SKUS, local.randint(1, 2))]
            order = Order.of(f"o{k}", local.choice(CUSTOMERS), lines)
            with contextlib.suppress(InsufficientStock, InsufficientCapacity):
                one.create_order(order)
            if k % 5 == 4:  # stock comes in next to the customers: held orders may move
                sku = local.choice(SKUS)
                one.adjust_stock(Adjustment("DC-NJ", sku, 3, "received"))
                received[("DC-NJ", sku)] += 3
                runs = len(moved)  # let a run see it before the next orders take it
                while len(moved) < runs + 2 and not stop.is_set():
                    time.sleep(0.01)
        stop.set()

    def fulfil() -> None:
        local = random.Random(2)
        while not stop.is_set():  # the older orders: the newest stay held a while
            time.sleep(0.005)
            k = local.randrange(max(1, placed[0] - 8))
            try:
                order = two.get_order(f"o{k}").order
            except NotFound:  # not placed yet
                continue
            if not order.allocations:
                continue
            try:
                if local.random() < 0.7:
                    two.ship(order.id, local.choice(order.allocations).node)
                else:
                    two.cancel(order.id)
            except Conflict:
                pass  # moved or changed meanwhile

    def reoptimizer(service: Service) -> Callable[[], None]:
        def run() -> None:
            while not stop.is_set():
                with contextlib.suppress(RunInProgress):  # the other "process" runs it
                    moved.append(len(reoptimize(service, time_limit_s=0.5).moved))

        return run

    threads = [threading.Thread(target=guarded(w)) for w in
               (place, fulfil, reoptimizer(one), reoptimizer(two))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    moved.append(len(reoptimize(one, time_limit_s=2.0).moved))  # the last stock that came in
    assert sum(moved) > 0, "no re-optimization moved an order: the race tested nothing"

    orders = one.store.get_orders([f"o{k}" for k in range(ORDERS)])
    allocated: Counter[tuple[str, str]] = Counter()
    shipped: Counter[tuple[str, str]] = Counter()
    for o in orders:
        assert sku_totals([*o.allocations, *o.shipped]) == o.lines, o
        allocated.update({(u.node, u.sku): u.qty for u in o.allocations})
        shipped.update({(u.node, u.sku): u.qty for u in o.shipped})
    assert sum(shipped.values()) > 0, "nothing shipped during the race"
    positions = one.store.positions(list(SKUS))
    check_positions(positions)
    for p in positions:
        key = (p.node, p.sku)
        assert p.allocated == allocated[key], (key, p)
        assert p.on_hand == START[p.node] + received[key] - shipped[key], (key, p)
    today = one.node_days(["DC-NJ"])
    used = one.store.capacity_used(today).get("DC-NJ", (0, 0))[1]
    at_nj = sum(q for (n, _), q in (allocated + shipped).items() if n == "DC-NJ")
    assert used <= NJ_UNITS
    assert used == at_nj
