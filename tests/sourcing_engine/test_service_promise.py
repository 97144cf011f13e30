"""The service's checkout promise on real stores (embedded SQLite and a real redis-server):
a promise on live stock, a hold of one option in the same step and the order committed
from it, what is available and coming, receipts of purchase orders, the network's carrier.

The network: a New Jersey warehouse, a Manhattan store (3 mi from the customer) and a Los
Angeles warehouse, with explicit time zones; the requests are made on Wed 2026-06-10 at
10:00 in New York, before every cut-off.
"""

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sourcing_engine.domain import (
    Destination,
    Inbound,
    Item,
    Node,
    NodeCalendar,
    Position,
    Unit,
    merge_units,
)
from sourcing_engine.errors import Conflict, Invalid, NotFound
from sourcing_engine.lifecycle import HoldState, OrderState
from sourcing_engine.presets import generate
from sourcing_engine.promise.carriers import default_carrier
from sourcing_engine.promise.options import Method
from sourcing_engine.service import Service
from sourcing_engine.stores.base import IdempotencyKey
from sourcing_engine.stores.redis import RedisStore
from sourcing_engine.stores.sqlite import SqliteStore

NEW_YORK, LOS_ANGELES = "America/New_York", "America/Los_Angeles"
NJ = Node("DC-NJ", "warehouse", 40.79, -74.06, handling_per_shipment=1.5,
          calendar=NodeCalendar(time_zone=NEW_YORK))  # fmt: skip
NYC_STORE = Node("ST-NYC", "store", 40.75, -73.99, handling_per_shipment=2.5,
                 handling_per_unit=0.5, calendar=NodeCalendar(time_zone=NEW_YORK))  # fmt: skip
LA = Node("DC-LA", "warehouse", 34.05, -118.24, calendar=NodeCalendar(time_zone=LOS_ANGELES))
CUSTOMER = Destination(40.71, -74.01)
ELSEWHERE = Destination(47.61, -122.33)
AT = dt.datetime(2026, 6, 10, 10, 0, tzinfo=ZoneInfo(NEW_YORK))
SHIP: tuple[Method, ...] = ("ship",)


