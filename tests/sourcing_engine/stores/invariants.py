"""An independent checker of the ledger's invariants, and a load that exercises them.

Both stores' concurrency tests use these. `hammer` runs reserve, commit, release,
create_order, cancel and ship, and transfers between the hot nodes (create, ship, receive in
part, cancel), on a few hot positions and keeps its own `Tally` of what the
store acknowledged; after every step it reads the hot positions and the hot nodes' capacity
of the day (`cap_hot`) and checks them. At the end
the caller merges every worker's tally and checks the store against it: nothing oversold,
nothing negative, and every unit where the acknowledgements say it is.

No stock snapshots happen during the load, so `on_hand` only changes by shipments,
receipts (adjustments) and transfers, and every position must satisfy
on_hand = available + reserved + allocated + safety stock.
"""

import multiprocessing
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

from sourcing_engine.domain import Node, Position, Unit
from sourcing_engine.errors import Conflict, InsufficientCapacity, InsufficientStock
from sourcing_engine.lifecycle import (
    TRANSFER_INBOUND,
    OrderRecord,
    TransferRecord,
    TransferState,
    TransferStep,
)
from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import Store

Key = tuple[str, str]  # (node, sku)
HOT_NODES = ("N1", "N2", "N3")
HOT_SKUS = ("HOT-A", "HOT-B")
HOLD_TTL_S = 3600.0  # longer than any load (the long suite: 600 s); holds end by commit or release
HOT_DAY = "2000-01-01"
DAYS = dict.fromkeys(HOT_NODES, HOT_DAY)
"""The day every order of the load charges (its nodes' capacity: `cap_hot`)."""
HOT_CAPS: dict[str, tuple[int | None, int | None]] = {
    "N1": (None, None), "N2": (None, 150), "N3": (25, None),
}  # fmt: skip
"""(shipments, units) a day per hot node: N3's shipments and N2's units bind in a load."""


def check_position(p: Position) -> None:
    """One position: nothing negative, not oversold, and the four parts add up to on hand."""
    where = f"{p.node}/{p.sku}: {p}"
    assert min(p.on_hand, p.safety_stock, p.reserved, p.allocated, p.available) >= 0, where
    assert p.on_hand - p.safety_stock - p.allocated - p.reserved >= 0, f"oversold {where}"
    assert p.on_hand == p.available + p.reserved + p.allocated + p.safety_stock, where


def check_positions(positions: Sequence[Position]) -> None:
    for p in positions:
        check_position(p)


@dataclass
class Tally:
    """Units per (node, sku) as the store acknowledged them to one or more callers."""

    held: Counter[Key] = field(default_factory=Counter)
    allocated: Counter[Key] = field(default_factory=Counter)
    shipped: Counter[Key] = field(default_factory=Counter)
    received: Counter[Key] = field(default_factory=Counter)  # adjustments added
    # transfers: reserved at the source (allocated there), shipped from the source, open
    # inbound at the destination, received there
    transfer_reserved: Counter[Key] = field(default_factory=Counter)
    transfer_out: Counter[Key] = field(default_factory=Counter)
    in_transit: Counter[Key] = field(default_factory=Counter)
    transfer_in: Counter[Key] = field(default_factory=Counter)
    ops: Counter[str] = field(default_factory=Counter)  # successful operations by kind
    refused: Counter[str] = field(default_factory=Counter)  # shortages and conflicts
    checks: int = 0  # position checks made during the load

    def merge(self, other: "Tally") -> None:
        self.held.update(other.held)
        self.allocated.update(other.allocated)
        self.shipped.update(other.shipped)
        self.received.update(other.received)
        self.transfer_reserved.update(other.transfer_reserved)
        self.transfer_out.update(other.transfer_out)
        self.in_transit.update(other.in_transit)
        self.transfer_in.update(other.transfer_in)
        self.ops.update(other.ops)
        self.refused.update(other.refused)
        self.checks += other.checks


def check_against_tally(
    initial: dict[Key, tuple[int, int]], positions: Sequence[Position], tally: Tally
) -> None:
    """The store agrees with what callers were told, and never gave out more than it had."""
    check_positions(positions)
    by_key = {(p.node, p.sku): p for p in positions}
    assert set(by_key) == set(initial)
    for key, (on_hand, safety) in initial.items():
        p = by_key[key]
        stock = on_hand + tally.received[key] + tally.transfer_in[key]
        gone = tally.shipped[key] + tally.transfer_out[key]
        assert p.on_hand == stock - gone, (key, p, tally)
        allocated = tally.allocated[key] + tally.transfer_reserved[key]
        assert p.allocated == allocated, (key, p, allocated)
        assert p.reserved == tally.held[key], (key, p, tally.held[key])
        taken = gone + allocated + tally.held[key]
        assert taken <= stock - safety, f"{key}: {taken} units given out of {stock - safety}"


