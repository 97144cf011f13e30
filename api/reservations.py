"""Checkout holds: hold a cart's units for a destination for a while, then commit them into
an order or release them (scope `promise`)."""

from typing import Annotated

from fastapi import APIRouter, Path, Security
from fastapi.responses import Response

from sourcing_engine.api import render
from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import MetricsDep, ServiceDep, StrictRequest
from sourcing_engine.api.idempotency import IdempotencyDep, answer
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import (
    ID_PATTERN,
    CommitIn,
    OrderOut,
    ReservationIn,
    ReservationOut,
    errors,
    lines_of,
)
from sourcing_engine.errors import InsufficientStock

router = APIRouter(
    prefix="/v1", tags=["reservations"], dependencies=[Security(require("promise")), StrictRequest]
)

ReservationId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]


@router.post(
    "/reservations", status_code=201, responses=errors(404, 409, 422), response_model=ReservationOut
)
def reserve(
    body: ReservationIn, service: ServiceDep, idem: IdempotencyDep, metrics: MetricsDep
) -> Response:
    """Source the cart's lines with the engine and hold the units for `ttl_s` seconds.
    Once expired a hold counts for nothing, whether or not the reaper has marked it."""
    pickup, key = body.pickup(), idem.key_for(body)
    try:
        if pickup is not None:
            done = service.reserve_pickup(body.cart, lines_of(body.lines), body.ttl_s, pickup, key)
        else:
            destination = body.shipped_to().to_destination(service.postal_country())
            done = service.reserve(body.cart, destination, lines_of(body.lines), body.ttl_s, key)
    except InsufficientStock as exc:
        metrics.shortage("reservation", len(exc.shortages))
        raise
    if not done.replayed:
        metrics.holds.labels("created").inc()
    return answer(done, render.reservation, 201)


@router.get(
    "/reservations/{reservation_id}", responses=errors(404, 422), response_model=ReservationOut
)
def get_reservation(reservation_id: ReservationId, service: ServiceDep) -> Response:
    return json_response(render.reservation(service.get_reservation(reservation_id)))


@router.post(
    "/reservations/{reservation_id}/commit",
    status_code=201,
    responses=errors(404, 409, 422),
    response_model=OrderOut,
)
def commit(
    reservation_id: ReservationId,
    body: CommitIn,
    service: ServiceDep,
    idem: IdempotencyDep,
    metrics: MetricsDep,
) -> Response:
    """Turn an unexpired hold into an allocated order with exactly its units (409 if it
    expired, was released or was committed). Without a destination the order goes where
    the hold was sourced for; a hold made by POST /v1/promise keeps its option (method,
    nodes, promised dates) and may only go there."""
    destination = (
        None
        if body.destination is None
        else body.destination.to_destination(service.postal_country())
    )
    done = service.commit_reservation(
        reservation_id, body.order_id, destination, idem.key_for(body), body.references()
    )
    if not done.replayed:
        metrics.holds.labels("committed").inc()
        metrics.allocated("reservation", done.value)
    return answer(done, render.order, 201)


@router.post(
    "/reservations/{reservation_id}/release",
    responses=errors(404, 409, 422),
    response_model=ReservationOut,
)
def release(
    reservation_id: ReservationId, service: ServiceDep, idem: IdempotencyDep, metrics: MetricsDep
) -> Response:
    """Give the held units back now."""
    done = service.release_reservation(reservation_id, idem.key_for(None))
    if not done.replayed:
        metrics.holds.labels("released").inc()
    return answer(done, render.reservation, 200)
