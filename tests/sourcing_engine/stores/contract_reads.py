"""The store contract's reads an integrator needs: the order search (order_search.py).

Mixed into `StoreContract`, so every store (SQLite, Redis, the one-node Redis Cluster) runs it.
"""

import random
import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from sourcing_engine import resources
from sourcing_engine.domain import Inbound, Item, Node, Unit
from sourcing_engine.errors import NotFound
from sourcing_engine.lifecycle import OrderAction, OrderRecord
from sourcing_engine.order_search import OrderQuery, index_terms
from sourcing_engine.stores.base import Event, Store

NODES = ("N1", "N2")


def stocked(store: Store, units: int = 10_000) -> None:
    store.upsert_nodes([Node(n, "store", 40.0, -75.0) for n in NODES])
    for node in NODES:
        store.set_stock(node, {"A": (units, 0)}, "count")


def make(store: Store, order_id: str, node: str = "N1", **doc: Any) -> OrderRecord:
    return store.create_order(order_id, {"A": 1}, [Unit(node, "A", 1)], doc)


def all_pages(store: Store, query: OrderQuery) -> list[str]:
    """Every order id the query lists, page by page."""
    ids: list[str] = []
    for _ in range(10_000):
        page = store.search_orders(query)
        ids += [o.id for o in page.orders]
        if page.next_cursor is None:
            return ids
        query = OrderQuery(query.terms, query.created_from, query.created_to,
                           page.next_cursor, query.limit)  # fmt: skip
    raise AssertionError("the pages never ended")


def res(event: Event) -> dict[str, Any]:
    """The event's resource (every event this contract makes has one)."""
    assert event.resource is not None, f"{event.type} carries no resource"
    return event.resource