def check_transfers(
    store: Store, initial: dict[Key, tuple[int, int]], tally: Tally, positions: Sequence[Position]
) -> None:
    """Units in transit are the open inbound of transfers, where the acknowledgements say;
    per SKU, on hand everywhere plus in transit is what was there, plus adjustments, minus
    what orders shipped: transfers create and lose no unit."""
    open_ = Counter[Key]()
    for b in store.list_inbound(HOT_SKUS):
        if b.id.startswith(TRANSFER_INBOUND):
            open_[(b.node, b.sku)] += b.qty
    assert +open_ == +tally.in_transit, (open_, tally.in_transit)
    for sku in HOT_SKUS:
        now = sum(p.on_hand for p in positions if p.sku == sku)
        now += sum(q for (_, s), q in open_.items() if s == sku)
        was = sum(oh for (_, s), (oh, _) in initial.items() if s == sku)
        was += sum(tally.received[(n, sku)] - tally.shipped[(n, sku)] for n in HOT_NODES)
        assert now == was, f"{sku}: {now} units on hand and in transit, {was} expected"


def cap_hot(store: Store) -> None:
    """The hot nodes with the capacities of HOT_CAPS."""
    store.upsert_nodes(
        [Node(n, "warehouse", 40.0, -75.0, ship_capacity=s, unit_capacity=u)
         for n, (s, u) in HOT_CAPS.items()]
    )  # fmt: skip


def check_capacity(store: Store, tally: Tally | None = None) -> None:
    """No hot node took more shipments or units on HOT_DAY than it may; with a tally, the
    units charged are what the acknowledged orders hold there (allocated and shipped)."""
    used = store.capacity_used(DAYS)
    for node, (ships, units) in HOT_CAPS.items():
        took = used.get(node, (0, 0))
        assert ships is None or took[0] <= ships, f"{node}: {took[0]} shipments of {ships}"
        assert units is None or took[1] <= units, f"{node}: {took[1]} units of {units}"
        if tally is not None:
            held = sum(tally.allocated[(node, s)] + tally.shipped[(node, s)] for s in HOT_SKUS)
            assert took[1] == held, (node, took, held)


def check_capacity_recount(store: Store, allocated: Counter[Key]) -> None:
    """After a crash: each hot node's units charged on HOT_DAY are exactly the units the
    orders that survived hold there (capacity is written in the same step as the order)."""
    used = store.capacity_used(DAYS)
    for node in HOT_NODES:
        held = sum(q for (n, _), q in allocated.items() if n == node)
        assert used.get(node, (0, 0))[1] == held, (node, used.get(node), held)


def seed_hot(store: Store, on_hand: Sequence[int], safety: int) -> dict[Key, tuple[int, int]]:
    """Stock every hot position (on_hand per HOT_SKUS, at every node); returns the initial
    (on_hand, safety_stock) per position. A scarce SKU keeps callers at the stock limit
    however fast the store is, a plentiful one keeps orders flowing."""
    counts = {sku: (qty, safety) for sku, qty in zip(HOT_SKUS, on_hand, strict=True)}
    for node in HOT_NODES:
        store.set_stock(node, counts, "load test")
    return {(n, s): counts[s] for n in HOT_NODES for s in HOT_SKUS}


