"""Backorders over HTTP, on both stores: an order that accepts waiting is allocated from
stock on hand and promised the rest from open purchase orders; the receipt allocates it."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, Stocker, new_id, order_body

ARRIVES = 1_900_000_000.0  # 2030-03-17 17:46 UTC: 13:46 in New Jersey


@pytest.fixture
def client(any_server: ApiServer) -> Iterator[httpx.Client]:
    with any_server.client() as c:
        yield c


def purchase_order(client: httpx.Client, sku: str, qty: int, at: float = ARRIVES) -> str:
    po = new_id("PO")
    body = {"inbound": [{"id": po, "node": "DC-NJ", "sku": sku, "qty": qty, "expected_at": at}]}
    assert client.post("/v1/inbound", json=body).status_code == 200
    return po


def incoming(client: httpx.Client, sku: str) -> list[dict[str, Any]]:
    r = client.get("/v1/availability", params={"sku": sku})
    assert r.status_code == 200, r.text
    return [b for day in r.json()["skus"][0]["incoming"] for b in day["inbound"]]


def test_an_order_that_accepts_waiting_is_backordered(client: httpx.Client, stock: Stocker) -> None:
    """Without backorder the short order is refused; with it, the stock on hand is
    allocated and the rest promised from the purchase order, dated by its arrival."""
    sku = stock({"DC-NJ": 2})
    po = purchase_order(client, sku, 10)
    body = order_body({sku: 5})
    refused = client.post("/v1/orders", json=body)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "insufficient_stock"

    r = client.post("/v1/orders", json={**body, "backorder": True})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "allocated"
    assert order["allocations"] == [{"node": "DC-NJ", "sku": sku, "qty": 2}]
    assert order["backordered"] == [
        {"inbound": po, "node": "DC-NJ", "sku": sku, "qty": 3, "expected_at": ARRIVES}
    ]
    assert order["promised_date"] == "2030-03-17"
    assert order["plan"]["shipments"][0]["lines"] == [{"sku": sku, "qty": 5}]
    assert incoming(client, sku)[0]["backordered"] == 3
    got = client.get(f"/v1/orders/{order['id']}").json()
    assert [e["type"] for e in got["history"]] == [
        "order.created", "order.allocated", "order.backordered",
    ]  # fmt: skip


def test_the_receipt_allocates_the_backorder(client: httpx.Client, stock: Stocker) -> None:
    """Receiving the purchase order allocates the waiting units at its node (event
    order.backorder_received); the rest of the receipt is sellable; the order ships."""
    sku = stock({"DC-NJ": 0})
    po = purchase_order(client, sku, 10)
    r = client.post("/v1/orders", json={**order_body({sku: 4}), "backorder": True})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    assert r.json()["allocations"] == []

    receipt = client.post(f"/v1/inbound/{po}/receive", json={"qty": 10})
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["position"]["allocated"] == 4
    assert receipt.json()["position"]["available"] == 6
    order = client.get(f"/v1/orders/{oid}").json()
    assert order["backordered"] == []
    assert order["allocations"] == [{"node": "DC-NJ", "sku": sku, "qty": 4}]
    assert order["history"][-1]["type"] == "order.backorder_received"
    shipped = client.post(f"/v1/orders/{oid}/ship", json={"node": "DC-NJ"})
    assert shipped.json()["state"] == "shipped"


def test_what_purchase_orders_cannot_cover_is_refused(client: httpx.Client, stock: Stocker) -> None:
    """A backorder beyond every open purchase order's free units is refused whole, its
    available counting stock and incoming units; nothing is promised."""
    sku = stock({"DC-NJ": 1})
    purchase_order(client, sku, 3)
    r = client.post("/v1/orders", json={**order_body({sku: 5}), "backorder": True})
    assert r.status_code == 409
    (short,) = r.json()["error"]["details"]
    assert (short["sku"], short["requested"], short["available"]) == (sku, 5, 4)
    assert incoming(client, sku)[0]["backordered"] == 0
    assert client.get(f"/v1/stock/{sku}").json()["totals"]["allocated"] == 0


def test_cancel_frees_the_promise_for_the_next_order(client: httpx.Client, stock: Stocker) -> None:
    """Two orders cannot wait for the same units; cancelling the first lets the second."""
    sku = stock({"DC-NJ": 0})
    purchase_order(client, sku, 3)
    first = client.post("/v1/orders", json={**order_body({sku: 3}), "backorder": True})
    assert first.status_code == 201, first.text
    second = order_body({sku: 2})
    assert client.post("/v1/orders", json={**second, "backorder": True}).status_code == 409
    cancelled = client.post(f"/v1/orders/{first.json()['id']}/cancel")
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["backordered"] == []
    assert client.post("/v1/orders", json={**second, "backorder": True}).status_code == 201


def test_cancel_lines_takes_backordered_units_first(client: httpx.Client, stock: Stocker) -> None:
    """Cancelling some units of a line cancels what still waits before what is on hand."""
    sku = stock({"DC-NJ": 2})
    purchase_order(client, sku, 5)
    r = client.post("/v1/orders", json={**order_body({sku: 5}), "backorder": True})
    oid = r.json()["id"]
    body = {"lines": [{"sku": sku, "qty": 2}]}
    after = client.post(f"/v1/orders/{oid}/cancel", json=body).json()
    assert after["allocations"] == [{"node": "DC-NJ", "sku": sku, "qty": 2}]
    assert [b["qty"] for b in after["backordered"]] == [1]
    assert after["lines"] == [{"sku": sku, "qty": 3}]


def test_a_batch_order_may_be_backordered(client: httpx.Client, stock: Stocker) -> None:
    """In a batch, each order that accepts waiting is backordered on its own."""
    sku = stock({"DC-NJ": 1})
    purchase_order(client, sku, 4)
    waits = {**order_body({sku: 3}), "backorder": True}
    r = client.post("/v1/orders/batch", json={"orders": [waits, order_body({sku: 5})]})
    assert r.status_code == 200, r.text
    first, second = r.json()["results"]
    assert first["status"] == "allocated"
    assert sum(b["qty"] for b in first["order"]["backordered"]) >= 2
    assert second["status"] == "refused"


def test_the_promised_date_is_the_purchase_orders_local_date(
    client: httpx.Client, stock: Stocker
) -> None:
    """An arrival just after midnight UTC is still the day before in New Jersey."""
    sku = stock({"DC-NJ": 0})
    at = dt.datetime(2030, 5, 2, 2, 0, tzinfo=dt.UTC).timestamp()
    purchase_order(client, sku, 1, at)
    r = client.post("/v1/orders", json={**order_body({sku: 1}), "backorder": True})
    assert r.json()["promised_date"] == "2030-05-01"


def test_a_backordered_order_is_explained(client: httpx.Client, stock: Stocker) -> None:
    """The explanation of an order partly waiting for a purchase order answers (no 500)."""
    sku = stock({"DC-NJ": 1})
    purchase_order(client, sku, 5)
    r = client.post("/v1/orders", json={**order_body({sku: 3}), "backorder": True})
    explained = client.get(f"/v1/orders/{r.json()['id']}/explanation")
    assert explained.status_code == 200, explained.text
