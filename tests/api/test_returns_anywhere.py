"""Returns anywhere over HTTP, on both stores: a return received at any node, each line with
its disposition; only restocked units are sellable again, where they were received."""

from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import ApiServer, Stocker, order_body


@pytest.fixture
def client(any_server: ApiServer) -> Iterator[httpx.Client]:
    with any_server.client() as c:
        yield c


def shipped(client: httpx.Client, stock: Stocker, qty: int) -> tuple[str, str]:
    """An order of qty units shipped from DC-NJ; (order id, sku)."""
    sku = stock({"DC-NJ": 10})
    oid = client.post("/v1/orders", json=order_body({sku: qty})).json()["id"]
    assert client.post(f"/v1/orders/{oid}/ship", json={"node": "DC-NJ"}).status_code == 200
    return oid, sku


def on_hand(client: httpx.Client, sku: str) -> dict[str, int]:
    return {p["node"]: p["on_hand"] for p in client.get(f"/v1/stock/{sku}").json()["nodes"]}


def test_a_return_at_a_store_with_dispositions(client: httpx.Client, stock: Stocker) -> None:
    """Shipped from the warehouse, brought back to the Chicago store: the restocked unit is
    sellable there, the quarantined and written-off ones nowhere."""
    oid, sku = shipped(client, stock, 3)
    body = {
        "receiving_node": "ST-CHI",
        "lines": [{"sku": sku, "qty": 1, "disposition": "restock"},
                  {"sku": sku, "qty": 1, "disposition": "quarantine"},
                  {"sku": sku, "qty": 1, "disposition": "write_off"}],
    }  # fmt: skip
    r = client.post(f"/v1/orders/{oid}/return", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "returned"
    assert on_hand(client, sku) == {"DC-NJ": 7, "ST-CHI": 1}
    event = client.get(f"/v1/orders/{oid}").json()["history"][-1]
    assert event["type"] == "order.returned"
    assert event["data"]["received_at"] == "ST-CHI"
    assert [ln["disposition"] for ln in event["data"]["lines"]] == [
        "restock", "quarantine", "write_off",
    ]  # fmt: skip


def test_the_default_is_the_shipping_node_and_restock(client: httpx.Client, stock: Stocker) -> None:
    """Without a receiving node or dispositions, the return restocks the shipping node;
    restock: false writes the units off."""
    oid, sku = shipped(client, stock, 2)
    r = client.post(f"/v1/orders/{oid}/return", json={"lines": [{"sku": sku, "qty": 1}]})
    assert r.status_code == 200, r.text
    body = {"restock": False, "lines": [{"sku": sku, "qty": 1}]}
    assert client.post(f"/v1/orders/{oid}/return", json=body).status_code == 200
    assert on_hand(client, sku) == {"DC-NJ": 9}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"receiving_node": "ST-NOWHERE"}, "ST-NOWHERE"),
        ({"lines_disposition": "resell"}, "lines[0].disposition"),
    ],
)
def test_bad_returns_are_refused_naming_the_field(
    client: httpx.Client, stock: Stocker, body: dict[str, str], field: str
) -> None:
    """An unknown receiving node or disposition is refused naming it; nothing returned."""
    oid, sku = shipped(client, stock, 1)
    line: dict[str, object] = {"sku": sku, "qty": 1}
    body = dict(body)  # the parameter is shared by both stores' runs
    if "lines_disposition" in body:
        line["disposition"] = body.pop("lines_disposition")
    r = client.post(f"/v1/orders/{oid}/return", json={**body, "lines": [line]})
    assert r.status_code in (404, 422), r.text
    assert field in r.text
    assert client.get(f"/v1/orders/{oid}").json()["returned"] == []
    assert on_hand(client, sku) == {"DC-NJ": 9}
