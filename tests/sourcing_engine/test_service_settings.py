"""The network settings in the live service, on SQLite and Redis: one versioned document
(carrier and rate card, penalties, cap, default service level, postal country) that orders
are sourced and priced with; prices checked by tests/independent_pricer.py."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sourcing_engine.domain import Destination, Item, NetworkSettings, Node, Order
from sourcing_engine.errors import InsufficientStock, Invalid, PreconditionFailed
from sourcing_engine.exchange import network_carrier_to_data
from sourcing_engine.presets import generate
from sourcing_engine.promise.carriers import default_carrier
from sourcing_engine.service import Service
from sourcing_engine.stores.redis import RedisStore
from sourcing_engine.stores.sqlite import SqliteStore
from tests.independent_pricer import (
    LinearTerms,
    carrier_terms,
    great_circle_miles,
    handling,
    linear_price,
    order_penalties,
    parcel_price,
)

NJ = Node("DC-NJ", "warehouse", 40.79, -74.06, handling_per_shipment=1.5, handling_per_unit=0.25)
NYC = Node("ST-NYC", "store", 40.75, -73.99, handling_per_shipment=2.5, handling_per_unit=0.5)
CUSTOMER = Destination(40.71, -74.01)
LINEAR_EUR = {"type": "linear", "currency": "EUR", "per_shipment": 5.0, "per_unit": 1.0,
              "per_unit_mile": 0.01}  # fmt: skip


@pytest.fixture(params=["sqlite", "redis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A service on each store: A at New Jersey (5) and in the Manhattan store (2)."""
    if request.param == "sqlite":
        store: SqliteStore | RedisStore = SqliteStore(tmp_path / "ledger.db")
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisStore(url, namespace=f"settings-{uuid.uuid4().hex}")
    svc = Service(store)
    svc.upsert_nodes([NJ, NYC])
    svc.upsert_items([Item("A", 1.0)])
    svc.set_stock("DC-NJ", {"A": (5, 0)}, "count")
    svc.set_stock("ST-NYC", {"A": (2, 0)}, "count")
    yield svc
    svc.close()


def by_node(node: Node, units: int, terms: object) -> float:
    """The independent price of `units` of A (1 lb) from a node to CUSTOMER."""
    miles = great_circle_miles(node.lat, node.lon, CUSTOMER.lat, CUSTOMER.lon)
    assert isinstance(terms, LinearTerms)
    carrier = linear_price(terms, miles, units)
    return carrier + handling(node.handling_per_shipment, node.handling_per_unit, units)


def test_defaults_until_set(service: Service) -> None:
    """A store without settings: the US demo carrier on US ground in USD, the live
    penalties, no cap, ground by default, US postal codes; version 0."""
    found = service.network_settings()
    assert found == NetworkSettings(default_carrier("US"))
    assert (found.version, found.currency, found.service_level.name, found.postal) == (
        0, "USD", "ground", "US",
    )  # fmt: skip


def test_orders_are_sourced_and_priced_with_the_settings(service: Service) -> None:
    """After a change to a linear EUR model, an order's plan is in EUR and costs what the
    independent pricer says for the cheaper of the two nodes."""
    done = service.put_network_settings_data({"cost_model": LINEAR_EUR}, expected_version=0)
    assert (done.version, done.currency) == (1, "EUR")
    order = service.create_order(Order.of("o1", CUSTOMER, [("A", 1)])).value
    plan = order.document["plan"]
    terms = carrier_terms(done.carrier.shipping)
    best = min(by_node(NJ, 1, terms), by_node(NYC, 1, terms))
    assert order.document["currency"] == "EUR"
    assert plan["cost"] == pytest.approx(best, abs=1e-6)


def test_default_service_level_prices_orders_at_its_rate(service: Service) -> None:
    """With two_day (rate factor 1.9) as the default level an order's carrier charge is
    1.9 times the US ground card's (handling unchanged)."""
    now = service.network_settings()
    service.put_network_settings(
        NetworkSettings(now.carrier, default_service_level="two_day"), expected_version=0
    )
    order = service.create_order(Order.of("o1", CUSTOMER, [("A", 1)])).value
    (shipment,) = order.document["plan"]["shipments"]
    node = {"DC-NJ": NJ, "ST-NYC": NYC}[shipment["node"]]
    card = carrier_terms(now.carrier.shipping)
    miles = great_circle_miles(node.lat, node.lon, CUSTOMER.lat, CUSTOMER.lon)
    expected = 1.9 * parcel_price(card, miles, 1.0, 0.0, True) + handling(  # type: ignore[arg-type]
        node.handling_per_shipment, node.handling_per_unit, 1
    )
    assert shipment["cost"] == pytest.approx(expected, abs=1e-6)


