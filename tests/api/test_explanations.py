"""GET /v1/orders/{id}/explanation over a real server: the recorded plan itemized, the
reasons of the nearer nodes from the ledger (safety stock, units allocated to another
order, a node that rejected the order), the next best plan, the summary in the language
of Accept-Language with Content-Language saying which (English for any other)."""

import httpx
import pytest
from babel.numbers import format_currency

from sourcing_engine.cost_models import default_us_ground
from tests.api.conftest import NODES, NYC, Stocker, order_body
from tests.independent_pricer import carrier_price, carrier_terms, great_circle_miles, handling

CHICAGO = {"lat": 41.88, "lon": -87.63}
LA = next(n for n in NODES if n["id"] == "ST-LA")


def la_to_nyc(units: int) -> float:
    """The independent price of one 1-lb-a-unit parcel from ST-LA to NYC (a home)."""
    miles = great_circle_miles(LA["lat"], LA["lon"], NYC["lat"], NYC["lon"])
    charge = carrier_price(carrier_terms(default_us_ground()), miles, float(units), 0.0, units,
                           True)  # fmt: skip
    return charge + handling(LA["handling_per_shipment"], LA["handling_per_unit"], units)


def reasons(body: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    return {u["node"]: u["reasons"] for u in body["unused_nodes"]}  # type: ignore[attr-defined]


def test_explanation_of_a_live_order(client: httpx.Client, stock: Stocker) -> None:
    """NYC's order ships from Los Angeles: DC-NJ's one unit is safety stock, ST-CHI's one
    unit went to a Chicago order; costs are the independent pricer's; the next best is
    nothing shipped at the unfilled penalty."""
    sku = stock({"ST-CHI": 1, "ST-LA": 5})
    r = client.post("/v1/stock/snapshots", json={
        "node": "DC-NJ", "counts": [{"sku": sku, "on_hand": 1, "safety_stock": 1}]})  # fmt: skip
    assert r.status_code == 200, r.text
    chicago = client.post(
        "/v1/orders", json={**order_body({sku: 1}), "destination": CHICAGO}
    ).json()
    assert [s["node"] for s in chicago["plan"]["shipments"]] == ["ST-CHI"]
    order = client.post("/v1/orders", json=order_body({sku: 1})).json()
    assert [s["node"] for s in order["plan"]["shipments"]] == ["ST-LA"]

    r = client.get(f"/v1/orders/{order['id']}/explanation")
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == "en"
    body = r.json()
    assert body["basis"] == "live"
    (shipment,) = body["plan"]["shipments"]
    assert body["plan"]["cost"] == order["plan"]["cost"]
    assert abs(shipment["cost"] - la_to_nyc(1)) < 1e-6
    assert abs(sum(shipment["terms"].values()) - shipment["cost"]) < 1e-6
    why = reasons(body)
    assert why["DC-NJ"] == [{"code": "safety_stock", "sku": sku, "on_hand": 1,
                             "safety_stock": 1, "needed": 1}]  # fmt: skip
    taken = [{"by": "allocated to other orders", "qty": 1}]
    assert why["ST-CHI"] == [{"code": "taken_by_orders", "sku": sku, "on_hand": 1,
                              "safety_stock": 0, "needed": 1, "taken": taken}]  # fmt: skip
    (nothing,) = body["next_best"]
    assert nothing["without_nodes"] == ["ST-LA"]
    assert nothing["plan"]["shipments"] == []
    money = format_currency(order["plan"]["cost"], "USD", locale="en_US")
    assert body["summary"].startswith(f"Ships from ST-LA in one box for {money}.")
    assert "DC-NJ was" in body["summary"]
    assert "kept as safety stock" in body["summary"]


def test_language_and_rejected_nodes(client: httpx.Client, stock: Stocker) -> None:
    """A node that rejected the order is named as such; Accept-Language picks Italian
    (amounts formatted the Italian way); a language we do not speak gets English with
    Content-Language: en; an unknown order is 404."""
    sku = stock({"DC-NJ": 2, "ST-CHI": 2, "ST-LA": 2})
    oid = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
    r = client.post(f"/v1/orders/{oid}/reject", json={"node": "DC-NJ"})
    assert r.status_code == 200, r.text
    cost = r.json()["plan"]["cost"]

    r = client.get(f"/v1/orders/{oid}/explanation", headers={"Accept-Language": "it-IT,it;q=0.9"})
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == "it"
    body = r.json()
    assert reasons(body)["DC-NJ"][0] == {"code": "excluded"}
    assert [s["node"] for s in body["plan"]["shipments"]] == ["ST-CHI"]
    money = format_currency(cost, "USD", locale="it_IT")
    assert body["summary"].startswith(f"Spedito da ST-CHI in un solo pacco per {money}.")
    assert "DC-NJ era" in body["summary"]
    assert "ha rifiutato questo ordine" in body["summary"]
    (alt,) = [a for a in body["next_best"] if a["without_nodes"] == ["ST-CHI"]]
    assert [s["node"] for s in alt["plan"]["shipments"]] == ["ST-LA"]  # DC-NJ stays excluded

    r = client.get(f"/v1/orders/{oid}/explanation", headers={"Accept-Language": "fr-FR, de;q=0.5"})
    assert r.status_code == 200
    assert r.headers["content-language"] == "en"
    assert r.json()["language"] == "en"
    assert r.json()["summary"].startswith("Ships from ST-CHI")

    r = client.get("/v1/orders/O-does-not-exist/explanation")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_batch_allocation_with_explain(client: httpx.Client, stock: Stocker) -> None:
    """explain=true: each allocated order of a batch carries its explanation (the same as
    the route's), in the language asked for; a refused order has none; without it, none."""
    sku = stock({"DC-NJ": 1, "ST-CHI": 1})
    short = stock({"ST-LA": 1})
    body = {"orders": [order_body({sku: 1}), order_body({sku: 1}), order_body({short: 2})]}
    r = client.post("/v1/orders/batch?explain=true", json=body,
                    headers={"Accept-Language": "it"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-language"] == "it"
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["allocated", "allocated", "refused"]
    assert results[2].get("explanation") is None
    nodes = set()
    for x in results[:2]:
        e = x["explanation"]
        assert e["order_id"] == x["id"]
        assert e["plan"]["cost"] == x["order"]["plan"]["cost"]
        assert e["summary"].startswith("Spedito da ")
        again = client.get(f"/v1/orders/{x['id']}/explanation", headers={"Accept-Language": "it"})
        assert again.json() == e
        nodes |= {s["node"] for s in e["plan"]["shipments"]}
    assert nodes == {"DC-NJ", "ST-CHI"}
    r = client.post("/v1/orders/batch", json={"orders": [order_body({sku: 1})]})
    assert (
        "explanation" not in r.json()["results"][0] or r.json()["results"][0]["explanation"] is None
    )


def test_a_cancelled_and_a_shipped_order_are_explained(
    client: httpx.Client, stock: Stocker
) -> None:
    """A cancelled order has nothing left to explain (no shipments, no reasons, cost 0); a
    shipped order's units count as on hand again, so its own plan is still its best."""
    sku = stock({"DC-NJ": 1, "ST-LA": 1})
    gone = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
    assert client.post(f"/v1/orders/{gone}/cancel").status_code == 200
    r = client.get(f"/v1/orders/{gone}/explanation")
    assert r.status_code == 200, r.text
    assert r.json()["plan"] == {"cost": 0.0, "shipments": [], "unfilled": [],
                                "split_penalty": 0.0, "unfilled_penalty": 0.0}  # fmt: skip
    assert r.json()["next_best"] == []
    shipped = client.post("/v1/orders", json=order_body({sku: 1})).json()
    assert [s["node"] for s in shipped["plan"]["shipments"]] == ["DC-NJ"]
    assert (
        client.post(f"/v1/orders/{shipped['id']}/ship", json={"node": "DC-NJ"}).status_code == 200
    )
    body = client.get(f"/v1/orders/{shipped['id']}/explanation").json()
    assert body["is_cheapest_on_same_stock"] is True
    assert [s["node"] for s in body["plan"]["shipments"]] == ["DC-NJ"]
    assert body["plan"]["cost"] == shipped["plan"]["cost"]


def test_promise_with_explain(client: httpx.Client, stock: Stocker) -> None:
    """POST /v1/promise?explain=true: each ship option's shipment term by term (rate,
    surcharges, the level's rate factor, handling), the terms adding up to the shipment's
    cost, which is the independent price at the level's factor; other options none."""
    sku = stock({"DC-NJ": 3})
    body = {"lines": [{"sku": sku, "qty": 2}], "destination": NYC,
            "at": "2026-06-10T13:59:00-04:00"}  # fmt: skip
    r = client.post("/v1/promise?explain=true", json=body)
    assert r.status_code == 200, r.text
    options = {o["id"]: o for o in r.json()["options"]}
    factors = {"ship:ground": 1.0, "ship:two_day": 1.9, "ship:next_day": 3.2,
               "ship:same_day": 2.5}  # fmt: skip
    assert set(factors) <= set(options)
    nj = next(n for n in NODES if n["id"] == "DC-NJ")
    miles = great_circle_miles(nj["lat"], nj["lon"], NYC["lat"], NYC["lon"])
    card = carrier_terms(default_us_ground())
    for option_id, factor in factors.items():
        option = options[option_id]
        (shipment,) = option["explanation"]["shipments"]
        terms = shipment["terms"]
        base = carrier_price(card, miles, 2.0, 0.0, 2, True)
        assert terms.get("service_factor", 0.0) == pytest.approx(base * (factor - 1), abs=1e-6)
        price = base * factor + handling(nj["handling_per_shipment"], nj["handling_per_unit"], 2)
        assert shipment["cost"] == pytest.approx(price, abs=1e-6)
        assert sum(terms.values()) == pytest.approx(shipment["cost"], abs=1e-6)
        assert option["cost"] == pytest.approx(shipment["cost"], abs=1e-6)
        assert (shipment["zone"], shipment["billable_lb"]) == (2, 2)
    for option in options.values():
        if option["method"] != "ship":
            assert option["explanation"] is None
    plain = client.post("/v1/promise", json=body).json()
    assert all("explanation" not in o for o in plain["options"])