@dataclass
class _Worker:
    """One caller's view: its holds and orders, and the tally of acknowledged effects."""

    store: Store
    name: str
    rng: random.Random
    tally: Tally = field(default_factory=Tally)
    holds: dict[str, Counter[Key]] = field(default_factory=dict)
    orders: dict[str, Counter[Key]] = field(default_factory=dict)  # unshipped allocations
    transfers: dict[str, TransferRecord] = field(default_factory=dict)  # not yet done
    serial: int = 0

    def next_id(self, kind: str) -> str:
        self.serial += 1
        return f"{self.name}-{kind}{self.serial}"

    def random_units(self) -> list[Unit]:
        """One to three lines on hot positions, sometimes repeating one (summed by the store)."""
        return [Unit(self.rng.choice(HOT_NODES), self.rng.choice(HOT_SKUS), self.rng.randint(1, 3))
                for _ in range(self.rng.randint(1, 3))]  # fmt: skip

    def step(self) -> None:
        roll = self.rng.random()
        try:
            if roll < 0.3:
                self.reserve()
            elif roll < 0.5 and self.holds:
                self.end_hold(commit=self.rng.random() < 0.7)
            elif roll < 0.7:
                self.create_order()
            elif roll < 0.8 and self.orders:
                self.cancel()
            elif roll < 0.88 and self.orders:
                self.ship()
            elif roll < 0.92:
                self.receive()
            elif roll < 0.96:
                self.create_transfer()
            elif self.transfers:
                self.step_transfer()
        except InsufficientStock:
            self.tally.refused["shortage"] += 1
        except InsufficientCapacity:
            self.tally.refused["capacity"] += 1
        self.tally.checks += 1
        check_positions(self.store.positions(HOT_SKUS, HOT_NODES))
        check_capacity(self.store)

    def reserve(self) -> None:
        units = self.random_units()
        hold_id = self.next_id("h")
        self.store.reserve(hold_id, self.name, units, HOLD_TTL_S)
        self.holds[hold_id] = _counter(units)
        self.tally.held.update(self.holds[hold_id])
        self.tally.ops["reserve"] += 1

    def end_hold(self, commit: bool) -> None:
        hold_id = self.rng.choice(list(self.holds))
        units = self.holds[hold_id]
        if commit:
            try:
                order = self.store.commit_reservation(
                    self.store.get_reservation(hold_id), f"{hold_id}-order", {}, days=DAYS
                )
            except InsufficientCapacity:  # the hold stays active: end it by a release
                self.store.release_reservation(hold_id)
                del self.holds[hold_id]
                self.tally.held.subtract(units)
                self.tally.ops["release"] += 1
                raise
            self.orders[order.id] = units
            self.tally.allocated.update(units)
            _expect_allocations(order, units)
        else:
            self.store.release_reservation(hold_id)
        del self.holds[hold_id]
        self.tally.held.subtract(units)
        self.tally.ops["commit" if commit else "release"] += 1

    def create_order(self) -> None:
        units = self.random_units()
        wanted = _counter(units)
        order = self.store.create_order(self.next_id("o"), _lines(wanted), units, {}, days=DAYS)
        _expect_allocations(order, wanted)
        self.orders[order.id] = wanted
        self.tally.allocated.update(wanted)
        self.tally.ops["create_order"] += 1

    def cancel(self) -> None:
        order_id = self.rng.choice(list(self.orders))
        left = self.orders[order_id]
        key = self.rng.choice(list(left))
        partial = self.rng.random() < 0.5 and len(left) > 1
        cancelling = Counter({key: left[key]}) if partial else Counter(left)
        units = [Unit(n, s, q) for (n, s), q in cancelling.items()]
        order = self.store.transition(order_id, "cancel", units=units if partial else ())
        left.subtract(cancelling)
        self._forget_if_done(order_id, left)
        _expect_allocations(order, left)
        self.tally.allocated.subtract(cancelling)
        self.tally.ops["cancel"] += 1

    def ship(self) -> None:
        order_id = self.rng.choice(list(self.orders))
        left = self.orders[order_id]
        node = self.rng.choice(sorted({n for n, _ in left}))
        shipping = Counter({k: q for k, q in left.items() if k[0] == node})
        order = self.store.transition(order_id, "ship", node=node)
        left.subtract(shipping)
        self._forget_if_done(order_id, left)
        _expect_allocations(order, left)
        self.tally.allocated.subtract(shipping)
        self.tally.shipped.update(shipping)
        self.tally.ops["ship"] += 1

    def receive(self) -> None:
        node, sku, qty = (
            self.rng.choice(HOT_NODES),
            self.rng.choice(HOT_SKUS),
            self.rng.randint(1, 6),
        )
        self.store.adjust_stock(node, sku, qty, "receipt")
        self.tally.received[(node, sku)] += qty
        self.tally.ops["receive"] += 1

    def create_transfer(self) -> None:
        source, destination = self.rng.sample(HOT_NODES, 2)
        lines = {
            s: self.rng.randint(1, 4) for s in self.rng.sample(HOT_SKUS, self.rng.randint(1, 2))
        }
        t = self.store.create_transfer(self.next_id("t"), source, destination, lines)
        assert (t.state, t.lines) == (TransferState.REQUESTED, lines), t
        self.transfers[t.id] = t
        self.tally.transfer_reserved.update({(source, s): q for s, q in lines.items()})
        self.tally.ops["transfer"] += 1

    def step_transfer(self) -> None:
        """Ship (or now and then cancel) a requested transfer, or receive part or all of
        one in transit."""
        t = self.transfers[self.rng.choice(list(self.transfers))]
        if t.state == TransferState.REQUESTED:
            at_source = {(t.source, s): q for s, q in t.lines.items()}
            if self.rng.random() < 0.25:
                after = self.store.transfer_step(t.id, "cancel")
                self.tally.ops["transfer_cancel"] += 1
            else:
                after = self.store.transfer_step(t.id, "ship", TransferStep(expected_at=1e9))
                self.tally.transfer_out.update(at_source)
                self.tally.in_transit.update({(t.destination, s): q for s, q in t.lines.items()})
                self.tally.ops["transfer_ship"] += 1
            self.tally.transfer_reserved.subtract(at_source)
        else:
            sku = self.rng.choice(sorted(t.in_transit))
            lines = {sku: self.rng.randint(1, t.in_transit[sku])}
            after = self.store.transfer_step(t.id, "receive", TransferStep(lines=lines))
            arrived = {(t.destination, sku): lines[sku]}
            self.tally.in_transit.subtract(arrived)
            self.tally.transfer_in.update(arrived)
            self.tally.ops["transfer_receive"] += 1
        assert after.version == t.version + 1, (t, after)
        if after.state in (TransferState.RECEIVED, TransferState.CANCELLED):
            del self.transfers[t.id]
        else:
            self.transfers[t.id] = after

    def _forget_if_done(self, order_id: str, left: Counter[Key]) -> None:
        for key in [k for k, q in left.items() if q == 0]:
            del left[key]
        if not left:
            del self.orders[order_id]