def test_split_penalty_and_cap(service: Service) -> None:
    """A split penalty is charged per shipment beyond the first (the independent order
    price); a cap of one shipment refuses an order that needs two nodes."""
    service.put_network_settings_data({"cost_model": LINEAR_EUR, "split_penalty": 7.5})
    order = service.create_order(Order.of("o1", CUSTOMER, [("A", 6)])).value
    shipments = {s["node"]: {ln["sku"]: ln["qty"] for ln in s["lines"]}
                 for s in order.document["plan"]["shipments"]}  # fmt: skip
    assert len(shipments) == 2
    terms = carrier_terms(service.network_settings().carrier.shipping)
    nodes = {"DC-NJ": NJ, "ST-NYC": NYC}
    carried = sum(by_node(nodes[n], sum(c.values()), terms) for n, c in shipments.items())
    expected = carried + order_penalties(7.5, 0.0, len(shipments), 0)
    assert order.document["plan"]["cost"] == pytest.approx(expected, abs=1e-6)
    service.cancel("o1")
    service.put_network_settings_data({"cost_model": LINEAR_EUR, "max_shipments_per_order": 1})
    with pytest.raises(InsufficientStock):
        service.create_order(Order.of("o2", CUSTOMER, [("A", 6)]))
    assert service.create_order(Order.of("o3", CUSTOMER, [("A", 5)])).value.allocations


def test_versions_refuse_stale_changes_and_are_events(service: Service) -> None:
    """A change from a stale version is PreconditionFailed and changes nothing; each
    change is a settings.changed event with its version and document."""
    service.put_network_settings_data({"cost_model": LINEAR_EUR}, expected_version=0)
    us = {"cost_model": {"type": "parcel", "rate_card": "us-ground"}}
    with pytest.raises(PreconditionFailed, match="version is 1, not 0"):
        service.put_network_settings_data(us, expected_version=0)
    assert service.network_settings().currency == "EUR"
    with pytest.raises(Invalid, match="version: 1 in the body, 2 in If-Match"):
        service.put_network_settings_data({"cost_model": LINEAR_EUR, "version": 1}, 2)
    service.put_network_settings_data({"cost_model": LINEAR_EUR, "version": 1})
    events = [e for e in service.events(0, 1000) if e.type == "settings.changed"]
    assert [(e.subject, e.data["version"]) for e in events] == [
        ("settings:network", 1), ("settings:network", 2),
    ]  # fmt: skip
    assert events[0].data["value"]["cost_model"] == LINEAR_EUR
    assert "version" not in events[0].data["value"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cost_model": LINEAR_EUR, "default_service_level": "air"},
         "default_service_level: 'air' is not a service level of the carrier"),
        ({"cost_model": LINEAR_EUR, "currency": "USD"},
         "currency: 'USD' differs from the cost model's 'EUR'"),
        ({"cost_model": LINEAR_EUR, "split_penalty": -1},
         "split_penalty: Input should be greater than or equal to 0"),
        ({"cost_model": LINEAR_EUR, "max_shipment_per_order": 2},
         'max_shipment_per_order: unknown field; .* \\(did you mean "max_shipments_per_order"'),
        ({"carrier": {"country": "IT"}}, "cost_model: Field required"),
    ],
)  # fmt: skip
def test_unusable_settings_are_named_and_change_nothing(
    service: Service, data: dict[str, object], message: str
) -> None:
    """Each unusable field is named with what was expected; nothing is stored."""
    with pytest.raises(Invalid, match=message):
        service.put_network_settings_data(data)
    assert service.network_settings().version == 0
    assert not [e for e in service.events(0, 1000) if e.type == "settings.changed"]


def test_postal_country_and_italy(service: Service, tmp_path: Path) -> None:
    """The italy preset's carrier brings EUR, Italian levels and Italian postal codes;
    the other settings stay; a ledger with only a carrier from before the settings
    document reads as that carrier with default settings."""
    service.put_network_settings_data({"cost_model": LINEAR_EUR, "split_penalty": 2.0})
    service.set_carrier(generate("italy", 0).carrier or default_carrier("IT"))
    found = service.network_settings()
    assert (found.currency, found.postal, found.service_level.name, found.split_penalty) == (
        "EUR", "IT", "standard", 2.0,
    )  # fmt: skip
    assert service.postal_country() == "IT"
    legacy = default_carrier("IT")
    service.store.put_setting("carrier", network_carrier_to_data(legacy))
    fresh = Service(service.store)
    assert fresh.network_settings().version == 2  # the settings document wins
    other = SqliteStore(tmp_path / "old.db")
    try:
        other.put_setting("carrier", network_carrier_to_data(legacy))
        old = Service(other).network_settings()
        assert (old.carrier, old.version, old.currency) == (legacy, 0, "EUR")
    finally:
        other.close()
