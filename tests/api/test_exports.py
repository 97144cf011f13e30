"""GET /v1/exports/{kind} over a real server on both stores: the streamed Parquet and CSV
read back equal to what GET /v1/orders/{id} and /v1/events answer; bad parameters named."""

import csv
import datetime as dt
import io
import json

import httpx
import pyarrow.parquet as pq

from tests.api.conftest import ApiServer, Stocker, order_body


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat()


def test_exports_equal_the_order_and_event_reads(any_server: ApiServer) -> None:
    """Three orders (one split, one shipped, one cancelled): the orders export as Parquet and
    the shipments export as CSV equal the order reads, the events export the feed."""
    with any_server.client() as client:
        stock = Stocker(client, "export")
        a, b = stock({"DC-NJ": 5}), stock({"ST-LA": 5})
        ids = [client.post("/v1/orders", json=order_body(lines)).json()["id"]
               for lines in ({a: 1, b: 1}, {a: 2}, {b: 1})]  # fmt: skip
        client.post(f"/v1/orders/{ids[1]}/release")
        assert client.post(f"/v1/orders/{ids[1]}/ship", json={"node": "DC-NJ"}).is_success
        assert client.post(f"/v1/orders/{ids[2]}/cancel", json={}).is_success
        read = [client.get(f"/v1/orders/{i}").json() for i in ids]
        span = {"from": _iso(read[0]["created_at"]), "to": _iso(read[-1]["updated_at"] + 1)}

        r = client.get("/v1/exports/orders", params={**span, "format": "parquet"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/vnd.apache.parquet"
        assert r.headers["content-disposition"] == 'attachment; filename="orders.parquet"'
        rows = pq.read_table(io.BytesIO(r.content)).to_pylist()
        assert [row["order_id"] for row in rows] == ids
        for row, order in zip(rows, read, strict=True):
            assert (row["state"], row["version"]) == (order["state"], order["version"])
            assert abs(row["created_at"].timestamp() - order["created_at"]) < 1e-6
            assert (row["cost"], row["currency"]) == (
                order["plan"]["cost"],
                order["plan"]["currency"],
            )
            assert row["units_ordered"] == sum(ln["qty"] for ln in order["lines"])
            assert row["units_shipped"] == sum(u["qty"] for u in order["shipped"])
            assert row["shipments"] == len(order["plan"]["shipments"])
        assert [row["state"] for row in rows] == ["allocated", "shipped", "cancelled"]

        r = client.get("/v1/exports/shipments", params=span)  # CSV by default
        assert r.headers["content-type"].startswith("text/csv")
        parcels = list(csv.DictReader(io.StringIO(r.text)))
        assert [(p["order_id"], p["node"], float(p["cost"])) for p in parcels] == [
            (o["id"], s["node"], s["cost"]) for o in read for s in o["plan"]["shipments"]
        ]
        assert {p["node"] for p in parcels if p["order_id"] == ids[0]} == {"DC-NJ", "ST-LA"}

        r = client.get("/v1/exports/events", params={**span, "format": "csv"})
        feed = [e for e in client.get("/v1/events", params={"limit": 1000}).json()["events"]
                if read[0]["created_at"] <= e["at"]]  # fmt: skip
        exported = list(csv.DictReader(io.StringIO(r.text)))
        assert [(int(e["seq"]), e["type"], json.loads(e["data"])) for e in exported] == [
            (e["seq"], e["type"], e["data"]) for e in feed
        ]


def test_bad_parameters_are_422_naming_them(server: ApiServer) -> None:
    """An unknown kind, format or parameter, a malformed time, to before from: 422 with the
    parameter named; a key without the planning scope: 403."""
    with server.client() as client:
        cases = [
            ("/v1/exports/invoices", {}, "kind: expected one of orders, shipments"),
            ("/v1/exports/orders", {"format": "xlsx"}, "format"),
            ("/v1/exports/orders", {"from": "last week"}, "from: expected an ISO 8601"),
            ("/v1/exports/orders", {"from": "2026-12-02", "to": "2026-12-01"}, "to: expected"),
            ("/v1/exports/orders", {"since": "2026-12-01"}, "since"),
        ]
        for path, params, named in cases:
            r = client.get(path, params=params)
            assert r.status_code == 422, (params, r.text)
            assert named in json.dumps(r.json()["error"]), (named, r.text)
        key = client.post("/v1/keys", json={"name": "oms", "scopes": ["orders"]}).json()["token"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as oms:
        assert oms.get("/v1/exports/orders").status_code == 403
