"""Backorders under concurrent processes, on both stores: orders backordering on purchase
orders race the receipts that fill them and cancels that give them back. After every step a
worker checks that no purchase order has more units waiting than it has open, and that no
position is oversold; at the end every unit is accounted for: what the purchase orders
brought is on hand, what orders wait for is what the purchase orders say they promised,
and each order holds exactly its lines (allocated + shipped + backordered)."""

import multiprocessing
import random
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sourcing_engine.domain import Inbound, Item, Node, Unit
from sourcing_engine.errors import Conflict, InsufficientStock, Invalid, NotFound
from sourcing_engine.lifecycle import Backorder, OrderState
from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import Store
from tests.sourcing_engine.stores.invariants import check_positions

NODE, SKU = "W1", "HOT"
POS = {f"po{i}": (120, 1_800_000_000.0 + i * 86_400) for i in range(6)}  # id -> (qty, arrival)
ON_HAND = 10
WORKERS, STEPS = 4, 250


@dataclass
class Tally:
    """What one worker's acknowledged calls did."""

    orders: list[str] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)  # units received per PO
    ops: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)


def seed(store: Store) -> None:
    store.upsert_nodes([Node(NODE, "warehouse", 40.0, -75.0)])
    store.upsert_items([Item(SKU, 1.0)])
    store.set_stock(NODE, {SKU: (ON_HAND, 0)}, "count")
    store.add_inbound([Inbound(i, NODE, SKU, q, at) for i, (q, at) in POS.items()])


def check_promises(store: Store) -> None:
    """No purchase order has more units waiting than it has open; nothing is negative."""
    for b in store.list_inbound([SKU]):
        assert 0 <= b.backordered <= b.qty, f"over-promised {b}"
    check_positions(store.positions([SKU]))


def work(url: str, name: str, seed_: int) -> Tally:
    """STEPS random steps: backordered orders (some with a unit on hand), receipts of a
    few units of a purchase order, and cancels of this worker's orders."""
    rng = random.Random(seed_)
    store = open_store(url)
    tally = Tally()
    try:
        for n in range(STEPS):
            roll = rng.random()
            try:
                if roll < 0.5:
                    po = rng.choice(list(POS))
                    wait = rng.randint(1, 4)
                    on_hand = [Unit(NODE, SKU, 1)] if rng.random() < 0.3 else []
                    oid = f"{name}-{n}"
                    store.create_order(
                        oid, {SKU: wait + len(on_hand)}, on_hand, {},
                        backorders=[Backorder(po, NODE, SKU, wait, POS[po][1])],
                    )  # fmt: skip
                    tally.orders.append(oid)
                    tally.ops["backorder"] += 1
                elif roll < 0.8:
                    po, qty = rng.choice(list(POS)), rng.randint(1, 4)
                    store.receive_inbound(po, qty)
                    tally.received[po] += qty
                    tally.ops["receive"] += 1
                elif tally.orders:
                    store.transition(rng.choice(tally.orders), "cancel")
                    tally.ops["cancel"] += 1
            except InsufficientStock:
                tally.refused["short"] += 1
            except (NotFound, Invalid):
                tally.refused["receipt"] += 1  # received in full, or more than is open
            except Conflict:
                tally.refused["cancelled"] += 1  # cancelled already
            check_promises(store)
    finally:
        store.close()
    return tally


def race(url: str) -> Tally:
    """The load on a fresh store at url, checked; the merged tally."""
    store = open_store(url)
    try:
        seed(store)
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(WORKERS, mp_context=ctx) as pool:
            futures = [pool.submit(work, url, f"w{i}", i) for i in range(WORKERS)]
            tallies = [f.result() for f in futures]
        total = Tally()
        for t in tallies:
            total.orders += t.orders
            total.received.update(t.received)
            total.ops.update(t.ops)
            total.refused.update(t.refused)
        assert all(total.ops[k] > 0 for k in ("backorder", "receive", "cancel")), total.ops
        assert total.refused["short"] > 0, "the load never reached a purchase order's limit"
        check_promises(store)

        open_now = {b.id: b for b in store.list_inbound([SKU])}
        orders = store.get_orders(total.orders)
        assert len(orders) == len(total.orders)
        waiting: Counter[str] = Counter()
        allocated = 0
        for o in orders:
            lines = Counter[str]()
            for u in o.allocations:
                lines[u.sku] += u.qty
            for b in o.backordered:
                lines[b.sku] += b.qty
                waiting[b.inbound] += b.qty
            assert dict(lines) == o.lines, o  # nothing shipped here
            allocated += sum(u.qty for u in o.allocations)
            assert (o.state == OrderState.CANCELLED) == (not o.lines), o
        for po, (qty, _) in POS.items():
            left = open_now[po].qty if po in open_now else 0
            assert left == qty - total.received[po], po  # every receipt acknowledged counted
            promised = open_now[po].backordered if po in open_now else 0
            assert waiting[po] == promised, (po, waiting[po], promised)
            assert promised <= left, po
        (position,) = store.positions([SKU])
        assert position.on_hand == ON_HAND + sum(total.received.values())
        assert position.allocated == allocated
        return total
    finally:
        store.close()


@pytest.mark.slow
def test_backorders_and_receipts_race_on_sqlite(tmp_path: Path) -> None:
    """SQLite: never over-promised against a purchase order, every unit accounted for."""
    race(f"sqlite:///{tmp_path / 'ledger.db'}")


@pytest.mark.slow
def test_backorders_and_receipts_race_on_redis(redis_url: str) -> None:
    """Redis: never over-promised against a purchase order, every unit accounted for."""
    race(f"{redis_url}?namespace=bo-{uuid.uuid4().hex[:10]}")