def _counter(units: Sequence[Unit]) -> Counter[Key]:
    out: Counter[Key] = Counter()
    for u in units:
        out[(u.node, u.sku)] += u.qty
    return out


def _lines(units: Counter[Key]) -> dict[str, int]:
    lines: Counter[str] = Counter()
    for (_, sku), qty in units.items():
        lines[sku] += qty
    return dict(lines)


def _expect_allocations(order: OrderRecord, units: Counter[Key]) -> None:
    """The store's reply names exactly the allocations this caller expects."""
    got = {(u.node, u.sku): u.qty for u in order.allocations}
    assert got == {k: q for k, q in units.items() if q}, (order.id, got, units)


def hammer(store: Store, name: str, seconds: float, seed: int) -> Tally:
    """Random steps on the hot positions for `seconds`; every step checked; no step may
    fail other than by a shortage."""
    worker = _Worker(store, name, random.Random(seed))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            worker.step()
        except Conflict as err:  # none expected: every id and state here is this worker's
            raise AssertionError(f"{name}: unexpected conflict: {err}") from err
    return worker.tally


def hammer_url(url: str, name: str, seconds: float, seed: int) -> Tally:
    """`hammer` on a store of its own (for another process)."""
    store = open_store(url)
    try:
        return hammer(store, name, seconds, seed)
    finally:
        store.close()


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


KINDS = ("reserve", "commit", "release", "create_order", "cancel", "ship", "receive",
         "transfer", "transfer_ship", "transfer_receive", "transfer_cancel")  # fmt: skip
"""The steps a hot load must have taken (each at least once)."""


def hot_load(url: str, store: Store, seconds: float, threads: int, processes: int) -> Tally:
    """`threads` threads on `store` and `processes` processes each on its own store at
    `url`, hammering the hot positions for `seconds`; then every check of the store against
    the merged tally (nothing oversold or negative, every unit where the acknowledgements
    say, transfers conserved, capacity never exceeded), and that the load did everything:
    every worker and every kind of step, shortages and full nodes reached. The merged tally."""
    cap_hot(store)
    initial = seed_hot(store, on_hand=(400, 30), safety=3)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=spawn) as procs:
        # start the processes (spawn imports take a while) before the clock starts
        pids = {f.result() for f in [procs.submit(_pid_after, 0.5) for _ in range(processes)]}
        assert len(pids) == processes
        in_procs = [procs.submit(hammer_url, url, f"p{i}", seconds, i) for i in range(processes)]
        with ThreadPoolExecutor(threads) as pool:
            tallies = list(pool.map(lambda i: hammer(store, f"t{i}", seconds, 100 + i),
                                    range(threads)))  # fmt: skip
        tallies += [f.result() for f in in_procs]
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    positions = store.positions(HOT_SKUS, HOT_NODES)
    check_against_tally(initial, positions, total)
    check_transfers(store, initial, total, positions)
    check_capacity(store, total)
    assert all(t.ops.total() > 0 for t in tallies), "a worker got nothing done"
    assert all(total.ops[k] > 0 for k in KINDS), total.ops
    assert total.refused["shortage"] > 0, "the load never reached the stock limit"
    assert total.refused["capacity"] > 0, "the load never reached a node's capacity"
    return total