@pytest.fixture(params=["sqlite", "redis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A service on each store, with the network stocked: A at New Jersey (5) and in the
    Manhattan store (2); B in the store (1) and in Los Angeles (3)."""
    if request.param == "sqlite":
        store: SqliteStore | RedisStore = SqliteStore(tmp_path / "ledger.db")
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisStore(url, namespace=f"promise-{uuid.uuid4().hex}")
    svc = Service(store)
    svc.upsert_nodes([NJ, NYC_STORE, LA])
    svc.upsert_items([Item("A", 1.0), Item("B", 2.0)])
    svc.set_stock("DC-NJ", {"A": (5, 0)}, "count")
    svc.set_stock("ST-NYC", {"A": (2, 0), "B": (1, 0)}, "count")
    svc.set_stock("DC-LA", {"B": (3, 0)}, "count")
    yield svc
    svc.close()


def held(service: Service, sku: str) -> dict[str, int]:
    return {p.node: p.reserved for p in service.stock(sku).positions if p.reserved}


def test_a_promise_reads_live_stock_and_changes_nothing(service: Service) -> None:
    """The promise answers on the store's stock (pickup in Manhattan while the store holds
    the cart, not once a hold took its units) and writes nothing."""
    first = service.promise({"A": 2}, CUSTOMER, AT)
    assert "pickup:ST-NYC" in {o.id for o in first.options}
    last = service.events(0, 1000)[-1].seq
    service.promise({"A": 2}, CUSTOMER, AT)
    assert service.events(last, 10) == []
    service.store.reserve("other", "cart", [Unit("ST-NYC", "A", 1)], 600.0)
    again = service.promise({"A": 2}, CUSTOMER, AT)
    assert "pickup:ST-NYC" not in {o.id for o in again.options}
    assert "pickup:ST-NYC" in {n.id for n in again.not_offered}


def test_promise_and_hold_holds_exactly_the_options_units(service: Service) -> None:
    """Without an option named the first ranked that holds stock is held: pickup in
    Manhattan (its handling, 2.50 + 2 x 0.50, is the cheapest); naming ship:ground holds New
    Jersey's units instead. Each hold keeps its option."""
    found, done = service.promise_and_hold("c1", {"A": 2}, CUSTOMER, 600.0, at=AT)
    first = found.options[0]
    assert (first.id, first.cost) == ("pickup:ST-NYC", 3.5)
    hold = done.value
    assert hold.units == merge_units(first.units) == (Unit("ST-NYC", "A", 2),)
    assert held(service, "A") == {"ST-NYC": 2}
    assert hold.document["promise"] == first.to_data()
    assert hold.document["destination"] == CUSTOMER.to_data()
    found, done = service.promise_and_hold(
        "c2", {"A": 2}, CUSTOMER, 600.0, option_id="ship:ground", at=AT
    )
    ground = found.option("ship:ground")
    assert ground is not None
    assert done.value.units == (Unit("DC-NJ", "A", 2),)
    assert done.value.document["promise"]["id"] == "ship:ground"
    assert held(service, "A") == {"ST-NYC": 2, "DC-NJ": 2}


def test_commit_creates_the_order_of_the_promised_option(service: Service) -> None:
    """Committed without a destination, the hold becomes an order going where it was
    promised, allocated at the option's nodes, its plan the option's shipments, and the
    option (method, nodes, dates) kept in document["promise"]."""
    found, done = service.promise_and_hold(
        "c1", {"A": 1, "B": 1}, CUSTOMER, 600.0, option_id="ship:two_day", at=AT
    )
    option = found.option("ship:two_day")
    assert option is not None
    order = service.commit_reservation(done.value.id, "o1").value
    assert order.state == OrderState.ALLOCATED
    assert order.allocations == merge_units(option.units)
    assert order.lines == {"A": 1, "B": 1}
    assert order.document["promise"] == option.to_data()
    assert order.document["destination"] == CUSTOMER.to_data()
    assert order.document["reservation"] == done.value.id
    plan = order.document["plan"]
    assert plan["cost"] == option.cost
    assert [(s["node"], s["cost"]) for s in plan["shipments"]] == [
        (s.node, s.cost) for s in option.shipments
    ]
    assert service.get_reservation(done.value.id).state == HoldState.COMMITTED
    assert held(service, "A") == {}


def test_a_promised_hold_goes_only_where_it_was_promised(service: Service) -> None:
    """Committing a promised hold elsewhere is a Conflict; to the same place it commits."""
    _, done = service.promise_and_hold("c1", {"A": 1}, CUSTOMER, 600.0, at=AT)
    with pytest.raises(Conflict, match="promised for its own destination"):
        service.commit_reservation(done.value.id, "o1", ELSEWHERE)
    order = service.commit_reservation(done.value.id, "o1", CUSTOMER).value
    assert order.document["promise"]["id"] == done.value.document["promise"]["id"]


def test_holding_an_option_not_offered_is_a_conflict(service: Service) -> None:
    """An option that is not (or no longer) offered, or that holds nothing on hand, cannot
    be held: Conflict naming the options that can, and nothing is held."""
    found = service.promise({"A": 2}, CUSTOMER, AT)
    assert found.option("pickup:ST-NYC") is not None
    service.store.reserve("other", "cart", [Unit("ST-NYC", "A", 2)], 600.0)  # taken since
    with pytest.raises(Conflict, match="option pickup:ST-NYC is not offered") as refused:
        service.promise_and_hold("c1", {"A": 2}, CUSTOMER, 600.0, "pickup:ST-NYC", at=AT)
    assert "ship:ground" in str(refused.value)
    with pytest.raises(Conflict, match="option ship:overnight is not offered"):
        service.promise_and_hold("c1", {"A": 2}, CUSTOMER, 600.0, "ship:overnight", at=AT)
    service.add_inbound([Inbound("po1", "DC-NJ", "A", 10, AT.timestamp() + 86400)])
    with pytest.raises(Conflict, match="option backorder holds no stock on hand"):
        service.promise_and_hold("c1", {"A": 9}, CUSTOMER, 600.0, "backorder", at=AT)
    assert held(service, "A") == {"ST-NYC": 2}


def test_a_partial_cart_holds_what_is_on_hand_and_records_the_backorder(
    service: Service,
) -> None:
    """9 of A with 7 on hand (5 in New Jersey, 2 in the store) and a purchase order: a ship
    hold takes the 7 on hand, and the backorder option of the other 2 rides with the hold
    into the order."""
    service.add_inbound([Inbound("po1", "DC-NJ", "A", 10, AT.timestamp() + 86400)])
    found, done = service.promise_and_hold(
        "c1", {"A": 9}, CUSTOMER, 600.0, option_id="ship:ground", at=AT
    )
    back = found.option("backorder")
    assert back is not None
    assert [(ln.sku, ln.qty) for ln in back.lines] == [("A", 2)]
    assert sum(u.qty for u in done.value.units) == 7
    assert done.value.document["backorder"] == back.to_data()
    order = service.commit_reservation(done.value.id, "o1").value
    assert order.document["backorder"] == back.to_data()
    assert order.lines == {"A": 7}


def test_promise_and_hold_replays_its_key(service: Service) -> None:
    """The same key holds once: the replay answers the first hold."""
    key = IdempotencyKey("k1", "h1")
    _, first = service.promise_and_hold("c1", {"A": 1}, CUSTOMER, 600.0, at=AT, key=key)
    _, again = service.promise_and_hold("c1", {"A": 1}, CUSTOMER, 600.0, at=AT, key=key)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.value == first.value
    assert sum(held(service, "A").values()) == 1


def test_availability_now_and_coming(service: Service) -> None:
    """Sellable now (on hand less safety stock, holds and allocations) for several SKUs,
    everywhere, at given nodes or near a place; incoming from open purchase orders, each
    dated in its node's local time."""
    service.set_stock("DC-NJ", {"A": (5, 1)}, "count")
    service.store.reserve("h", "cart", [Unit("DC-NJ", "A", 1)], 600.0)
    # 2026-06-12 05:00 UTC is Thu 06-11 22:00 in Los Angeles, Fri 01:00 in New York
    arrives = dt.datetime(2026, 6, 12, 5, 0, tzinfo=dt.UTC).timestamp()
    service.add_inbound([Inbound("po-la", "DC-LA", "B", 4, arrives),
                         Inbound("po-nj", "DC-NJ", "A", 6, arrives)])  # fmt: skip
    every = {a.sku: a for a in service.availability(["B", "A", "A"])}
    assert sorted(every) == ["A", "B"]
    assert every["A"].sellable == 3 + 2  # New Jersey 5 - 1 safety - 1 held; the store 2
    assert every["B"].sellable == 1 + 3
    assert [b.id for b in every["B"].incoming] == ["po-la"]
    assert service.inbound_date(every["B"].incoming[0]) == dt.date(2026, 6, 11)
    assert service.inbound_date(every["A"].incoming[0]) == dt.date(2026, 6, 12)
    at_nodes = {a.sku: a for a in service.availability(["A", "B"], nodes=["DC-LA"])}
    assert (at_nodes["A"].sellable, at_nodes["B"].sellable) == (0, 3)
    assert [b.id for b in at_nodes["A"].incoming] == []
    near = {a.sku: a for a in service.availability(["A", "B"], near=CUSTOMER, radius_miles=4)}
    assert [p.node for p in near["A"].positions] == ["ST-NYC"]  # New Jersey is 6 mi away
    assert (near["A"].sellable, near["B"].sellable) == (2, 1)
    wider = {a.sku: a for a in service.availability(["A"], near=CUSTOMER, radius_miles=10)}
    assert wider["A"].sellable == 5
    assert [b.id for b in wider["A"].incoming] == ["po-nj"]
    with pytest.raises(NotFound):
        service.availability(["A"], nodes=["DC-NOWHERE"])


def test_receiving_a_purchase_order(service: Service) -> None:
    """A receipt raises on hand at the inbound's node (and replays with its key); the
    promise then ships what was incoming."""
    service.add_inbound([Inbound("po1", "DC-LA", "A", 4, AT.timestamp())])
    key = IdempotencyKey("r1", "h")
    done = service.receive_inbound("po1", 3, key)
    assert done.value == Position("DC-LA", "A", 3, 0, 0, 0)
    again = service.receive_inbound("po1", 3, key)
    assert (again.replayed, again.value) == (True, done.value)
    assert [b.qty for b in service.store.list_inbound(["A"])] == [1]
    with pytest.raises(Invalid):
        service.receive_inbound("po1", 2)
    assert service.availability(["A"], nodes=["DC-LA"])[0].sellable == 3


def test_the_carrier_is_stored_with_the_network(service: Service) -> None:
    """Without a stored carrier the service uses the US demo carrier; set_carrier stores
    another (the Italian one: EUR, standard / express / same-day), read back equal."""
    assert service.carrier() == default_carrier("US")
    italian = default_carrier("IT")
    service.set_carrier(italian)
    assert service.carrier() == italian
    assert service.store.get_setting("network") is not None
    assert service.promise({"A": 1}, CUSTOMER, AT).currency == "EUR"


def test_an_italian_network_promises_in_euros_with_italian_holidays(service: Service) -> None:
    """The italy preset loaded into the ledger: its carrier is stored, so promises answer
    in EUR and date by Italian holidays (ordered Thu 12-24 15:00 in Rome, after the cut-off,
    a warehouse ships Mon 12-28: Christmas and Saint Stephen are closed)."""
    service.load_network(generate("italy", 0))
    assert service.carrier().currency == "EUR"
    rome = next(n for n in service.list_nodes() if n.id == "DC-Rome")
    sku = next(p.sku for p in service.store.positions([f"SKU-{i:06d}" for i in range(200)],
                                                      ["DC-Rome"]) if p.available > 3)  # fmt: skip
    found = service.promise(
        {sku: 1}, Destination(rome.lat + 0.01, rome.lon),
        dt.datetime(2026, 12, 24, 15, 0, tzinfo=ZoneInfo("Europe/Rome")), methods=SHIP,
    )  # fmt: skip
    assert found.currency == "EUR"
    standard = found.option("ship:standard")
    assert standard is not None
    assert [s.node for s in standard.shipments] == ["DC-Rome"]
    assert standard.shipments[0].ships_on == dt.date(2026, 12, 28)


def test_a_node_with_an_unusable_calendar_is_refused(service: Service) -> None:
    """upsert_nodes names the node and what in its calendar cannot be used, and stores
    nothing."""
    bad = Node("ST-X", "store", 40.0, -74.0, calendar=NodeCalendar(time_zone="Mars/Base"))
    with pytest.raises(Invalid, match="node ST-X: calendar: time_zone 'Mars/Base'"):
        service.upsert_nodes([bad])
    region = Node("ST-Y", "store", 40.0, -74.0, calendar=NodeCalendar(subdivision="ZZ"))
    with pytest.raises(Invalid, match="node ST-Y: calendar: subdivision 'ZZ'"):
        service.upsert_nodes([region])
    assert [n.id for n in service.list_nodes()] == ["DC-LA", "DC-NJ", "ST-NYC"]
