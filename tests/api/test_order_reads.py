"""Reads an integrator and customer care need, through the real app on both stores: order
search with cursor pages, an order's history with reasons, one purchase order, and events
carrying the resource after the change."""

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, Stocker, new_id, order_body


@pytest.fixture
def any_client(any_server: ApiServer) -> Iterator[httpx.Client]:
    with any_server.client() as c:
        yield c


@pytest.fixture
def any_stock(any_client: httpx.Client, request: pytest.FixtureRequest) -> Stocker:
    return Stocker(any_client, request.node.name[:12].replace("[", "-").replace("]", ""))


def pages(client: httpx.Client, params: dict[str, Any]) -> list[str]:
    """Every order id GET /v1/orders lists for params, page by page."""
    ids: list[str] = []
    cursor = None
    while True:
        r = client.get("/v1/orders", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        ids += [o["id"] for o in r.json()["orders"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return ids


def test_search_by_references_postal_code_status_and_node(
    any_client: httpx.Client, any_stock: Stocker
) -> None:
    """Customer care finds orders by external reference, customer reference or postal code;
    filters combine; a step moves the order between statuses; pages come newest first."""
    client, customer = any_client, f"C-{uuid.uuid4().hex[:8]}"
    sku = any_stock({"DC-NJ": 10, "ST-LA": 10})
    made = []
    for k, dest in enumerate([{"zip": "10001"}, {"zip": "90012"}, {"zip": "10001"}]):
        body = {**order_body({sku: 1}, **dest), "customer_reference": customer,
                "external_reference": f"SHOP-{customer}-{k}"}  # fmt: skip
        r = client.post("/v1/orders", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["customer_reference"] == customer
        made.append(r.json()["id"])

    assert pages(client, {"customer_reference": customer, "limit": 2}) == made[::-1]
    found = client.get("/v1/orders", params={"external_reference": f"SHOP-{customer}-1"}).json()
    assert [o["id"] for o in found["orders"]] == [made[1]]
    assert found["orders"][0]["version"] == 1
    assert found["orders"][0]["external_reference"] == f"SHOP-{customer}-1"
    assert pages(client, {"customer_reference": customer, "postal_code": " 10001 "}) == [
        made[2], made[0],
    ]  # fmt: skip
    la = pages(client, {"customer_reference": customer, "node": "ST-LA"})
    assert la == [made[1]]
    assert client.post(f"/v1/orders/{made[0]}/release").status_code == 200
    assert pages(client, {"customer_reference": customer, "status": "released"}) == [made[0]]
    assert pages(client, {"customer_reference": customer, "status": "allocated"}) == [
        made[2], made[1],
    ]  # fmt: skip
    assert pages(client, {"customer_reference": customer, "method": "ship"}) == made[::-1]


def test_search_by_creation_time(any_client: httpx.Client, any_stock: Stocker) -> None:
    """created_from (inclusive) and created_to (exclusive) take ISO 8601 with a zone."""
    client, customer = any_client, f"T-{uuid.uuid4().hex[:8]}"
    sku = any_stock({"DC-NJ": 10})
    made = []
    for _ in range(3):
        body = {**order_body({sku: 1}), "customer_reference": customer}
        made.append(client.post("/v1/orders", json=body).json()["id"])
    listed = client.get("/v1/orders", params={"customer_reference": customer}).json()["orders"]
    # to the microsecond below the second order's creation (datetimes have no finer grain)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    second = epoch + dt.timedelta(microseconds=math.floor(listed[1]["created_at"] * 1e6))
    newer = {"customer_reference": customer, "created_from": second.isoformat()}
    assert pages(client, newer) == [made[2], made[1]]
    older = {"customer_reference": customer, "created_to": second.isoformat()}
    assert pages(client, older) == [made[0]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"cursor": "garbage"}, "cursor"),
        ({"created_from": "2026-01-01T00:00:00"}, "created_from"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_search_input_is_422_naming_the_field(
    any_client: httpx.Client, params: dict[str, Any], field: str
) -> None:
    r = any_client.get("/v1/orders", params=params)
    assert r.status_code == 422, r.text
    assert field in r.text
    assert r.json()["error"]["code"]


def test_history_gives_each_decision_with_its_reason(
    any_client: httpx.Client, any_stock: Stocker
) -> None:
    """An order's events, each with its decision and reason; the engine's choices point to
    the explanation; each event carries the order after it."""
    client = any_client
    sku = any_stock({"DC-NJ": 2, "ST-CHI": 5})
    oid = client.post("/v1/orders", json=order_body({sku: 2})).json()["id"]
    r = client.post(f"/v1/orders/{oid}/reject", json={"node": "DC-NJ"})
    assert r.status_code == 200, r.text
    ship = {"node": "ST-CHI", "carrier": "UPS", "tracking": "1Z999"}
    assert client.post(f"/v1/orders/{oid}/ship", json=ship).status_code == 200
    history = client.get(f"/v1/orders/{oid}/history")
    assert history.status_code == 200, history.text
    body = history.json()
    assert body["explanation"] == f"/v1/orders/{oid}/explanation"
    steps = [(e["type"], e["code"], e["explained"]) for e in body["events"]]
    assert steps == [
        ("order.created", "placed", False),
        ("order.allocated", "sourced", True),
        ("order.rejected", "rejected", False),
        ("order.reallocated", "resourced", True),
        ("order.shipped", "shipped", False),
    ]
    assert body["events"][2]["reason"].startswith(f"DC-NJ could not fulfil 2 x {sku}")
    assert body["events"][4]["reason"] == f"ST-CHI shipped 2 x {sku} (UPS 1Z999)"
    assert [e["resource"]["state"] for e in body["events"]] == [
        "allocated", "allocated", "allocated", "allocated", "shipped",
    ]  # fmt: skip
    final = client.get(f"/v1/orders/{oid}").json()
    resource = body["events"][-1]["resource"]
    assert resource == {k: final[k] for k in resource}
    assert client.get(f"/v1/orders/{oid}/explanation").status_code == 200
    assert client.get("/v1/orders/nope/history").status_code == 404


def test_events_carry_the_resource_after_the_change(
    any_client: httpx.Client, any_stock: Stocker
) -> None:
    """Feed events have payload_version 2 and the record after the change: the order as
    GET answers it, the stock position as GET /v1/stock shows it."""
    client = any_client
    sku = any_stock({"DC-NJ": 4})
    oid = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
    mine = client.get("/v1/events", params={"subject": oid, "limit": 100}).json()["events"]
    order = client.get(f"/v1/orders/{oid}").json()
    assert [e["payload_version"] for e in mine] == [2, 2]
    assert mine[-1]["resource"] == {k: order[k] for k in mine[-1]["resource"]}
    adjust = {"node": "DC-NJ", "sku": sku, "delta": 3, "reason": "found"}
    assert client.post("/v1/stock/adjustments", json=adjust).status_code == 200
    subject = f"stock:DC-NJ/{sku}"
    found = client.get("/v1/events", params={"subject": subject, "limit": 100}).json()["events"]
    position = next(p for p in client.get(f"/v1/stock/{sku}").json()["nodes"])
    assert found[-1]["resource"] == {k: position[k] for k in found[-1]["resource"]}
    assert found[-1]["resource"]["on_hand"] == 7


def test_purchase_orders_are_read_by_id_and_their_changes_are_events(
    any_client: httpx.Client, any_stock: Stocker
) -> None:
    client = any_client
    sku = any_stock({"DC-NJ": 1})
    po = {"id": new_id("PO"), "node": "DC-NJ", "sku": sku, "qty": 8, "expected_at": 2e9}
    assert client.post("/v1/inbound", json={"inbound": [po]}).status_code == 200
    read = {**po, "backordered": 0}  # no order waits for it
    assert client.get(f"/v1/inbound/{po['id']}").json() == read
    receipt = client.post(f"/v1/inbound/{po['id']}/receive", json={"qty": 3})
    assert receipt.status_code == 200, receipt.text
    assert client.get(f"/v1/inbound/{po['id']}").json()["qty"] == 5
    changes = client.get(
        "/v1/events", params={"subject": f"inbound:{po['id']}", "type": "inbound.*"}
    ).json()["events"]
    assert [(e["type"], e["resource"]) for e in changes] == [("inbound.created", read)]
    missing = client.get("/v1/inbound/PO-none")
    assert missing.status_code == 404
    assert "PO-none" in missing.json()["error"]["message"]
