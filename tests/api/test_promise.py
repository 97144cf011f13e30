"""Checkout promise over HTTP: POST /v1/promise (with and without a hold), the order
committed from a promised hold, postal codes of other countries, the italy network in EUR,
GET /v1/availability, and POST /v1/inbound/{id}/receive.

The test network (tests/api/conftest.py) has no calendars: its nodes take their kind's
defaults in the time zone of their coordinates (DC-NJ: New York; a warehouse ships Monday to
Friday, orders before 14:00 the same day). DC-NJ to the NYC destination is 6.1 mi, US
zone 2 (ground 1 day with a one-day window, two-day 2, next-day 1, same-day 0).
"""

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sourcing_engine.cost_models import default_us_ground
from sourcing_engine.presets import generate
from sourcing_engine.service import Service
from sourcing_engine.settings import Settings
from sourcing_engine.stores import open_store
from tests.api.conftest import (
    ADMIN_KEY,
    NODES,
    NYC,
    ApiServer,
    Stocker,
    new_id,
    sqlite_url,
)
from tests.independent_pricer import carrier_price, carrier_terms, great_circle_miles, handling

MILAN = {"lat": 45.4642, "lon": 9.19}
NJ = next(n for n in NODES if n["id"] == "DC-NJ")


def promise_body(sku_qty: dict[str, int], at: str, **extra: Any) -> dict[str, Any]:
    return {
        "lines": [{"sku": s, "qty": q} for s, q in sku_qty.items()],
        "destination": NYC,
        "at": at,
        **extra,
    }


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in body["options"]}


def nj_price(units: int, weight_lb: float = 1.0, factor: float = 1.0) -> float:
    """The independent price of one parcel from DC-NJ to NYC (a home)."""
    miles = great_circle_miles(NJ["lat"], NJ["lon"], NYC["lat"], NYC["lon"])
    charge = carrier_price(carrier_terms(default_us_ground()), miles, weight_lb * units, 0.0,
                           units, True)  # fmt: skip
    return charge * factor + handling(NJ["handling_per_shipment"], NJ["handling_per_unit"], units)


