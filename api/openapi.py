"""The OpenAPI document a person reads: operations grouped by audience, an example body on
every request that takes one.

Routers tag operations by area (stock, orders, ...); the document shows them under the
audience that calls them (`AUDIENCES`), each tag described once (`TAGS`). The examples are
real requests against the demo network (`sourcing-engine serve`); tests/api/test_openapi.py
validates each against its route's body model and fails for a body route without one.
"""

from typing import Any

from fastapi import FastAPI

AUDIENCES = {
    "promise": "checkout", "reservations": "checkout",
    "orders": "OMS", "events": "OMS",
    "network": "inventory", "stock": "inventory", "capacity": "inventory",
    "transfers": "inventory",
    "what-if": "planning", "exports": "planning",
    "keys": "admin", "webhooks": "admin", "settings": "admin",
    "health": "operations",
}  # fmt: skip
"""Area tag -> audience tag."""

TAGS = [
    {"name": "checkout", "description": "Delivery promises, availability, and holds that "
     "checkout commits into orders when the customer pays (scope `promise`)."},
    {"name": "OMS", "description": "Orders: allocate (one or a batch, shipped or click and "
     "collect, backordered on purchase orders), search and read with their plan, history "
     "and why, release, ship, cancel, reject, reallocate, return anywhere, pickup steps; "
     "re-optimization of the hold window; the "
     "event feed (scope `orders`)."},
    {"name": "inventory", "description": "Nodes, items, stock counts from a POS or WMS "
     "(relative to the movements since), adjustments, inbound supply, transfers between "
     "nodes, node capacity (scope `inventory`)."},
    {"name": "planning", "description": "What-if runs and BI exports (scope `planning`)."},
    {"name": "admin", "description": "API keys, webhook subscriptions, network settings "
     "(scope `admin`)."},
    {"name": "operations", "description": "Liveness, readiness and Prometheus metrics (no key)."},
]  # fmt: skip

