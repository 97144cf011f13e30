"""Reads an integrator and customer care need (scope `orders`): find orders by status, node,
method, references, postal code and creation time, a page at a time; an order's history
with each decision and its reason."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Security
from fastapi.responses import Response

from sourcing_engine.api import render
from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import ID_PATTERN, HistoryOut, OrdersOut, errors
from sourcing_engine.errors import Invalid
from sourcing_engine.explain.history import decision
from sourcing_engine.lifecycle import OrderState
from sourcing_engine.order_search import OrderQuery, decode_cursor, encode_cursor

router = APIRouter(
    prefix="/v1", tags=["orders"], dependencies=[Security(require("orders")), StrictRequest]
)

OrderId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
Term = Annotated[str | None, Query(min_length=1, max_length=128)]
MAX_PAGE = 200


Moment = float | dt.datetime | None
"""UNIX seconds, or ISO 8601 with a zone; a number is read as seconds first, so that the
document states both forms the route accepts."""


def _seconds(at: Moment) -> float | None:
    return at.timestamp() if isinstance(at, dt.datetime) else at


@router.get("/orders", responses=errors(422), response_model=OrdersOut)
def list_orders(
    service: ServiceDep,
    status: Annotated[OrderState | None, Query(description="The order's state")] = None,
    node: Annotated[
        str | None, Query(min_length=1, max_length=128, description="A node holding units")
    ] = None,
    method: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="ship, pickup, ship_to_store, ..."),
    ] = None,
    pickup_node: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="The store a pickup is collected at"),
    ] = None,
    backordered_on: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="A purchase order the order waits for"),
    ] = None,
    external_reference: Term = None,
    customer_reference: Term = None,
    postal_code: Annotated[
        str | None, Query(min_length=1, max_length=32, description="Spaces and case ignored")
    ] = None,
    created_from: Annotated[
        Moment, Query(description="ISO 8601 with a zone, or UNIX seconds; inclusive")
    ] = None,
    created_to: Annotated[Moment, Query(description="Exclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=400, description="`next_cursor`")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> Response:
    """Orders matching every filter given, newest first, `limit` at a time: pass
    `next_cursor` as `cursor` for the next page (null on the last). Orders created while
    you page through never shift the pages to come: none is skipped or listed twice. A node
    matches orders with units allocated or shipped there; `method` is the promised
    option's (`ship` for an order placed without a promise), `pickup_node` the store a
    pickup or ship-to-store order is collected at, `backordered_on` a purchase order the
    order still waits for. Customer care: by
    `external_reference`, `customer_reference` or `postal_code`."""
    for name, at in (("created_from", created_from), ("created_to", created_to)):
        if isinstance(at, dt.datetime) and at.tzinfo is None:
            raise Invalid(f"{name}: {at.isoformat()} names no time zone; add Z or +hh:mm")
    filters = {
        "status": None if status is None else str(status),
        "node": node,
        "method": method,
        "pickup_node": pickup_node,
        "backordered_on": backordered_on,
        "external_reference": external_reference,
        "customer_reference": customer_reference,
        "postal_code": postal_code,
    }
    query = OrderQuery.of(
        filters,
        created_from=_seconds(created_from),
        created_to=_seconds(created_to),
        cursor=None if cursor is None else decode_cursor(cursor),
        limit=limit,
    )
    page = service.search_orders(query)
    orders = [render.order_summary(o) for o in page.orders]
    after = None if page.next_cursor is None else encode_cursor(page.next_cursor)
    return json_response({"orders": orders, "next_cursor": after})


@router.get("/orders/{order_id}/history", responses=errors(404, 422), response_model=HistoryOut)
def order_history(order_id: OrderId, service: ServiceDep) -> Response:
    """Every event of the order, oldest first, each with the decision it records (`code`),
    its reason in one line, and the order after it (`resource`); where the engine chose
    nodes (`explained`), GET `explanation` says why those nodes."""
    view = service.get_order(order_id)
    events: list[dict[str, Any]] = [
        {**render.event(e), **decision(e).to_data()} for e in view.history
    ]
    explanation = f"/v1/orders/{order_id}/explanation"
    return json_response({"order_id": order_id, "explanation": explanation, "events": events})
