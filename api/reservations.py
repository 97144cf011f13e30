"""Checkout holds: hold a cart's units for a destination for a while, then commit them into
an order or release them (scope `promise`)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Security
from fastapi.responses import JSONResponse

from api.auth import require
from api.deps import MetricsDep, ServiceDep, StrictQuery
from api.idempotency import IdempotencyDep, Rendered
from api.orders import order_reply
from api.schemas import (
    ID_PATTERN,
    CommitIn,
    OrderOut,
    ReservationIn,
    ReservationOut,
    errors,
    lines_of,
)
from sourcing_engine.ledger import InsufficientStock, Reservation

router = APIRouter(
    prefix="/v1", tags=["reservations"], dependencies=[Security(require("promise")), StrictQuery]
)

ReservationId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]


def reservation_reply(status: int) -> Callable[[Reservation], Rendered]:
    return lambda r: (status, ReservationOut.of(r).model_dump(mode="json"))


@router.post(
    "/reservations", status_code=201, responses=errors(409, 422), response_model=ReservationOut
)
def reserve(
    body: ReservationIn, service: ServiceDep, idem: IdempotencyDep, metrics: MetricsDep
) -> JSONResponse:
    """Source the cart's lines with the engine and hold the units for `ttl_s` seconds.
    Once expired a hold counts for nothing, whether or not the reaper has marked it."""
    lines = lines_of(body.lines)
    destination = body.destination.to_destination()
    try:
        response = idem.run(
            body,
            lambda r: service.reserve(body.cart, destination, lines, body.ttl_s, r),
            reservation_reply(201),
        )
    except InsufficientStock as exc:
        metrics.shortage("reservation", len(exc.shortages))
        raise
    if "Idempotent-Replayed" not in response.headers:
        metrics.holds.labels("created").inc()
    return response


@router.get(
    "/reservations/{reservation_id}", responses=errors(404, 422), response_model=ReservationOut
)
def get_reservation(reservation_id: ReservationId, service: ServiceDep) -> ReservationOut:
    return ReservationOut.of(service.get_reservation(reservation_id))


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
) -> JSONResponse:
    """Turn an unexpired hold into an allocated order with exactly its units (409 if it
    expired, was released or was committed)."""
    destination = body.destination.to_destination()
    response = idem.run(
        body,
        lambda r: service.commit_reservation(reservation_id, body.order_id, destination, r),
        order_reply(201),
    )
    if "Idempotent-Replayed" not in response.headers:
        metrics.holds.labels("committed").inc()
        metrics.allocations.labels("reservation").inc()
    return response


@router.post(
    "/reservations/{reservation_id}/release",
    responses=errors(404, 409, 422),
    response_model=ReservationOut,
)
def release(
    reservation_id: ReservationId, service: ServiceDep, idem: IdempotencyDep, metrics: MetricsDep
) -> JSONResponse:
    """Give the held units back now."""
    response = idem.run(
        None,
        lambda r: service.release_reservation(reservation_id, r),
        reservation_reply(200),
    )
    if "Idempotent-Replayed" not in response.headers:
        metrics.holds.labels("released").inc()
    return response
