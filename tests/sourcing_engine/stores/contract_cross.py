"""Where features built apart meet: events of transfers and stock counts carry their
resource (resources.py), and the order search knows the pickup fields. A mixin of
`StoreContract`, so every store (SQLite, Redis, the one-node Redis Cluster) runs it."""

import pytest

from sourcing_engine import resources
from sourcing_engine.domain import Inbound, Unit
from sourcing_engine.errors import Conflict, Invalid
from sourcing_engine.lifecycle import Backorder, TransferStep, transfer_inbound_id
from sourcing_engine.order_search import OrderQuery
from sourcing_engine.stock_sync import StockAdjustment, StockCount
from sourcing_engine.stores.base import Event, Store

N1, N2, N3 = "N1", "N2", "N3"  # contract.seed: N1 A 10 (2 safety), B 5; N2 A 4, B 2; N3 none
ARRIVES = 1_781_000_000.0


def _seed(store: Store) -> None:
    from tests.sourcing_engine.stores.contract import seed

    seed(store)


def _since(store: Store, seq: int) -> list[Event]:
    return store.events(seq, 10_000)


def _last_seq(store: Store) -> int:
    found = store.events(0, 100_000)
    return found[-1].seq if found else 0


def _position_now(store: Store, node: str, sku: str) -> dict[str, object]:
    (found,) = store.positions([sku], [node])
    return resources.position(found)


class CrossContract:
    def test_transfer_events_carry_the_transfer_and_receipts_the_position(
        self, store: Store
    ) -> None:
        """transfer.created / .shipped / .received each carry the transfer as it is after the
        step (as GET reads it); the receipt's inbound.received carries the destination's
        position after it."""
        _seed(store)
        created = store.create_transfer("t1", N1, N3, {"A": 3})
        shipped = store.transfer_step("t1", "ship", TransferStep(expected_at=ARRIVES))
        seq = _last_seq(store)
        received = store.transfer_step("t1", "receive", TransferStep(lines={"A": 2}))
        events = store.events(0, 10_000)
        by_type = {e.type: e for e in events if e.subject == "t1"}
        assert by_type["transfer.created"].resource == resources.transfer(created)
        assert by_type["transfer.shipped"].resource == resources.transfer(shipped)
        assert by_type["transfer.received"].resource == resources.transfer(received)
        assert received == store.get_transfer("t1")
        (receipt,) = [e for e in _since(store, seq) if e.type == "inbound.received"]
        assert receipt.resource == _position_now(store, N3, "A")

    def test_counts_and_bulk_adjustments_carry_the_position(self, store: Store) -> None:
        """stock.counted and each stock.adjusted of a batch carry the position after it."""
        _seed(store)
        seq = _last_seq(store)
        store.count_stock([StockCount(N1, "B", 7, source="pos")], "cycle")
        store.adjust_stock_many([StockAdjustment(N2, "B", 3, "found")])
        counted, adjusted = _since(store, seq)
        assert (counted.type, counted.resource) == ("stock.counted", _position_now(store, N1, "B"))
        assert (adjusted.type, adjusted.resource) == (
            "stock.adjusted", _position_now(store, N2, "B"),
        )  # fmt: skip

    def test_search_by_pickup_node_and_pickup_states(self, store: Store) -> None:
        """An order promised for pickup at a store is found by that store (pickup_node) and
        by method, and moves through the pickup states' status terms with its steps."""
        _seed(store)
        store.create_order("p1", {"A": 1}, [Unit(N1, "A", 1)], {
            "promise": {"method": "pickup", "store": N1}})  # fmt: skip
        store.create_order("s1", {"A": 1}, [Unit(N2, "A", 1)], {
            "promise": {"method": "ship_to_store", "store": N1}})  # fmt: skip
        store.create_order("h1", {"A": 1}, [Unit(N1, "A", 1)], {})
        store.create_order("c1", {"A": 1}, [Unit(N2, "A", 1)], {  # as click and collect keeps it
            "fulfillment": "pickup", "pickup": {"node": N2, "legs": [], "allow_transfer": False,
                                                "ready_at": None}})  # fmt: skip

        def ids(**filters: str) -> list[str]:
            return sorted(o.id for o in store.search_orders(OrderQuery.of(filters)).orders)

        assert ids(pickup_node=N1) == ["p1", "s1"]
        assert ids(pickup_node=N1, method="pickup") == ["p1"]
        assert ids(pickup_node=N2) == ids(pickup_node=N2, method="pickup") == ["c1"]
        assert ids(method="ship") == ["h1"]
        store.transition("p1", "ready", node=N1)
        assert ids(status="ready_for_pickup", pickup_node=N1) == ["p1"]
        store.transition("p1", "pick_up", node=N1)
        assert ids(status="picked_up") == ["p1"]
        assert ids(status="ready_for_pickup") == []

    def test_a_filled_backorder_carries_the_order_and_moves_its_search_terms(
        self, store: Store
    ) -> None:
        """The receipt's order.backorder_received carries the order after the fill, and the
        order leaves backordered_on=<po> and gains the PO node's node term atomically."""
        _seed(store)
        store.add_inbound([Inbound("po1", N3, "A", 5, ARRIVES)])
        store.create_order("b1", {"A": 3}, [Unit(N1, "A", 1)], {},
                           backorders=[Backorder("po1", N3, "A", 2, ARRIVES)])  # fmt: skip

        def ids(**filters: str) -> list[str]:
            return sorted(o.id for o in store.search_orders(OrderQuery.of(filters)).orders)

        assert ids(backordered_on="po1") == ["b1"]
        assert ids(node=N3) == []
        assert store.get_inbound("po1").backordered == 2
        store.receive_inbound("po1", 2)
        filled = store.get_order("b1")
        (event,) = [e for e in store.order_history("b1") if e.type == "order.backorder_received"]
        assert event.resource == resources.order(filled)
        assert event.resource["backordered"] == []
        assert ids(backordered_on="po1") == []
        assert ids(node=N3) == ["b1"]
        assert store.get_inbound("po1").backordered == 0

    def test_backorders_wait_on_purchase_orders_not_transfers(self, store: Store) -> None:
        """A transfer's receipt fills no backorder, so none may be made on its inbound; and
        a pickup with units still backordered is not ready."""
        _seed(store)
        store.create_transfer("t1", N1, N3, {"A": 3})
        store.transfer_step("t1", "ship", TransferStep(expected_at=ARRIVES))
        on_transfer = Backorder(transfer_inbound_id("t1", "A"), N3, "A", 1, ARRIVES)
        with pytest.raises(Invalid, match="purchase orders only"):
            store.create_order("b1", {"A": 1}, [], {}, backorders=[on_transfer])
        store.add_inbound([Inbound("po1", N1, "A", 5, ARRIVES)])
        store.create_order("p1", {"A": 2}, [Unit(N1, "A", 1)], {},
                           backorders=[Backorder("po1", N1, "A", 1, ARRIVES)])  # fmt: skip
        with pytest.raises(Conflict, match="backordered on po1"):
            store.transition("p1", "ready", node=N1)
