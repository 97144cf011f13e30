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

from sourcing_engine import events, resources
from sourcing_engine.lifecycle import OrderRecord, Reservation, TransferRecord
from sourcing_engine.stores.base import Event


class ORJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return ORJSONResponse(data, status, headers)


units = resources.units
order = resources.order
position = resources.position


event = events.envelope


def order_summary(o: OrderRecord) -> dict[str, Any]:
    return {
        **order(o),
        "version": o.version,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    }


def order_detail(o: OrderRecord, history: Iterable[Event]) -> dict[str, Any]:
    return {**order_summary(o), "history": [event(e) for e in history]}


def transfer(t: TransferRecord) -> dict[str, Any]:
    return {
        **resources.transfer(t),
        "version": t.version,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


def reservation(r: Reservation) -> dict[str, Any]:
    return {
        **resources.hold(r),
        "promise": r.document.get("promise"),
        "pickup": r.document.get("pickup"),
    }
