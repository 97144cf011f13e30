"""Orders through their life over HTTP: create, get, release, ship, return, cancel, reject,
shortages and transitions that are not allowed."""

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, Stocker, new_id, order_body


@pytest.fixture
def client(any_server: ApiServer) -> Iterator[httpx.Client]:
    """Every test of this module runs on both stores (SQLite and a real redis-server)."""
    with any_server.client() as c:
        yield c


def units(body: dict[str, Any], field: str) -> dict[tuple[str, str], int]:
    return {(u["node"], u["sku"]): u["qty"] for u in body[field]}


def test_create_get_release_ship_return(client: httpx.Client, stock: Stocker) -> None:
    """Create at the cheapest node, get, release, ship (on hand down), return with restock."""
    sku = stock({"DC-NJ": 5, "ST-CHI": 5, "ST-LA": 5})
    r = client.post("/v1/orders", json=order_body({sku: 2}, "L-" + new_id()))
    assert r.status_code == 201, r.text
    order = r.json()
    oid = order["id"]
    assert order["state"] == "allocated"
    assert units(order, "allocations") == {("DC-NJ", sku): 2}
    assert order["plan"]["shipments"][0]["node"] == "DC-NJ"
    assert order["plan"]["cost"] > 0
    assert order["plan"]["currency"] == "USD"
    assert stock.available(sku) == {"DC-NJ": 3, "ST-CHI": 5, "ST-LA": 5}

    got = client.get(f"/v1/orders/{oid}").json()
    assert {k: got[k] for k in order} == order  # the create reply is the order as stored
    assert [e["type"] for e in got["history"]] == ["order.created", "order.allocated"]
    assert got["version"] == 1

    r = client.post(f"/v1/orders/{oid}/release")
    assert r.status_code == 200
    assert r.json()["state"] == "released"
    assert r.json()["released_nodes"] == ["DC-NJ"]

    r = client.post(f"/v1/orders/{oid}/ship", json={"node": "DC-NJ"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "shipped"
    assert units(r.json(), "shipped") == {("DC-NJ", sku): 2}
    position = client.get(f"/v1/stock/{sku}").json()["nodes"][0]
    assert (position["node"], position["on_hand"], position["allocated"]) == ("DC-NJ", 3, 0)

    r = client.post(f"/v1/orders/{oid}/return", json={"lines": [{"sku": sku, "qty": 2}]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "returned"
    assert stock.available(sku)["DC-NJ"] == 5

    history = [e["type"] for e in client.get(f"/v1/orders/{oid}").json()["history"]]
    assert history == [
        "order.created", "order.allocated", "order.released", "order.shipped",
        "order.returned",
    ]  # fmt: skip


def test_split_order_ships_node_by_node(client: httpx.Client, stock: Stocker) -> None:
    """A split order is partially_shipped after one node ships, shipped after the last."""
    a = stock({"DC-NJ": 1})
    b = stock({"ST-CHI": 1})
    r = client.post("/v1/orders", json=order_body({a: 1, b: 1}))
    assert r.status_code == 201, r.text
    order = r.json()
    assert sorted(s["node"] for s in order["plan"]["shipments"]) == ["DC-NJ", "ST-CHI"]
    assert order["plan"]["cost"] == pytest.approx(
        sum(s["cost"] for s in order["plan"]["shipments"])
    )
    r = client.post(f"/v1/orders/{order['id']}/ship", json={"node": "ST-CHI"})
    assert r.json()["state"] == "partially_shipped"
    r = client.post(f"/v1/orders/{order['id']}/ship", json={"node": "DC-NJ"})
    assert r.json()["state"] == "shipped"


def test_cancel_whole_and_lines(client: httpx.Client, stock: Stocker) -> None:
    """Cancelling lines gives their units back; cancelling the rest ends the order cancelled."""
    a = stock({"DC-NJ": 4})
    b = stock({"DC-NJ": 4})
    oid = client.post("/v1/orders", json=order_body({a: 3, b: 1})).json()["id"]
    r = client.post(f"/v1/orders/{oid}/cancel", json={"lines": [{"sku": a, "qty": 2}]})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "allocated"
    assert {ln["sku"]: ln["qty"] for ln in r.json()["lines"]} == {a: 1, b: 1}
    assert stock.available(a)["DC-NJ"] == 3
    r = client.post(f"/v1/orders/{oid}/cancel")
    assert r.status_code == 200
    assert r.json()["state"] == "cancelled"
    assert stock.available(a)["DC-NJ"] == 4
    assert stock.available(b)["DC-NJ"] == 4


def test_cancel_after_partial_shipment_cancels_unshipped_only(
    client: httpx.Client, stock: Stocker
) -> None:
    """After a partial shipment cancel takes only unshipped units and leaves the order shipped."""
    a = stock({"DC-NJ": 1})
    b = stock({"ST-CHI": 1})
    oid = client.post("/v1/orders", json=order_body({a: 1, b: 1})).json()["id"]
    client.post(f"/v1/orders/{oid}/ship", json={"node": "DC-NJ"})
    r = client.post(f"/v1/orders/{oid}/cancel", json={"lines": [{"sku": a, "qty": 1}]})
    assert r.status_code == 409
    assert a in r.json()["error"]["message"]
    r = client.post(f"/v1/orders/{oid}/cancel")
    assert r.status_code == 200
    assert r.json()["state"] == "shipped"
    assert stock.available(b)["ST-CHI"] == 1


def test_reject_resources_elsewhere_and_excludes_the_node(
    client: httpx.Client, stock: Stocker
) -> None:
    """Rejected units move to the next cheapest node; a rejecting node is never used again."""
    sku = stock({"DC-NJ": 5, "ST-CHI": 5, "ST-LA": 5})
    oid = client.post("/v1/orders", json=order_body({sku: 2})).json()["id"]
    r = client.post(f"/v1/orders/{oid}/reject", json={"node": "DC-NJ"})
    assert r.status_code == 200, r.text
    order = r.json()
    assert order["state"] == "allocated"
    assert units(order, "allocations") == {("ST-CHI", sku): 2}  # nearer to NYC than LA
    assert order["excluded_nodes"] == ["DC-NJ"]
    assert [s["node"] for s in order["plan"]["shipments"]] == ["ST-CHI"]
    assert stock.available(sku) == {"DC-NJ": 5, "ST-CHI": 3, "ST-LA": 5}

    r = client.post(f"/v1/orders/{oid}/reject", json={"node": "ST-CHI"})
    assert units(r.json(), "allocations") == {("ST-LA", sku): 2}  # DC-NJ stays excluded
    assert r.json()["excluded_nodes"] == ["DC-NJ", "ST-CHI"]
    history = [e["type"] for e in client.get(f"/v1/orders/{oid}").json()["history"]]
    assert history.count("order.rejected") == 2
    assert history.count("order.reallocated") == 2


def test_reject_without_stock_elsewhere_cancels_the_units(
    client: httpx.Client, stock: Stocker
) -> None:
    """Rejected units no other node can ship leave the order (lines_unfillable)."""
    sku = stock({"DC-NJ": 3})
    oid = client.post("/v1/orders", json=order_body({sku: 2})).json()["id"]
    r = client.post(f"/v1/orders/{oid}/reject", json={"node": "DC-NJ"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"
    assert r.json()["lines"] == []
    history = [e["type"] for e in client.get(f"/v1/orders/{oid}").json()["history"]]
    assert "order.lines_unfillable" in history
    assert stock.available(sku)["DC-NJ"] == 3


def test_shortage_names_every_short_line(client: httpx.Client, stock: Stocker) -> None:
    """A shortage is 409 listing every short line (SKU, nodes, requested, available)."""
    a = stock({"DC-NJ": 1, "ST-CHI": 1})
    b = stock({"ST-LA": 2})
    c = stock({"DC-NJ": 9})
    r = client.post("/v1/orders", json=order_body({a: 3, b: 5, c: 1}))
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "insufficient_stock"
    assert sorted(err["details"], key=lambda d: d["sku"]) == sorted(
        [
            {"sku": a, "nodes": ["DC-NJ", "ST-CHI"], "requested": 3, "available": 2},
            {"sku": b, "nodes": ["ST-LA"], "requested": 5, "available": 2},
        ],
        key=lambda d: str(d["sku"]),
    )
    assert stock.available(c)["DC-NJ"] == 9


def test_transition_not_allowed_answers_409_with_current_state(
    client: httpx.Client, stock: Stocker
) -> None:
    """A transition the state machine does not allow is 409 with the current state."""
    sku = stock({"DC-NJ": 2})
    oid = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
    client.post(f"/v1/orders/{oid}/release")
    for path, body, state in [
        ("release", None, "released"),
        ("ship", {"node": "ST-LA"}, "released"),
        ("return", {"lines": [{"sku": sku, "qty": 1}]}, "released"),
    ]:
        r = client.post(f"/v1/orders/{oid}/{path}", json=body)
        assert r.status_code == 409, (path, r.text)
        assert r.json()["error"]["details"] == [{"current_state": state}]
    client.post(f"/v1/orders/{oid}/cancel")
    r = client.post(f"/v1/orders/{oid}/ship", json={"node": "DC-NJ"})
    assert r.status_code == 409
    assert r.json()["error"]["details"] == [{"current_state": "cancelled"}]


def test_unknown_order_and_duplicate_id(client: httpx.Client, stock: Stocker) -> None:
    """An unknown order id is 404; creating an existing id is 409 and allocates nothing."""
    assert client.get("/v1/orders/no-such-order").status_code == 404
    sku = stock({"DC-NJ": 5})
    body = order_body({sku: 1})
    assert client.post("/v1/orders", json=body).status_code == 201
    r = client.post("/v1/orders", json=body)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"
    assert stock.available(sku)["DC-NJ"] == 4


def test_destination_by_zip(client: httpx.Client, stock: Stocker) -> None:
    """A US ZIP code is geocoded: a Los Angeles ZIP is served from ST-LA."""
    sku = stock({"DC-NJ": 5, "ST-LA": 5})
    r = client.post(
        "/v1/orders",
        json={"id": new_id(), "destination": {"zip": "90012"}, "lines": [{"sku": sku, "qty": 1}]},
    )
    assert r.status_code == 201, r.text
    assert units(r.json(), "allocations") == {("ST-LA", sku): 1}
    assert r.json()["destination"]["zip"] == "90012"


def test_batch_allocates_jointly_and_reports_each_order(
    client: httpx.Client, stock: Stocker
) -> None:
    """A batch allocates covered orders, refuses the rest with short lines, never oversells."""
    sku = stock({"DC-NJ": 3, "ST-CHI": 1})
    orders = [order_body({sku: 2}), order_body({sku: 2}), order_body({sku: 1})]
    r = client.post("/v1/orders/batch", json={"orders": orders})
    assert r.status_code == 200, r.text
    out = r.json()
    assert [x["id"] for x in out["results"]] == [o["id"] for o in orders]
    assert out["allocated"] == 2
    assert out["refused"] == 1
    refused = next(x for x in out["results"] if x["status"] == "refused")
    assert refused["error"]["code"] == "insufficient_stock"
    allocated = sum(x["order"]["lines"][0]["qty"] for x in out["results"] if x["order"])
    assert sum(stock.available(sku).values()) == 4 - allocated


def test_orders_too_large_for_exact_pricing_are_allocated(
    client: httpx.Client, stock: Stocker
) -> None:
    """Orders beyond exact pricing (100 lines, 5,000 units) are sourced by rule and allocated."""
    skus = [f"MANY-{new_id('s')}" for _ in range(100)]
    items = [{"sku": s, "weight_lb": 0.5} for s in skus]
    assert client.put("/v1/items", json={"items": items}).status_code == 200
    for node in ("DC-NJ", "ST-CHI"):
        counts = [{"sku": s, "on_hand": 1} for s in skus[: 60 if node == "DC-NJ" else 100]]
        assert client.post("/v1/stock/snapshots", json={"node": node, "counts": counts}).is_success
    r = client.post("/v1/orders", json=order_body(dict.fromkeys(skus, 1)))
    assert r.status_code == 201, r.text
    assert sum(u["qty"] for u in r.json()["allocations"]) == 100

    big = stock({"DC-NJ": 3000, "ST-CHI": 3000})
    r = client.post("/v1/orders", json=order_body({big: 5000}))
    assert r.status_code == 201, r.text
    assert units(r.json(), "allocations") == {("DC-NJ", big): 3000, ("ST-CHI", big): 2000}


def test_replies_match_the_stored_order(client: httpx.Client, stock: Stocker) -> None:
    """The reply of each step equals the order as stored after it."""
    a = stock({"DC-NJ": 2, "ST-CHI": 2, "ST-LA": 2})
    b = stock({"ST-CHI": 2, "ST-LA": 1})
    oid = new_id()
    order: dict[str, Any] = {}

    def node_of(sku: str) -> str:
        return str(next(u["node"] for u in order["allocations"] if u["sku"] == sku))

    steps: list[tuple[str, Callable[[], dict[str, Any] | None]]] = [
        ("", lambda: order_body({a: 2, b: 2}, oid)),
        ("/cancel", lambda: {"lines": [{"sku": b, "qty": 1}]}),
        ("/release", lambda: None),
        ("/reject", lambda: {"node": node_of(a), "lines": [{"sku": a, "qty": 1}]}),
        ("/ship", lambda: {"node": node_of(b)}),
        ("/return", lambda: {"lines": [{"sku": b, "qty": 1}], "restock": False}),
        ("/cancel", lambda: None),
    ]
    for n, (path, body) in enumerate(steps):
        url = "/v1/orders" + (f"/{oid}{path}" if path else "")
        r = client.post(url, json=body(), headers={"Idempotency-Key": f"{oid}-{n}"})
        assert r.status_code in (200, 201), (path, r.text)
        order = client.get(f"/v1/orders/{oid}").json()
        assert {k: order[k] for k in r.json()} == r.json(), path
    assert order["state"] == "shipped"
