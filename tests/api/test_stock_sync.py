"""Stock sync over HTTP: counts as of a time or a source's sequence (POST /v1/stock/counts),
bulk adjustments (POST /v1/stock/adjustments/batch), and the old snapshot call's fixes."""

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, Stocker, new_id, order_body


@pytest.fixture
def any_client(any_server: ApiServer) -> Iterator[httpx.Client]:
    with any_server.client() as c:
        yield c


def _on_hand(client: httpx.Client, sku: str) -> dict[str, int]:
    r = client.get(f"/v1/stock/{sku}")
    assert r.status_code == 200, r.text
    return {p["node"]: p["on_hand"] for p in r.json()["nodes"]}


def _safety(client: httpx.Client, sku: str) -> dict[str, int]:
    return {p["node"]: p["safety_stock"] for p in client.get(f"/v1/stock/{sku}").json()["nodes"]}


def _now_iso() -> str:
    time.sleep(0.01)  # strictly after what was written before, and before what follows
    at = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(0.01)
    return at


def _ship(client: httpx.Client, sku: str, qty: int) -> None:
    r = client.post("/v1/orders", json=order_body({sku: qty}))
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/orders/{r.json()['id']}/ship", json={"node": "DC-NJ"})
    assert r.status_code == 200, r.text


def test_a_count_sent_after_a_shipment_it_preceded(any_client: httpx.Client) -> None:
    """On both stores: 10 counted, then 3 shipped, then the count arrives: on hand is 7 (the
    shipped units are not created again), and the reply shows the position."""
    stock = Stocker(any_client, "sync")
    sku = stock({"DC-NJ": 10})
    as_of = _now_iso()
    _ship(any_client, sku, 3)
    body = {"source": "wms-1", "as_of": as_of, "counts": [{"node": "DC-NJ", "sku": sku,
                                                            "on_hand": 10}]}  # fmt: skip
    r = any_client.post("/v1/stock/counts", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["positions"][0]["on_hand"] == 7
    assert _on_hand(any_client, sku) == {"DC-NJ": 7}
    (event,) = [
        e for e in any_client.get("/v1/events", params={"limit": 1000}).json()["events"]
        if e["type"] == "stock.counted" and e["subject"] == f"stock:DC-NJ/{sku}"
    ]  # fmt: skip
    assert event["data"]["moved_since"] == -3


def test_a_stale_sequence_is_409_and_applies_nothing(client: httpx.Client, stock: Stocker) -> None:
    """The source's message 7 after its message 8: 409 stale_counts naming the entry; the
    other entries of the call are not applied either."""
    a, b = stock({"DC-NJ": 5}), stock({"DC-NJ": 5})
    newer = {"source": "pos-9", "sequence": 8, "counts": [{"node": "DC-NJ", "sku": a,
                                                            "on_hand": 4}]}  # fmt: skip
    assert client.post("/v1/stock/counts", json=newer).status_code == 200
    older = {
        "source": "pos-9",
        "sequence": 7,
        "counts": [
            {"node": "DC-NJ", "sku": b, "on_hand": 1},
            {"node": "DC-NJ", "sku": a, "on_hand": 9},
        ],
    }
    r = client.post("/v1/stock/counts", json=older)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "stale_counts"
    assert [(d["field"], d["problem"]) for d in error["details"]] == [("counts[1]", "stale")]
    assert "counts[1] (DC-NJ/" in error["message"]
    assert (_on_hand(client, a), _on_hand(client, b)) == ({"DC-NJ": 4}, {"DC-NJ": 5})


def test_unknown_nodes_and_skus_are_named(client: httpx.Client, stock: Stocker) -> None:
    """Every entry at an unknown node or of a SKU without an item is named (422
    invalid_entries), in counts and adjustments alike; nothing applies."""
    sku = stock({"DC-NJ": 5})
    counts = {"counts": [{"node": "DC-NJ", "sku": sku, "on_hand": 1},
                         {"node": "NOWHERE", "sku": sku, "on_hand": 1},
                         {"node": "DC-NJ", "sku": "NO-SUCH-SKU", "on_hand": 1}]}  # fmt: skip
    adjustments = {"adjustments": [{"node": "DC-NJ", "sku": sku, "delta": 1, "reason": "x"},
                                   {"node": "NOWHERE", "sku": sku, "delta": 1, "reason": "x"},
                                   {"node": "DC-NJ", "sku": "NO-SUCH-SKU", "delta": 1,
                                    "reason": "x"}]}  # fmt: skip
    for path, body in (("counts", counts), ("adjustments/batch", adjustments)):
        r = client.post(f"/v1/stock/{path}", json=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "invalid_entries"
        assert [(d["entry"], d["problem"]) for d in error["details"]] == [
            (1, "unknown_node"), (2, "unknown_sku")]  # fmt: skip
        assert "PUT /v1/items" in error["details"][1]["message"]
    assert _on_hand(client, sku) == {"DC-NJ": 5}


def test_bulk_adjustments(client: httpx.Client, stock: Stocker) -> None:
    """Applied in order and all or nothing (every entry below zero named); a retry with the
    key replays the reply and adjusts nothing more."""
    a, b = stock({"DC-NJ": 5}), stock({"ST-CHI": 1})
    body: dict[str, Any] = {"adjustments": [
        {"node": "DC-NJ", "sku": a, "delta": -5, "reason": "damaged"},
        {"node": "ST-CHI", "sku": b, "delta": -2, "reason": "shrink"},
        {"node": "DC-NJ", "sku": a, "delta": -1, "reason": "shrink"}]}  # fmt: skip
    r = client.post("/v1/stock/adjustments/batch", json=body)
    assert r.status_code == 422, r.text
    details = r.json()["error"]["details"]
    assert [(d["field"], d["problem"]) for d in details] == [
        ("adjustments[1]", "below_zero"), ("adjustments[2]", "below_zero")]  # fmt: skip
    assert _on_hand(client, a) == {"DC-NJ": 5}
    body["adjustments"] = [
        body["adjustments"][0],
        {"node": "ST-CHI", "sku": b, "delta": 3, "reason": "found"},
    ]
    key = {"Idempotency-Key": new_id("bulk")}
    first = client.post("/v1/stock/adjustments/batch", json=body, headers=key)
    again = client.post("/v1/stock/adjustments/batch", json=body, headers=key)
    assert first.status_code == 200, first.text
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [p["on_hand"] for p in first.json()["positions"]] == [0, 4]
    assert (_on_hand(client, a), _on_hand(client, b)) == ({"DC-NJ": 0}, {"ST-CHI": 4})


def test_a_snapshot_without_safety_stock_keeps_it(client: httpx.Client, stock: Stocker) -> None:
    """The old single-node snapshot: a count that leaves safety_stock out no longer resets
    it to 0; one of a SKU without an item is refused naming it."""
    sku = stock({"DC-NJ": 5})
    r = client.post("/v1/stock/snapshots", json={"node": "DC-NJ", "counts": [
        {"sku": sku, "on_hand": 5, "safety_stock": 2}]})  # fmt: skip
    assert r.status_code == 200, r.text
    r = client.post("/v1/stock/snapshots", json={"node": "DC-NJ", "counts": [
        {"sku": sku, "on_hand": 8}]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert (_on_hand(client, sku), _safety(client, sku)) == ({"DC-NJ": 8}, {"DC-NJ": 2})
    r = client.post("/v1/stock/snapshots", json={"node": "DC-NJ", "counts": [
        {"sku": "NO-SUCH-SKU", "on_hand": 1}]})  # fmt: skip
    assert r.status_code == 422, r.text
    assert "NO-SUCH-SKU" in r.json()["error"]["message"]
    r = client.post("/v1/stock/adjustments", json={"node": "DC-NJ", "sku": "NO-SUCH-SKU",
                                                    "delta": 1, "reason": "x"})  # fmt: skip
    assert r.status_code == 422, r.text
