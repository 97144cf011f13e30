"""The contract every ledger store passes (sourcing_engine/stores/base.py, docs/service.md).

Subclass `StoreContract` in a `test_*.py` module and give it a `store` fixture that yields a
fresh, empty store per test:

    class TestSqliteStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path: Path) -> Iterator[Store]: ...

Expiry is tested on the store's own clock: holds (and leases) get `short_ttl_s` and the test
moves the store's clock past it (`Store.shift_clock`) instead of sleeping.
"""

import datetime as dt
import itertools
import time
from dataclasses import replace
from typing import Any, ClassVar, Literal

import pytest

from sourcing_engine import lifecycle
from sourcing_engine.domain import Inbound, Item, Node, NodeCalendar, Position, Unit
from sourcing_engine.errors import (
    CapacityShort,
    Conflict,
    IdempotencyInFlight,
    IdempotencyMismatch,
    InsufficientCapacity,
    InsufficientStock,
    Invalid,
    NotFound,
    PreconditionFailed,
    Shortage,
)
from sourcing_engine.lifecycle import HoldState, OrderRecord, OrderState
from sourcing_engine.stores.base import (
    IdempotencyKey,
    Replayed,
    Result,
    Setting,
    Store,
    Webhook,
)
from tests.sourcing_engine.stores.contract_backorders import BackorderContract
from tests.sourcing_engine.stores.contract_cross import CrossContract
from tests.sourcing_engine.stores.contract_leases import LeaseContract
from tests.sourcing_engine.stores.contract_movements import MovementContract
from tests.sourcing_engine.stores.contract_pickups import PickupContract
from tests.sourcing_engine.stores.contract_reads import ReadsContract
from tests.sourcing_engine.stores.contract_returns import ReturnContract
from tests.sourcing_engine.stores.contract_transfers import TransferContract
from tests.sourcing_engine.stores.stock_sync_contract import StockSyncContract

Action = Literal[
    "release", "ship", "cancel", "reject", "return", "reallocate", "ready", "pick_up",
    "not_collected",
]  # fmt: skip
N1, N2, N3 = "N1", "N2", "N3"
LONG_TTL_S = 600.0
# N1: A 10 on hand, 2 safety (8 available); B 5. N2: A 4; B 2.
STOCK: dict[str, dict[str, tuple[int, int]]] = {
    N1: {"A": (10, 2), "B": (5, 0)},
    N2: {"A": (4, 0), "B": (2, 0)},
}

# The order driven through every state: A x3, two at N1 and one at N2.
ORDER_LINES = {"A": 3}
ORDER_UNITS = (Unit(N1, "A", 2), Unit(N2, "A", 1))

# Arguments that make each action valid whenever the state allows it.
ACTION_ARGS: dict[Action, dict[str, Any]] = {
    "release": {},
    "ship": {"node": N1},
    "cancel": {},
    "reject": {"node": N1, "units": [Unit(N1, "A", 1)]},
    "reallocate": {"units": [Unit(N1, "A", 1)], "new_allocations": [Unit(N2, "A", 1)]},
    "return": {},
    "ready": {"node": N1},
    "pick_up": {"node": N1},
    "not_collected": {"node": N1},
}
# (state, action) -> state after; every pair not listed must be refused with a Conflict.
ALLOWED: dict[tuple[OrderState, Action], OrderState] = {
    (OrderState.ALLOCATED, "release"): OrderState.RELEASED,
    (OrderState.ALLOCATED, "ship"): OrderState.PARTIALLY_SHIPPED,
    (OrderState.ALLOCATED, "cancel"): OrderState.CANCELLED,
    (OrderState.ALLOCATED, "reject"): OrderState.ALLOCATED,
    (OrderState.ALLOCATED, "reallocate"): OrderState.ALLOCATED,
    (OrderState.RELEASED, "ship"): OrderState.PARTIALLY_SHIPPED,
    (OrderState.RELEASED, "cancel"): OrderState.CANCELLED,
    (OrderState.RELEASED, "reject"): OrderState.RELEASED,
    (OrderState.RELEASED, "reallocate"): OrderState.RELEASED,
    (OrderState.PARTIALLY_SHIPPED, "ship"): OrderState.SHIPPED,
    (OrderState.PARTIALLY_SHIPPED, "cancel"): OrderState.SHIPPED,
    (OrderState.PARTIALLY_SHIPPED, "reject"): OrderState.PARTIALLY_SHIPPED,
    (OrderState.PARTIALLY_SHIPPED, "reallocate"): OrderState.PARTIALLY_SHIPPED,
    (OrderState.PARTIALLY_SHIPPED, "return"): OrderState.PARTIALLY_SHIPPED,
    (OrderState.SHIPPED, "return"): OrderState.RETURNED,
    # pickup: ready at N1 once everything still allocated is there (ONE_NODE: the order
    # is then made at N1 only)
    (OrderState.ALLOCATED, "ready"): OrderState.READY_FOR_PICKUP,
    (OrderState.RELEASED, "ready"): OrderState.READY_FOR_PICKUP,
    (OrderState.PARTIALLY_SHIPPED, "ready"): OrderState.READY_FOR_PICKUP,
    (OrderState.SHIPPED, "ready"): OrderState.READY_FOR_PICKUP,
    (OrderState.READY_FOR_PICKUP, "pick_up"): OrderState.PICKED_UP,
    (OrderState.READY_FOR_PICKUP, "not_collected"): OrderState.NOT_COLLECTED,
    (OrderState.PICKED_UP, "return"): OrderState.RETURNED,
}
ONE_NODE = {(OrderState.ALLOCATED, "ready"), (OrderState.RELEASED, "ready")}
"""Pairs the matrix drives on an order allocated at N1 only."""
N1_UNITS = (Unit(N1, "A", 3),)
MATRIX = [(s, a) for s in OrderState for a in ACTION_ARGS]


def seed(store: Store) -> None:
    """Three nodes, two items, and STOCK (N3 holds nothing)."""
    store.upsert_nodes(
        [
            Node(N1, "warehouse", 40.0, -75.0, ship_capacity=10),
            Node(N2, "store", 41.0, -75.0),
            Node(N3, "store", 42.0, -75.0, ship_enabled=False),
        ]
    )
    store.upsert_items([Item("A", 1.0), Item("B", 2.5, (10.0, 8.0, 4.0))])
    for node, counts in STOCK.items():
        store.set_stock(node, counts, "initial count")


SEED_EVENTS = [
    ("node.created", "node:N1"),
    ("node.created", "node:N2"),
    ("node.created", "node:N3"),
    ("item.created", "item:A"),
    ("item.created", "item:B"),
]
"""The events of seed's nodes and items (reference data changes are events too)."""


def pos(store: Store, node: str, sku: str) -> Position:
    found = store.positions([sku], [node])
    assert len(found) == 1, f"no position {node}/{sku}"
    return found[0]


def all_positions(store: Store) -> list[Position]:
    return store.positions(["A", "B"])


def idem(key: str, request_hash: str = "h1") -> IdempotencyKey:
    return IdempotencyKey(key, request_hash)


def order_in(
    store: Store, state: OrderState, order_id: str = "o1", units: tuple[Unit, ...] = ORDER_UNITS
) -> OrderRecord:
    """The order of `units` (A x3) brought to `state` by allowed transitions."""
    order = store.create_order(order_id, ORDER_LINES, units, {"n": 1})
    steps: dict[OrderState, list[tuple[Action, dict[str, Any]]]] = {
        OrderState.ALLOCATED: [],
        OrderState.RELEASED: [("release", {})],
        OrderState.PARTIALLY_SHIPPED: [("ship", {"node": N2})],
        OrderState.SHIPPED: [("ship", {"node": N2}), ("ship", {"node": N1})],
        OrderState.CANCELLED: [("cancel", {})],
        OrderState.RETURNED: [("ship", {"node": N2}), ("ship", {"node": N1}), ("return", {})],
        OrderState.READY_FOR_PICKUP: [("ship", {"node": N2}), ("ready", {"node": N1})],
        OrderState.PICKED_UP: [("ship", {"node": N2}), ("ready", {"node": N1}),
                               ("pick_up", {"node": N1})],
        OrderState.NOT_COLLECTED: [("ship", {"node": N2}), ("ready", {"node": N1}),
                                   ("not_collected", {"node": N1})],
    }  # fmt: skip
    for action, args in steps[state]:
        order = store.transition(order_id, action, **args)
    assert order.state == state
    return order


def stock_changes(before: list[Position], after: list[Position]) -> dict[tuple[str, str, str], int]:
    """(node, sku, field) -> change of on hand or allocated, for what changed."""
    old = {(p.node, p.sku): p for p in before}
    out: dict[tuple[str, str, str], int] = {}
    for p in after:
        q = old.get((p.node, p.sku), Position(p.node, p.sku, 0, 0, 0, 0))
        for what in ("on_hand", "allocated"):
            if getattr(p, what) != getattr(q, what):
                out[(p.node, p.sku, what)] = getattr(p, what) - getattr(q, what)
    return out


def effect_changes(effects: lifecycle.Effects) -> dict[tuple[str, str, str], int]:
    """What lifecycle says a step does to stock (STOCK is ample: no on hand clamps)."""
    out: dict[tuple[str, str, str], int] = {}
    for units, what, sign in (
        (effects.allocate, "allocated", 1),
        (effects.free, "allocated", -1),
        (effects.ship, "on_hand", -1),
        (effects.restock, "on_hand", 1),
    ):
        for u in units:
            key = (u.node, u.sku, what)
            out[key] = out.get(key, 0) + sign * u.qty
    return {k: v for k, v in out.items() if v}  # fmt: skip


