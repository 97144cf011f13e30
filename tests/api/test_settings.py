"""GET/PUT /v1/settings over a real server: the versioned settings document (admin scope),
If-Match, named errors, events, and orders priced with the new settings."""

from tests.api.conftest import ApiServer, Stocker, order_body

LINEAR_EUR = {"type": "linear", "currency": "EUR", "per_shipment": 5.0, "per_unit": 1.0,
              "per_unit_mile": 0.01}  # fmt: skip


def test_settings_round_trip_with_if_match(server: ApiServer, stock: Stocker) -> None:
    """GET answers the document with its version as ETag; PUT with a stale If-Match is 412
    and changes nothing; with the current one it applies, orders are then priced in EUR,
    and the change is a settings.changed event."""
    with server.client() as c:
        first = c.get("/v1/settings")
        assert first.status_code == 200, first.text
        doc = first.json()
        assert first.headers["ETag"] == f'"{doc["version"]}"'
        assert (doc["currency"], doc["default_service_level"], doc["postal_country"]) == (
            "USD", "ground", "US",
        )  # fmt: skip
        stale = c.put("/v1/settings", json={"cost_model": LINEAR_EUR},
                      headers={"If-Match": f'"{doc["version"] + 7}"'})  # fmt: skip
        assert stale.status_code == 412, stale.text
        assert stale.json()["error"]["code"] == "precondition_failed"
        assert c.get("/v1/settings").json() == doc
        changed = {**doc, "cost_model": LINEAR_EUR, "currency": "EUR", "split_penalty": 3.0}
        del changed["version"]
        done = c.put("/v1/settings", json=changed, headers={"If-Match": first.headers["ETag"]})
        assert done.status_code == 200, done.text
        assert done.json()["version"] == doc["version"] + 1
        assert done.headers["ETag"] == f'"{doc["version"] + 1}"'
        assert c.get("/v1/settings").json() == done.json()
        sku = stock({"DC-NJ": 3})
        created = c.post("/v1/orders", json=order_body({sku: 1}))
        assert created.status_code == 201, created.text
        assert created.json()["plan"]["currency"] == "EUR"
        events = c.get("/v1/events", params={"after": 0, "limit": 1000}).json()["events"]
        assert [e["data"]["version"] for e in events if e["type"] == "settings.changed"][-1] == (
            done.json()["version"]
        )
        # back to the US card for the other tests of the module
        us = {"cost_model": {"type": "parcel", "rate_card": "us-ground"}}
        assert c.put("/v1/settings", json=us).status_code == 200


def test_settings_refusals(server: ApiServer) -> None:
    """Bad documents are 422 naming the field; a bad If-Match is 422; another scope is 403."""
    with server.client() as c:
        before = c.get("/v1/settings").json()
        cases = [
            ({"cost_model": LINEAR_EUR, "default_service_level": "air"}, {},
             "default_service_level: 'air' is not a service level"),
            ({"cost_model": LINEAR_EUR, "split_penalty": -1}, {}, "split_penalty"),
            ({"cost_model": LINEAR_EUR, "bogus": 1}, {}, "bogus: unknown field"),
            ({"cost_model": LINEAR_EUR}, {"If-Match": "yesterday"}, "If-Match: 'yesterday'"),
            ({"cost_model": LINEAR_EUR, "version": 1}, {"If-Match": '"2"'},
             "version: 1 in the body, 2 in If-Match"),
        ]  # fmt: skip
        for body, headers, message in cases:
            r = c.put("/v1/settings", json=body, headers=headers)
            assert r.status_code == 422, r.text
            assert message in r.json()["error"]["message"], r.text
        assert c.get("/v1/settings").json() == before
        key = c.post("/v1/keys", json={"name": "ops", "scopes": ["orders"]}).json()["token"]
    with server.client(key) as c:
        assert c.get("/v1/settings").status_code == 403
        assert c.put("/v1/settings", json={"cost_model": LINEAR_EUR}).status_code == 403


def test_a_zip_takes_the_postal_country(server: ApiServer, stock: Stocker) -> None:
    """With postal_country IT a ZIP without a country is Italian (refused, asking for
    lat/lon); the same ZIP marked US is placed."""
    with server.client() as c:
        us = {"cost_model": {"type": "parcel", "rate_card": "us-ground"}}
        assert c.put("/v1/settings", json={**us, "postal_country": "IT"}).status_code == 200
        sku = stock({"DC-NJ": 2})
        r = c.post("/v1/orders", json=order_body({sku: 1}, zip="10001"))
        assert r.status_code == 422, r.text
        assert "postal code of IT" in r.text
        r = c.post("/v1/orders", json=order_body({sku: 1}, zip="10001", country="US"))
        assert r.status_code == 201, r.text
        assert c.put("/v1/settings", json=us).status_code == 200
