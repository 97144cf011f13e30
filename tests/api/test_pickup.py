"""Click and collect over HTTP on both stores: a pickup order from the store's shelf, with a
leg when it allows a transfer, ready, picked up or not collected; holds carrying the
pickup; every refusal naming its field."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import NYC, ApiServer, Stocker, new_id, order_body
from tests.api.test_promise import error_of


@pytest.fixture
def client(any_server: ApiServer) -> Iterator[httpx.Client]:
    """Every test of this module runs on both stores (SQLite and a real redis-server)."""
    with any_server.client() as c:
        yield c


def pickup_body(sku_qty: dict[str, int], store: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": new_id("P"),
        "fulfillment": "pickup",
        "pickup_node": store,
        "lines": [{"sku": s, "qty": q} for s, q in sku_qty.items()],
        **extra,
    }


def on_hand(client: httpx.Client, sku: str) -> dict[str, int]:
    return {p["node"]: p["on_hand"] for p in client.get(f"/v1/stock/{sku}").json()["nodes"]}


def test_pickup_from_the_shelf(client: httpx.Client, stock: Stocker) -> None:
    """Allocated on the Chicago store's shelf, ready, picked up: the units leave it."""
    sku = stock({"ST-CHI": 3, "DC-NJ": 9})
    r = client.post("/v1/orders", json=pickup_body({sku: 2}, "ST-CHI"))
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["fulfillment"], order["pickup"]["node"], order["pickup"]["legs"]) == (
        "pickup", "ST-CHI", [],
    )  # fmt: skip
    assert order["pickup"]["ready_at"] is not None
    assert order["allocations"] == [{"node": "ST-CHI", "sku": sku, "qty": 2}]
    r = client.post(f"/v1/orders/{order['id']}/ready")
    assert (r.status_code, r.json()["state"]) == (200, "ready_for_pickup"), r.text
    r = client.post(f"/v1/orders/{order['id']}/pick-up", headers={"If-Match": '"2"'})
    assert (r.status_code, r.json()["state"]) == (200, "picked_up"), r.text
    assert on_hand(client, sku)["ST-CHI"] == 1
    history = client.get(f"/v1/orders/{order['id']}").json()["history"]
    assert [e["type"] for e in history][-2:] == ["order.ready_for_pickup", "order.picked_up"]


def test_a_leg_then_not_collected(client: httpx.Client, stock: Stocker) -> None:
    """The store lacks units: refused unless transfers are allowed; with them, the rest
    comes by a leg (shipped to the store), then ready; not collected, every unit is
    sellable at the store."""
    sku = stock({"ST-CHI": 1, "DC-NJ": 5})
    refused = error_of(client.post("/v1/orders", json=pickup_body({sku: 3}, "ST-CHI")), 409,
                       "insufficient_stock")  # fmt: skip
    assert refused["details"] == [{"sku": sku, "nodes": ["ST-CHI"], "requested": 3, "available": 1}]
    body = pickup_body({sku: 3}, "ST-CHI", allow_transfer=True)
    order = client.post("/v1/orders", json=body).json()
    assert order["allocations"] == [
        {"node": "DC-NJ", "sku": sku, "qty": 2}, {"node": "ST-CHI", "sku": sku, "qty": 1},
    ]  # fmt: skip
    assert order["pickup"]["legs"] == ["DC-NJ"]
    error = error_of(client.post(f"/v1/orders/{order['id']}/ready"), 409, "conflict")
    assert "still allocated at DC-NJ" in error["message"]
    error = error_of(client.post(f"/v1/orders/{order['id']}/ship", json={"node": "ST-CHI"}),
                     409, "conflict")  # fmt: skip
    assert "pick_up" in error["message"]
    r = client.post(f"/v1/orders/{order['id']}/ship",
                    json={"node": "DC-NJ", "carrier": "UPS", "tracking": "1Z999"})  # fmt: skip
    assert r.json()["state"] == "partially_shipped", r.text
    assert client.post(f"/v1/orders/{order['id']}/ready").json()["state"] == "ready_for_pickup"
    r = client.post(f"/v1/orders/{order['id']}/not-collected")
    assert (r.status_code, r.json()["state"]) == (200, "not_collected"), r.text
    assert on_hand(client, sku) == {"DC-NJ": 3, "ST-CHI": 3}
    assert stock.available(sku) == {"DC-NJ": 3, "ST-CHI": 3}


