"""The store contract for backorders: units promised from open purchase orders, filled by
the receipt, given back by a cancel (mixed into `StoreContract`, so every store runs it)."""

from collections import Counter

import pytest

from sourcing_engine.domain import Inbound, Item, Node, Unit
from sourcing_engine.errors import InsufficientStock, Invalid, Shortage
from sourcing_engine.lifecycle import Backorder, OrderRecord, OrderState
from sourcing_engine.stores.base import IdempotencyKey, Replayed, Store

W = "W1"
AT1, AT2 = 1_800_000_000.0, 1_800_086_400.0


def seed_supply(store: Store) -> None:
    """W1 holds 2 of A (1 safety stock); po1 brings 5 A on AT1, po2 4 A on AT2."""
    store.upsert_nodes([Node(W, "warehouse", 40.0, -75.0, ship_capacity=1)])
    store.upsert_items([Item("A", 1.0)])
    store.set_stock(W, {"A": (2, 1)}, "count")
    store.add_inbound([Inbound("po1", W, "A", 5, AT1), Inbound("po2", W, "A", 4, AT2)])


def bo(inbound: str, qty: int) -> Backorder:
    return Backorder(inbound, W, "A", qty, AT1 if inbound == "po1" else AT2)


def waiting(store: Store) -> dict[str, tuple[int, int]]:
    """inbound id -> (open units, units orders wait for)."""
    return {b.id: (b.qty, b.backordered) for b in store.list_inbound(["A"])}


def conserved(order: OrderRecord) -> bool:
    """lines == allocated + shipped + backordered, per SKU."""
    held: Counter[str] = Counter()
    for u in (*order.allocations, *order.shipped):
        held[u.sku] += u.qty
    for b in order.backordered:
        held[b.sku] += b.qty
    return dict(held) == order.lines


