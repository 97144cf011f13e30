"""Re-optimization of the hold window over HTTP, on both stores: POST /v1/reoptimizations
moves held orders to stock that came in and answers what moved and what was kept; its
Idempotency-Key replays the run; GET reads the report; bad input and a window that is off
are clear errors."""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, Stocker, order_body, start_server, store_url_for


@pytest.fixture
def client(any_server: ApiServer) -> Iterator[httpx.Client]:
    with any_server.client() as c:
        yield c


def set_window(client: httpx.Client, hold_minutes: int | None, move_threshold: float = 0.5) -> None:
    doc = client.get("/v1/settings").json()
    doc.update(hold_minutes=hold_minutes, move_threshold=move_threshold)
    r = client.put("/v1/settings", json=doc)
    assert r.status_code == 200, r.text


def count(client: httpx.Client, node: str, sku: str, on_hand: int) -> None:
    body = {"node": node, "counts": [{"sku": sku, "on_hand": on_hand}]}
    assert client.post("/v1/stock/snapshots", json=body).status_code == 200


def nodes(order: dict[str, Any]) -> set[str]:
    return {u["node"] for u in order["allocations"]}


def test_a_run_moves_held_orders_and_replays(client: httpx.Client, stock: Stocker) -> None:
    """Two orders held at Los Angeles; New Jersey counts stock: a run moves both there
    (savings by term add up, each order's history has the move with the run's id); the
    same Idempotency-Key and body replays the report, another body is 422; GET reads it;
    a released order is not in the window."""
    set_window(client, 60)
    sku = stock({"ST-LA": 5})
    ids = [client.post("/v1/orders", json=order_body({sku: 1})).json()["id"] for _ in range(3)]
    assert client.post(f"/v1/orders/{ids[2]}/release").status_code == 200
    count(client, "DC-NJ", sku, 5)
    headers = {"Idempotency-Key": f"reopt-{ids[0]}"}
    r = client.post("/v1/reoptimizations", json={"time_limit_s": 2}, headers=headers)
    assert r.status_code == 200, r.text
    run = r.json()
    moved = {m["order_id"]: m for m in run["moved"]}
    assert set(ids[:2]) <= set(moved)
    assert ids[2] not in moved
    assert ids[2] not in {k["order_id"] for k in run["kept"]}
    for oid in ids[:2]:
        m = moved[oid]
        assert m["saving"] > 0.5
        assert m["shipping_saving"] + m["penalty_saving"] == pytest.approx(m["saving"])
        order = client.get(f"/v1/orders/{oid}").json()
        assert nodes(order) == {"DC-NJ"}
        last = order["history"][-1]
        assert last["type"] == "order.reallocated"
        assert last["data"]["reoptimization"] == run["id"]
        assert last["data"]["saving"] == pytest.approx(m["saving"])
    assert nodes(client.get(f"/v1/orders/{ids[2]}").json()) == {"ST-LA"}
    assert run["saving"]["total"] == pytest.approx(sum(m["saving"] for m in run["moved"]))
    again = client.post("/v1/reoptimizations", json={"time_limit_s": 2}, headers=headers)
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == run
    other = client.post("/v1/reoptimizations", json={"time_limit_s": 3}, headers=headers)
    assert other.status_code == 422
    assert client.get(f"/v1/reoptimizations/{run['id']}").json() == run
    assert client.get("/v1/reoptimizations/ro_" + "0" * 32).status_code == 404


def test_bad_input_and_a_window_that_is_off(client: httpx.Client) -> None:
    """A negative threshold or a window of 0 minutes is 422 naming the field; with no hold
    window set (and none given) a run is 409 saying how to set it; nothing runs."""
    bad = client.post("/v1/reoptimizations", json={"move_threshold": -1})
    assert bad.status_code == 422
    assert "move_threshold" in bad.text
    assert "hold_minutes" in client.post("/v1/reoptimizations", json={"hold_minutes": 0}).text
    set_window(client, None)
    off = client.post("/v1/reoptimizations")
    assert off.status_code == 409
    assert "hold_minutes" in off.json()["error"]["message"]
    assert client.post("/v1/reoptimizations", json={"hold_minutes": 5}).status_code == 200


@pytest.fixture(params=["sqlite", "redis"])
def scheduled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """An API server checking every 0.2 s whether a re-optimization is due."""
    srv = start_server(store_url_for(request, tmp_path_factory), reoptimize_check_s=0.2)
    yield srv
    srv.stop()


def test_the_served_schedule_moves_held_orders(scheduled: ApiServer) -> None:
    """With a hold window set, the server's schedule re-optimizes by itself: a held order
    moves to stock that came in, its history naming the run (readable over GET)."""
    with scheduled.client() as client:
        sku = Stocker(client, "sched")({"ST-LA": 2})
        oid = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
        count(client, "DC-NJ", sku, 2)
        set_window(client, 60)
        deadline = time.monotonic() + 60
        while nodes(order := client.get(f"/v1/orders/{oid}").json()) != {"DC-NJ"}:
            assert time.monotonic() < deadline, "the schedule did not move the order"
            time.sleep(0.1)
        run_id = order["history"][-1]["data"]["reoptimization"]
        run = client.get(f"/v1/reoptimizations/{run_id}").json()
        assert [m["order_id"] for m in run["moved"]] == [oid]