def test_a_pickup_hold(client: httpx.Client, stock: Stocker) -> None:
    """A hold for pickup holds the store's shelf and says so; its order is collected."""
    sku = stock({"ST-LA": 2})
    r = client.post("/v1/reservations", json={
        "cart": new_id("c"), "fulfillment": "pickup", "pickup_node": "ST-LA",
        "lines": [{"sku": sku, "qty": 2}]})  # fmt: skip
    assert r.status_code == 201, r.text
    hold = r.json()
    assert (hold["units"], hold["pickup"]["node"]) == (
        [{"node": "ST-LA", "sku": sku, "qty": 2}], "ST-LA",
    )  # fmt: skip
    r = client.post(f"/v1/reservations/{hold['id']}/commit", json={"order_id": new_id()})
    assert r.status_code == 201, r.text
    assert (r.json()["fulfillment"], r.json()["pickup"]["node"]) == ("pickup", "ST-LA")
    assert client.post(f"/v1/orders/{r.json()['id']}/ready").json()["state"] == ("ready_for_pickup")


def test_refusals_name_the_field(client: httpx.Client, stock: Stocker) -> None:
    """pickup without a store, a pickup with a destination, a ship order without one or
    with a store, a pickup at a warehouse, pickup in a batch, pickup steps on a shipped
    order: 422 or 409 naming what is wrong, nothing allocated."""
    sku = stock({"ST-CHI": 5, "DC-NJ": 5})
    cases: list[tuple[dict[str, Any], str]] = [
        ({"fulfillment": "pickup"}, "pickup_node: required"),
        ({"fulfillment": "pickup", "pickup_node": "ST-CHI", "destination": NYC},
         "destination: a pickup order"),
        ({}, "destination: required"),
        ({"destination": NYC, "pickup_node": "ST-CHI"}, "pickup_node, allow_transfer"),
        ({"fulfillment": "pickup", "pickup_node": "DC-NJ"}, "DC-NJ is a warehouse"),
    ]  # fmt: skip
    for extra, message in cases:
        body = {"id": new_id(), "lines": [{"sku": sku, "qty": 1}], **extra}
        error = error_of(client.post("/v1/orders", json=body), 422, "invalid")
        assert message in error["message"], (extra, error)
    error = error_of(client.post("/v1/orders", json=pickup_body({sku: 1}, "ST-XX")), 404,
                     "not_found")  # fmt: skip
    assert "ST-XX" in error["message"]
    batch = {"orders": [order_body({sku: 1}), pickup_body({sku: 1}, "ST-CHI")]}
    error = error_of(client.post("/v1/orders/batch", json=batch), 422, "invalid")
    assert "orders[1].fulfillment" in error["message"]
    assert stock.available(sku) == {"ST-CHI": 5, "DC-NJ": 5}
    shipped = client.post("/v1/orders", json=order_body({sku: 1})).json()
    error = error_of(client.post(f"/v1/orders/{shipped['id']}/ready"), 409, "conflict")
    assert "shipped to its customer" in error["message"]


def test_pickup_orders_are_found_by_store_and_keep_their_references(
    client: httpx.Client, stock: Stocker
) -> None:
    """A pickup order keeps its external and customer references, customer care finds it
    by its store (pickup_node) and method, and its events carry it with its pickup; a
    pickup order cannot also wait for purchase orders (backorder: named in a 422)."""
    sku = stock({"ST-CHI": 3})
    customer = new_id("C")
    body = pickup_body({sku: 1}, "ST-CHI", external_reference=new_id("EXT"),
                       customer_reference=customer)  # fmt: skip
    order = client.post("/v1/orders", json=body).json()
    assert order["customer_reference"] == customer
    query = {"customer_reference": customer, "pickup_node": "ST-CHI", "method": "pickup"}
    found = client.get("/v1/orders", params=query)
    assert [o["id"] for o in found.json()["orders"]] == [order["id"]]
    other = client.get("/v1/orders", params={"customer_reference": customer, "method": "ship"})
    assert other.json()["orders"] == []
    created = client.get(f"/v1/orders/{order['id']}/history").json()["events"][0]
    assert created["resource"]["pickup"]["node"] == "ST-CHI"
    assert created["resource"]["fulfillment"] == "pickup"
    waiting = pickup_body({sku: 1}, "ST-CHI", backorder=True)
    refused = error_of(client.post("/v1/orders", json=waiting), 422, "invalid")
    assert "backorder" in refused["message"]
