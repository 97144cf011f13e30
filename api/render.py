"""Replies rendered straight from the domain's records into JSON bytes (orjson).

The response models in `api.schemas` document these shapes in the OpenAPI document (and the
fuzz test checks every reply against them); building them per request cost more than the
rest of a reply, so the hot replies are written here as plain dicts. A record renders to
the same bytes every time, which is what an idempotent replay answers.
"""

from collections.abc import Iterable
from typing import Any

import orjson
from fastapi.responses import Response

from sourcing_engine.domain import Position, Unit
from sourcing_engine.lifecycle import OrderRecord, Reservation, TransferRecord
from sourcing_engine.service import pickup_of
from sourcing_engine.stores.base import Event


class ORJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return ORJSONResponse(data, status, headers)


def units(found: Iterable[Unit]) -> list[dict[str, Any]]:
    return [{"node": u.node, "sku": u.sku, "qty": u.qty} for u in found]


def order(o: OrderRecord) -> dict[str, Any]:
    doc = o.document
    return {
        "id": o.id,
        "state": str(o.state),
        "lines": [{"sku": s, "qty": q} for s, q in sorted(o.lines.items())],
        "allocations": units(o.allocations),
        "shipped": units(o.shipped),
        "returned": units(o.returned),
        "released_nodes": list(o.released_nodes),
        "destination": doc.get("destination"),
        "plan": doc.get("plan"),
        "excluded_nodes": list(doc.get("excluded_nodes", [])),
        "reservation_id": doc.get("reservation"),
        "promise": doc.get("promise"),
        "backorder": doc.get("backorder"),
        "parcels": doc.get("parcels", []),
        "fulfillment": "ship" if (pickup := pickup_of(o)) is None else "pickup",
        "pickup": pickup,
    }


def event(e: Event) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at, "type": e.type, "subject": e.subject, "data": e.data}


def order_detail(o: OrderRecord, history: Iterable[Event]) -> dict[str, Any]:
    return {
        **order(o),
        "version": o.version,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
        "history": [event(e) for e in history],
    }


def reservation(r: Reservation) -> dict[str, Any]:
    return {
        "id": r.id,
        "cart": r.cart,
        "state": str(r.state),
        "units": units(r.units),
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "order_id": r.order_id,
        "promise": r.document.get("promise"),
        "pickup": r.document.get("pickup"),
    }


def position(p: Position) -> dict[str, Any]:
    return {
        "node": p.node,
        "sku": p.sku,
        "on_hand": p.on_hand,
        "safety_stock": p.safety_stock,
        "reserved": p.reserved,
        "allocated": p.allocated,
        "available": p.available,
        "oversold": p.oversold,
    }


def _lines(lines: dict[str, int]) -> list[dict[str, Any]]:
    return [{"sku": s, "qty": q} for s, q in sorted(lines.items())]


def transfer(t: TransferRecord) -> dict[str, Any]:
    return {
        "id": t.id,
        "state": str(t.state),
        "source": t.source,
        "destination": t.destination,
        "lines": _lines(t.lines),
        "received": _lines(t.received),
        "in_transit": _lines(t.in_transit),
        "expected_at": t.expected_at,
        "version": t.version,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }
