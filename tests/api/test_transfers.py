"""Transfer orders over HTTP on both stores: reserve at the source, ship into transit (seen
as incoming and promised from its arrival), receive in part and in full, cancel, and every
refusal in the one error shape."""

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, Stocker, new_id
from tests.api.test_promise import by_id, error_of, promise_body


@pytest.fixture
def client(any_server: ApiServer) -> Iterator[httpx.Client]:
    """Every test of this module runs on both stores (SQLite and a real redis-server)."""
    with any_server.client() as c:
        yield c


def transfer_body(
    sku_qty: dict[str, int], source: str, destination: str, **extra: Any
) -> dict[str, Any]:
    return {
        "id": new_id("T"),
        "source": source,
        "destination": destination,
        "lines": [{"sku": s, "qty": q} for s, q in sku_qty.items()],
        **extra,
    }


def positions(client: httpx.Client, sku: str) -> dict[str, tuple[int, int]]:
    """node -> (on hand, allocated)."""
    nodes = client.get(f"/v1/stock/{sku}").json()["nodes"]
    return {p["node"]: (p["on_hand"], p["allocated"]) for p in nodes}


def lines(body: dict[str, Any], field: str) -> dict[str, int]:
    return {ln["sku"]: ln["qty"] for ln in body[field]}


