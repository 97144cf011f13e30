"""Checkout holds over HTTP: hold, commit into an order, release, expiry."""

import time

import httpx

from tests.api.conftest import NYC, ApiServer, Stocker, new_id


def hold(client: httpx.Client, sku: str, qty: int, ttl_s: int = 600) -> httpx.Response:
    return client.post(
        "/v1/reservations",
        json={
            "cart": new_id("cart"),
            "destination": NYC,
            "lines": [{"sku": sku, "qty": qty}],
            "ttl_s": ttl_s,
        },
    )


def test_hold_then_commit(client: httpx.Client, stock: Stocker) -> None:
    """A hold takes units from available; committing it allocates exactly those units."""
    sku = stock({"DC-NJ": 3, "ST-LA": 3})
    r = hold(client, sku, 2)
    assert r.status_code == 201, r.text
    res = r.json()
    assert res["state"] == "active"
    assert res["units"] == [{"node": "DC-NJ", "sku": sku, "qty": 2}]
    assert res["expires_at"] > time.time() + 500
    position = client.get(f"/v1/stock/{sku}").json()["nodes"][0]
    assert (position["reserved"], position["available"]) == (2, 1)

    oid = new_id()
    r = client.post(
        f"/v1/reservations/{res['id']}/commit", json={"order_id": oid, "destination": NYC}
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["state"] == "allocated"
    assert order["reservation_id"] == res["id"]
    assert order["allocations"] == [{"node": "DC-NJ", "sku": sku, "qty": 2}]
    assert order["plan"]["shipments"][0]["cost"] > 0
    position = client.get(f"/v1/stock/{sku}").json()["nodes"][0]
    assert (position["reserved"], position["allocated"], position["available"]) == (0, 2, 1)
    assert client.get(f"/v1/reservations/{res['id']}").json()["state"] == "committed"

    again = client.post(
        f"/v1/reservations/{res['id']}/commit", json={"order_id": new_id(), "destination": NYC}
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"] == [{"current_state": "committed"}]


def test_release_gives_stock_back(client: httpx.Client, stock: Stocker) -> None:
    """Releasing a hold makes its units available again; it cannot then be committed."""
    sku = stock({"DC-NJ": 2})
    res = hold(client, sku, 2).json()
    assert stock.available(sku)["DC-NJ"] == 0
    r = client.post(f"/v1/reservations/{res['id']}/release")
    assert r.status_code == 200
    assert r.json()["state"] == "released"
    assert stock.available(sku)["DC-NJ"] == 2
    r = client.post(
        f"/v1/reservations/{res['id']}/commit", json={"order_id": new_id(), "destination": NYC}
    )
    assert r.status_code == 409


def test_expired_hold_gives_stock_back(
    server: ApiServer, client: httpx.Client, stock: Stocker
) -> None:
    """An expired hold counts for nothing, cannot be committed, and is reaped as expired."""
    sku = stock({"DC-NJ": 2})
    res = hold(client, sku, 2, ttl_s=60).json()
    assert stock.available(sku)["DC-NJ"] == 0
    assert hold(client, sku, 1).status_code == 409  # held units are not available
    server.shift_clock(61)
    assert stock.available(sku)["DC-NJ"] == 2
    r = client.post(
        f"/v1/reservations/{res['id']}/commit", json={"order_id": new_id(), "destination": NYC}
    )
    assert r.status_code == 409
    assert r.json()["error"]["details"] == [{"current_state": "expired"}]
    deadline = time.monotonic() + 5
    seen: set[str] = set()
    after = 0
    while "reservation.expired" not in seen and time.monotonic() < deadline:
        page = client.get("/v1/events", params={"after": after, "limit": 1000}).json()
        seen |= {e["type"] for e in page["events"] if e["subject"] == res["id"]}
        after = page["next_after"]
        time.sleep(0.1)
    assert "reservation.expired" in seen


def test_hold_shortage_and_ttl_bounds(client: httpx.Client, stock: Stocker) -> None:
    """A short hold is 409 with its short lines; a TTL outside 1 s .. 24 h is 422."""
    sku = stock({"ST-CHI": 1})
    r = hold(client, sku, 2)
    assert r.status_code == 409
    assert r.json()["error"]["details"] == [
        {"sku": sku, "nodes": ["ST-CHI"], "requested": 2, "available": 1}
    ]
    for ttl in (0, 86_401):
        r = hold(client, sku, 1, ttl_s=ttl)
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "ttl_s"


def test_unknown_reservation_is_404(client: httpx.Client) -> None:
    """Commit, release and get of an unknown hold answer 404."""
    assert client.get("/v1/reservations/res_nope").status_code == 404
    assert client.post("/v1/reservations/res_nope/release").status_code == 404
    r = client.post(
        "/v1/reservations/res_nope/commit", json={"order_id": new_id(), "destination": NYC}
    )
    assert r.status_code == 404
