"""Node capacity over a real server: a full node is passed over, an order nothing can take
is 409 insufficient_capacity naming the node, GET /v1/capacity shows used and left."""

from tests.api.conftest import ApiServer, Stocker, order_body

CAPPED = {"id": "DC-CAP", "kind": "warehouse", "lat": 40.72, "lon": -74.0, "ship_capacity": 1}


def test_capacity_binds_single_orders(server: ApiServer, stock: Stocker) -> None:
    """DC-CAP (next to the customer, one shipment a day) takes the first order; the second
    goes to Chicago; an order only DC-CAP stocks is refused naming DC-CAP's day; GET
    /v1/capacity says 1 used, 0 left; bad queries are 422, an unknown node 404."""
    with server.client() as c:
        assert c.put("/v1/nodes", json={"nodes": [CAPPED]}).status_code == 200
        sku = stock({"DC-CAP": 5, "ST-CHI": 5})
        first = c.post("/v1/orders", json=order_body({sku: 1}))
        assert first.status_code == 201, first.text
        assert [a["node"] for a in first.json()["allocations"]] == ["DC-CAP"]
        second = c.post("/v1/orders", json=order_body({sku: 1}))
        assert [a["node"] for a in second.json()["allocations"]] == ["ST-CHI"]
        only = stock({"DC-CAP": 5})
        refused = c.post("/v1/orders", json=order_body({only: 1}))
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "insufficient_capacity"
        assert "no capacity left today" in error["message"]
        (short,) = [d for d in error["details"] if d["what"] == "shipments"]
        assert (short["node"], short["requested"], short["left"]) == ("DC-CAP", 1, 0)
        read = c.get("/v1/capacity", params={"node": "DC-CAP"})
        assert read.status_code == 200, read.text
        (cap,) = read.json()["nodes"]
        assert (cap["day"], cap["shipments"], cap["units"], cap["shipments_left"]) == (
            short["day"], 1, 1, 0,
        )  # fmt: skip
        assert cap["units_left"] is None
        other = c.get("/v1/capacity", params={"node": "DC-CAP", "day": "2020-01-01"}).json()
        assert other["nodes"][0]["shipments"] == 0
        assert c.get("/v1/capacity", params={"day": "2020-13-01"}).status_code == 422
        assert c.get("/v1/capacity", params={"node": "NOPE"}).status_code == 404
        cancel = c.post(f"/v1/orders/{first.json()['id']}/cancel")
        assert cancel.status_code == 200, cancel.text
        again = c.post("/v1/orders", json=order_body({only: 1}))
        assert again.status_code == 201, again.text
