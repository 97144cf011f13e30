"""The service's use cases on a real embedded store: plans and their costs, keyed calls."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sourcing_engine.domain import Destination, Item, Node, Order, Unit
from sourcing_engine.errors import IdempotencyInFlight, IdempotencyMismatch
from sourcing_engine.service import Service
from sourcing_engine.sourcing import Network, SourcingConfig, price
from sourcing_engine.stores.base import IdempotencyKey
from sourcing_engine.stores.sqlite import SqliteStore

ITEM = Item("A", 2.0, (10.0, 8.0, 4.0))
NJ = Node("DC-NJ", "warehouse", 40.79, -74.06, handling_per_shipment=1.5)
LA = Node("ST-LA", "store", 34.05, -118.24, handling_per_shipment=2.5)
NYC = Destination(40.71, -74.01)
SEATTLE = Destination(47.61, -122.33)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    service = Service(SqliteStore(tmp_path / "ledger.db"))
    service.upsert_nodes([NJ, LA])
    service.upsert_items([ITEM])
    service.set_stock("DC-NJ", {"A": (5, 0)}, "count")
    service.set_stock("ST-LA", {"A": (5, 0)}, "count")
    yield service
    service.close()


def test_an_order_is_priced_by_the_engine_that_sourced_it(service: Service) -> None:
    """The order's plan is the engine's cheapest (New Jersey for New York), and its cost is
    what pricing those units for that destination gives."""
    order = service.create_order(Order.of("o1", NYC, [("A", 2)])).value
    assert order.allocations == (Unit("DC-NJ", "A", 2),)
    expected = price(NYC, order.allocations, Network([NJ, LA]), {"A": ITEM}, SourcingConfig())
    assert order.document["plan"] == expected.to_data()
    assert order.document["plan"]["cost"] > 0


def test_a_commit_to_the_held_destination_keeps_the_held_plan(service: Service) -> None:
    """Committed to where it was sourced for, the order's plan is the hold's own."""
    hold = service.reserve("cart", NYC, {"A": 1}, 600).value
    order = service.commit_reservation(hold.id, "o1", NYC).value
    assert order.document["plan"] == hold.document["plan"]
    assert order.document["reservation"] == hold.id


def test_a_commit_elsewhere_is_priced_for_where_it_goes(service: Service) -> None:
    """Committed to Seattle, the New Jersey units are priced for Seattle (dearer)."""
    hold = service.reserve("cart", NYC, {"A": 1}, 600).value
    order = service.commit_reservation(hold.id, "o1", SEATTLE).value
    assert order.allocations == hold.units
    assert order.document["destination"] == SEATTLE.to_data()
    assert order.document["plan"]["cost"] > hold.document["plan"]["cost"]


def test_a_keyed_call_runs_once_and_replays(service: Service) -> None:
    """The same key and request replay the first result; another request is refused; a
    claim held by a call still running is reported in flight."""
    key = IdempotencyKey("k1", "h1")
    first = service.create_order(Order.of("o1", NYC, [("A", 1)]), key)
    again = service.create_order(Order.of("o1", NYC, [("A", 1)]), key)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.value == first.value
    with pytest.raises(IdempotencyMismatch):
        service.create_order(Order.of("o2", NYC, [("A", 1)]), IdempotencyKey("k1", "other"))
    service.store.claim_idempotency_key("k2", "h2", lease_s=60.0)
    with pytest.raises(IdempotencyInFlight):
        service.create_order(Order.of("o3", NYC, [("A", 1)]), IdempotencyKey("k2", "h2"))
    assert service.stock("A").total("allocated") == 1
