"""Click and collect in the service, on SQLite and Redis: a pickup order from the store's
shelf, or with a leg from another node when it allows a transfer; ready, picked up, or not
collected by the sweep after the network's pickup_days (units sellable at the store
again); holds that carry the pickup into their order; dates from the promise's calendars."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sourcing_engine.domain import (
    Destination,
    Item,
    Node,
    NodeCalendar,
    Order,
    Pickup,
    Position,
    Unit,
)
from sourcing_engine.errors import Conflict, InsufficientStock, Invalid, UnknownNode
from sourcing_engine.lifecycle import OrderState, pickup_of
from sourcing_engine.service import Service
from tests.conftest import fresh_store

NEW_YORK = "America/New_York"
NJ = Node("DC-NJ", "warehouse", 40.79, -74.06, calendar=NodeCalendar(time_zone=NEW_YORK))
BK = Node("ST-BK", "store", 40.68, -73.98, calendar=NodeCalendar(time_zone=NEW_YORK))
QN = Node("ST-QN", "store", 40.73, -73.79, calendar=NodeCalendar(time_zone=NEW_YORK))
DAY_S = 86400.0


@pytest.fixture(params=["sqlite", "redis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A: 1 on the Brooklyn store's shelf, 5 at the NJ warehouse, 2 at Queens."""
    svc = Service(fresh_store(request, tmp_path, "pickup"))
    svc.upsert_nodes([NJ, BK, QN])
    svc.upsert_items([Item("A", 1.0)])
    for node, qty in (("ST-BK", 1), ("DC-NJ", 5), ("ST-QN", 2)):
        svc.set_stock(node, {"A": (qty, 0)}, "count")
    yield svc
    svc.close()


def position(service: Service, node: str) -> Position:
    return next(p for p in service.stock("A").positions if p.node == node)


def test_from_the_shelf_then_picked_up(service: Service) -> None:
    """On the shelf: allocated at the store, ready by the store's pickup preparation on its
    opening hours; shipping it from the store is refused (it is handed over), ready, then
    picked up: the unit leaves the store's on hand."""
    order = service.create_pickup_order("p1", {"A": 1}, Pickup("ST-BK")).value
    assert order.allocations == (Unit("ST-BK", "A", 1),)
    pickup = pickup_of(order)
    assert pickup is not None
    assert (pickup["node"], pickup["legs"], order.document["fulfillment"]) == (
        "ST-BK", [], "pickup",
    )  # fmt: skip
    ready_at = dt.datetime.fromisoformat(pickup["ready_at"])
    assert dt.datetime.now(dt.UTC) < ready_at < dt.datetime.now(dt.UTC) + dt.timedelta(days=4)
    with pytest.raises(Conflict, match="handed over by pick_up"):
        service.ship("p1", "ST-BK")
    with pytest.raises(Conflict, match="ready_for_pickup"):
        service.pick_up("p1")
    assert service.ready_for_pickup("p1").value.state == OrderState.READY_FOR_PICKUP
    assert service.pick_up("p1").value.state == OrderState.PICKED_UP
    assert position(service, "ST-BK").on_hand == 0


def test_a_leg_only_when_the_order_allows_it(service: Service) -> None:
    """Three for Brooklyn, which has one: refused naming the store's short line unless a
    transfer is allowed; then one from the shelf and two by a leg from elsewhere (not the
    store), ready only once the leg shipped, dated no earlier than the leg's arrival."""
    with pytest.raises(InsufficientStock) as short:
        service.create_pickup_order("p1", {"A": 3}, Pickup("ST-BK"))
    assert [(s.sku, s.nodes, s.requested, s.available) for s in short.value.shortages] == [
        ("A", ("ST-BK",), 3, 1)
    ]
    order = service.create_pickup_order("p1", {"A": 3}, Pickup("ST-BK", allow_transfer=True))
    units = {u.node: u.qty for u in order.value.allocations}
    assert units["ST-BK"] == 1
    assert sum(units.values()) == 3
    legs = sorted(n for n in units if n != "ST-BK")
    pickup = pickup_of(order.value)
    assert pickup is not None
    assert pickup["legs"] == legs
    arrival = max(service.leg_arrival(n, "ST-BK") for n in legs)
    assert dt.datetime.fromisoformat(pickup["ready_at"]).timestamp() >= arrival - 60
    with pytest.raises(Conflict, match="still allocated at"):
        service.ready_for_pickup("p1")
    for node in legs:
        service.ship("p1", node)
    assert service.ready_for_pickup("p1").value.state == OrderState.READY_FOR_PICKUP


def test_the_sweep_returns_uncollected_units_to_the_store(service: Service) -> None:
    """Ready and left: before pickup_days nothing happens; after, the sweep marks it not
    collected: the shelf unit is free and the leg's units on hand at the store, sellable;
    a second pass finds nothing. pickup_days is a network setting."""
    service.put_network_settings(replace(service.network_settings(), pickup_days=2))
    service.create_pickup_order("p1", {"A": 3}, Pickup("ST-BK", allow_transfer=True))
    order = service.get_order("p1").order
    for node in sorted({u.node for u in order.allocations} - {"ST-BK"}):
        service.ship("p1", node)
    service.ready_for_pickup("p1")
    now = service.store.now()
    assert service.expire_pickups(at=now + 1.9 * DAY_S) == 0
    assert service.expire_pickups(at=now + 2.1 * DAY_S) == 1
    after = service.get_order("p1").order
    assert after.state == OrderState.NOT_COLLECTED
    assert position(service, "ST-BK") == Position("ST-BK", "A", 3, 0, 0, 0)
    assert service.expire_pickups(at=now + 9 * DAY_S) == 0


def test_a_hold_carries_the_pickup_into_its_order(service: Service) -> None:
    """A pickup hold holds the shelf's unit at the store; its order is a pickup order of
    that store, collected as such."""
    hold = service.reserve_pickup("cart-1", {"A": 1}, 600.0, Pickup("ST-BK")).value
    assert hold.units == (Unit("ST-BK", "A", 1),)
    assert hold.document["pickup"]["node"] == "ST-BK"
    order = service.commit_reservation(hold.id, "p1").value
    assert (order.document["fulfillment"], pickup_of(order)) == (
        "pickup", hold.document["pickup"],
    )  # fmt: skip
    assert service.ready_for_pickup("p1").value.state == OrderState.READY_FOR_PICKUP


def test_refusals(service: Service) -> None:
    """A pickup at a warehouse or an unknown node is refused naming it; pickup steps on an
    order shipped to its customer conflict."""
    with pytest.raises(Invalid, match="pickup_node: DC-NJ is a warehouse"):
        service.create_pickup_order("p1", {"A": 1}, Pickup("DC-NJ"))
    with pytest.raises(UnknownNode):
        service.create_pickup_order("p1", {"A": 1}, Pickup("ST-XX"))
    service.create_order(Order.of("s1", Destination(40.71, -74.01), [("A", 1)]))
    with pytest.raises(Conflict, match="shipped to its customer"):
        service.ready_for_pickup("s1")
