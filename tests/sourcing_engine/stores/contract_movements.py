"""Every change of on hand is a stock-sync movement (stock_sync.py), whichever feature makes
it: transfers, pickups, and the order steps. A count taken before such a change and applied
after it must land on the shelf as it is now, correcting nothing. A mixin of
`StoreContract`, so every store (SQLite, Redis, the one-node Redis Cluster) runs it."""

import time
from collections.abc import Callable, Sequence

from sourcing_engine.domain import Inbound, Unit
from sourcing_engine.lifecycle import Backorder, OrderAction, ReturnLine, TransferStep
from sourcing_engine.stock_sync import StockCount
from sourcing_engine.stores.base import Store

N1, N2, N3 = "N1", "N2", "N3"  # contract.seed: N1 A 10 (2 safety), B 5; N2 A 4, B 2; N3 none
ARRIVES = 1_781_000_000.0


def _seed(store: Store) -> None:
    from tests.sourcing_engine.stores.contract import seed

    seed(store)


def _on_hand(store: Store, node: str, sku: str) -> int:
    found = store.positions([sku], [node])
    return found[0].on_hand if found else 0


def assert_late_counts_see(
    store: Store, positions: Sequence[tuple[str, str]], change: Callable[[], object]
) -> None:
    """Count `positions` (their on hand), let `change` run, then apply those counts as of
    before it: each must leave on hand as the change left it, with no correction."""
    counted = {(n, s): _on_hand(store, n, s) for n, s in positions}
    time.sleep(0.002)
    taken = store.now()
    time.sleep(0.002)
    change()
    now = {(n, s): _on_hand(store, n, s) for n, s in positions}
    assert now != counted, "the change under test moved no stock"
    after = store.count_stock(
        [StockCount(n, s, counted[(n, s)], as_of=taken, source="wms") for n, s in positions],
        "late count",
    )
    assert {(p.node, p.sku): p.on_hand for p in after} == now
    corrections = [e.data["correction"] for e in store.events(0, 10_000)[-len(positions) :]]
    assert corrections == [0] * len(positions)


class MovementContract:
    def test_a_transfer_shipped_and_received_is_a_movement_at_both_ends(self, store: Store) -> None:
        """Source and destination counted before a transfer ships and is received in part:
        the late counts keep the shipment off the source and the receipt at the destination."""
        _seed(store)
        store.create_transfer("t1", N1, N3, {"A": 3})

        def move() -> None:
            store.transfer_step("t1", "ship", TransferStep(expected_at=ARRIVES))
            store.transfer_step("t1", "receive", TransferStep(lines={"A": 2}))

        assert_late_counts_see(store, [(N1, "A"), (N3, "A")], move)

    def test_a_pickup_collected_or_not_is_a_movement_at_the_store(self, store: Store) -> None:
        """A pickup at N1 with a leg from N2: the leg's shipment, the shelf unit picked up,
        and (another order) the leg's units restocked at the store when not collected."""
        _seed(store)
        for order_id in ("p1", "p2"):
            store.create_order(order_id, {"A": 2}, [Unit(N1, "A", 1), Unit(N2, "A", 1)], {})

        def collect_one_not_the_other() -> None:
            last_steps: tuple[tuple[str, OrderAction], ...] = (
                ("p1", "pick_up"), ("p2", "not_collected"),
            )  # fmt: skip
            for order_id, last in last_steps:
                store.transition(order_id, "ship", node=N2)
                store.transition(order_id, "ready", node=N1)
                store.transition(order_id, last, node=N1)

        assert_late_counts_see(store, [(N1, "A"), (N2, "A")], collect_one_not_the_other)

    def test_order_shipments_and_returns_are_movements(self, store: Store) -> None:
        """An order shipped from two nodes, one parcel a part of a node's units, then
        returned in part: every step's change."""
        _seed(store)
        store.create_order("o1", {"A": 3, "B": 1}, [Unit(N1, "A", 2), Unit(N2, "A", 1),
                                                    Unit(N1, "B", 1)], {})  # fmt: skip

        def ship_and_return() -> None:
            store.transition("o1", "ship", node=N1, units=[Unit(N1, "A", 1)])
            store.transition("o1", "ship", node=N1)
            store.transition("o1", "ship", node=N2)
            store.transition("o1", "return", units=[Unit(N1, "A", 1)])

        assert_late_counts_see(store, [(N1, "A"), (N2, "A"), (N1, "B")], ship_and_return)

    def test_a_receipt_filling_backorders_and_a_return_elsewhere_are_movements(
        self, store: Store
    ) -> None:
        """A purchase order received while an order waits for it (the units land on hand,
        then go to the order), and a return received and restocked at another node."""
        _seed(store)
        store.add_inbound([Inbound("po1", N3, "A", 5, ARRIVES)])
        store.create_order("b1", {"A": 3}, [Unit(N1, "A", 1)], {},
                           backorders=[Backorder("po1", N3, "A", 2, ARRIVES)])  # fmt: skip
        store.create_order("r1", {"B": 2}, [Unit(N1, "B", 2)], {})
        store.transition("r1", "ship", node=N1)

        def receive_and_return() -> None:
            store.receive_inbound("po1", 4)
            store.transition("r1", "return", returns=[ReturnLine(N1, "B", 2)], at=N2)

        assert_late_counts_see(store, [(N3, "A"), (N2, "B")], receive_and_return)
