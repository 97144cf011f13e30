"""Partial shipments with carrier and tracking number over a real server."""

from tests.api.conftest import ApiServer, Stocker, order_body


def test_ship_part_of_an_allocation_in_parcels(server: ApiServer, stock: Stocker) -> None:
    """3 units at DC-NJ ship as 1 (UPS 1Z1) then 2 (FedEx 77): each parcel is on the order
    with its units and in its order.shipped event; stock falls by what shipped; more than
    is left is 409; carrier without tracking is 422."""
    sku = stock({"DC-NJ": 5})
    with server.client() as c:
        order = c.post("/v1/orders", json=order_body({sku: 3})).json()
        path = f"/v1/orders/{order['id']}"
        first = c.post(f"{path}/ship", json={"node": "DC-NJ", "lines": [{"sku": sku, "qty": 1}],
                                             "carrier": "UPS", "tracking": "1Z1"})  # fmt: skip
        assert first.status_code == 200, first.text
        assert first.json()["state"] == "partially_shipped"
        assert first.json()["allocations"] == [{"node": "DC-NJ", "sku": sku, "qty": 2}]
        assert stock.available(sku) == {"DC-NJ": 2}
        too_many = c.post(f"{path}/ship", json={"node": "DC-NJ",
                                                "lines": [{"sku": sku, "qty": 3}]})  # fmt: skip
        assert too_many.status_code == 409, too_many.text
        half = c.post(f"{path}/ship", json={"node": "DC-NJ", "carrier": "UPS"})
        assert half.status_code == 422, half.text
        last = c.post(f"{path}/ship", json={"node": "DC-NJ", "carrier": "FedEx",
                                            "tracking": "77"})  # fmt: skip
        assert last.json()["state"] == "shipped", last.text
        detail = c.get(path).json()
        assert detail["parcels"] == [
            {"node": "DC-NJ", "lines": [{"node": "DC-NJ", "sku": sku, "qty": 1}],
             "carrier": "UPS", "tracking": "1Z1"},
            {"node": "DC-NJ", "lines": [{"node": "DC-NJ", "sku": sku, "qty": 2}],
             "carrier": "FedEx", "tracking": "77"},
        ]  # fmt: skip
        shipped = [e["data"] for e in detail["history"] if e["type"] == "order.shipped"]
        assert [(d["carrier"], d["tracking"], d["units"][0]["qty"]) for d in shipped] == [
            ("UPS", "1Z1", 1), ("FedEx", "77", 2),
        ]  # fmt: skip
