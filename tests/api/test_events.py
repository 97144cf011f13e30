"""The event log over HTTP: a cursor that pages through every change once, in order."""

import httpx

from tests.api.conftest import Stocker, order_body


def test_events_page_in_order_with_a_cursor(client: httpx.Client, stock: Stocker) -> None:
    """Paging with after=next_after returns every event once, in seq order."""
    sku = stock({"DC-NJ": 5})
    oid = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
    client.post(f"/v1/orders/{oid}/release")
    client.post(f"/v1/orders/{oid}/ship", json={"node": "DC-NJ"})

    everything = client.get("/v1/events", params={"after": 0, "limit": 1000}).json()["events"]
    paged = []
    after = 0
    while True:
        page = client.get("/v1/events", params={"after": after, "limit": 3}).json()
        if not page["events"]:
            assert page["next_after"] == after
            break
        assert len(page["events"]) <= 3
        paged += page["events"]
        after = page["next_after"]
        assert after == page["events"][-1]["seq"]
    seqs = [e["seq"] for e in paged]
    assert seqs == sorted(set(seqs))
    assert paged == everything
    mine = [e["type"] for e in paged if e["subject"] == oid]
    assert mine == ["order.created", "order.allocated", "order.released", "order.shipped"]
    assert paged[-1]["data"]["state"] == "shipped"
    snapshots = [e for e in paged if e["type"] == "stock.snapshot"]
    assert snapshots
    assert snapshots[-1]["subject"] == "node:DC-NJ"


def test_events_filtered_by_type_and_subject(client: httpx.Client, stock: Stocker) -> None:
    """type= (patterns, repeatable) and subject= keep only those events, in order, and the
    cursor pages through them; a bad pattern is 422 naming it."""
    sku = stock({"DC-NJ": 5})
    oids = [client.post("/v1/orders", json=order_body({sku: 1})).json()["id"] for _ in range(2)]
    client.post(f"/v1/orders/{oids[0]}/release")
    client.post(f"/v1/orders/{oids[0]}/ship", json={"node": "DC-NJ"})
    everything = client.get("/v1/events", params={"limit": 1000}).json()["events"]

    mine = client.get("/v1/events", params={"subject": oids[0], "limit": 1000}).json()
    assert mine["events"] == [e for e in everything if e["subject"] == oids[0]]
    assert [e["type"] for e in mine["events"]] == [
        "order.created", "order.allocated", "order.released", "order.shipped",
    ]  # fmt: skip
    params: dict[str, str | int | list[str]] = {"type": ["order.shipped", "stock.*"], "limit": 1000}
    typed = client.get("/v1/events", params=params).json()["events"]
    assert typed == [
        e for e in everything if e["type"] == "order.shipped" or e["type"].startswith("stock.")
    ]
    paged, after = [], 0
    while True:
        page = client.get("/v1/events", params={"type": "order.*", "after": after, "limit": 2})
        body = page.json()
        paged += body["events"]
        if body["next_after"] == after:
            break
        after = body["next_after"]
    assert paged == [e for e in everything if e["type"].startswith("order.")]
    bad = client.get("/v1/events", params={"type": "orders.*"})
    assert bad.status_code == 422
    assert "type[0]" in bad.text