def test_a_transfer_from_request_to_receipt(client: httpx.Client, stock: Stocker) -> None:
    """Created, the units are reserved at the source; shipped, they leave it and are
    incoming at the destination, which the promise offers from their arrival; received in
    part, then in full, they are on hand there; every step is an event."""
    sku = stock({"ST-CHI": 4, "ST-LA": 1})
    body = transfer_body({sku: 4}, "ST-CHI", "DC-NJ")
    r = client.post("/v1/transfers", json=body)
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["id"], t["state"], t["version"]) == (body["id"], "requested", 1)
    assert (lines(t, "lines"), t["received"], t["in_transit"]) == ({sku: 4}, [], [])
    assert stock.available(sku)["ST-CHI"] == 0
    got = client.get(f"/v1/transfers/{t['id']}")
    assert (got.json(), got.headers["ETag"]) == (t, '"1"')

    arrives = dt.datetime(2026, 6, 15, 13, tzinfo=dt.UTC).timestamp()  # Mon 09:00 EDT
    r = client.post(f"/v1/transfers/{t['id']}/ship", json={"expected_at": arrives})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["expected_at"]) == ("in_transit", arrives)
    assert lines(r.json(), "in_transit") == {sku: 4}
    assert positions(client, sku)["ST-CHI"] == (0, 0)
    incoming = client.get("/v1/availability", params={"sku": sku}).json()["skus"][0]["incoming"]
    assert [(i["date"], i["qty"]) for i in incoming] == [("2026-06-15", 4)]
    assert [(b["id"], b["node"]) for b in incoming[0]["inbound"]] == [
        (f"transfer:{t['id']}:{sku}", "DC-NJ")
    ]
    # in transit to DC-NJ and nothing else near: a backorder from the arrival, shipped Mon
    options = by_id(client.post("/v1/promise", json=promise_body(
        {sku: 3}, "2026-06-10T10:00:00-04:00", methods=["ship", "backorder"])).json())  # fmt: skip
    back = options["backorder"]
    assert back["shipments"][0]["inbound"] == f"transfer:{t['id']}:{sku}"
    assert back["shipments"][0]["ships_on"] == "2026-06-15"

    r = client.post(f"/v1/transfers/{t['id']}/receive", json={"lines": [{"sku": sku, "qty": 1}]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "partially_received"
    assert (lines(r.json(), "received"), lines(r.json(), "in_transit")) == ({sku: 1}, {sku: 3})
    assert positions(client, sku)["DC-NJ"] == (1, 0)
    r = client.post(f"/v1/transfers/{t['id']}/receive")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["version"], r.json()["in_transit"]) == ("received", 4, [])
    assert positions(client, sku) == {"ST-CHI": (0, 0), "ST-LA": (1, 0), "DC-NJ": (4, 0)}

    events = client.get("/v1/events", params={"after": 0, "limit": 1000}).json()["events"]
    mine = [(e["type"], e["data"]["state"]) for e in events if e["subject"] == t["id"]]
    assert mine == [("transfer.created", "requested"), ("transfer.shipped", "in_transit"),
                    ("transfer.received", "partially_received"),
                    ("transfer.received", "received")]  # fmt: skip


def test_ship_computes_the_arrival(client: httpx.Client, stock: Stocker) -> None:
    """Without an arrival given, ship dates the leg as ship-to-store does: after now, and
    within a couple of weeks for Chicago to New Jersey; one given at creation is kept."""
    sku = stock({"ST-CHI": 4})
    t = client.post("/v1/transfers", json=transfer_body({sku: 2}, "ST-CHI", "DC-NJ")).json()
    shipped = client.post(f"/v1/transfers/{t['id']}/ship").json()
    assert time.time() < shipped["expected_at"] < time.time() + 14 * 86400
    planned = transfer_body({sku: 1}, "ST-CHI", "ST-LA", expected_at=2_000_000_000.5)
    t = client.post("/v1/transfers", json=planned).json()
    assert client.post(f"/v1/transfers/{t['id']}/ship").json()["expected_at"] == 2_000_000_000.5


def test_cancel_gives_the_units_back(client: httpx.Client, stock: Stocker) -> None:
    """A requested transfer cancelled frees its units at the source; once shipped it can
    only be received (409 with the current state)."""
    sku = stock({"DC-NJ": 5})
    t = client.post("/v1/transfers", json=transfer_body({sku: 5}, "DC-NJ", "ST-LA")).json()
    r = client.post(f"/v1/transfers/{t['id']}/cancel")
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")
    assert stock.available(sku)["DC-NJ"] == 5
    t = client.post("/v1/transfers", json=transfer_body({sku: 2}, "DC-NJ", "ST-LA")).json()
    client.post(f"/v1/transfers/{t['id']}/ship", json={"expected_at": 1e9})
    error = error_of(client.post(f"/v1/transfers/{t['id']}/cancel"), 409, "conflict")
    assert error["details"] == [{"current_state": "in_transit"}]


def test_refusals_name_the_field_and_change_nothing(client: httpx.Client, stock: Stocker) -> None:
    """Short stock (every short line), an unknown node, a node to itself, a receipt of more
    than is in transit, a stale If-Match, a transfer's inbound received as a purchase
    order: each answers the one error shape and leaves stock as it was."""
    sku, other = stock({"DC-NJ": 3}), stock({"DC-NJ": 1})
    short = error_of(client.post("/v1/transfers", json=transfer_body(
        {sku: 4, other: 2}, "DC-NJ", "ST-LA")), 409, "insufficient_stock")  # fmt: skip
    assert sorted(s["sku"] for s in short["details"]) == sorted([sku, other])
    error = error_of(client.post("/v1/transfers", json=transfer_body({sku: 1}, "DC-NJ", "XX")),
                     404, "not_found")  # fmt: skip
    assert "XX" in error["message"]
    error = error_of(client.post("/v1/transfers", json=transfer_body({sku: 1}, "DC-NJ", "DC-NJ")),
                     422, "invalid")  # fmt: skip
    assert "must differ" in error["message"]
    bad = transfer_body({sku: 1}, "DC-NJ", "ST-LA")
    bad["lines"][0]["qty"] = 0
    error = error_of(client.post("/v1/transfers", json=bad), 422, "validation_error")
    assert "lines" in error["message"]
    assert stock.available(sku) == {"DC-NJ": 3}

    t = client.post("/v1/transfers", json=transfer_body({sku: 2}, "DC-NJ", "ST-LA")).json()
    stale = client.post(f"/v1/transfers/{t['id']}/ship", json={"expected_at": 1e9},
                        headers={"If-Match": '"7"'})  # fmt: skip
    error_of(stale, 412, "precondition_failed")
    shipped = client.post(f"/v1/transfers/{t['id']}/ship", json={"expected_at": 1e9},
                          headers={"If-Match": '"1"'})  # fmt: skip
    assert shipped.status_code == 200, shipped.text
    too_many = {"lines": [{"sku": sku, "qty": 3}]}
    r = client.post(f"/v1/transfers/{t['id']}/receive", json=too_many)
    error = error_of(r, 422, "invalid")
    assert f"receipt of {sku}: 3 units, but 2 are in transit" in error["message"]
    inbound = f"transfer:{t['id']}:{sku}"
    error = error_of(client.post(f"/v1/inbound/{inbound}/receive", json={"qty": 1}), 409,
                     "conflict")  # fmt: skip
    assert f"/v1/transfers/{t['id']}/receive" in error["message"]
    assert positions(client, sku)["DC-NJ"] == (1, 0)
    assert "ST-LA" not in positions(client, sku)
    error_of(client.get("/v1/transfers/nope"), 404, "not_found")


def test_keyed_calls_replay(client: httpx.Client, stock: Stocker) -> None:
    """A create and a receipt retried with their Idempotency-Key apply once and replay
    the first reply."""
    sku = stock({"DC-NJ": 6})
    body = transfer_body({sku: 3}, "DC-NJ", "ST-CHI")
    key = {"Idempotency-Key": new_id("k")}
    first = client.post("/v1/transfers", json=body, headers=key)
    again = client.post("/v1/transfers", json=body, headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stock.available(sku)["DC-NJ"] == 3
    client.post(f"/v1/transfers/{body['id']}/ship", json={"expected_at": 1e9})
    receipt = {"lines": [{"sku": sku, "qty": 1}]}
    key = {"Idempotency-Key": new_id("k")}
    first = client.post(f"/v1/transfers/{body['id']}/receive", json=receipt, headers=key)
    again = client.post(f"/v1/transfers/{body['id']}/receive", json=receipt, headers=key)
    assert again.json() == first.json()
    assert positions(client, sku)["ST-CHI"] == (1, 0)