class ReadsContract:
    def test_search_lists_newest_first_in_pages(self, store: Store) -> None:
        """Without filters every order comes back once, newest first, over several pages."""
        stocked(store)
        made = [make(store, f"o{k:02d}") for k in range(7)]
        want = [o.id for o in sorted(made, key=lambda o: (o.created_at, o.id), reverse=True)]
        assert all_pages(store, OrderQuery(limit=3)) == want
        page = store.search_orders(OrderQuery(limit=100))
        assert [o.id for o in page.orders] == want
        assert page.next_cursor is None
        assert page.orders[0] == store.get_order(want[0])  # whole records, as get_order reads
        assert store.search_orders(OrderQuery(limit=7)).next_cursor is None  # exactly the last
        assert store.search_orders(OrderQuery(limit=6)).next_cursor is not None

    def test_search_filters_by_every_field_and_follows_steps(self, store: Store) -> None:
        """Each field finds exactly its orders, several filters must all hold, and a step
        moves the order between status terms (and node terms) atomically with its write."""
        stocked(store)
        make(
            store,
            "a",
            "N1",
            external_reference="EXT-1",
            customer_reference="C-7",
            destination={"zip": "sw1a 1aa", "lat": 1, "lon": 2},
        )
        make(store, "b", "N2", customer_reference="C-7")
        make(store, "c", "N2", promise={"method": "pickup"})

        def ids(**filters: str) -> list[str]:
            return sorted(o.id for o in store.search_orders(OrderQuery.of(filters)).orders)

        assert ids(external_reference="EXT-1") == ["a"]
        assert ids(customer_reference="C-7") == ["a", "b"]
        assert ids(postal_code="SW1A1AA") == ids(postal_code="Sw1a 1aa") == ["a"]
        assert ids(node="N2") == ["b", "c"]
        assert ids(method="pickup") == ["c"]
        assert ids(method="ship") == ["a", "b"]
        assert ids(status="allocated") == ["a", "b", "c"]
        assert ids(customer_reference="C-7", node="N2") == ["b"]
        assert ids(customer_reference="nobody") == []
        store.transition("b", "release")
        assert ids(status="allocated") == ["a", "c"]
        assert ids(status="released") == ["b"]
        store.transition("c", "cancel")
        assert ids(node="N2") == ["b"]
        assert ids(status="cancelled") == ["c"]
        assert ids(status="cancelled", method="pickup") == ["c"]

    def test_search_by_creation_time(self, store: Store) -> None:
        """created_from is inclusive, created_to exclusive, and both combine with a cursor."""
        stocked(store)
        made = [make(store, f"t{k}") for k in range(6)]
        times = sorted(o.created_at for o in made)
        q = OrderQuery(created_from=times[1], created_to=times[4], limit=1)
        want = [o.id for o in sorted(made, key=lambda o: (o.created_at, o.id), reverse=True)
                if times[1] <= o.created_at < times[4]]  # fmt: skip
        assert all_pages(store, q) == want
        assert len(want) >= 3

    def test_search_pages_are_stable_under_concurrent_inserts(self, store: Store) -> None:
        """Orders created while a client pages through never make it skip or repeat one of
        the orders that were there when it started."""
        stocked(store)
        before = {make(store, f"old{k:03d}", random.Random(k).choice(NODES)).id for k in range(40)}
        stop = threading.Event()

        def insert() -> None:
            k = 0
            while not stop.is_set():
                make(store, f"new{k:04d}")
                k += 1

        writer = threading.Thread(target=insert)
        writer.start()
        try:
            listed = all_pages(store, OrderQuery(limit=4))
        finally:
            stop.set()
            writer.join()
        assert len(listed) == len(set(listed)), "an order was listed twice"
        assert before <= set(listed), f"skipped: {sorted(before - set(listed))}"

    def test_search_terms_are_the_orders_terms(self, store: Store) -> None:
        """After random steps, every order is found by each of its own terms (and only
        those): the index never drifts from the orders."""
        stocked(store)
        rng = random.Random(7)
        for k in range(12):
            make(store, f"r{k}", rng.choice(NODES), customer_reference=f"c{k % 3}")
        for k in range(12):
            action: OrderAction | None = rng.choice(["release", "cancel", None])
            if action is not None:
                store.transition(f"r{k}", action)
        orders = store.get_orders([f"r{k}" for k in range(12)])
        every = {t for o in orders for t in index_terms(o)}
        for t in every:
            found = {o.id for o in store.search_orders(OrderQuery(terms=(t,), limit=100)).orders}
            assert found == {o.id for o in orders if t in index_terms(o)}, t

    def test_search_refuses_an_unknown_field_and_a_bad_cursor(self, store: Store) -> None:
        from sourcing_engine.errors import Invalid
        from sourcing_engine.order_search import decode_cursor

        with pytest.raises(Invalid, match="colour: not a field"):
            OrderQuery.of({"colour": "red"})
        with pytest.raises(Invalid, match="cursor"):
            decode_cursor("not-a-cursor")

    # --- every event carries its resource after the change (sourcing_engine/resources.py)

    def test_every_event_carries_its_resource_after_the_change(self, store: Store) -> None:
        """Stock, holds, orders and settings: each event's resource is the record as a read
        right after the change gives it."""
        stocked(store)

        def last() -> Event:
            return store.events(0, 10_000)[-1]

        store.set_stock("N1", {"B": (5, 1), "A": (20, 2)}, "count")
        counted = store.positions(["A", "B"], ["N1"])
        assert last().resource == resources.stock_count("N1", counted)
        after = store.adjust_stock("N1", "A", -3, "damaged")
        assert last().resource == resources.position(after)
        hold = store.reserve("h1", "cart", [Unit("N1", "A", 2)], 600.0)
        assert last().resource == resources.hold(hold)
        assert res(last())["units"] == [{"node": "N1", "sku": "A", "qty": 2}]
        assert res(last())["state"] == "active"
        store.release_reservation("h1")
        assert last().resource == resources.hold(store.get_reservation("h1"))
        assert res(last())["state"] == "released"
        store.reserve("h2", "cart", [Unit("N2", "A", 1)], 600.0)
        order = store.commit_reservation(store.get_reservation("h2"), "o2", {"n": 2})
        committed = [e for e in store.events(0, 10_000) if e.type == "reservation.committed"]
        assert committed[-1].resource == resources.hold(store.get_reservation("h2"))
        assert res(committed[-1])["order_id"] == "o2"
        assert last().resource == resources.order(order)
        shipped = store.transition("o2", "ship", node="N2")
        assert last().type == "order.shipped"
        assert last().resource == resources.order(shipped)
        assert res(last())["shipped"] == [{"node": "N2", "sku": "A", "qty": 1}]
        store.put_setting("network", {"currency": "EUR"})
        assert last().resource == {"name": "network", "version": 1, "value": {"currency": "EUR"}}

    def test_expired_hold_event_carries_the_hold(self, store: Store) -> None:
        stocked(store)
        store.reserve("h1", "cart", [Unit("N1", "A", 1)], 0.05)
        time.sleep(0.3)
        assert store.expire_reservations() == 1
        event = store.events(0, 10_000)[-1]
        assert event.type == "reservation.expired"
        assert event.resource == resources.hold(store.get_reservation("h1"))
        assert res(event)["state"] == "expired"

    def test_receipt_carries_the_position(self, store: Store) -> None:
        stocked(store)
        store.add_inbound([Inbound("po1", "N1", "A", 5, 1e9)])
        after = store.receive_inbound("po1", 2)
        event = store.events(0, 10_000)[-1]
        assert (event.type, event.resource) == ("inbound.received", resources.position(after))
        assert store.get_inbound("po1") == Inbound("po1", "N1", "A", 3, 1e9)

    def test_reference_data_changes_are_events(self, store: Store) -> None:
        """Nodes, items and purchase orders: created, then updated only when a field changes,
        each with the record as its resource."""
        node = Node("X1", "store", 45.5, 9.2, ship_capacity=4)
        item = Item("S1", 1.5, (3.0, 2.0, 1.0))
        po = Inbound("po9", "X1", "S1", 12, 1_800_000_000.25)

        def changes() -> list[tuple[str, str, dict[str, Any] | None]]:
            return [(e.type, e.subject, e.resource) for e in store.events(0, 10_000)]

        store.upsert_nodes([node])
        store.upsert_items([item])
        store.add_inbound([po])
        assert changes() == [
            ("node.created", "node:X1", resources.node(node)),
            ("item.created", "item:S1", resources.item(item)),
            ("inbound.created", "inbound:po9", resources.inbound(po)),
        ]
        seen = len(changes())
        store.upsert_nodes([node])  # the same records again: nothing changed, no event
        store.upsert_items([item])
        store.add_inbound([po])
        assert len(changes()) == seen
        moved = replace(node, ship_capacity=9)
        later = replace(po, qty=10, expected_at=1_800_086_400.5)
        store.upsert_nodes([moved])
        store.upsert_items([replace(item, weight_lb=2.0)])
        store.add_inbound([later])
        assert changes()[seen:] == [
            ("node.updated", "node:X1", resources.node(moved)),
            ("item.updated", "item:S1", resources.item(replace(item, weight_lb=2.0))),
            ("inbound.updated", "inbound:po9", resources.inbound(later)),
        ]
        assert store.get_inbound("po9") == later
        with pytest.raises(NotFound, match="inbound nope"):
            store.get_inbound("nope")

    def test_search_index_holds_under_concurrent_steps(self, store: Store) -> None:
        """Threads creating, releasing, shipping and cancelling orders at once: afterwards
        each term finds exactly the orders that have it (the index is written with each
        order, atomically; no step leaves a stale or missing entry)."""
        stocked(store)
        errors: list[BaseException] = []

        def work(worker: int) -> None:
            rng = random.Random(worker)
            try:
                for k in range(15):
                    oid = f"w{worker}-{k}"
                    make(store, oid, rng.choice(NODES), customer_reference=f"c{worker % 2}")
                    node = store.get_order(oid).allocations[0].node
                    steps: list[tuple[OrderAction, str | None]] = rng.choice(
                        [[], [("release", None)], [("cancel", None)], [("ship", node)],
                         [("release", None), ("ship", node)]]
                    )  # fmt: skip
                    for action, at in steps:
                        store.transition(oid, action, node=at)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], errors
        orders = store.get_orders([f"w{w}-{k}" for w in range(4) for k in range(15)])
        assert len(orders) == 60
        for term in {t for o in orders for t in index_terms(o)}:
            query = OrderQuery(terms=(term,), limit=100)
            found = {o.id for o in store.search_orders(query).orders}
            assert found == {o.id for o in orders if term in index_terms(o)}, term
        every = store.search_orders(OrderQuery(limit=1000)).orders
        assert sorted(o.id for o in every) == sorted(o.id for o in orders)