_DEST = {"zip": "10001"}
_LINES = [{"sku": "SKU-000021", "qty": 2}]
EXAMPLES: dict[tuple[str, str], Any] = {
    ("PUT", "/v1/nodes"): {"nodes": [
        {"id": "DC-Hoboken", "kind": "warehouse", "lat": 40.74, "lon": -74.03,
         "ship_capacity": 200, "handling_per_shipment": 1.5, "handling_per_unit": 0.25}]},
    ("PUT", "/v1/items"): {"items": [
        {"sku": "SKU-000021", "weight_lb": 2.5, "dims_in": [10.0, 8.0, 4.0]}]},
    ("PUT", "/v1/settings"): {"cost_model": {"type": "parcel", "rate_card": "us-ground"},
                              "split_penalty": 2.0, "max_shipments_per_order": 2},
    ("POST", "/v1/stock/snapshots"): {"node": "DC-New-York-City", "reason": "cycle count",
                                      "counts": [{"sku": "SKU-000021", "on_hand": 12}]},
    ("POST", "/v1/stock/counts"): {
        "source": "wms-nyc", "sequence": 41, "as_of": "2026-12-03T14:05:00Z",
        "counts": [{"node": "DC-New-York-City", "sku": "SKU-000021", "on_hand": 12},
                   {"node": "DC-New-York-City", "sku": "SKU-000022", "on_hand": 0,
                    "safety_stock": 1}]},
    ("POST", "/v1/stock/adjustments"): {"node": "DC-New-York-City", "sku": "SKU-000021",
                                        "delta": -1, "reason": "damaged"},
    ("POST", "/v1/stock/adjustments/batch"): {"adjustments": [
        {"node": "DC-New-York-City", "sku": "SKU-000021", "delta": -1, "reason": "damaged"},
        {"node": "DC-Los-Angeles", "sku": "SKU-000021", "delta": 3, "reason": "found"}]},
    ("POST", "/v1/inbound"): {"inbound": [
        {"id": "PO-1001", "node": "DC-New-York-City", "sku": "SKU-000021", "qty": 40,
         "expected_at": 1796400000.0}]},
    ("POST", "/v1/inbound/{inbound_id}/receive"): {"qty": 20},
    ("POST", "/v1/orders"): {"id": "A-1001", "destination": _DEST, "lines": _LINES},
    ("POST", "/v1/orders/batch"): {"policy": "optimal", "time_limit_s": 10, "orders": [
        {"id": "A-1002", "destination": _DEST, "lines": _LINES},
        {"id": "A-1003", "destination": {"zip": "94103"},
         "lines": [{"sku": "SKU-000021", "qty": 1}]}]},
    ("POST", "/v1/orders/{order_id}/ship"): {"node": "DC-New-York-City", "carrier": "UPS",
                                             "tracking": "1Z999AA10123456784"},
    ("POST", "/v1/orders/{order_id}/cancel"): {"lines": [{"sku": "SKU-000021", "qty": 1}]},
    ("POST", "/v1/orders/{order_id}/reject"): {"node": "DC-New-York-City",
                                               "lines": [{"sku": "SKU-000021", "qty": 1}]},
    ("POST", "/v1/orders/{order_id}/return"): {"lines": [{"sku": "SKU-000021", "qty": 1}],
                                               "restock": True},
    ("POST", "/v1/orders/{order_id}/reallocate"): {"min_saving": 2.5},
    ("POST", "/v1/reoptimizations"): {"hold_minutes": 60, "move_threshold": 1.0,
                                      "time_limit_s": 5},
    ("POST", "/v1/transfers"): {"id": "TR-1001", "source": "DC-New-York-City",
                                "destination": "DC-Los-Angeles", "lines": _LINES},
    ("POST", "/v1/transfers/{transfer_id}/ship"): {"expected_at": 1799071200.0},
    ("POST", "/v1/transfers/{transfer_id}/receive"): {"lines": [{"sku": "SKU-000021",
                                                                 "qty": 1}]},
    ("POST", "/v1/reservations"): {"cart": "cart-42", "destination": {"zip": "94103"},
                                   "lines": [{"sku": "SKU-000021", "qty": 1}], "ttl_s": 900},
    ("POST", "/v1/reservations/{reservation_id}/commit"): {"order_id": "A-1004",
                                                           "destination": {"zip": "94103"}},
    ("POST", "/v1/promise"): {"cart": "cart-42", "destination": {"zip": "94103"},
                              "lines": [{"sku": "SKU-000021", "qty": 1}]},
    ("POST", "/v1/keys"): {"name": "checkout-web", "scopes": ["promise"]},
    ("POST", "/v1/webhooks"): {"url": "https://oms.example.com/hooks",
                               "event_types": ["order.*", "stock.counted"]},
    ("POST", "/v1/webhooks/{webhook_id}/replay"): {"since": 1796300000.0,
                                                   "until": 1796303600.0},
    ("POST", "/v1/whatif"): {"scenario": 'name = "Peak day"\n\n[base]\npreset = "small"\n'
                             'seed = 1\n\n[orders]\ncount = 200\n\n[period]\n'
                             'start = 2026-11-23\ndays = 1\n\n[[variants]]\nname = "as is"\n'},
}  # fmt: skip
"""(method, path template) -> an example request body."""


def install(app: FastAPI) -> None:
    """Regroup the document's operations by audience and give each body its example (once,
    when the document is first built)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            for path, operations in doc["paths"].items():
                for method, op in operations.items():
                    tags = [AUDIENCES.get(t, t) for t in op.get("tags", [])]
                    op["tags"] = list(dict.fromkeys(tags))
                    example = EXAMPLES.get((method.upper(), path))
                    body = op.get("requestBody", {}).get("content", {}).get("application/json")
                    if body is not None and example is not None:
                        body["example"] = example
            doc["tags"] = TAGS
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
