"""The store contract for returns anywhere: a return received at any node, each line with
its disposition (mixed into `StoreContract`, so every store runs it)."""

import pytest

from sourcing_engine.domain import Item, Node, Unit
from sourcing_engine.errors import Invalid
from sourcing_engine.lifecycle import OrderState, ReturnLine
from sourcing_engine.stores.base import Store

SHIPS, TAKES = "R1", "R2"


def shipped_order(store: Store) -> None:
    """Order r1: 4 of A shipped from R1 (10 on hand there); R2 holds none of A."""
    store.upsert_nodes([Node(SHIPS, "warehouse", 40.0, -75.0), Node(TAKES, "store", 41.0, -75.0)])
    store.upsert_items([Item("A", 1.0)])
    store.set_stock(SHIPS, {"A": (10, 0)}, "count")
    store.create_order("r1", {"A": 4}, [Unit(SHIPS, "A", 4)], {})
    store.transition("r1", "ship", node=SHIPS)


def on_hand(store: Store) -> dict[str, int]:
    return {p.node: p.on_hand for p in store.positions(["A"])}


class ReturnContract:
    def test_a_return_restocks_where_it_is_received(self, store: Store) -> None:
        """Units shipped from R1 and returned to store R2 are sellable at R2 (its position
        created), not at R1; the event names the receiving node and the dispositions."""
        shipped_order(store)
        back = [ReturnLine(SHIPS, "A", 2, "restock")]
        order = store.transition("r1", "return", returns=back, at=TAKES)
        assert order.returned == (Unit(SHIPS, "A", 2),)
        assert order.state == OrderState.SHIPPED
        assert on_hand(store) == {SHIPS: 6, TAKES: 2}
        event = store.order_history("r1")[-1]
        assert event.type == "order.returned"
        assert event.data["received_at"] == TAKES
        assert event.data["lines"] == [
            {"node": SHIPS, "sku": "A", "qty": 2, "disposition": "restock"}
        ]
        assert event.data["restock"] is True

    def test_only_restocked_lines_add_stock(self, store: Store) -> None:
        """Restock, quarantine and write-off in one return: all are returned, only the
        restocked unit is on hand again; the order is returned once all came back."""
        shipped_order(store)
        back = [ReturnLine(SHIPS, "A", 1, d) for d in ("restock", "quarantine", "write_off")]
        back.append(ReturnLine(SHIPS, "A", 1, "quarantine"))
        order = store.transition("r1", "return", returns=back, at=TAKES)
        assert order.state == OrderState.RETURNED
        assert order.returned == (Unit(SHIPS, "A", 4),)
        assert on_hand(store) == {SHIPS: 6, TAKES: 1}
        data = store.order_history("r1")[-1].data
        assert [ln["disposition"] for ln in data["lines"]] == [
            "restock", "quarantine", "write_off", "quarantine",
        ]  # fmt: skip

    def test_a_return_without_a_node_restocks_the_shipping_node(self, store: Store) -> None:
        """Without a receiving node a restocked line goes back where it shipped from."""
        shipped_order(store)
        store.transition("r1", "return", returns=[ReturnLine(SHIPS, "A", 1)])
        assert on_hand(store) == {SHIPS: 7}

    @pytest.mark.parametrize(
        "args",
        [
            {"returns": [ReturnLine(SHIPS, "A", 1, "resell")]},  # type: ignore[arg-type]
            {"returns": [ReturnLine(SHIPS, "A", 1)], "units": [Unit(SHIPS, "A", 1)]},
            {"returns": [ReturnLine(SHIPS, "A", 0)]},
        ],
    )
    def test_bad_returns_are_refused_whole(self, store: Store, args: dict[str, object]) -> None:
        """An unknown disposition, units and returns together, or a zero quantity: Invalid,
        nothing returned or restocked."""
        shipped_order(store)
        with pytest.raises(Invalid):
            store.transition("r1", "return", at=TAKES, **args)  # type: ignore[arg-type]
        assert store.get_order("r1").returned == ()
        assert on_hand(store) == {SHIPS: 6}
