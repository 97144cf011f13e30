"""If-Match on order steps over a real server: GET answers the order's version as its
ETag; a step from a stale version is 412 and changes nothing; from the current one it
applies; a malformed If-Match is 422."""

from tests.api.conftest import ApiServer, Stocker, order_body


def test_steps_check_the_version_named(server: ApiServer, stock: Stocker) -> None:
    """release from version 1 applies (version 2); a ship still naming version 1 is 412
    with the order unchanged; naming 2 it ships; W/"3" is read as 3; "soon" is 422."""
    sku = stock({"DC-NJ": 3})
    with server.client() as c:
        created = c.post("/v1/orders", json=order_body({sku: 1}))
        assert created.status_code == 201, created.text
        path = f"/v1/orders/{created.json()['id']}"
        read = c.get(path)
        assert read.headers["ETag"] == '"1"'
        released = c.post(f"{path}/release", headers={"If-Match": '"1"'})
        assert released.status_code == 200, released.text
        stale = c.post(f"{path}/ship", json={"node": "DC-NJ"}, headers={"If-Match": '"1"'})
        assert stale.status_code == 412, stale.text
        assert stale.json()["error"]["code"] == "precondition_failed"
        assert "version is 2, not 1" in stale.json()["error"]["message"]
        now = c.get(path)
        assert (now.json()["state"], now.json()["version"], now.headers["ETag"]) == (
            "released", 2, '"2"',
        )  # fmt: skip
        shipped = c.post(f"{path}/ship", json={"node": "DC-NJ"}, headers={"If-Match": "2"})
        assert shipped.json()["state"] == "shipped", shipped.text
        bad = c.post(f"{path}/return", json={"lines": [{"sku": sku, "qty": 1}]},
                     headers={"If-Match": "soon"})  # fmt: skip
        assert bad.status_code == 422, bad.text
        back = c.post(f"{path}/return", json={"lines": [{"sku": sku, "qty": 1}]},
                      headers={"If-Match": 'W/"3"'})  # fmt: skip
        assert back.json()["state"] == "returned", back.text
