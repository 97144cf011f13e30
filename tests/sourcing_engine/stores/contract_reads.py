"""The store contract's reads an integrator needs: the order search (order_search.py).

Mixed into `StoreContract`, so every store (SQLite, Redis, the one-node Redis Cluster) runs it.
"""

import random
import threading
from typing import Any

import pytest

from sourcing_engine.domain import Unit
from sourcing_engine.lifecycle import OrderAction, OrderRecord
from sourcing_engine.order_search import OrderQuery, index_terms
from sourcing_engine.stores.base import Store

NODES = ("N1", "N2")


def stocked(store: Store, units: int = 10_000) -> None:
    from sourcing_engine.domain import Node

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
