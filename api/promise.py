"""Checkout: delivery options with dates and costs, a hold of the chosen one in the same
step, and what each SKU can sell now and has coming (scope `promise`)."""

import datetime as dt
import re
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Security
from fastapi.responses import Response
from pydantic import ValidationError

from sourcing_engine.api import render
from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import MetricsDep, ServiceDep, StrictRequest
from sourcing_engine.api.idempotency import REPLAYED, IdempotencyDep
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import (
    ID_PATTERN,
    AvailabilityOut,
    DestinationIn,
    PromiseIn,
    PromiseOut,
    errors,
    lines_of,
)
from sourcing_engine.domain import Destination, Position
from sourcing_engine.errors import Invalid
from sourcing_engine.promise.options import METHODS, Promise
from sourcing_engine.service import Service, SkuAvailability

router = APIRouter(
    prefix="/v1", tags=["promise"], dependencies=[Security(require("promise")), StrictRequest]
)

MAX_SKUS = 100
MAX_NODES = 1000


@router.post("/promise", responses=errors(409, 422), response_model=PromiseOut)
def promise(
    body: PromiseIn,
    service: ServiceDep,
    idem: IdempotencyDep,
    metrics: MetricsDep,
    explain: Annotated[bool, Query()] = False,
) -> Response:
    """Every delivery option for the cart at the destination: ship per service level (plan,
    cost, delivery window), pickup at stores nearby, ship-to-store, backorder from
    purchase orders, the lines nothing can cover with their reason, and the options not
    offered with theirs; ranked by cost then speed, cheapest and fastest marked. With
    `hold_seconds`, one option's units are held in the same step (201, `hold`); committing
    the hold creates the order with that option's method, nodes and dates. With
    `explain=true` each ship option from stock on hand carries `explanation.shipments`: its
    shipments term by term at its service level's rates (null for other options)."""
    body.check()
    destination = body.destination.to_destination(service.postal_country())
    methods = body.methods or METHODS
    lines = lines_of(body.lines)
    if body.hold_seconds is None:
        found = service.promise(lines, destination, body.at, methods)
        return json_response(
            _explained(service, found, destination) if explain else found.to_data()
        )
    found, done = service.promise_and_hold(
        body.cart, lines, destination, body.hold_seconds, body.hold_option, body.at, methods,
        idem.key_for(body),
    )  # fmt: skip
    if not done.replayed:
        metrics.holds.labels("created").inc()
    held = done.value.document.get("promise", {}).get("id")
    data = {
        **(_explained(service, found, destination) if explain else found.to_data()),
        "hold": {"option": held, "reservation": render.reservation(done.value)},
    }
    return json_response(data, 201, {REPLAYED: "true"} if done.replayed else None)


def _explained(service: Service, found: Promise, destination: Destination) -> dict[str, Any]:
    """The promise with each option's explanation (its shipments itemized, or None)."""
    itemized = service.itemize_promise(found, destination)
    data = found.to_data()
    for option in data["options"]:
        items = itemized.get(option["id"])
        option["explanation"] = (
            None if items is None else {"shipments": [s.to_data() for s in items]}
        )
    return data


@router.get("/availability", responses=errors(404, 422), response_model=AvailabilityOut)
def availability(
    service: ServiceDep,
    sku: Annotated[
        list[str], Query(min_length=1, max_length=MAX_SKUS, description="SKUs (repeat the key)")
    ],
    node: Annotated[
        list[str] | None,
        Query(max_length=MAX_NODES, description="only these nodes (repeat the key)"),
    ] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    zip: Annotated[str | None, Query(min_length=5, max_length=10)] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    radius_miles: Annotated[float | None, Query(gt=0, le=5000)] = None,
) -> Response:
    """What each SKU can sell now (on hand minus safety stock, holds and allocations) and
    what is coming by date from open purchase orders: everywhere, at the given nodes, or
    within `radius_miles` (default the pickup radius) of a point or postal code."""
    for value in (*sku, *(node or [])):
        if not _is_id(value):
            raise Invalid(f"query: {value!r} is not an id (letters, digits and . _ : -)")
    near = None
    if lat is not None or lon is not None or zip is not None:
        if node is not None:
            raise Invalid("query: give nodes or a place (lat and lon, or zip), not both")
        given = {"lat": lat, "lon": lon, "zip": zip, "country": country}
        try:
            form = DestinationIn.model_validate({k: v for k, v in given.items() if v is not None})
        except ValidationError as exc:
            raise Invalid(
                f"query: {exc.errors()[0]['msg'].removeprefix('Value error, ')}"
            ) from None
        near = form.to_destination(service.postal_country())
    elif radius_miles is not None or country is not None:
        raise Invalid("query: radius_miles and country apply to a place (lat and lon, or zip)")
    found = service.availability(sku, node, near, radius_miles)
    return json_response({"skus": [_availability(service, a) for a in found]})


def _is_id(value: str) -> bool:
    return len(value) <= 128 and re.fullmatch(ID_PATTERN, value) is not None


def _at_node(p: Position) -> dict[str, Any]:
    return {
        "node": p.node,
        "sellable": p.available,
        "on_hand": p.on_hand,
        "safety_stock": p.safety_stock,
        "reserved": p.reserved,
        "allocated": p.allocated,
    }


def _availability(service: Service, a: SkuAvailability) -> dict[str, Any]:
    by_date: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    for b in a.incoming:
        by_date[service.inbound_date(b)].append(
            {"id": b.id, "node": b.node, "sku": b.sku, "qty": b.qty, "expected_at": b.expected_at,
             "backordered": b.backordered}
        )  # fmt: skip
    return {
        "sku": a.sku,
        "sellable": a.sellable,
        "nodes": [_at_node(p) for p in a.positions if p.on_hand or p.reserved or p.allocated],
        "incoming": [
            {"date": day.isoformat(), "qty": sum(b["qty"] for b in found), "inbound": found}
            for day, found in sorted(by_date.items())
        ],
    }
