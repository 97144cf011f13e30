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