class BackorderContract:
    def test_an_order_is_allocated_and_backordered_at_once(self, store: Store) -> None:
        """What stock covers is allocated, the rest promised from purchase orders; the
        order is open (allocated), its promises counted on each purchase order."""
        seed_supply(store)
        order = store.create_order("b1", {"A": 4}, [Unit(W, "A", 1)], {}, backorders=[bo("po1", 3)])
        assert order.state == OrderState.ALLOCATED
        assert order.allocations == (Unit(W, "A", 1),)
        assert order.backordered == (bo("po1", 3),)
        assert conserved(order)
        assert store.get_order("b1") == order
        assert waiting(store) == {"po1": (5, 3), "po2": (4, 0)}
        assert store.positions(["A"])[0].allocated == 1
        types = [e.type for e in store.order_history("b1")]
        assert types == ["order.created", "order.allocated", "order.backordered"]
        data = store.order_history("b1")[-1].data
        assert data["backorders"] == [
            {"inbound": "po1", "node": W, "sku": "A", "qty": 3, "expected_at": AT1}
        ]

    def test_an_order_may_be_backordered_whole(self, store: Store) -> None:
        """No unit on hand: the order waits for two purchase orders, by arrival."""
        seed_supply(store)
        order = store.create_order("b1", {"A": 7}, [], {}, backorders=[bo("po2", 2), bo("po1", 5)])
        assert order.allocations == ()
        assert order.backordered == (bo("po1", 5), bo("po2", 2))
        assert order.state == OrderState.ALLOCATED
        assert waiting(store) == {"po1": (5, 5), "po2": (4, 2)}

    def test_never_more_backordered_than_a_purchase_order_brings(self, store: Store) -> None:
        """A promise beyond a purchase order's open units no order waits for is refused
        whole (InsufficientStock naming the SKU, the node and what is left), and so is one
        on an unknown or received purchase order; nothing is written."""
        seed_supply(store)
        store.create_order("b1", {"A": 4}, [], {}, backorders=[bo("po1", 4)])
        with pytest.raises(InsufficientStock) as err:
            store.create_order("b2", {"A": 3}, [Unit(W, "A", 1)], {}, backorders=[bo("po1", 2)])
        assert err.value.shortages == (Shortage("A", (W,), 2, 1),)
        with pytest.raises(InsufficientStock):
            store.create_order("b3", {"A": 1}, [], {}, backorders=[bo("po9", 1)])
        assert waiting(store) == {"po1": (5, 4), "po2": (4, 0)}
        assert store.positions(["A"])[0].allocated == 0
        assert store.get_orders(["b2", "b3"]) == []

    def test_a_receipt_fills_backorders_oldest_first(self, store: Store) -> None:
        """A receipt allocates what it brings to the orders waiting for it, oldest first,
        in its own atomic step: each filled order moves on a version with an event; what
        is left of a receipt is sellable stock."""
        seed_supply(store)
        store.create_order("b1", {"A": 3}, [], {}, backorders=[bo("po1", 3)])
        store.create_order("b2", {"A": 2}, [], {}, backorders=[bo("po1", 2)])
        after = store.receive_inbound("po1", 4)
        assert (after.on_hand, after.allocated) == (6, 4)
        b1, b2 = store.get_orders(["b1", "b2"])
        assert b1.allocations == (Unit(W, "A", 3),)
        assert b1.backordered == ()
        assert b2.allocations == (Unit(W, "A", 1),)
        assert b2.backordered == (bo("po1", 1),)
        assert (b1.version, b2.version) == (2, 2)
        assert conserved(b1)
        assert conserved(b2)
        assert waiting(store) == {"po1": (1, 1), "po2": (4, 0)}
        filled = store.order_history("b2")[-1]
        assert filled.type == "order.backorder_received"
        assert filled.data["units"] == [{"node": W, "sku": "A", "qty": 1}]
        assert filled.data["version"] == 2
        store.receive_inbound("po1", 1)
        assert store.get_order("b2").backordered == ()
        assert waiting(store) == {"po2": (4, 0)}
        # a receipt with nobody waiting only adds stock
        assert store.receive_inbound("po2", 4).allocated == 5

    def test_a_filled_order_ships_and_is_charged_capacity(self, store: Store) -> None:
        """Filled units are charged to the node's day even when it is full (a receipt is
        never refused) and ship like any allocation."""
        seed_supply(store)
        store.create_order("b0", {"A": 1}, [Unit(W, "A", 1)], {}, days={W: "2030-01-01"})
        store.create_order("b1", {"A": 2}, [], {}, backorders=[bo("po1", 2)])
        store.receive_inbound("po1", 5, days={W: "2030-01-01"})
        assert store.capacity_used({W: "2030-01-01"}) == {W: (2, 3)}
        shipped = store.transition("b1", "ship", node=W)
        assert shipped.state == OrderState.SHIPPED
        assert store.positions(["A"])[0].on_hand == 5

    def test_cancel_gives_backorders_back(self, store: Store) -> None:
        """Cancelling backordered units frees the purchase order's promise; a whole cancel
        ends the order, allocations and backorders alike."""
        seed_supply(store)
        store.create_order("b1", {"A": 6}, [Unit(W, "A", 1)], {},
                           backorders=[bo("po1", 3), bo("po2", 2)])  # fmt: skip
        part = store.transition("b1", "cancel", backorders=[bo("po2", 2)])
        assert part.backordered == (bo("po1", 3),)
        assert part.lines == {"A": 4}
        assert conserved(part)
        assert waiting(store) == {"po1": (5, 3), "po2": (4, 0)}
        done = store.transition("b1", "cancel")
        assert done.state == OrderState.CANCELLED
        assert done.backordered == ()
        assert waiting(store) == {"po1": (5, 0), "po2": (4, 0)}
        assert store.positions(["A"])[0].allocated == 0
        # a receipt after the cancel fills nobody
        assert store.receive_inbound("po1", 5).allocated == 0
        assert store.get_order("b1").version == done.version

    def test_a_backordered_order_is_open_until_filled(self, store: Store) -> None:
        """Shipping every allocated unit of an order still waiting leaves it partially
        shipped, not shipped; the fill reopens nothing and the last ship ends it."""
        seed_supply(store)
        store.create_order("b1", {"A": 2}, [Unit(W, "A", 1)], {}, backorders=[bo("po1", 1)])
        part = store.transition("b1", "ship", node=W)
        assert part.state == OrderState.PARTIALLY_SHIPPED
        store.receive_inbound("po1", 1)
        assert store.transition("b1", "ship", node=W).state == OrderState.SHIPPED

    def test_a_receipt_with_fills_replays_its_key(self, store: Store) -> None:
        """A keyed receipt applies once: the replay fills nothing again."""
        seed_supply(store)
        store.create_order("b1", {"A": 3}, [], {}, backorders=[bo("po1", 3)])
        key = IdempotencyKey("r1", "h")
        first = store.receive_inbound("po1", 2, key)
        with pytest.raises(Replayed) as again:
            store.receive_inbound("po1", 2, key)
        assert again.value.result == first
        order = store.get_order("b1")
        assert order.backordered == (bo("po1", 1),)
        assert order.version == 2

    def test_an_upsert_never_leaves_backorders_uncovered(self, store: Store) -> None:
        """A purchase order orders wait for cannot shrink below what they wait for, nor
        move to another node or SKU (Invalid, nothing written); growing it is fine."""
        seed_supply(store)
        store.create_order("b1", {"A": 3}, [], {}, backorders=[bo("po1", 3)])
        for changed in (Inbound("po1", W, "A", 2, AT1), Inbound("po1", "W2", "A", 5, AT1),
                        Inbound("po1", W, "B", 5, AT1)):  # fmt: skip
            with pytest.raises(Invalid, match="po1"):
                store.add_inbound([Inbound("po2", W, "A", 1, AT2), changed])
            assert waiting(store) == {"po1": (5, 3), "po2": (4, 0)}
        store.add_inbound([Inbound("po1", W, "A", 8, AT2)])
        assert waiting(store) == {"po2": (4, 0), "po1": (8, 3)}