def error_of(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code, error
    return error


# --- POST /v1/promise --------------------------------------------------------------------


def test_promise_answers_every_option(client: httpx.Client, stock: Stocker) -> None:
    """Wed 2026-06-10 13:59 New York time: DC-NJ ships that day; ground Thu 06-11 (window
    to Fri 06-12), two-day Fri, next-day Thu, same-day Wed; each costs the independent
    price at its rate; no store is within 25 miles. 200, and nothing is held."""
    sku = stock({"DC-NJ": 3})
    r = client.post("/v1/promise", json=promise_body({sku: 2}, "2026-06-10T13:59:00-04:00"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["currency"], body["unpromisable"], body["candidate_nodes"]) == ("USD", [], 1)
    assert "hold" not in body or body["hold"] is None
    options = by_id(body)
    assert list(options) == ["ship:ground", "ship:two_day", "ship:same_day", "ship:next_day"]
    ground = options["ship:ground"]
    assert ground["delivery"] == {"earliest": "2026-06-11", "latest": "2026-06-12",
                                  "by": "20:00", "time_zone": "America/New_York"}  # fmt: skip
    (shipment,) = ground["shipments"]
    assert (shipment["node"], shipment["zone"], shipment["distance_miles"]) == ("DC-NJ", 2, 6.1)
    assert (shipment["ships_on"], shipment["delivered_on"]) == ("2026-06-10", "2026-06-11")
    assert shipment["lines"] == [{"sku": sku, "qty": 2}]
    assert (ground["cheapest"], ground["fastest"], ground["complete"]) == (True, False, True)
    expected = {
        "ship:ground": ("2026-06-11", 1.0),
        "ship:two_day": ("2026-06-12", 1.9),
        "ship:next_day": ("2026-06-11", 3.2),
        "ship:same_day": ("2026-06-10", 2.5),
    }
    for option_id, (earliest, factor) in expected.items():
        option = options[option_id]
        assert option["delivery"]["earliest"] == earliest, option_id
        assert option["cost"] == pytest.approx(nj_price(2, factor=factor), abs=1e-6), option_id
    assert options["ship:same_day"]["fastest"] is True
    assert {n["id"]: n["reason"] for n in body["not_offered"]} == {
        "pickup": "no store within 25 miles", "ship_to_store": "no store within 25 miles",
    }  # fmt: skip
    assert stock.available(sku) == {"DC-NJ": 3}


def test_promise_at_the_cutoff(client: httpx.Client, stock: Stocker) -> None:
    """At 14:00 New York time (18:00 UTC in June) DC-NJ ships Thu 06-11: ground Fri 06-12,
    window to Mon 06-15; a Friday at 14:00 ships Monday 06-15."""
    sku = stock({"DC-NJ": 3})
    r = client.post("/v1/promise", json=promise_body({sku: 1}, "2026-06-10T18:00:00Z"))
    ground = by_id(r.json())["ship:ground"]
    assert ground["shipments"][0]["ships_on"] == "2026-06-11"
    assert (ground["delivery"]["earliest"], ground["delivery"]["latest"]) == (
        "2026-06-12", "2026-06-15",
    )  # fmt: skip
    r = client.post("/v1/promise", json=promise_body({sku: 1}, "2026-06-12T14:00:00-04:00"))
    assert by_id(r.json())["ship:ground"]["shipments"][0]["ships_on"] == "2026-06-15"


def test_promise_methods_and_unpromisable_lines(client: httpx.Client, stock: Stocker) -> None:
    """methods limits the answer; a SKU with nothing on hand and nothing on order is
    unpromisable (no_stock) and the rest ships as a partial option."""
    sku, empty = stock({"DC-NJ": 1}), stock({"DC-NJ": 0})
    body = promise_body({sku: 1, empty: 2}, "2026-06-10T10:00:00-04:00", methods=["ship"])
    r = client.post("/v1/promise", json=body)
    assert r.status_code == 200, r.text
    found = r.json()
    assert {o["method"] for o in found["options"]} == {"ship"}
    assert all(not o["complete"] for o in found["options"])
    assert [(u["sku"], u["qty"], u["reason"]) for u in found["unpromisable"]] == [
        (empty, 2, "no_stock")
    ]


def test_promise_with_hold(client: httpx.Client, stock: Stocker) -> None:
    """hold_seconds holds the first ranked option's units in the same step: 201 with
    hold.reservation; the same Idempotency-Key replays the same reservation (header
    Idempotent-Replayed: true) without holding again; another body under it is 422."""
    sku = stock({"DC-NJ": 3})
    body = promise_body({sku: 2}, "2026-06-10T10:00:00-04:00", hold_seconds=600,
                        cart=new_id("cart"))  # fmt: skip
    key = {"Idempotency-Key": new_id("k")}
    r = client.post("/v1/promise", json=body, headers=key)
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers
    hold = r.json()["hold"]
    reservation = hold["reservation"]
    assert hold["option"] == "ship:ground"
    assert reservation["units"] == [{"node": "DC-NJ", "sku": sku, "qty": 2}]
    assert reservation["state"] == "active"
    assert reservation["cart"] == body["cart"]
    assert reservation["promise"]["id"] == "ship:ground"
    assert reservation["expires_at"] == pytest.approx(reservation["created_at"] + 600)
    assert stock.available(sku) == {"DC-NJ": 1}
    again = client.post("/v1/promise", json=body, headers=key)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["hold"]["reservation"]["id"] == reservation["id"]
    assert stock.available(sku) == {"DC-NJ": 1}
    other = client.post("/v1/promise", json={**body, "hold_seconds": 900}, headers=key)
    error_of(other, 422, "idempotency_key_reused")
    got = client.get(f"/v1/reservations/{reservation['id']}")
    assert got.json()["promise"]["id"] == "ship:ground"


def test_commit_a_promised_hold_without_destination(client: httpx.Client, stock: Stocker) -> None:
    """A hold of ship:two_day commits without a destination into an order going to the
    promised place, allocated at the option's node, carrying the option."""
    sku = stock({"DC-NJ": 3})
    body = promise_body({sku: 1}, "2026-06-10T10:00:00-04:00", hold_seconds=600,
                        hold_option="ship:two_day")  # fmt: skip
    r = client.post("/v1/promise", json=body)
    assert r.status_code == 201, r.text
    promised = by_id(r.json())["ship:two_day"]
    reservation = r.json()["hold"]["reservation"]
    order_id = new_id()
    r = client.post(f"/v1/reservations/{reservation['id']}/commit", json={"order_id": order_id})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "allocated"
    assert order["allocations"] == [{"node": "DC-NJ", "sku": sku, "qty": 1}]
    assert order["promise"]["id"] == "ship:two_day"
    assert order["promise"]["delivery"] == promised["delivery"]
    assert order["promise"]["cost"] == promised["cost"]
    assert order["destination"]["lat"] == NYC["lat"]
    assert order["plan"]["cost"] == promised["cost"]
    detail = client.get(f"/v1/orders/{order_id}").json()
    assert detail["promise"]["shipments"] == promised["shipments"]
    elsewhere = {"order_id": new_id(), "destination": {"lat": 47.61, "lon": -122.33}}
    r = client.post("/v1/promise", json=body)
    second = r.json()["hold"]["reservation"]["id"]
    error_of(client.post(f"/v1/reservations/{second}/commit", json=elsewhere), 409, "conflict")


def test_bad_promise_requests(client: httpx.Client, stock: Stocker) -> None:
    """A hold option that is not offered is 409; hold_option without hold_seconds, a method
    twice, an unknown method, a moment without its offset are 422 naming the field."""
    sku = stock({"DC-NJ": 1})
    at = "2026-06-10T10:00:00-04:00"
    r = client.post("/v1/promise", json=promise_body({sku: 1}, at, hold_seconds=600,
                                                     hold_option="pickup:ST-LA"))  # fmt: skip
    assert "option pickup:ST-LA is not offered" in error_of(r, 409, "conflict")["message"]
    r = client.post("/v1/promise", json=promise_body({sku: 1}, at, hold_option="ship:ground"))
    assert "hold_option" in error_of(r, 422, "invalid")["message"]
    r = client.post("/v1/promise", json=promise_body({sku: 1}, at, methods=["ship", "ship"]))
    assert "methods" in error_of(r, 422, "invalid")["message"]
    r = client.post("/v1/promise", json=promise_body({sku: 1}, at, methods=["teleport"]))
    assert "methods[0]" in error_of(r, 422, "validation_error")["message"]
    r = client.post("/v1/promise", json=promise_body({sku: 1}, "2026-06-10T10:00:00"))
    assert "at" in [d["field"] for d in error_of(r, 422, "validation_error")["details"]]
    assert stock.available(sku) == {"DC-NJ": 1}


def test_a_milan_postal_code_asks_for_coordinates(client: httpx.Client, stock: Stocker) -> None:
    """{"zip": "20121", "country": "IT"} is not read as a US ZIP (Virginia): 422 naming the
    postal code and asking for lat and lon; in the US it is a Virginia ZIP and answers."""
    sku = stock({"DC-NJ": 1})
    body = promise_body({sku: 1}, "2026-06-10T10:00:00-04:00")
    r = client.post("/v1/promise", json={**body, "destination": {"zip": "20121", "country": "IT"}})
    message = error_of(r, 422, "invalid")["message"]
    assert "'20121' is a postal code of IT" in message
    assert "give the destination's lat and lon instead" in message
    us = client.post("/v1/promise", json={**body, "destination": {"zip": "20121"}})
    assert us.status_code == 200, us.text
    assert us.json()["destination"]["zip"] == "20121"


# --- node calendars ----------------------------------------------------------------------


def test_a_node_calendar_through_the_api(client: httpx.Client, stock: Stocker) -> None:
    """PUT /v1/nodes takes a calendar and GET /v1/nodes shows it; pickup in a Boston store
    closed on Sundays (08:00-21:00, 15 minutes) asked on Sun 2026-06-14 at noon is ready on
    Monday at 08:15."""
    store = {"id": "ST-BOS", "kind": "store", "lat": 42.36, "lon": -71.06,
             "calendar": {"time_zone": "America/New_York", "opens": "08:00", "closes": "21:00",
                          "closed_weekdays": ["sun"], "pickup_minutes": 15}}  # fmt: skip
    r = client.put("/v1/nodes", json={"nodes": [store]})
    assert r.status_code == 200, r.text
    listed = {n["id"]: n for n in client.get("/v1/nodes").json()["nodes"]}
    assert listed["ST-BOS"]["calendar"] == store["calendar"]
    assert listed["DC-NJ"]["calendar"] == {}
    sku = stock({"ST-BOS": 2})
    body = {"lines": [{"sku": sku, "qty": 1}], "destination": {"lat": 42.35, "lon": -71.07},
            "at": "2026-06-14T12:00:00-04:00", "methods": ["pickup"]}  # fmt: skip
    r = client.post("/v1/promise", json=body)
    assert r.status_code == 200, r.text
    (pickup,) = r.json()["options"]
    assert (pickup["id"], pickup["ready_at"]) == ("pickup:ST-BOS", "2026-06-15T08:15:00-04:00")


@pytest.mark.parametrize(
    ("calendar", "code", "message"),
    [
        ({"time_zone": "Mars/Base"}, "invalid", "node ST-BAD: calendar: time_zone 'Mars/Base'"),
        ({"opens": "18:00", "closes": "09:00"}, "invalid",
         "node ST-BAD: calendar: opens must be before closes"),
        ({"subdivision": "ZZ"}, "invalid", "node ST-BAD: calendar: subdivision 'ZZ'"),
        ({"cutoff": "25:00"}, "validation_error", "nodes[0].calendar.cutoff"),
        ({"closed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}, "invalid",
         "node ST-BAD: calendar: closed_weekdays"),
    ],
)  # fmt: skip
def test_a_bad_node_calendar_is_422(
    client: httpx.Client, calendar: dict[str, Any], code: str, message: str
) -> None:
    """A calendar that cannot be used is 422 naming the node and the field; the node is not
    stored."""
    node = {"id": "ST-BAD", "kind": "store", "lat": 40.0, "lon": -75.0, "calendar": calendar}
    error = error_of(client.put("/v1/nodes", json={"nodes": [node]}), 422, code)
    assert message in error["message"]
    assert "ST-BAD" not in {n["id"] for n in client.get("/v1/nodes").json()["nodes"]}


# --- the italy network ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def italy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An API server on a ledger holding the italy preset (seed 0) and its carrier."""
    url = sqlite_url(tmp_path_factory.mktemp("italy"))
    service = Service(open_store(url))
    service.load_network(generate("italy", 0), reason="test")
    service.close()
    server = ApiServer(Settings(store=url, admin_key=ADMIN_KEY))
    server.start()
    yield server
    server.stop()


def test_the_italy_network_answers_in_euros(italy: ApiServer) -> None:
    """Promises on the italy network are in EUR on the Italian levels, dated in Rome's
    zone; a postal code with no country is taken as Italian there (422 asking for
    coordinates); availability near Milan's warehouse lists its sellable stock."""
    batch = generate("italy", 0)
    ids = [n.id for n in batch.nodes]
    inv = batch.inventory
    milan = ids.index("DC-Milan")
    entry = next(k for k in range(len(inv)) if inv.node[k] == milan and inv.sourceable[k] > 0)
    sku, sellable = batch.items[int(inv.item[entry])].sku, int(inv.sourceable[entry])
    with italy.client() as c:
        lines = [{"sku": sku, "qty": 1}]
        r = c.post("/v1/promise", json={"lines": lines, "destination": MILAN,
                                        "at": "2026-06-10T10:00:00+02:00"})  # fmt: skip
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["currency"] == "EUR"
        assert {o["currency"] for o in body["options"]} == {"EUR"}
        levels = {o["service_level"] for o in body["options"] if o["method"] == "ship"}
        assert {"standard", "express"} <= levels <= {"standard", "express", "same_day"}
        assert by_id(body)["ship:standard"]["delivery"]["time_zone"] == "Europe/Rome"
        r = c.post("/v1/promise", json={"lines": lines, "destination": {"zip": "20121"}})
        assert "postal code of IT" in error_of(r, 422, "invalid")["message"]
        node = batch.nodes[milan]
        near: dict[str, str | float] = {"sku": sku, "lat": node.lat, "lon": node.lon,
                                        "radius_miles": 1}  # fmt: skip
        r = c.get("/v1/availability", params=near)
        assert r.status_code == 200, r.text
        found = {n["node"]: n["sellable"] for n in r.json()["skus"][0]["nodes"]}
        assert found["DC-Milan"] == sellable


# --- GET /v1/availability ---------------------------------------------------------------------


def test_availability_of_several_skus(client: httpx.Client, stock: Stocker) -> None:
    """Sellable now per SKU and per node, everywhere, at given nodes, or near a place; a
    hold counts against it."""
    a, b = stock({"DC-NJ": 4, "ST-CHI": 2}), stock({"ST-LA": 5})
    r = client.post("/v1/reservations", json={"cart": new_id("cart"), "destination": NYC,
                                              "lines": [{"sku": a, "qty": 1}]})  # fmt: skip
    assert r.status_code == 201, r.text
    r = client.get("/v1/availability", params={"sku": [b, a]})
    assert r.status_code == 200, r.text
    skus = {s["sku"]: s for s in r.json()["skus"]}
    assert [s["sku"] for s in r.json()["skus"]] == sorted([a, b])
    assert (skus[a]["sellable"], skus[b]["sellable"]) == (5, 5)
    assert {n["node"]: (n["sellable"], n["reserved"]) for n in skus[a]["nodes"]} == {
        "DC-NJ": (3, 1), "ST-CHI": (2, 0),
    }  # fmt: skip
    at = client.get("/v1/availability", params={"sku": [a, b], "node": ["ST-CHI"]}).json()
    assert [(s["sku"], s["sellable"]) for s in at["skus"]] == sorted([(a, 2), (b, 0)])
    near = client.get("/v1/availability", params={"sku": a, **NYC, "radius_miles": 50}).json()
    assert [(n["node"], n["sellable"]) for n in near["skus"][0]["nodes"]] == [("DC-NJ", 3)]
    by_zip = client.get("/v1/availability", params={"sku": a, "zip": "60601"}).json()  # Chicago
    assert [n["node"] for n in by_zip["skus"][0]["nodes"]] == ["ST-CHI"]


def test_incoming_by_local_date(client: httpx.Client, stock: Stocker) -> None:
    """After POST /v1/inbound, incoming lists open purchase orders by the local date at
    their node: 2026-06-11 15:00 UTC and 2026-06-12 02:00 UTC are both Thu 06-11 in New
    Jersey (22:00 EDT); 2026-06-12 08:00 UTC is Fri 06-12 01:00 in LA."""
    a = stock({"DC-NJ": 1})
    ids = [new_id("po") for _ in range(3)]
    moments = ["2026-06-11T15:00:00+00:00", "2026-06-12T02:00:00+00:00",
               "2026-06-12T08:00:00+00:00"]  # fmt: skip
    inbound = [
        {"id": ids[0], "node": "DC-NJ", "sku": a, "qty": 4,
         "expected_at": dt.datetime.fromisoformat(moments[0]).timestamp()},
        {"id": ids[1], "node": "DC-NJ", "sku": a, "qty": 6,
         "expected_at": dt.datetime.fromisoformat(moments[1]).timestamp()},
        {"id": ids[2], "node": "ST-LA", "sku": a, "qty": 2,
         "expected_at": dt.datetime.fromisoformat(moments[2]).timestamp()},
    ]  # fmt: skip
    r = client.post("/v1/inbound", json={"inbound": inbound})
    assert r.status_code == 200, r.text
    found = client.get("/v1/availability", params={"sku": a}).json()["skus"][0]
    assert found["sellable"] == 1
    assert [(d["date"], d["qty"], [i["id"] for i in d["inbound"]]) for d in found["incoming"]] == [
        ("2026-06-11", 10, ids[:2]), ("2026-06-12", 2, [ids[2]]),
    ]  # fmt: skip
    at_la = client.get("/v1/availability", params={"sku": a, "node": "ST-LA"}).json()
    assert [d["qty"] for d in at_la["skus"][0]["incoming"]] == [2]


@pytest.mark.parametrize(
    ("params", "status", "code", "named"),
    [
        ({}, 422, "validation_error", "query.sku"),
        ({"sku": "S", "lat": 95, "lon": 0}, 422, "validation_error", "query.lat"),
        ({"sku": "S", "radius_miles": 0}, 422, "validation_error", "query.radius_miles"),
        ({"sku": "S", "node": "DC-NJ", "lat": 40.7, "lon": -74}, 422, "invalid", "or a place"),
        ({"sku": "S", "lat": 40.7}, 422, "invalid", "lon"),
        ({"sku": "S", "radius_miles": 5}, 422, "invalid", "radius_miles"),
        ({"sku": "S", "country": "US"}, 422, "invalid", "country"),
        ({"sku": "a/b"}, 422, "invalid", "'a/b' is not an id"),
        ({"sku": "S", "zip": "20121", "country": "IT"}, 422, "invalid", "postal code of IT"),
        ({"sku": "S", "node": "NOWHERE"}, 404, "not_found", "NOWHERE"),
        ({"sku": "S", "nodes": "DC-NJ"}, 422, "validation_error", "query.nodes"),
    ],
)  # fmt: skip
def test_bad_availability_queries(
    client: httpx.Client, params: dict[str, Any], status: int, code: str, named: str
) -> None:
    """Every bad query is refused with its status, naming the field or value at fault."""
    error = error_of(client.get("/v1/availability", params=params), status, code)
    fields = [d.get("field", "") for d in error["details"]]
    assert named in error["message"] or named in fields, error


# --- POST /v1/inbound/{id}/receive ------------------------------------------------------------


def test_receive_a_purchase_order(client: httpx.Client, stock: Stocker) -> None:
    """A partial receipt raises on hand and leaves the rest incoming; replayed with its key
    it applies once; the rest closes the inbound (then 404); more than is open is 422; the
    receipt is an inbound.received event."""
    sku = stock({"DC-NJ": 1})
    po = new_id("po")
    expected_at = dt.datetime(2026, 6, 11, 15, tzinfo=dt.UTC).timestamp()
    record = {"id": po, "node": "DC-NJ", "sku": sku, "qty": 5, "expected_at": expected_at}
    r = client.post("/v1/inbound", json={"inbound": [record]})
    assert r.status_code == 200, r.text
    key = {"Idempotency-Key": new_id("k")}
    r = client.post(f"/v1/inbound/{po}/receive", json={"qty": 2}, headers=key)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "inbound": po, "received": 2,
        "position": {"node": "DC-NJ", "sku": sku, "on_hand": 3, "safety_stock": 0,
                     "reserved": 0, "allocated": 0, "available": 3, "oversold": False},
    }  # fmt: skip
    again = client.post(f"/v1/inbound/{po}/receive", json={"qty": 2}, headers=key)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (200, "true")
    assert again.json() == r.json()
    found = client.get("/v1/availability", params={"sku": sku}).json()["skus"][0]
    assert (found["sellable"], found["incoming"][0]["qty"]) == (3, 3)
    assert found["incoming"][0]["inbound"][0]["expected_at"] == expected_at
    error_of(client.post(f"/v1/inbound/{po}/receive", json={"qty": 4}), 422, "invalid")
    error_of(client.post(f"/v1/inbound/{po}/receive", json={"qty": 0}), 422, "validation_error")
    r = client.post(f"/v1/inbound/{po}/receive", json={"qty": 3})
    assert r.json()["position"]["on_hand"] == 6
    error_of(client.post(f"/v1/inbound/{po}/receive", json={"qty": 1}), 404, "not_found")
    error_of(client.post("/v1/inbound/nope-x/receive", json={"qty": 1}), 404, "not_found")
    assert client.get("/v1/availability", params={"sku": sku}).json()["skus"][0]["incoming"] == []
    events = client.get("/v1/events", params={"after": 0, "limit": 1000}).json()["events"]
    mine = [e["data"] for e in events if e["type"] == "inbound.received" and
            e["subject"] == f"stock:DC-NJ/{sku}"]  # fmt: skip
    assert mine == [{"inbound": po, "qty": 2, "open": 3, "on_hand": 3},
                    {"inbound": po, "qty": 3, "open": 0, "on_hand": 6}]  # fmt: skip


def test_promise_and_receipt_on_both_stores(any_server: ApiServer) -> None:
    """On SQLite and on Redis: a backorder from an open purchase order, then its receipt
    turns it into stock the promise ships now."""
    with any_server.client() as c:
        sku = f"both-{uuid.uuid4().hex[:8]}"
        assert (
            c.put("/v1/items", json={"items": [{"sku": sku, "weight_lb": 1.0}]}).status_code == 200
        )
        po = new_id("po")
        arrives = dt.datetime(2026, 6, 15, 13, tzinfo=dt.UTC).timestamp()  # Mon 09:00 EDT
        record = {"id": po, "node": "DC-NJ", "sku": sku, "qty": 3, "expected_at": arrives}
        r = c.post("/v1/inbound", json={"inbound": [record]})
        assert r.status_code == 200, r.text
        body = promise_body({sku: 2}, "2026-06-10T10:00:00-04:00")
        options = by_id(c.post("/v1/promise", json=body).json())
        back = options["backorder"]
        # arrives Mon 06-15 09:00 in New Jersey, before the cut-off: ships Mon, ground Tue
        assert back["shipments"][0]["ships_on"] == "2026-06-15"
        assert back["delivery"]["earliest"] == "2026-06-16"
        assert back["shipments"][0]["inbound"] == po
        assert "ship:ground" not in options
        r = c.post(f"/v1/inbound/{po}/receive", json={"qty": 3})
        assert r.status_code == 200, r.text
        options = by_id(c.post("/v1/promise", json=body).json())
        assert "backorder" not in options
        assert options["ship:ground"]["shipments"][0]["ships_on"] == "2026-06-10"
