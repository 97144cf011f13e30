"""Idempotency-Key over HTTP: replays, reuse with another body, concurrent duplicates."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    NYC,
    ApiServer,
    Stocker,
    new_id,
    order_body,
    redis_namespace_url,
    sqlite_url,
    start_server,
)


def test_same_key_and_body_replays_the_reply(client: httpx.Client, stock: Stocker) -> None:
    """A retry with the same key and body replays the first reply and allocates nothing more."""
    sku = stock({"DC-NJ": 5})
    body = order_body({sku: 2})
    first = client.post("/v1/orders", json=body, headers={"Idempotency-Key": "create-1"})
    assert first.status_code == 201, first.text
    again = client.post("/v1/orders", json=body, headers={"Idempotency-Key": "create-1"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content  # the same bytes, not only the same JSON
    assert stock.available(sku)["DC-NJ"] == 3


def test_same_key_other_body_is_422(client: httpx.Client, stock: Stocker) -> None:
    """Reusing a key for a different request is refused with 422 and has no effect."""
    sku = stock({"DC-NJ": 5})
    key = {"Idempotency-Key": new_id("k")}
    assert client.post("/v1/orders", json=order_body({sku: 1}), headers=key).status_code == 201
    r = client.post("/v1/orders", json=order_body({sku: 2}), headers=key)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert stock.available(sku)["DC-NJ"] == 4


def test_lifecycle_step_replays(client: httpx.Client, stock: Stocker) -> None:
    """A retried ship with its key replays the first reply instead of answering 409."""
    sku = stock({"DC-NJ": 5})
    oid = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
    key = {"Idempotency-Key": new_id("ship")}
    first = client.post(f"/v1/orders/{oid}/ship", json={"node": "DC-NJ"}, headers=key)
    again = client.post(f"/v1/orders/{oid}/ship", json={"node": "DC-NJ"}, headers=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    history = [e["type"] for e in client.get(f"/v1/orders/{oid}").json()["history"]]
    assert history.count("order.shipped") == 1


def test_adjustment_applies_once(client: httpx.Client, stock: Stocker) -> None:
    """A stock adjustment retried with its key changes on hand once."""
    sku = stock({"ST-CHI": 5})
    key = {"Idempotency-Key": new_id("adj")}
    body = {"node": "ST-CHI", "sku": sku, "delta": -2, "reason": "damaged"}
    for _ in range(3):
        r = client.post("/v1/stock/adjustments", json=body, headers=key)
        assert r.status_code == 200, r.text
    assert stock.available(sku)["ST-CHI"] == 3


def test_keys_are_scoped_to_the_api_key(
    server: ApiServer, client: httpx.Client, stock: Stocker
) -> None:
    """Two API keys using the same Idempotency-Key do not collide."""
    other = client.post("/v1/keys", json={"name": "other", "scopes": ["orders"]}).json()["token"]
    sku = stock({"DC-NJ": 5})
    key = {"Idempotency-Key": "shared-key"}
    assert client.post("/v1/orders", json=order_body({sku: 1}), headers=key).status_code == 201
    with server.client(other) as c:
        assert c.post("/v1/orders", json=order_body({sku: 1}), headers=key).status_code == 201
    assert stock.available(sku)["DC-NJ"] == 3


def _replayed(r: httpx.Response) -> bool:
    return bool(r.headers.get("Idempotent-Replayed") == "true")


def _fire(server: ApiServer, n: int, method: str, path: str, body: Any, key: str) -> list[Any]:
    def one(_: int) -> httpx.Response:
        with server.client() as c:
            return c.request(method, path, json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_fifty_concurrent_duplicates_have_one_effect(server: ApiServer, stock: Stocker) -> None:
    """50 simultaneous copies of one create: one order, allocated once; others replay or 409."""
    sku = stock({"DC-NJ": 100})
    body = order_body({sku: 3})
    replies = _fire(server, 50, "POST", "/v1/orders", body, new_id("dup"))
    statuses = [r.status_code for r in replies]
    assert set(statuses) <= {201, 409}, statuses
    first = [r.json() for r in replies if r.status_code == 201 and not _replayed(r)]
    assert len(first) == 1  # one request ran; the others replayed it or were told to wait
    assert all(r.json() == first[0] for r in replies if _replayed(r))
    for r in replies:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency_key_in_flight"
    assert stock.available(sku)["DC-NJ"] == 97
    with server.client() as c:
        history = c.get(f"/v1/orders/{body['id']}").json()["history"]
    assert [e["type"] for e in history] == ["order.created", "order.allocated"]


def test_fifty_concurrent_duplicate_holds_hold_once(server: ApiServer, stock: Stocker) -> None:
    """50 simultaneous copies of one hold request create one hold."""
    sku = stock({"ST-CHI": 100})
    body = {"cart": new_id("cart"), "destination": NYC, "lines": [{"sku": sku, "qty": 4}]}
    replies = _fire(server, 50, "POST", "/v1/reservations", body, new_id("hold"))
    assert {r.status_code for r in replies} <= {201, 409}
    assert len({r.json()["id"] for r in replies if r.status_code == 201}) == 1
    assert stock.available(sku)["ST-CHI"] == 96


def test_batch_retry_replays_allocated_orders_and_retries_refused_ones(
    client: httpx.Client, stock: Stocker
) -> None:
    """A retried batch replays allocated orders and runs refused ones again at once."""
    sku = stock({"DC-NJ": 2})
    batch = {"orders": [order_body({sku: 2}), order_body({sku: 1})]}
    key = {"Idempotency-Key": new_id("batch")}
    first = client.post("/v1/orders/batch", json=batch, headers=key).json()
    assert [r["status"] for r in first["results"]] == ["allocated", "refused"]
    same = client.post("/v1/orders/batch", json=batch, headers=key).json()
    assert same["results"][0] == first["results"][0]
    assert same["results"][1]["error"]["code"] == "insufficient_stock"  # not "in flight"
    client.post("/v1/stock/adjustments", json={"node": "DC-NJ", "sku": sku, "delta": 1,
                                               "reason": "found"})  # fmt: skip
    again = client.post("/v1/orders/batch", json=batch, headers=key).json()
    assert [r["status"] for r in again["results"]] == ["allocated", "allocated"]
    assert again["results"][0] == first["results"][0]
    assert stock.available(sku)["DC-NJ"] == 0


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def long_lease_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The API on each store with a 60 s lease: a retry that runs again was released, not
    freed by its lease running out."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("api"))
    else:
        url = redis_namespace_url(request.getfixturevalue("redis_url"))
    srv = start_server(url, idempotency_lease_s=60.0)
    yield srv
    srv.stop()


def test_refused_create_retried_with_its_key_runs_again(long_lease_server: ApiServer) -> None:
    """A refused create retried with its key re-runs: same 409, then 201 once stock arrived."""
    with long_lease_server.client() as c:
        stock = Stocker(c, "refused")
        sku = stock({"DC-NJ": 1})
        body = order_body({sku: 2})
        key = {"Idempotency-Key": new_id("refused")}
        first = c.post("/v1/orders", json=body, headers=key)
        assert first.status_code == 409, first.text
        assert first.json()["error"]["code"] == "insufficient_stock"
        same = c.post("/v1/orders", json=body, headers=key)
        assert (same.status_code, same.json()) == (409, first.json())  # not "in flight"
        assert "Idempotent-Replayed" not in same.headers
        r = c.post("/v1/stock/adjustments",
                   json={"node": "DC-NJ", "sku": sku, "delta": 1, "reason": "found"})  # fmt: skip
        assert r.status_code == 200, r.text
        created = c.post("/v1/orders", json=body, headers=key)
        assert created.status_code == 201, created.text
        assert "Idempotent-Replayed" not in created.headers
        again = c.post("/v1/orders", json=body, headers=key)
        assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
        assert again.json() == created.json()
        assert stock.available(sku)["DC-NJ"] == 0


def test_refused_transition_retried_with_its_key_answers_the_same(
    long_lease_server: ApiServer,
) -> None:
    """A transition the state machine refuses, retried with its key, answers the same 409."""
    with long_lease_server.client() as c:
        sku = Stocker(c, "refused-step")({"DC-NJ": 1})
        order_id = c.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
        assert c.post(f"/v1/orders/{order_id}/ship", json={"node": "DC-NJ"}).status_code == 200
        key = {"Idempotency-Key": new_id("release")}
        first = c.post(f"/v1/orders/{order_id}/release", headers=key)
        assert first.status_code == 409, first.text
        assert first.json()["error"]["details"] == [{"current_state": "shipped"}]
        again = c.post(f"/v1/orders/{order_id}/release", headers=key)
        assert (again.status_code, again.json()) == (409, first.json())


def test_a_batch_retried_while_it_runs_is_told_so_never_misinformed(
    any_server: ApiServer,
) -> None:
    """On each store: a batch retried with its key while the first call still solves
    answers 409 in flight, never a refusal of orders the first call allocates; once it is
    done a retry replays every order as allocated or refused, as the store has it."""
    server = any_server
    with server.client() as c:
        sku = Stocker(c, "race")({"DC-NJ": 600, "ST-CHI": 300, "ST-LA": 300})
    places = [NYC, {"lat": 41.85, "lon": -87.65}, {"lat": 34.10, "lon": -118.30}]
    orders = [
        {"id": new_id(), "destination": places[k % 3], "lines": [{"sku": sku, "qty": 1}]}
        for k in range(1500)
    ]
    batch = {"orders": orders}
    key = {"Idempotency-Key": new_id("batch")}
    with server.client() as c:
        with ThreadPoolExecutor(1) as pool:
            # background=false: the synchronous call, whatever its size
            url = "/v1/orders/batch?background=false"
            first = pool.submit(c.post, url, json=batch, headers=key)
            time.sleep(0.3)
            retries = []
            while not first.done():
                retries.append(c.post(url, json=batch, headers=key))
                time.sleep(0.2)
            done = first.result()
        assert done.status_code == 200, done.text
        results = done.json()["results"]
        assert sum(r["status"] == "allocated" for r in results) == 1200

        def told_the_truth(reply: list[dict[str, Any]]) -> None:
            """Every order as the store has it: allocated as the first call said, or
            refused and not in the store."""
            for mine, again in zip(results, reply, strict=True):
                if mine["status"] == "allocated":
                    assert again == mine
                else:
                    assert again["status"] == "refused"
                    assert c.get(f"/v1/orders/{mine['id']}").status_code == 404

        in_flight = [r for r in retries if r.status_code == 409]
        assert in_flight, "the first call ended before any retry: nothing raced"
        for r in retries:  # one sent as the first ended may have run: it replays
            if r.status_code == 409:
                assert r.json()["error"]["code"] == "idempotency_key_in_flight"
            else:
                assert r.status_code == 200, r.text
                told_the_truth(r.json()["results"])
        told_the_truth(c.post(url, json=batch, headers=key).json()["results"])
