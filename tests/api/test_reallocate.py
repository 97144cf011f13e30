"""Reallocation and partial rejection over HTTP, on both stores: an order moves to a
cheaper plan when stock comes back; a node that rejects a line is excluded for that line
only."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, Stocker, order_body


@pytest.fixture
def client(any_server: ApiServer) -> Iterator[httpx.Client]:
    with any_server.client() as c:
        yield c


def count(client: httpx.Client, node: str, sku: str, on_hand: int) -> None:
    body = {"node": node, "counts": [{"sku": sku, "on_hand": on_hand}]}
    assert client.post("/v1/stock/snapshots", json=body).status_code == 200


def where(order: dict[str, Any]) -> dict[str, str]:
    return {u["sku"]: u["node"] for u in order["allocations"]}


def test_reallocate_moves_to_a_cheaper_plan(client: httpx.Client, stock: Stocker) -> None:
    """Sourced from Los Angeles while New Jersey had none; once New Jersey has stock, a
    reallocation moves the order there in one step (event, version + 1), and frees the
    Los Angeles unit; a second reallocation has nothing to save and changes nothing."""
    sku = stock({"ST-LA": 3})
    order = client.post("/v1/orders", json=order_body({sku: 1})).json()
    assert where(order) == {sku: "ST-LA"}
    count(client, "DC-NJ", sku, 5)
    r = client.post(f"/v1/orders/{order['id']}/reallocate")
    assert r.status_code == 200, r.text
    moved = r.json()
    assert where(moved) == {sku: "DC-NJ"}
    assert moved["plan"]["cost"] < order["plan"]["cost"]
    assert stock.available(sku) == {"DC-NJ": 4, "ST-LA": 3}
    got = client.get(f"/v1/orders/{order['id']}")
    assert got.headers["ETag"] == '"2"'
    assert got.json()["history"][-1]["type"] == "order.reallocated"
    again = client.post(f"/v1/orders/{order['id']}/reallocate")
    assert again.status_code == 200
    assert client.get(f"/v1/orders/{order['id']}").headers["ETag"] == '"2"'


def test_a_saving_below_the_threshold_changes_nothing(client: httpx.Client, stock: Stocker) -> None:
    """min_saving above what the move saves: the order is answered as it is."""
    sku = stock({"ST-LA": 1})
    order = client.post("/v1/orders", json=order_body({sku: 1})).json()
    count(client, "DC-NJ", sku, 1)
    r = client.post(f"/v1/orders/{order['id']}/reallocate", json={"min_saving": 1000.0})
    assert r.status_code == 200, r.text
    assert where(r.json()) == {sku: "ST-LA"}
    assert client.get(f"/v1/orders/{order['id']}").headers["ETag"] == '"1"'


def test_units_handed_to_a_node_stay(client: httpx.Client, stock: Stocker) -> None:
    """A released order's units are being picked: 409, nothing moves; a negative
    threshold is refused naming the field."""
    sku = stock({"ST-LA": 1})
    oid = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
    bad = client.post(f"/v1/orders/{oid}/reallocate", json={"min_saving": -1})
    assert bad.status_code == 422
    assert "min_saving" in bad.text
    client.post(f"/v1/orders/{oid}/release")
    count(client, "DC-NJ", sku, 1)
    r = client.post(f"/v1/orders/{oid}/reallocate")
    assert r.status_code == 409
    assert r.json()["error"]["details"] == [{"current_state": "released"}]


def test_a_rejecting_node_is_excluded_for_that_line_only(
    client: httpx.Client, stock: Stocker
) -> None:
    """New Jersey rejects line A: A is sourced elsewhere and never from New Jersey again,
    but B may still move there."""
    a = stock({"DC-NJ": 1, "ST-CHI": 1})
    b = stock({"ST-LA": 1})
    order = client.post("/v1/orders", json=order_body({a: 1, b: 1})).json()
    assert where(order) == {a: "DC-NJ", b: "ST-LA"}
    r = client.post(f"/v1/orders/{order['id']}/reject", json={"node": "DC-NJ"})
    assert r.status_code == 200, r.text
    assert where(r.json()) == {a: "ST-CHI", b: "ST-LA"}
    assert r.json()["excluded_nodes"] == ["DC-NJ"]
    count(client, "DC-NJ", a, 5)
    count(client, "DC-NJ", b, 5)
    moved = client.post(f"/v1/orders/{order['id']}/reallocate").json()
    assert where(moved) == {a: "ST-CHI", b: "DC-NJ"}