def assert_lines_consistent(order: OrderRecord) -> None:
    """lines == allocated + shipped + backordered per SKU."""
    per_sku: dict[str, int] = {}
    for u in (*order.allocations, *order.shipped):
        per_sku[u.sku] = per_sku.get(u.sku, 0) + u.qty
    for b in order.backordered:
        per_sku[b.sku] = per_sku.get(b.sku, 0) + b.qty
    assert order.lines == per_sku


ARRIVES_EXACT = 1_781_000_000.123_456_7  # every digit of the double kept through the store


class StoreContract(
    TransferContract,
    PickupContract,
    StockSyncContract,
    MovementContract,
    ReadsContract,
    CrossContract,
    BackorderContract,
    ReturnContract,
    LeaseContract,
):
    """Every method and rule of `ledger.Store`; subclasses provide the `store` fixture
    (backorders: contract_backorders.py; returns anywhere: contract_returns.py)."""

    short_ttl_s: ClassVar[float] = 60.0
    """Holds and leases that expire within a test: once the store's clock moves past."""

    def expire_soon(self, store: Store, hold_id: str, units: list[Unit]) -> None:
        """A hold that expires within the test, then the store's clock past its expiry."""
        store.reserve(hold_id, "cart", units, self.short_ttl_s)
        store.shift_clock(self.short_ttl_s + 1)

    # --- network and reference data

    def test_nodes_upsert_and_list(self, store: Store) -> None:
        """Nodes are listed by id with every field; an upsert replaces a node."""
        seed(store)
        assert [n.id for n in store.list_nodes()] == [N1, N2, N3]
        store.upsert_nodes([Node(N2, "warehouse", 1.5, 2.5, 3, 4, 1.25, 0.5, False)])
        assert store.list_nodes()[1] == Node(N2, "warehouse", 1.5, 2.5, 3, 4, 1.25, 0.5, False)
        assert store.list_nodes()[0] == Node(N1, "warehouse", 40.0, -75.0, ship_capacity=10)

    def test_items_upsert_and_get(self, store: Store) -> None:
        """get_items returns only the SKUs it knows, with weight and dimensions."""
        seed(store)
        items = store.get_items(["B", "A", "Z"])
        assert items == {"A": Item("A", 1.0), "B": Item("B", 2.5, (10.0, 8.0, 4.0))}
        store.upsert_items([Item("A", 3.0)])
        assert store.get_items(["A"])["A"].weight_lb == 3.0

    def test_inbound_add_and_list(self, store: Store) -> None:
        """Inbound supply is listed for the asked SKUs by expected date; ids upsert."""
        store.add_inbound(
            [
                Inbound("po2", N1, "A", 5, 200.0),
                Inbound("po1", N2, "A", 3, 100.0),
                Inbound("po3", N1, "B", 7, 50.0),
            ]
        )
        assert [i.id for i in store.list_inbound(["A"])] == ["po1", "po2"]
        store.add_inbound([Inbound("po1", N2, "A", 9, 300.0)])
        assert store.list_inbound(["A", "B"]) == [
            Inbound("po3", N1, "B", 7, 50.0),
            Inbound("po2", N1, "A", 5, 200.0),
            Inbound("po1", N2, "A", 9, 300.0),
        ]
        assert store.list_inbound(["Z"]) == []

    # --- inbound receipts

    # a moment with every digit a double holds: a store that rounds it (Lua's cjson keeps 14
    # significant digits) would change the expected arrival on a partial receipt
    EXPECTED_AT: ClassVar[float] = 1_781_000_000.123_456_7

    def test_receive_inbound_partially_then_in_full(self, store: Store) -> None:
        """A partial receipt adds to on hand and leaves the rest open with its expected
        moment exactly; receiving the rest closes the inbound (NotFound after)."""
        seed(store)
        store.add_inbound([Inbound("po1", N1, "A", 5, self.EXPECTED_AT)])
        assert store.receive_inbound("po1", 2) == Position(N1, "A", 12, 2, 0, 0)
        assert store.list_inbound(["A"]) == [Inbound("po1", N1, "A", 3, self.EXPECTED_AT)]
        assert store.list_inbound(["A"])[0].expected_at == self.EXPECTED_AT
        assert store.receive_inbound("po1", 1) == Position(N1, "A", 13, 2, 0, 0)
        assert store.list_inbound(["A"])[0].expected_at == self.EXPECTED_AT
        assert store.receive_inbound("po1", 2) == Position(N1, "A", 15, 2, 0, 0)
        assert store.list_inbound(["A"]) == []
        with pytest.raises(NotFound, match="po1"):
            store.receive_inbound("po1", 1)
        assert pos(store, N1, "A").on_hand == 15

    def test_receive_inbound_creates_the_position(self, store: Store) -> None:
        """A receipt at a node that never held the SKU creates its position (safety 0)."""
        seed(store)
        store.add_inbound([Inbound("po1", N3, "A", 4, 100.0)])
        assert store.receive_inbound("po1", 4) == Position(N3, "A", 4, 0, 0, 0)
        assert pos(store, N3, "A") == Position(N3, "A", 4, 0, 0, 0)

    def test_receive_inbound_keeps_holds_allocations_and_safety_stock(self, store: Store) -> None:
        """A receipt only raises on hand: held and allocated units and safety stock stay."""
        seed(store)
        store.create_order("o1", {"A": 3}, [Unit(N1, "A", 3)], {})
        store.reserve("h1", "c", [Unit(N1, "A", 4)], LONG_TTL_S)
        store.add_inbound([Inbound("po1", N1, "A", 6, 100.0)])
        assert store.receive_inbound("po1", 6) == Position(N1, "A", 16, 2, 4, 3)
        assert pos(store, N1, "A").available == 7

    def test_receive_inbound_refusals_change_nothing(self, store: Store) -> None:
        """An unknown inbound is NotFound; more than is open, or a quantity below 1, is
        Invalid; none of them changes stock, the inbound or the event log."""
        seed(store)
        store.add_inbound([Inbound("po1", N1, "A", 5, 100.0)])
        last = store.events(0, 1000)[-1].seq
        with pytest.raises(NotFound, match="nope"):
            store.receive_inbound("nope", 1)
        with pytest.raises(Invalid, match="6 units, but 5 are open"):
            store.receive_inbound("po1", 6)
        for qty in (0, -1):
            with pytest.raises(Invalid):
                store.receive_inbound("po1", qty)
        assert pos(store, N1, "A") == Position(N1, "A", 10, 2, 0, 0)
        assert store.list_inbound(["A"]) == [Inbound("po1", N1, "A", 5, 100.0)]
        assert store.events(last) == []

    def test_receive_inbound_event(self, store: Store) -> None:
        """A receipt logs inbound.received on the stock position: qty, open left, on hand."""
        seed(store)
        store.add_inbound([Inbound("po1", N2, "B", 5, 100.0)])
        store.receive_inbound("po1", 2)
        store.receive_inbound("po1", 3)
        events = [e for e in store.events(0, 1000) if e.type == "inbound.received"]
        assert [(e.subject, e.data) for e in events] == [
            ("stock:N2/B", {"inbound": "po1", "qty": 2, "open": 3, "on_hand": 4}),
            ("stock:N2/B", {"inbound": "po1", "qty": 3, "open": 0, "on_hand": 7}),
        ]

    def test_receive_inbound_replays_its_key(self, store: Store) -> None:
        """A keyed receipt applies once: the same key and request replay the position it
        returned, another request under the key is refused."""
        seed(store)
        store.add_inbound([Inbound("po1", N1, "A", 5, 100.0)])
        first = store.receive_inbound("po1", 2, idem("k1", "h"))
        reply = store.idempotent_reply("k1")
        assert reply is not None
        assert reply.result == first == Position(N1, "A", 12, 2, 0, 0)
        with pytest.raises(Replayed) as replayed:
            store.receive_inbound("po1", 2, idem("k1", "h"))
        assert replayed.value.result == first
        with pytest.raises(IdempotencyMismatch):
            store.receive_inbound("po1", 1, idem("k1", "other"))
        assert pos(store, N1, "A").on_hand == 12
        assert store.list_inbound(["A"])[0].qty == 3

    # --- node capacity per day

    def test_capacity_is_charged_per_node_and_day(self, store: Store) -> None:
        """Each order charges its nodes one shipment and its units on the day given; what
        would pass a node's shipment or unit capacity that day is InsufficientCapacity
        naming every full node, with nothing written; cancelled units give capacity back,
        shipped ones do not; another day has its own capacity."""
        store.upsert_nodes([Node("C1", "warehouse", 40.0, -75.0, ship_capacity=2,
                                 unit_capacity=5), Node("C2", "store", 41.0, -75.0)])  # fmt: skip
        store.upsert_items([Item("A", 1.0)])
        store.set_stock("C1", {"A": (20, 0)}, "count")
        store.set_stock("C2", {"A": (20, 0)}, "count")
        day, next_day = {"C1": "2026-12-03", "C2": "2026-12-03"}, {"C1": "2026-12-04"}
        store.create_order("o1", {"A": 3}, [Unit("C1", "A", 3)], {}, days=day)
        assert store.capacity_used(day) == {"C1": (1, 3)}
        events = store.events(0, 1000)
        with pytest.raises(InsufficientCapacity) as short:
            store.create_order("o2", {"A": 3}, [Unit("C1", "A", 3)], {}, days=day)
        assert short.value.shorts == (CapacityShort("C1", "2026-12-03", "units", 3, 2),)
        assert (store.events(0, 1000), pos(store, "C1", "A").allocated) == (events, 3)
        with pytest.raises(NotFound):
            store.get_order("o2")
        store.create_order("o2", {"A": 3}, [Unit("C1", "A", 2), Unit("C2", "A", 1)], {},
                           days=day)  # fmt: skip
        assert store.capacity_used(day) == {"C1": (2, 5), "C2": (1, 1)}
        with pytest.raises(InsufficientCapacity) as short:
            store.create_order("o3", {"A": 1}, [Unit("C1", "A", 1)], {}, days=day)
        assert short.value.shorts == (
            CapacityShort("C1", "2026-12-03", "shipments", 1, 0),
            CapacityShort("C1", "2026-12-03", "units", 1, 0),
        )
        store.transition("o2", "ship", node="C1")
        store.transition("o1", "cancel", units=[Unit("C1", "A", 1)])
        assert store.capacity_used(day) == {"C1": (2, 4), "C2": (1, 1)}
        store.transition("o1", "cancel")
        assert store.capacity_used(day) == {"C1": (1, 2), "C2": (1, 1)}
        store.create_order("o4", {"A": 5}, [Unit("C1", "A", 5)], {}, days=next_day)
        assert store.capacity_used(next_day) == {"C1": (1, 5)}
        assert store.capacity_used(day)["C1"] == (1, 2)
        # moving units to a node full that day is refused; a reject away from it frees it
        both = {"C1": "2026-12-04", "C2": "2026-12-04"}
        store.create_order("o5", {"A": 1}, [Unit("C2", "A", 1)], {}, days=both)
        with pytest.raises(InsufficientCapacity, match="C1 on 2026-12-04: 1 units asked, 0"):
            store.transition("o5", "reallocate", units=[Unit("C2", "A", 1)],
                             new_allocations=[Unit("C1", "A", 1)], days=both)  # fmt: skip
        store.transition("o4", "reject", node="C1", units=[Unit("C1", "A", 2)],
                         new_allocations=[Unit("C2", "A", 2)], days=both)  # fmt: skip
        assert store.capacity_used({"C1": "2026-12-04", "C2": "2026-12-03"}) == {
            "C1": (1, 3), "C2": (1, 1),
        }  # fmt: skip
        assert store.capacity_used({"C2": "2026-12-04"}) == {"C2": (2, 3)}

    def test_a_commit_is_charged_and_refused_when_full(self, store: Store) -> None:
        """A hold takes no capacity; its commit does, and is refused (the hold stays
        active, nothing written) when the node's day is full."""
        store.upsert_nodes([Node("C1", "warehouse", 40.0, -75.0, ship_capacity=1)])
        store.upsert_items([Item("A", 1.0)])
        store.set_stock("C1", {"A": (5, 0)}, "count")
        day = {"C1": "2026-12-03"}
        h1 = store.reserve("h1", "cart", [Unit("C1", "A", 1)], LONG_TTL_S)
        h2 = store.reserve("h2", "cart", [Unit("C1", "A", 1)], LONG_TTL_S)
        store.commit_reservation(h1, "o1", {}, days=day)
        with pytest.raises(InsufficientCapacity, match="C1 on 2026-12-03: 1 shipments asked"):
            store.commit_reservation(h2, "o2", {}, days=day)
        assert store.get_reservation("h2").state == HoldState.ACTIVE
        assert store.capacity_used(day) == {"C1": (1, 1)}

    # --- settings and node calendars

    def test_settings_round_trip(self, store: Store) -> None:
        """A setting reads back as written (nested JSON values) at version 1; a new value
        replaces it at version 2; an unknown name is None."""
        assert store.get_setting("carrier") is None
        value = {"country": "IT", "levels": [{"name": "standard", "days": [1, 2]}], "x": 2.5,
                 "flag": True, "none": None}  # fmt: skip
        assert store.put_setting("carrier", value) == 1
        assert store.get_setting("carrier") == Setting(value, 1)
        assert store.put_setting("other", {"a": 1}) == 1
        assert store.put_setting("carrier", {"country": "US"}) == 2
        assert store.get_setting("carrier") == Setting({"country": "US"}, 2)
        assert store.get_setting("other") == Setting({"a": 1}, 1)

    def test_settings_versions_and_events(self, store: Store) -> None:
        """With an expected version a setting changes only from that version (0: none yet):
        a stale one is PreconditionFailed and writes nothing, no event; each change is one
        settings.changed event with the new version and value."""
        with pytest.raises(PreconditionFailed, match="version is 0, not 1"):
            store.put_setting("network", {"a": 1}, expected_version=1)
        assert store.get_setting("network") is None
        assert store.put_setting("network", {"a": 1}, expected_version=0) == 1
        assert store.put_setting("network", {"a": 2}, expected_version=1) == 2
        before = store.events(0, 1000)
        with pytest.raises(PreconditionFailed, match="version is 2, not 1"):
            store.put_setting("network", {"a": 3}, expected_version=1)
        assert store.get_setting("network") == Setting({"a": 2}, 2)
        assert store.events(0, 1000) == before
        changes = [(e.type, e.subject, e.data) for e in before]
        assert changes == [
            ("settings.changed", "settings:network", {"version": 1, "value": {"a": 1}}),
            ("settings.changed", "settings:network", {"version": 2, "value": {"a": 2}}),
        ]

    def test_node_calendar_round_trip(self, store: Store) -> None:
        """A node's calendar (every field) is stored with it; an upsert without one goes
        back to the defaults."""
        calendar = NodeCalendar(
            time_zone="Europe/Rome", cutoff=dt.time(13, 30), processing_days=2,
            opens=dt.time(9), closes=dt.time(19, 30), closed_weekdays=(0, 6), country="IT",
            subdivision="MI", public_holidays=False,
            closed_dates=(dt.date(2026, 8, 14), dt.date(2026, 12, 7)), pickup_minutes=45,
            receiving_days=0,
        )  # fmt: skip
        node = Node("ST-MI", "store", 45.46, 9.19, handling_per_shipment=2.0, calendar=calendar)
        store.upsert_nodes([node, Node("DC", "warehouse", 41.9, 12.5)])
        assert store.list_nodes() == [Node("DC", "warehouse", 41.9, 12.5), node]
        store.upsert_nodes([replace(node, calendar=NodeCalendar())])
        assert store.list_nodes()[1].calendar == NodeCalendar()

    # --- stock

    def test_snapshot_sets_positions(self, store: Store) -> None:
        """A snapshot sets on hand and safety stock; available = on hand - safety stock."""
        seed(store)
        assert all_positions(store) == [
            Position(N1, "A", 10, 2, 0, 0),
            Position(N2, "A", 4, 0, 0, 0),
            Position(N1, "B", 5, 0, 0, 0),
            Position(N2, "B", 2, 0, 0, 0),
        ]
        assert pos(store, N1, "A").available == 8

    def test_positions_filter_by_node_and_omit_unknown(self, store: Store) -> None:
        """positions() keeps to the asked SKUs and nodes and lists no position never set."""
        seed(store)
        assert [(p.node, p.sku) for p in store.positions(["B", "Z"])] == [(N1, "B"), (N2, "B")]
        assert [(p.node, p.sku) for p in store.positions(["A", "B"], [N2, N3])] == [
            (N2, "A"),
            (N2, "B"),
        ]
        assert store.positions([], None) == []

    def test_snapshot_keeps_allocations_and_may_oversell(self, store: Store) -> None:
        """A lower count keeps allocations and holds; available shows 0, never negative."""
        seed(store)
        store.create_order("o1", {"A": 6}, [Unit(N1, "A", 6)], {})
        store.reserve("h1", "c", [Unit(N1, "A", 2)], LONG_TTL_S)
        store.set_stock(N1, {"A": (3, 1)}, "recount")
        assert pos(store, N1, "A") == Position(N1, "A", 3, 1, 2, 6)
        assert pos(store, N1, "A").available == 0
        with pytest.raises(InsufficientStock):
            store.reserve("h2", "c", [Unit(N1, "A", 1)], LONG_TTL_S)

    def test_snapshot_refuses_negative_counts(self, store: Store) -> None:
        """A negative on hand or safety stock is Invalid and changes nothing."""
        seed(store)
        for counts in ({"A": (-1, 0)}, {"A": (5, -2)}):
            with pytest.raises(Invalid):
                store.set_stock(N1, counts, "bad")
        assert pos(store, N1, "A") == Position(N1, "A", 10, 2, 0, 0)

    def test_adjust_adds_delta(self, store: Store) -> None:
        """An adjustment adds to on hand, creates a new position, and returns the position."""
        seed(store)
        assert store.adjust_stock(N1, "A", -3, "damaged") == Position(N1, "A", 7, 2, 0, 0)
        assert store.adjust_stock(N3, "A", 4, "found") == Position(N3, "A", 4, 0, 0, 0)
        assert pos(store, N3, "A").available == 4

    def test_adjust_refuses_below_zero(self, store: Store) -> None:
        """An adjustment below zero on hand is Invalid and logs nothing."""
        seed(store)
        last = store.events(0, 1000)[-1].seq
        with pytest.raises(Invalid):
            store.adjust_stock(N1, "A", -11, "shrink")
        with pytest.raises(Invalid):
            store.adjust_stock(N3, "A", -1, "shrink")
        assert pos(store, N1, "A").on_hand == 10
        assert store.positions(["A"], [N3]) == []
        assert store.events(last) == []

    def test_adjust_below_committed_is_allowed(self, store: Store) -> None:
        """On hand may drop below what is allocated (oversold), but not below zero."""
        seed(store)
        store.create_order("o1", {"A": 8}, [Unit(N1, "A", 8)], {})
        assert store.adjust_stock(N1, "A", -10, "flood") == Position(N1, "A", 0, 2, 0, 8)

    def test_available_arithmetic(self, store: Store) -> None:
        """available = on hand - safety stock - allocated - reserved, floored at 0."""
        seed(store)
        store.create_order("o1", {"A": 3}, [Unit(N1, "A", 3)], {})
        store.reserve("h1", "c", [Unit(N1, "A", 4)], LONG_TTL_S)
        p = pos(store, N1, "A")
        assert (p.on_hand, p.safety_stock, p.allocated, p.reserved, p.available) == (10, 2, 3, 4, 1)
        assert p.on_hand == p.available + p.reserved + p.allocated + p.safety_stock

    def test_safety_stock_is_never_promised(self, store: Store) -> None:
        """Units up to available can be held; one more unit of safety stock cannot."""
        seed(store)
        with pytest.raises(InsufficientStock) as err:
            store.reserve("h1", "c", [Unit(N1, "A", 9)], LONG_TTL_S)
        assert err.value.shortages == (Shortage("A", (N1,), 9, 8),)
        store.reserve("h1", "c", [Unit(N1, "A", 8)], LONG_TTL_S)
        assert pos(store, N1, "A").available == 0

    def test_stock_events(self, store: Store) -> None:
        """Snapshots log stock.snapshot on the node; adjustments log stock.adjusted."""
        seed(store)
        store.adjust_stock(N1, "B", 2, "found")
        events = store.events(0)
        assert [(e.type, e.subject) for e in events] == [
            *SEED_EVENTS,
            ("stock.snapshot", "node:N1"),
            ("stock.snapshot", "node:N2"),
            ("stock.adjusted", "stock:N1/B"),
        ]
        assert events[-1].data["delta"] == 2
        assert events[-1].data["reason"] == "found"

    # --- checkout holds

    def test_reserve_holds_units(self, store: Store) -> None:
        """A hold moves units from available to reserved until it expires."""
        seed(store)
        before = store.now()
        hold = store.reserve("h1", "cart1", [Unit(N1, "A", 3), Unit(N2, "B", 1)], 60.0)
        assert (hold.id, hold.cart, hold.state, hold.order_id) == ("h1", "cart1", "active", None)
        assert hold.units == (Unit(N1, "A", 3), Unit(N2, "B", 1))
        assert before <= hold.created_at <= store.now()
        assert hold.expires_at == pytest.approx(hold.created_at + 60.0)
        assert pos(store, N1, "A") == Position(N1, "A", 10, 2, 3, 0)
        assert pos(store, N2, "B").available == 1
        assert store.get_reservation("h1") == hold

    def test_reserve_is_all_or_nothing_with_every_short_line(self, store: Store) -> None:
        """A hold with short lines reserves nothing and names every short line."""
        seed(store)
        last = store.events(0, 1000)[-1].seq
        lines = [Unit(N1, "A", 9), Unit(N1, "B", 1), Unit(N2, "B", 3), Unit(N3, "A", 1)]
        with pytest.raises(InsufficientStock) as err:
            store.reserve("h1", "c", lines, LONG_TTL_S)
        assert err.value.shortages == (
            Shortage("A", (N1,), 9, 8),
            Shortage("B", (N2,), 3, 2),
            Shortage("A", (N3,), 1, 0),
        )
        assert all(p.reserved == 0 for p in all_positions(store))
        assert store.events(last) == []
        with pytest.raises(NotFound):
            store.get_reservation("h1")

    def test_reserve_sums_duplicate_lines(self, store: Store) -> None:
        """Lines for the same node and SKU are summed before the check and in the hold."""
        seed(store)
        with pytest.raises(InsufficientStock) as err:
            store.reserve("h1", "c", [Unit(N1, "A", 5), Unit(N2, "A", 1), Unit(N1, "A", 4)], 60)
        assert err.value.shortages == (Shortage("A", (N1,), 9, 8),)
        hold = store.reserve("h1", "c", [Unit(N1, "A", 4), Unit(N1, "A", 4)], 60.0)
        assert hold.units == (Unit(N1, "A", 8),)
        assert pos(store, N1, "A").reserved == 8

    @pytest.mark.parametrize(
        ("units", "ttl_s"),
        [
            ([], 60.0),
            ([Unit(N1, "A", 0)], 60.0),
            ([Unit(N1, "A", -1)], 60.0),
            ([Unit(N1, "A", 1)], 0.0),
            ([Unit(N1, "A", 1)], -5.0),
        ],
    )
    def test_reserve_refuses_bad_input(self, store: Store, units: list[Unit], ttl_s: float) -> None:
        """No lines, a quantity below 1 or a TTL <= 0 is Invalid and holds nothing."""
        seed(store)
        with pytest.raises(Invalid):
            store.reserve("h1", "c", units, ttl_s)
        with pytest.raises(NotFound):
            store.get_reservation("h1")

    def test_reserve_existing_id_conflicts(self, store: Store) -> None:
        """A second hold with the same id is a Conflict and holds nothing more."""
        seed(store)
        store.reserve("h1", "c", [Unit(N1, "A", 1)], 60.0)
        with pytest.raises(Conflict):
            store.reserve("h1", "c", [Unit(N1, "A", 1)], 60.0)
        assert pos(store, N1, "A").reserved == 1

    def test_unknown_reservation_not_found(self, store: Store) -> None:
        """Get, release and commit of an unknown hold are NotFound."""
        with pytest.raises(NotFound):
            store.get_reservation("nope")
        with pytest.raises(NotFound):
            store.release_reservation("nope")
        with pytest.raises(NotFound):
            store.commit_reservation(store.get_reservation("nope"), "o1", {})

    def test_release_gives_units_back(self, store: Store) -> None:
        """A released hold reserves nothing; releasing it again is a Conflict."""
        seed(store)
        store.reserve("h1", "c", [Unit(N1, "A", 3)], 60.0)
        assert store.release_reservation("h1").state == HoldState.RELEASED
        assert pos(store, N1, "A").reserved == 0
        assert store.get_reservation("h1").state == HoldState.RELEASED
        with pytest.raises(Conflict) as err:
            store.release_reservation("h1")
        assert err.value.current_state == "released"

    def test_commit_before_expiry_creates_the_order(self, store: Store) -> None:
        """Committing a live hold turns its units into the order's allocations, atomically."""
        seed(store)
        store.reserve("h1", "c", [Unit(N1, "A", 2), Unit(N2, "A", 1), Unit(N1, "B", 1)], 60.0)
        order = store.commit_reservation(store.get_reservation("h1"), "o1", {"dest": "10001"})
        assert (order.id, order.state, order.version) == ("o1", OrderState.ALLOCATED, 1)
        assert order.lines == {"A": 3, "B": 1}
        assert order.allocations == (Unit(N1, "A", 2), Unit(N1, "B", 1), Unit(N2, "A", 1))
        assert (order.shipped, order.returned, order.released_nodes) == ((), (), ())
        assert order.document == {"dest": "10001"}
        assert pos(store, N1, "A") == Position(N1, "A", 10, 2, 0, 2)
        hold = store.get_reservation("h1")
        assert (hold.state, hold.order_id) == (HoldState.COMMITTED, "o1")
        assert store.get_order("o1") == order

    def test_commit_after_expiry_conflicts(self, store: Store) -> None:
        """A hold past its expiry cannot be committed, reaper or not; nothing is allocated."""
        seed(store)
        self.expire_soon(store, "h1", [Unit(N1, "A", 2)])
        with pytest.raises(Conflict) as err:
            store.commit_reservation(store.get_reservation("h1"), "o1", {})
        assert err.value.current_state == "expired"
        assert pos(store, N1, "A") == Position(N1, "A", 10, 2, 0, 0)
        with pytest.raises(NotFound):
            store.get_order("o1")
        assert store.expire_reservations() == 1
        with pytest.raises(Conflict):
            store.commit_reservation(store.get_reservation("h1"), "o1", {})

    def test_commit_ends_the_hold_once(self, store: Store) -> None:
        """A committed hold cannot be committed or released again; a released one not committed."""
        seed(store)
        store.reserve("h1", "c", [Unit(N1, "A", 1)], 60.0)
        store.commit_reservation(store.get_reservation("h1"), "o1", {})
        for call in (
            lambda: store.commit_reservation(store.get_reservation("h1"), "o2", {}),
            lambda: store.release_reservation("h1"),
        ):
            with pytest.raises(Conflict) as err:
                call()
            assert err.value.current_state == "committed"
        store.reserve("h2", "c", [Unit(N1, "A", 1)], 60.0)
        store.release_reservation("h2")
        with pytest.raises(Conflict):
            store.commit_reservation(store.get_reservation("h2"), "o2", {})
        assert pos(store, N1, "A").allocated == 1

    def test_commit_after_a_recount_keeps_the_held_units(self, store: Store) -> None:
        """A hold already took its units: a lower count meanwhile does not stop the commit."""
        seed(store)
        store.reserve("h1", "c", [Unit(N1, "A", 5)], 60.0)
        store.set_stock(N1, {"A": (3, 2)}, "recount")
        assert store.commit_reservation(store.get_reservation("h1"), "o1", {}).allocations == (
            Unit(N1, "A", 5),
        )
        assert pos(store, N1, "A") == Position(N1, "A", 3, 2, 0, 5)

    def test_commit_refuses_an_existing_order(self, store: Store) -> None:
        """An existing order id leaves the hold active and its units held."""
        seed(store)
        store.create_order("o1", {"B": 1}, [Unit(N1, "B", 1)], {})
        store.reserve("h1", "c", [Unit(N1, "A", 2)], 60.0)
        with pytest.raises(Conflict):
            store.commit_reservation(store.get_reservation("h1"), "o1", {})
        assert store.get_reservation("h1").state == HoldState.ACTIVE
        assert pos(store, N1, "A") == Position(N1, "A", 10, 2, 2, 0)

    def test_expired_hold_not_counted_without_reaper(self, store: Store) -> None:
        """Once past expiry a hold reserves nothing and reads as expired, before any reaper."""
        seed(store)
        self.expire_soon(store, "h1", [Unit(N1, "A", 8)])
        assert pos(store, N1, "A").reserved == 0
        assert pos(store, N1, "A").available == 8
        assert store.get_reservation("h1").state == HoldState.EXPIRED
        store.reserve("h2", "c", [Unit(N1, "A", 8)], LONG_TTL_S)
        with pytest.raises(Conflict) as err:
            store.release_reservation("h1")
        assert err.value.current_state == "expired"

    def test_reaper_is_idempotent(self, store: Store) -> None:
        """The reaper marks each expired hold once, respects its limit, spares live holds."""
        seed(store)
        store.reserve("live", "c", [Unit(N1, "B", 1)], LONG_TTL_S)
        store.reserve("done", "c", [Unit(N1, "B", 1)], self.short_ttl_s)
        store.release_reservation("done")
        for hold_id in ("x1", "x2", "x3"):
            store.reserve(hold_id, "c", [Unit(N1, "A", 1)], self.short_ttl_s)
        store.shift_clock(self.short_ttl_s + 1)
        assert store.expire_reservations(limit=2) == 2
        assert store.expire_reservations() == 1
        assert store.expire_reservations() == 0
        expired = [e.subject for e in store.events(0, 1000) if e.type == "reservation.expired"]
        assert sorted(expired) == ["x1", "x2", "x3"]
        assert store.get_reservation("live").state == HoldState.ACTIVE
        assert store.get_reservation("done").state == HoldState.RELEASED
        assert pos(store, N1, "A").reserved == 0
        assert pos(store, N1, "B").reserved == 1

    # --- orders

    def test_create_order_allocates(self, store: Store) -> None:
        """An order allocates every unit at its node and starts allocated, version 1."""
        seed(store)
        order = store.create_order(
            "o1", {"A": 3, "B": 2}, [Unit(N2, "A", 3), Unit(N1, "B", 2)], {"plan": [1, 2]}
        )
        assert order.allocations == (Unit(N1, "B", 2), Unit(N2, "A", 3))
        assert (order.state, order.version, order.document) == ("allocated", 1, {"plan": [1, 2]})
        assert order.created_at == order.updated_at
        assert pos(store, N2, "A") == Position(N2, "A", 4, 0, 0, 3)
        assert pos(store, N1, "B").available == 3

    def test_create_order_is_all_or_nothing_with_every_short_line(self, store: Store) -> None:
        """An order with short lines allocates nothing and names every short line."""
        seed(store)
        last = store.events(0, 1000)[-1].seq
        units = [Unit(N2, "A", 1), Unit(N1, "A", 5), Unit(N2, "B", 3), Unit(N1, "A", 4)]
        with pytest.raises(InsufficientStock) as err:
            store.create_order("o1", {"A": 10, "B": 3}, units, {})
        assert set(err.value.shortages) == {Shortage("A", (N1,), 9, 8), Shortage("B", (N2,), 3, 2)}
        assert all(p.allocated == 0 for p in all_positions(store))
        assert store.events(last) == []
        with pytest.raises(NotFound):
            store.get_order("o1")

    def test_create_order_sums_duplicate_lines(self, store: Store) -> None:
        """Allocations for the same node and SKU are summed into one."""
        seed(store)
        order = store.create_order("o1", {"A": 8}, [Unit(N1, "A", 4), Unit(N1, "A", 4)], {})
        assert order.allocations == (Unit(N1, "A", 8),)
        assert pos(store, N1, "A").available == 0

    def test_create_order_refuses_existing_id_and_bad_lines(self, store: Store) -> None:
        """An existing order id is a Conflict; lines other than the units are Invalid."""
        seed(store)
        store.create_order("o1", {"A": 1}, [Unit(N1, "A", 1)], {})
        with pytest.raises(Conflict):
            store.create_order("o1", {"A": 1}, [Unit(N1, "A", 1)], {})
        for lines, units in (
            ({"A": 2}, [Unit(N1, "A", 1)]),
            ({}, []),
            ({"A": 1, "B": 1}, [Unit(N1, "A", 1)]),
            ({"A": 0}, [Unit(N1, "A", 0)]),
        ):
            with pytest.raises(Invalid):
                store.create_order("o2", lines, units, {})
        assert pos(store, N1, "A").allocated == 1

    def test_unknown_order_not_found(self, store: Store) -> None:
        """Get, history and transitions of an unknown order are NotFound."""
        with pytest.raises(NotFound):
            store.get_order("nope")
        with pytest.raises(NotFound):
            store.order_history("nope")
        with pytest.raises(NotFound):
            store.transition("nope", "cancel")

    def test_the_state_machine_is_the_documented_one(self) -> None:
        """lifecycle's table allows exactly the transitions docs/service.md lists."""
        table = {(s, a) for a, states in lifecycle.ALLOWED_FROM.items() for s in states}
        assert table == set(ALLOWED)

    @pytest.mark.parametrize(("state", "action"), MATRIX, ids=[f"{s}-{a}" for s, a in MATRIX])
    def test_transition_matrix(self, store: Store, state: OrderState, action: Action) -> None:
        """Each allowed transition lands in its state, and the store's order, events and
        stock after it are exactly what lifecycle.apply computes; any other transition is
        a Conflict naming the state, and changes nothing."""
        seed(store)
        before = order_in(
            store, state, units=N1_UNITS if (state, action) in ONE_NODE else ORDER_UNITS
        )
        args = ACTION_ARGS[action]
        if (state, action) in ALLOWED:
            positions, last = all_positions(store), store.events(0, 1000)[-1].seq
            after = store.transition("o1", action, **args)
            assert after.state == ALLOWED[(state, action)]
            assert after.version == before.version + 1
            assert_lines_consistent(after)
            step = lifecycle.Step(
                node=args.get("node"),
                units=tuple(args.get("units", ())),
                new_allocations=tuple(args.get("new_allocations", ())),
            )
            expected, effects = lifecycle.apply(before, action, step)
            assert replace(after, updated_at=0.0) == replace(expected, updated_at=0.0)
            assert [(e.type, e.data) for e in store.events(last)] == list(effects.events)
            assert stock_changes(positions, all_positions(store)) == effect_changes(effects)
            return
        positions, last = all_positions(store), store.events(0, 1000)[-1].seq
        with pytest.raises(Conflict) as err:
            store.transition("o1", action, **args)
        assert err.value.current_state == state.value
        assert store.get_order("o1") == before
        assert all_positions(store) == positions
        assert store.events(last) == []

    def test_a_stale_read_is_never_written(self, store: Store) -> None:
        """A step given the order as read before another step changed it: with the version
        expected, a Conflict and nothing written; without, applied to the order as it is."""
        seed(store)
        stale = order_in(store, OrderState.ALLOCATED)
        store.transition("o1", "cancel", units=[Unit(N1, "A", 1)])
        with pytest.raises(Conflict):
            store.transition("o1", "release", expected_version=stale.version, read=stale)
        assert store.get_order("o1").state == OrderState.ALLOCATED
        after = store.transition("o1", "release", read=stale)
        assert (after.version, after.lines) == (3, {"A": 2})
        assert after.released_nodes == (N1, N2)

    def test_version_check(self, store: Store) -> None:
        """A stale expected_version is a Conflict; the current one is accepted."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        with pytest.raises(Conflict) as err:
            store.transition("o1", "release", expected_version=2)
        assert err.value.current_state == "allocated"
        assert store.transition("o1", "release", expected_version=1).version == 2
        with pytest.raises(Conflict):
            store.transition("o1", "ship", node=N1, expected_version=1)
        assert store.get_order("o1").state == OrderState.RELEASED

    def test_release_names_the_nodes(self, store: Store) -> None:
        """Release records the allocation nodes; a reject then adds the new node."""
        seed(store)
        store.create_order("o1", {"A": 2}, [Unit(N1, "A", 2)], {})
        assert store.transition("o1", "release").released_nodes == (N1,)
        after = store.transition("o1", "reject", node=N1, new_allocations=[Unit(N2, "A", 2)])
        assert (after.state, after.released_nodes) == (OrderState.RELEASED, (N1, N2))

    def test_ship_moves_one_nodes_allocations(self, store: Store) -> None:
        """Shipping a node takes its units off on hand and allocated there, nowhere else."""
        seed(store)
        store.create_order(
            "o1", {"A": 3, "B": 1}, [Unit(N1, "A", 2), Unit(N1, "B", 1), Unit(N2, "A", 1)], {}
        )
        order = store.transition("o1", "ship", node=N1)
        assert order.shipped == (Unit(N1, "A", 2), Unit(N1, "B", 1))
        assert order.allocations == (Unit(N2, "A", 1),)
        assert order.state == OrderState.PARTIALLY_SHIPPED
        assert pos(store, N1, "A") == Position(N1, "A", 8, 2, 0, 0)
        assert pos(store, N1, "B") == Position(N1, "B", 4, 0, 0, 0)
        assert pos(store, N2, "A") == Position(N2, "A", 4, 0, 0, 1)
        assert_lines_consistent(order)
        last = store.order_history("o1")[-1]
        assert (last.type, last.data["node"]) == ("order.shipped", N1)

    def test_ship_refuses_a_node_without_allocations(self, store: Store) -> None:
        """Shipping without a node is Invalid; a node with nothing allocated is a Conflict."""
        seed(store)
        order_in(store, OrderState.PARTIALLY_SHIPPED)
        with pytest.raises(Invalid):
            store.transition("o1", "ship")
        for node in (N2, N3):
            with pytest.raises(Conflict) as err:
                store.transition("o1", "ship", node=node)
            assert err.value.current_state == "partially_shipped"

    def test_ship_from_an_oversold_position_never_goes_negative(self, store: Store) -> None:
        """A shipment after a recount below the allocation leaves on hand at zero."""
        seed(store)
        store.create_order("o1", {"A": 5}, [Unit(N1, "A", 5)], {})
        store.set_stock(N1, {"A": (3, 0)}, "recount")
        store.transition("o1", "ship", node=N1)
        assert pos(store, N1, "A") == Position(N1, "A", 0, 0, 0, 0)

    def test_cancel_all_gives_units_back(self, store: Store) -> None:
        """Cancelling a whole order frees every allocation and empties its lines."""
        seed(store)
        order_in(store, OrderState.RELEASED)
        order = store.transition("o1", "cancel")
        assert (order.state, order.lines, order.allocations) == (OrderState.CANCELLED, {}, ())
        assert all(p.allocated == 0 for p in all_positions(store))

    def test_cancel_lines(self, store: Store) -> None:
        """Cancelling some units frees them and shrinks the lines; more than held is a 409."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        order = store.transition("o1", "cancel", units=[Unit(N1, "A", 1)])
        assert (order.state, order.lines) == (OrderState.ALLOCATED, {"A": 2})
        assert order.allocations == (Unit(N1, "A", 1), Unit(N2, "A", 1))
        assert pos(store, N1, "A").allocated == 1
        with pytest.raises(Conflict):
            store.transition("o1", "cancel", units=[Unit(N2, "A", 2)])
        with pytest.raises(Conflict):
            store.transition("o1", "cancel", units=[Unit(N1, "B", 1)])
        order = store.transition("o1", "cancel", units=[Unit(N1, "A", 1), Unit(N2, "A", 1)])
        assert (order.state, order.lines) == (OrderState.CANCELLED, {})

    def test_cancel_after_partial_shipment_keeps_shipped_lines(self, store: Store) -> None:
        """Cancelling a partially shipped order cancels the unshipped units only."""
        seed(store)
        order_in(store, OrderState.PARTIALLY_SHIPPED)
        order = store.transition("o1", "cancel")
        assert (order.state, order.lines) == (OrderState.SHIPPED, {"A": 1})
        assert order.shipped == (Unit(N2, "A", 1),)
        assert pos(store, N1, "A").allocated == 0

    def test_reject_reallocates_elsewhere(self, store: Store) -> None:
        """A rejected node's units are freed and the new ones allocated in the same step."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        order = store.transition("o1", "reject", node=N1, new_allocations=[Unit(N2, "A", 2)])
        assert (order.state, order.lines, order.allocations) == (
            OrderState.ALLOCATED,
            {"A": 3},
            (Unit(N2, "A", 3),),
        )
        assert pos(store, N1, "A").allocated == 0
        assert pos(store, N2, "A").allocated == 3
        types = [e.type for e in store.order_history("o1")]
        assert types[-2:] == ["order.rejected", "order.reallocated"]

    def test_reject_cancels_what_cannot_be_resourced(self, store: Store) -> None:
        """Rejected units not re-allocated leave the order with order.lines_unfillable."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        order = store.transition(
            "o1", "reject", node=N1, units=[Unit(N1, "A", 2)], new_allocations=[Unit(N2, "A", 1)]
        )
        assert (order.lines, order.allocations) == ({"A": 2}, (Unit(N2, "A", 2),))
        last = store.order_history("o1")[-1]
        assert (last.type, last.data["lines"]) == ("order.lines_unfillable", {"A": 1})
        order = store.transition("o1", "reject", node=N2)
        assert (order.state, order.lines) == (OrderState.CANCELLED, {})
        assert all(p.allocated == 0 for p in all_positions(store))

    def test_reject_is_all_or_nothing(self, store: Store) -> None:
        """A reject whose new allocations are short changes nothing and names the shortage."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        before = store.transition("o1", "release")
        store.adjust_stock(N2, "A", -2, "damaged")  # N2: 2 on hand, 1 allocated: 1 available
        last = store.events(0, 1000)[-1].seq
        with pytest.raises(InsufficientStock) as err:
            store.transition(
                "o1", "reject", node=N1, new_allocations=[Unit(N2, "A", 2)], document={"x": 1}
            )
        assert err.value.shortages == (Shortage("A", (N2,), 2, 1),)
        assert store.get_order("o1") == before
        assert store.events(last) == []
        assert pos(store, N1, "A").allocated == 2

    @pytest.mark.parametrize(
        "args",
        [
            {"units": [Unit(N1, "A", 1)]},
            {"node": N1, "units": [Unit(N2, "A", 1)]},
            {"node": N1, "new_allocations": [Unit(N1, "A", 1)]},
            {"node": N1, "units": [Unit(N1, "A", 1)], "new_allocations": [Unit(N2, "A", 2)]},
            {"node": N1, "new_allocations": [Unit(N2, "B", 1)]},
            {"node": N1, "units": [Unit(N1, "A", 0)]},
        ],
    )
    def test_reject_refuses_bad_arguments(self, store: Store, args: dict[str, Any]) -> None:
        """No node, units elsewhere, new units at that node or beyond the rejected: Invalid."""
        seed(store)
        before = order_in(store, OrderState.ALLOCATED)
        with pytest.raises(Invalid):
            store.transition("o1", "reject", **args)
        assert store.get_order("o1") == before

    def test_reallocate_moves_units(self, store: Store) -> None:
        """Reallocate frees units and allocates as many per SKU elsewhere; lines stay."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        order = store.transition(
            "o1", "reallocate", units=[Unit(N2, "A", 1)], new_allocations=[Unit(N1, "A", 1)]
        )
        assert (order.lines, order.allocations) == ({"A": 3}, (Unit(N1, "A", 3),))
        assert (pos(store, N1, "A").allocated, pos(store, N2, "A").allocated) == (3, 0)
        with pytest.raises(Invalid):
            store.transition(
                "o1", "reallocate", units=[Unit(N1, "A", 2)], new_allocations=[Unit(N2, "A", 1)]
            )
        with pytest.raises(Invalid):
            store.transition("o1", "reallocate")
        with pytest.raises(Conflict):
            store.transition(
                "o1", "reallocate", units=[Unit(N2, "A", 1)], new_allocations=[Unit(N1, "A", 1)]
            )

    def test_return_restocks_at_the_shipping_node(self, store: Store) -> None:
        """A restocked return adds on hand where it shipped from; otherwise on hand stays."""
        seed(store)
        order_in(store, OrderState.SHIPPED)
        order = store.transition("o1", "return", units=[Unit(N1, "A", 1)], restock=True)
        assert (order.state, order.returned) == (OrderState.SHIPPED, (Unit(N1, "A", 1),))
        assert pos(store, N1, "A").on_hand == 9
        order = store.transition("o1", "return", units=[Unit(N2, "A", 1)], restock=False)
        assert pos(store, N2, "A").on_hand == 3
        with pytest.raises(Conflict):
            store.transition("o1", "return", units=[Unit(N2, "A", 1)])
        order = store.transition("o1", "return")
        assert (order.state, order.returned) == (OrderState.RETURNED, ORDER_UNITS)
        assert order.lines == ORDER_LINES
        assert pos(store, N1, "A").on_hand == 10

    def test_return_during_partial_shipment(self, store: Store) -> None:
        """Returns of a partially shipped order keep its state and its allocations."""
        seed(store)
        order_in(store, OrderState.PARTIALLY_SHIPPED)
        order = store.transition("o1", "return")
        assert (order.state, order.returned) == (OrderState.PARTIALLY_SHIPPED, (Unit(N2, "A", 1),))
        with pytest.raises(Conflict):
            store.transition("o1", "return")
        assert store.transition("o1", "ship", node=N1).state == OrderState.SHIPPED

    def test_transition_replaces_the_document(self, store: Store) -> None:
        """A transition given a document stores it; one without keeps the old one."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        assert store.transition("o1", "release").document == {"n": 1}
        order = store.transition("o1", "ship", node=N1, document={"n": 2, "tracking": ["1Z"]})
        assert store.get_order("o1").document == order.document == {"n": 2, "tracking": ["1Z"]}
        assert order.updated_at >= order.created_at

    def test_a_partial_shipment_with_its_parcel(self, store: Store) -> None:
        """ship with units ships that part of the node's allocation (on hand and allocated
        go down by it), the event carries the parcel's carrier and tracking number; more
        than the node holds is a Conflict that changes nothing."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        after = store.transition("o1", "ship", node=N1, units=[Unit(N1, "A", 1)],
                                 parcel=("UPS", "1Z999"))  # fmt: skip
        assert after.state == OrderState.PARTIALLY_SHIPPED
        assert after.shipped == (Unit(N1, "A", 1),)
        assert after.allocations == (Unit(N1, "A", 1), Unit(N2, "A", 1))
        assert (pos(store, N1, "A").on_hand, pos(store, N1, "A").allocated) == (9, 1)
        shipped = store.order_history("o1")[-1]
        assert (shipped.type, shipped.data["carrier"], shipped.data["tracking"]) == (
            "order.shipped", "UPS", "1Z999",
        )  # fmt: skip
        assert shipped.data["units"] == [{"node": N1, "sku": "A", "qty": 1}]
        with pytest.raises(Conflict, match="ship 2 of A at N1 but the order has 1"):
            store.transition("o1", "ship", node=N1, units=[Unit(N1, "A", 2)])
        assert store.get_order("o1").version == after.version
        done = store.transition("o1", "ship", node=N1)
        assert "carrier" not in store.order_history("o1")[-1].data
        assert done.shipped == (Unit(N1, "A", 2),)

    def test_arguments_an_action_does_not_take_are_invalid(self, store: Store) -> None:
        """Units for release, units elsewhere or new allocations for ship, a parcel for
        anything but ship, new allocations for cancel or return: Invalid."""
        seed(store)
        order_in(store, OrderState.ALLOCATED)
        bad: list[tuple[Action, dict[str, Any]]] = [
            ("release", {"units": [Unit(N1, "A", 1)]}),
            ("release", {"node": N1}),
            ("ship", {"node": N1, "units": [Unit(N2, "A", 1)]}),
            ("ship", {"node": N1, "new_allocations": [Unit(N2, "A", 1)]}),
            ("release", {"parcel": ("UPS", "1Z")}),
            ("cancel", {"new_allocations": [Unit(N2, "A", 1)]}),
            ("cancel", {"units": [Unit(N1, "A", 0)]}),
        ]
        for action, args in bad:
            with pytest.raises(Invalid):
                store.transition("o1", action, **args)
        assert store.get_order("o1").version == 1

    # --- events

    def test_events_strictly_increasing_and_complete(self, store: Store) -> None:
        """Every change logs its events in order with a strictly increasing seq; refusals none."""
        seed(store)
        store.adjust_stock(N1, "B", 1, "found")
        store.reserve("h1", "c", [Unit(N1, "A", 1)], 60.0)
        store.commit_reservation(store.get_reservation("h1"), "o1", {})
        store.create_order("o2", {"B": 2}, [Unit(N1, "B", 2)], {})
        with pytest.raises(InsufficientStock):
            store.create_order("o3", {"B": 99}, [Unit(N1, "B", 99)], {})
        store.transition("o2", "ship", node=N1)
        store.transition("o1", "cancel")
        store.reserve("h2", "c", [Unit(N2, "B", 1)], 60.0)
        store.release_reservation("h2")
        events = store.events(0, 1000)
        assert [(e.type, e.subject) for e in events] == [
            *SEED_EVENTS,
            ("stock.snapshot", "node:N1"),
            ("stock.snapshot", "node:N2"),
            ("stock.adjusted", "stock:N1/B"),
            ("reservation.created", "h1"),
            ("reservation.committed", "h1"),
            ("order.created", "o1"),
            ("order.allocated", "o1"),
            ("order.created", "o2"),
            ("order.allocated", "o2"),
            ("order.shipped", "o2"),
            ("order.cancelled", "o1"),
            ("reservation.created", "h2"),
            ("reservation.released", "h2"),
        ]
        seqs = [e.seq for e in events]
        assert all(a < b for a, b in itertools.pairwise(seqs))
        assert all(events[i].at <= events[i + 1].at for i in range(len(events) - 1))
        assert events[len(SEED_EVENTS) + 4].data["order_id"] == "o1"

    def test_events_page_by_cursor(self, store: Store) -> None:
        """events(after, limit) continues exactly after the cursor, limit at a time."""
        seed(store)
        for i in range(5):
            store.adjust_stock(N1, "A", 1, f"r{i}")
        events = store.events(0, 1000)
        pages, cursor = [], 0
        while page := store.events(cursor, 3):
            assert len(page) <= 3
            pages += page
            cursor = page[-1].seq
        assert pages == events
        assert store.events(events[-1].seq) == []
        assert store.events(events[1].seq, 2) == events[2:4]

    def test_get_orders(self, store: Store) -> None:
        """A page of orders in one read: those found, in the order asked, as get_order
        answers each (unknown ids left out)."""
        seed(store)
        store.create_order("o1", {"A": 1}, [Unit(N1, "A", 1)], {"plan": {"cost": 1.5}})
        store.create_order("o2", {"B": 1}, [Unit(N2, "B", 1)], {})
        store.transition("o2", "release")
        assert store.get_orders(["o2", "nope", "o1"]) == [
            store.get_order("o2"),
            store.get_order("o1"),
        ]
        assert store.get_orders([]) == []

    def test_order_history(self, store: Store) -> None:
        """An order's history is its own order.* events, carrying state and version."""
        seed(store)
        store.reserve("o1", "c", [Unit(N1, "A", 2), Unit(N2, "A", 1)], 60.0)  # same id, a hold
        store.commit_reservation(store.get_reservation("o1"), "o1", {})
        store.create_order("o2", {"B": 1}, [Unit(N1, "B", 1)], {})
        store.transition("o1", "release")
        store.transition("o1", "ship", node=N2)
        store.transition("o1", "reject", node=N1, units=[Unit(N1, "A", 1)])
        store.transition("o1", "ship", node=N1)
        store.transition("o1", "return", restock=False)
        history = store.order_history("o1")
        assert [(e.type, e.data["state"], e.data["version"]) for e in history] == [
            ("order.created", "allocated", 1),
            ("order.allocated", "allocated", 1),
            ("order.released", "released", 2),
            ("order.shipped", "partially_shipped", 3),
            ("order.rejected", "partially_shipped", 4),
            ("order.lines_unfillable", "partially_shipped", 4),
            ("order.shipped", "shipped", 5),
            ("order.returned", "returned", 6),
        ]
        assert {e.subject for e in history} == {"o1"}
        assert history[0].data["reservation_id"] == "o1"
        assert history[1].data["units"] == [
            {"node": N1, "sku": "A", "qty": 2},
            {"node": N2, "sku": "A", "qty": 1},
        ]

    # --- idempotency

    def test_result_is_stored_with_the_effect(self, store: Store) -> None:
        """A call with an idempotency key stores its result; a key never used has none."""
        seed(store)
        assert store.idempotent_reply("k1") is None
        order = store.create_order(
            "o1", {"A": 1}, [Unit(N1, "A", 1)], {"d": [1, "x"], "a": None}, idem=idem("k1", "hash1")
        )
        reply = store.idempotent_reply("k1")
        assert reply is not None
        assert (reply.request_hash, reply.result) == ("hash1", order)

    def test_every_mutating_call_stores_its_result(self, store: Store) -> None:
        """reserve, release, commit, create, transition and adjust all store what they
        returned, exactly (times, document key order and all)."""
        seed(store)
        results: dict[str, Result] = {
            "reserve": store.reserve("h1", "c", [Unit(N1, "A", 1)], 60.0, idem=idem("reserve")),
            "release": store.release_reservation("h1", idem=idem("release")),
        }
        store.reserve("h2", "c", [Unit(N1, "A", 1)], 60.0)
        results["commit"] = store.commit_reservation(
            store.get_reservation("h2"), "o1", {"z": 1, "a": 2}, idem=idem("commit")
        )
        results["create"] = store.create_order(
            "o2", {"A": 1}, [Unit(N1, "A", 1)], {}, idem=idem("create")
        )
        results["cancel"] = store.transition("o1", "cancel", idem=idem("cancel"))
        results["adjust"] = store.adjust_stock(N1, "A", 1, "found", idem=idem("adjust"))
        for key, result in results.items():
            reply = store.idempotent_reply(key)
            assert reply is not None
            assert reply.result == result, key
        commit = store.idempotent_reply("commit")
        assert commit is not None
        assert isinstance(commit.result, OrderRecord)
        assert list(commit.result.document) == ["z", "a"]

    def test_failing_call_stores_no_result(self, store: Store) -> None:
        """A refused call stores no result, so the same key can be used again."""
        seed(store)
        with pytest.raises(InsufficientStock):
            store.reserve("h1", "c", [Unit(N1, "A", 99)], 60.0, idem=idem("k1"))
        with pytest.raises(NotFound):
            store.transition("nope", "cancel", idem=idem("k1"))
        with pytest.raises(Invalid):
            store.adjust_stock(N1, "A", -99, "x", idem=idem("k1"))
        assert store.idempotent_reply("k1") is None
        store.reserve("h1", "c", [Unit(N1, "A", 1)], 60.0, idem=idem("k1"))
        assert store.idempotent_reply("k1") is not None

    def test_completed_key_applies_nothing_again(self, store: Store) -> None:
        """A call with a completed key applies nothing: Replayed with the first result for
        the same request, IdempotencyMismatch for another."""
        seed(store)
        first = store.adjust_stock(N1, "A", 1, "found", idem=idem("k1", "h"))
        with pytest.raises(Replayed) as replayed:
            store.adjust_stock(N1, "A", 1, "found", idem=idem("k1", "h"))
        assert replayed.value.result == first
        with pytest.raises(IdempotencyMismatch):
            store.create_order("o1", {"A": 1}, [Unit(N1, "A", 1)], {}, idem=idem("k1", "other"))
        assert pos(store, N1, "A") == Position(N1, "A", 11, 2, 0, 0)

    def test_claim_lease(self, store: Store) -> None:
        """A claimed key is in flight for its lease; after it expires it can be claimed again."""
        assert store.claim_idempotency_key("k1", "h", lease_s=self.short_ttl_s) is None
        with pytest.raises(IdempotencyInFlight):
            store.claim_idempotency_key("k1", "h", lease_s=60.0)
        with pytest.raises(IdempotencyMismatch):
            store.claim_idempotency_key("k1", "other", lease_s=60.0)
        assert store.idempotent_reply("k1") is None
        store.shift_clock(self.short_ttl_s + 1)
        assert store.claim_idempotency_key("k1", "other", lease_s=60.0) is None
        with pytest.raises(IdempotencyInFlight):
            store.claim_idempotency_key("k1", "other", lease_s=60.0)

    def test_claim_of_a_completed_key(self, store: Store) -> None:
        """Claiming a completed key answers its result for the same request (to replay it),
        IdempotencyMismatch for another."""
        seed(store)
        assert store.claim_idempotency_key("k1", "h", lease_s=60.0) is None
        first = store.adjust_stock(N1, "A", 1, "found", idem=idem("k1", "h"))
        assert store.claim_idempotency_key("k1", "h", lease_s=60.0) == first
        assert store.claim_idempotency_key("k1", "h", lease_s=60.0) == first  # still done
        with pytest.raises(IdempotencyMismatch):
            store.claim_idempotency_key("k1", "other", lease_s=60.0)

    def test_call_under_another_requests_live_lease_is_mismatch(self, store: Store) -> None:
        """A call whose key is leased to another request is refused and applies nothing."""
        seed(store)
        store.claim_idempotency_key("k1", "h", lease_s=60.0)
        with pytest.raises(IdempotencyMismatch):
            store.adjust_stock(N1, "A", 1, "found", idem=idem("k1", "other"))
        store.adjust_stock(N1, "A", 1, "found", idem=idem("k1", "h"))
        assert pos(store, N1, "A").on_hand == 11

    def test_release_frees_an_in_flight_claim_at_once(self, store: Store) -> None:
        """A released claim can be claimed again within its lease, with any hash, and used."""
        seed(store)
        store.claim_idempotency_key("k1", "h", lease_s=60.0)
        with pytest.raises(InsufficientStock):
            store.create_order("o1", {"A": 99}, [Unit(N1, "A", 99)], {}, idem=idem("k1", "h"))
        store.release_idempotency_key("k1")
        assert store.idempotent_reply("k1") is None
        store.claim_idempotency_key("k1", "other", lease_s=60.0)  # no longer in flight
        store.release_idempotency_key("k1")
        store.claim_idempotency_key("k1", "h", lease_s=60.0)
        store.create_order("o1", {"A": 1}, [Unit(N1, "A", 1)], {}, idem=idem("k1", "h"))
        assert pos(store, N1, "A").allocated == 1

    def test_release_keeps_a_completed_key(self, store: Store) -> None:
        """Releasing a completed key is a no-op: its result stays and no effect runs twice."""
        seed(store)
        store.claim_idempotency_key("k1", "h", lease_s=60.0)
        first = store.adjust_stock(N1, "A", 1, "found", idem=idem("k1", "h"))
        store.release_idempotency_key("k1")
        reply = store.idempotent_reply("k1")
        assert reply is not None
        assert (reply.request_hash, reply.result) == ("h", first)
        assert store.claim_idempotency_key("k1", "h", lease_s=60.0) == first  # replays
        with pytest.raises(IdempotencyMismatch):
            store.claim_idempotency_key("k1", "other", lease_s=60.0)
        with pytest.raises(Replayed):
            store.adjust_stock(N1, "A", 1, "found", idem=idem("k1", "h"))
        assert pos(store, N1, "A").on_hand == 11

    def test_release_of_an_unknown_key_is_a_no_op(self, store: Store) -> None:
        """Releasing a key never claimed changes nothing (and appends no event)."""
        seed(store)
        before = store.events(0, 1000)
        store.release_idempotency_key("never-claimed")
        assert store.idempotent_reply("never-claimed") is None
        assert store.events(0, 1000) == before
        store.claim_idempotency_key("never-claimed", "h", lease_s=60.0)
        with pytest.raises(IdempotencyInFlight):
            store.claim_idempotency_key("never-claimed", "h", lease_s=60.0)

    # --- API keys

    def test_api_keys(self, store: Store) -> None:
        """Keys are created, found with their hash, listed, and revoked (still listed)."""
        made = store.create_api_key("k1", "ops", "hash-1", ["orders", "inventory"])
        assert (made.id, made.name, made.scopes, made.revoked) == (
            "k1",
            "ops",
            ("orders", "inventory"),
            False,
        )
        store.create_api_key("k2", "admin", "hash-2", ["admin"])
        assert store.find_api_key("k1") == (made, "hash-1")
        assert store.find_api_key("nope") is None
        store.revoke_api_key("k1")
        store.revoke_api_key("k1")
        found = store.find_api_key("k1")
        assert found is not None
        assert found[0].revoked
        assert [(k.id, k.revoked) for k in store.list_api_keys()] == [("k1", True), ("k2", False)]

    def test_the_last_admin_key_is_never_revoked(self, store: Store) -> None:
        """With two admin keys one may go; the last is a Conflict and stays valid."""
        store.create_api_key("a1", "one", "h1", ["admin"])
        store.create_api_key("a2", "two", "h2", ["orders", "admin"])
        store.create_api_key("o1", "ops", "h3", ["orders"])
        store.revoke_api_key("a1")
        with pytest.raises(Conflict, match="last admin key"):
            store.revoke_api_key("a2")
        store.revoke_api_key("o1")  # not an admin key: no rule
        assert [(k.id, k.revoked) for k in store.list_api_keys()] == [
            ("a1", True), ("a2", False), ("o1", True),
        ]  # fmt: skip
        store.revoke_api_key("a1")  # revoking again stays harmless

    def test_api_key_errors(self, store: Store) -> None:
        """A duplicate key id is a Conflict; revoking an unknown key is NotFound."""
        store.create_api_key("k1", "ops", "hash-1", ["orders"])
        with pytest.raises(Conflict):
            store.create_api_key("k1", "again", "hash-2", ["admin"])
        with pytest.raises(NotFound):
            store.revoke_api_key("nope")
        assert store.find_api_key("k1") is not None

    # --- health

    def test_webhooks(self, store: Store) -> None:
        """Subscriptions are created once, listed by creation, read back whole and deleted
        with their progress, replays and failures."""
        made = store.create_webhook(Webhook("w1", "http://h/a", ("order.*",), "whsec_x", 0))
        assert made.created_at == pytest.approx(store.now(), abs=5)
        store.create_webhook(Webhook("w2", "http://h/b", (), "whsec_y", 0))
        assert store.get_webhook("w1") == made
        assert [(w.id, w.event_types) for w in store.list_webhooks()] == [
            ("w1", ("order.*",)),
            ("w2", ()),
        ]
        with pytest.raises(Conflict, match="webhook w1 already exists"):
            store.create_webhook(Webhook("w1", "http://other", (), "whsec_z", 0))
        assert store.get_webhook("w1").url == "http://h/a"
        store.save_webhook_progress("w1", {"cursor": 1}, {"seq": 1})
        store.add_webhook_replay("w1", 0, 1)
        store.delete_webhook("w1")
        for call in (store.get_webhook, store.delete_webhook):
            with pytest.raises(NotFound, match="webhook w1 not found"):
                call("w1")
        with pytest.raises(NotFound, match="webhook w1 not found"):
            store.add_webhook_replay("w1", 0, 1)
        # a new webhook of the same id starts from nothing
        store.create_webhook(Webhook("w1", "http://h/c", (), "whsec_x", 0))
        assert store.webhook_progress("w1") is None
        assert store.webhook_failures("w1") == []
        assert store.webhook_replays("w1", 0) == []

    def test_webhook_progress_replays_and_failures(self, store: Store) -> None:
        """Progress is replaced whole with its failure appended in the same step; replays
        are read from an index on; failures come newest first; a deleted webhook's
        progress is not written back."""
        store.create_webhook(Webhook("w1", "http://h/a", ("*",), "whsec_x", 0))
        assert store.webhook_progress("w1") is None
        store.save_webhook_progress("w1", {"cursor": 3, "head": None})
        store.save_webhook_progress("w1", {"cursor": 4}, {"seq": 4, "error": "HTTP 500"})
        store.save_webhook_progress("w1", {"cursor": 7}, {"seq": 7, "error": "timed out"})
        assert store.webhook_progress("w1") == {"cursor": 7}
        assert store.webhook_failures("w1") == [
            {"seq": 7, "error": "timed out"},
            {"seq": 4, "error": "HTTP 500"},
        ]
        assert store.webhook_failures("w1", limit=1) == [{"seq": 7, "error": "timed out"}]
        assert store.add_webhook_replay("w1", 0, 5) == 1
        assert store.add_webhook_replay("w1", 10, 20) == 2
        assert store.webhook_replays("w1", 0) == [(0, 5), (10, 20)]
        assert store.webhook_replays("w1", 1) == [(10, 20)]
        assert store.webhook_replays("w1", 2) == []
        store.delete_webhook("w1")
        store.save_webhook_progress("w1", {"cursor": 9}, {"seq": 9})
        assert store.webhook_progress("w1") is None
        assert store.webhook_failures("w1") == []

    def test_job_documents_are_replaced_whole(self, store: Store) -> None:
        """A background job's document reads back as last saved (floats exact); unknown:
        None."""
        assert store.get_job("bj_1") is None
        store.save_job("bj_1", {"state": "running", "done": 3, "updated_at": ARRIVES_EXACT})
        store.save_job("bj_1", {"state": "succeeded", "result": {"allocated": 2, "n": [1]}})
        assert store.get_job("bj_1") == {"state": "succeeded", "result": {"allocated": 2, "n": [1]}}
        store.save_job("bj_2", {"updated_at": ARRIVES_EXACT})
        assert store.get_job("bj_2") == {"updated_at": ARRIVES_EXACT}

    def test_the_clock_moves_when_shifted(self, store: Store) -> None:
        """shift_clock moves now() and what the store stamps (a hold's expiry), at once."""
        seed(store)
        before = store.now()
        store.shift_clock(3600)
        assert 3600 <= store.now() - before < 3600 + 60
        hold = store.reserve("h", "c", [Unit(N1, "A", 1)], 10)
        assert 3600 <= hold.expires_at - 10 - before < 3600 + 60
        store.shift_clock(11)
        assert store.expire_reservations() == 1

    def test_ping_and_clock(self, store: Store) -> None:
        """ping() answers True and the store clock agrees with this machine's."""
        assert store.ping() is True
        assert abs(store.now() - time.time()) < 5.0
