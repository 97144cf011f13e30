"""The store contract for pickup orders (lifecycle.py: ready, pick_up, not_collected) and
the not-collected sweep's read: a mixin of `StoreContract`, so every store runs it."""

import pytest

from sourcing_engine.domain import Position, Unit
from sourcing_engine.errors import Conflict
from sourcing_engine.lifecycle import OrderState
from sourcing_engine.stores.base import Store

N1, N2, N3 = "N1", "N2", "N3"  # contract.seed: N1 A 10 (2 safety), N2 A 4; N3 none


def _seed(store: Store) -> None:
    from tests.sourcing_engine.stores.contract import seed

    seed(store)


def _pos(store: Store, node: str, sku: str) -> Position:
    found = store.positions([sku], [node])
    return found[0] if found else Position(node, sku, 0, 0, 0, 0)


class PickupContract:
    """A pickup at N1: one unit on its shelf, two sent by N2 (a leg)."""

    def _pickup_order(self, store: Store) -> None:
        _seed(store)
        store.create_order("p1", {"A": 3}, [Unit(N1, "A", 1), Unit(N2, "A", 2)], {})

    def test_ready_only_once_every_unit_is_at_the_store(self, store: Store) -> None:
        """ready at N1 conflicts while N2 still holds units for the order; after N2 ships
        them (the leg) it is ready_for_pickup, with an order.ready_for_pickup event."""
        self._pickup_order(store)
        with pytest.raises(Conflict, match="still allocated at N2"):
            store.transition("p1", "ready", node=N1)
        store.transition("p1", "ship", node=N2)
        order = store.transition("p1", "ready", node=N1)
        assert order.state == OrderState.READY_FOR_PICKUP
        assert store.order_history("p1")[-1].data == {
            "node": N1, "state": "ready_for_pickup", "version": 3,
        }  # fmt: skip

    def test_pick_up_hands_everything_over(self, store: Store) -> None:
        """Picked up, the shelf unit leaves N1's on hand; the order is picked_up with every
        unit shipped; returning them all makes it returned."""
        self._pickup_order(store)
        store.transition("p1", "ship", node=N2)
        store.transition("p1", "ready", node=N1)
        order = store.transition("p1", "pick_up", node=N1)
        assert (order.state, order.allocations) == (OrderState.PICKED_UP, ())
        assert order.shipped == (Unit(N1, "A", 1), Unit(N2, "A", 2))
        assert _pos(store, N1, "A") == Position(N1, "A", 9, 2, 0, 0)
        assert store.order_history("p1")[-1].data["lines"] == {"A": 3}
        assert store.transition("p1", "return").state == OrderState.RETURNED

    def test_not_collected_returns_the_units_to_sellable_stock_at_the_store(
        self, store: Store
    ) -> None:
        """Not collected: the shelf unit is free again and the two units the leg brought
        are restocked on hand at N1, sellable there; units are conserved."""
        self._pickup_order(store)
        store.transition("p1", "ship", node=N2)
        store.transition("p1", "ready", node=N1)
        on_hand = sum(p.on_hand for p in store.positions(["A"]))
        order = store.transition("p1", "not_collected", node=N1)
        assert (order.state, order.allocations, order.lines) == (
            OrderState.NOT_COLLECTED, (), {"A": 2},
        )  # fmt: skip
        assert order.returned == (Unit(N2, "A", 2),)
        assert _pos(store, N1, "A") == Position(N1, "A", 12, 2, 0, 0)
        assert sum(p.on_hand for p in store.positions(["A"])) == on_hand + 2  # the leg's
        data = store.order_history("p1")[-1].data
        assert (data["freed"], data["restocked"]) == (
            [{"node": N1, "sku": "A", "qty": 1}], [{"node": N1, "sku": "A", "qty": 2}],
        )  # fmt: skip

    def test_pickups_waiting_lists_ready_orders_by_age(self, store: Store) -> None:
        """Orders ready for pickup before a moment are listed, longest waiting first; one
        picked up or not collected leaves the list."""
        _seed(store)
        for order_id in ("p1", "p2", "p3"):
            store.create_order(order_id, {"A": 1}, [Unit(N1, "A", 1)], {})
        first = store.transition("p2", "ready", node=N1)
        second = store.transition("p1", "ready", node=N1)
        assert store.pickups_waiting(store.now() + 1) == ["p2", "p1"]
        assert store.pickups_waiting(store.now() + 1, limit=1) == ["p2"]
        assert store.pickups_waiting(first.updated_at) == []
        assert store.pickups_waiting(second.updated_at) == ["p2"]
        store.transition("p2", "pick_up", node=N1)
        store.transition("p1", "not_collected", node=N1)
        assert store.pickups_waiting(store.now() + 1) == []
