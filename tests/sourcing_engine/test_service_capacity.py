"""Live node capacity in the service, on SQLite and Redis: orders and batches are sourced
on what each node has left today, a full node is passed over, an order nothing can take
is refused naming the full nodes, cancels give capacity back; days in the node's zone."""

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from sourcing_engine.domain import Destination, Item, Node, NodeCalendar, Order
from sourcing_engine.errors import InsufficientCapacity, InsufficientStock
from sourcing_engine.service import NodeCapacity, Service
from tests.conftest import fresh_store

NEW_YORK, LOS_ANGELES = "America/New_York", "America/Los_Angeles"
# NJ is the cheapest for a New York customer; it ships 2 shipments (3 units) a day
NJ = Node("DC-NJ", "warehouse", 40.79, -74.06, ship_capacity=2, unit_capacity=3,
          calendar=NodeCalendar(time_zone=NEW_YORK))  # fmt: skip
NYC = Node("ST-NYC", "store", 40.75, -73.99, handling_per_shipment=4.0,
           calendar=NodeCalendar(time_zone=NEW_YORK))  # fmt: skip
LA = Node("DC-LA", "warehouse", 34.05, -118.24, ship_capacity=0,
          calendar=NodeCalendar(time_zone=LOS_ANGELES))  # fmt: skip
CUSTOMER = Destination(40.71, -74.01)


@pytest.fixture(params=["sqlite", "redis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A (10 at NJ, 2 at the Manhattan store, 10 at LA, which ships nothing: capacity 0)."""
    svc = Service(fresh_store(request, tmp_path, "capacity"))
    svc.upsert_nodes([NJ, NYC, LA])
    svc.upsert_items([Item("A", 1.0)])
    for node, qty in (("DC-NJ", 10), ("ST-NYC", 2), ("DC-LA", 10)):
        svc.set_stock(node, {"A": (qty, 0)}, "count")
    yield svc
    svc.close()


def nodes_of(service: Service, order_id: str) -> dict[str, int]:
    return {u.node: u.qty for u in service.get_order(order_id).order.allocations}


def test_a_full_node_is_passed_over_and_the_rest_refused(service: Service) -> None:
    """NJ takes orders until its 3 units are used; the next order goes to the dearer store;
    once the store's stock is gone too, an order is refused naming NJ's full day (LA,
    with stock but capacity 0, never ships); a cancel gives NJ's capacity back."""
    today = service.node_days(["DC-NJ"])["DC-NJ"]
    service.create_order(Order.of("o1", CUSTOMER, [("A", 2)]))
    service.create_order(Order.of("o2", CUSTOMER, [("A", 1)]))
    assert (nodes_of(service, "o1"), nodes_of(service, "o2")) == ({"DC-NJ": 2}, {"DC-NJ": 1})
    assert service.capacity(["DC-NJ"]) == [NodeCapacity("DC-NJ", today, 2, 3, 2, 3)]
    service.create_order(Order.of("o3", CUSTOMER, [("A", 2)]))
    assert nodes_of(service, "o3") == {"ST-NYC": 2}
    with pytest.raises(InsufficientCapacity) as refused:
        service.create_order(Order.of("o4", CUSTOMER, [("A", 1)]))
    assert "no capacity left today" in str(refused.value)
    assert {(c.node, c.what) for c in refused.value.shorts} == {
        ("DC-NJ", "shipments"), ("DC-NJ", "units"),
    }  # fmt: skip
    assert service.stock("A").total("allocated") == 5
    service.cancel("o2")
    assert service.capacity(["DC-NJ"])[0].units_left == 1
    service.create_order(Order.of("o5", CUSTOMER, [("A", 1)]))
    assert nodes_of(service, "o5") == {"DC-NJ": 1}
    with pytest.raises(InsufficientStock):  # more than all the stock: a stock shortage
        service.create_order(Order.of("o6", CUSTOMER, [("A", 50)]))


def test_a_batch_respects_what_is_left(service: Service) -> None:
    """A batch's joint plan and its allocations never pass NJ's capacity left today."""
    service.create_order(Order.of("o0", CUSTOMER, [("A", 1)]))
    orders = [Order.of(f"b{k}", CUSTOMER, [("A", 1)]) for k in range(4)]
    outcomes = service.allocate_batch(orders).outcomes
    placed = [nodes_of(service, o.order_id) for o in outcomes if o.done is not None]
    assert sum(p.get("DC-NJ", 0) for p in placed) == 1  # 2 shipments a day: one was left
    assert sum(p.get("ST-NYC", 0) for p in placed) == 2
    assert [o.error is not None for o in outcomes].count(True) == 1
    used = {c.node: (c.shipments, c.units) for c in service.capacity()}
    assert used == {"DC-NJ": (2, 2), "ST-NYC": (2, 2), "DC-LA": (0, 0)}


def test_days_are_the_nodes_local_dates(service: Service) -> None:
    """At 05:00 UTC on June 10 it is the 10th in New York (01:00) and the 9th in Los
    Angeles (22:00); capacity read for a given day shows that day."""
    at = dt.datetime(2026, 6, 10, 5, 0, tzinfo=dt.UTC)
    assert service.node_days(["DC-NJ", "DC-LA"], at) == {
        "DC-NJ": "2026-06-10", "DC-LA": "2026-06-09",
    }  # fmt: skip
    assert service.capacity(["DC-NJ"], dt.date(2020, 1, 1)) == [
        NodeCapacity("DC-NJ", "2020-01-01", 2, 3, 0, 0)
    ]
