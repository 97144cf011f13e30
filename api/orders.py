"""Orders: create (source, then allocate), batch allocate, get, and each lifecycle step
(scope `orders`)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Path, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import require
from api.deps import MetricsDep, ServiceDep, StrictQuery
from api.errors import ledger_error
from api.idempotency import IdempotencyDep, Idempotent, Rendered, release_claim
from api.metrics import Metrics
from api.schemas import (
    ID_PATTERN,
    BatchIn,
    BatchOut,
    BatchResultOut,
    CancelIn,
    EventOut,
    OrderDetailOut,
    OrderIn,
    OrderOut,
    RejectIn,
    ReturnIn,
    ShipIn,
    errors,
    lines_of,
)
from sourcing_engine.ledger import (
    IdempotencyInFlight,
    IdempotencyMismatch,
    InsufficientStock,
    LedgerError,
    OrderRecord,
)
from sourcing_engine.service import BatchOutcome, OrderRequest, Replay, Service

router = APIRouter(
    prefix="/v1", tags=["orders"], dependencies=[Security(require("orders")), StrictQuery]
)

OrderId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]


def order_reply(status: int) -> Callable[[OrderRecord], Rendered]:
    return lambda o: (status, OrderOut.of(o).model_dump(mode="json"))


def request_of(body: OrderIn) -> OrderRequest:
    return OrderRequest(body.id, body.destination.to_destination(), lines_of(body.lines))


def counted(metrics: Metrics, via: str, run: Callable[[], JSONResponse]) -> JSONResponse:
    """Count allocations and shortages of a call that allocates."""
    try:
        response = run()
    except InsufficientStock as exc:
        metrics.shortage("order", len(exc.shortages))
        raise
    if response.status_code == 201 and "Idempotent-Replayed" not in response.headers:
        metrics.allocations.labels(via).inc()
    return response


@router.post("/orders", status_code=201, responses=errors(409, 422), response_model=OrderOut)
def create_order(
    body: OrderIn, service: ServiceDep, idem: IdempotencyDep, metrics: MetricsDep
) -> JSONResponse:
    """Source the order with the engine on live stock, then allocate it whole, atomically.
    409 `insufficient_stock` lists every short line (SKU, nodes tried, requested,
    available); 409 `conflict` if the id exists."""
    request = request_of(body)
    return counted(
        metrics,
        "order",
        lambda: idem.run(
            body, lambda replay: service.create_order(request, replay), order_reply(201)
        ),
    )


@router.post("/orders/batch", responses=errors(422), response_model=BatchOut)
def allocate_batch(
    body: BatchIn, service: ServiceDep, idem: IdempotencyDep, metrics: MetricsDep
) -> BatchOut:
    """Source many orders jointly with the `optimal` policy, then allocate each whole and
    atomically (an order whose stock was taken meanwhile is sourced again alone). Each
    order answers for itself; with an Idempotency-Key each order is idempotent on its own
    (a retry replays allocated orders and tries the refused ones again)."""
    results: dict[str, BatchResultOut] = {}
    pending: list[OrderIn] = []
    for order in body.orders:
        done = _stored(idem, service, order)
        if done is None:
            pending.append(order)
        else:
            results[order.id] = done
    by_id = {o.id: o for o in pending}
    claimed: dict[str, str] = {}  # order id -> the key this call claimed for it

    def replay_for(order_id: str) -> Replay[OrderRecord] | None:
        # each order's key is claimed only when its turn comes, after the joint solve, and
        # a refused order's claim is released, so a retry tries it again at once
        claim = idem.claim(by_id[order_id], part=order_id)
        if claim is None:
            return None
        claimed[order_id] = claim.key
        return Replay(claim.key, claim.request_hash, order_reply(201))

    for outcome in service.allocate_batch([request_of(o) for o in pending], replay_for):
        done = None
        if isinstance(outcome.error, IdempotencyInFlight):  # a twin batch allocated it
            done = _stored(idem, service, by_id[outcome.order_id])
        elif outcome.order_id in claimed and _ours_to_release(outcome.error):
            release_claim(service, claimed[outcome.order_id])  # refused: a retry runs it
        results[outcome.order_id] = done or _result(outcome, metrics)
    ordered = [results[o.id] for o in body.orders]
    allocated = sum(r.status == "allocated" for r in ordered)
    return BatchOut(allocated=allocated, refused=len(ordered) - allocated, results=ordered)


def _ours_to_release(error: LedgerError | None) -> bool:
    """A refusal whose claim this call still holds (after a mismatch the key is another
    request's)."""
    return error is not None and not isinstance(error, IdempotencyMismatch)


def _stored(idem: Idempotent, service: Service, order: OrderIn) -> BatchResultOut | None:
    """The stored result of an order of a batch retried with its key, if it completed."""
    if idem.key is None:
        return None
    reply = service.idempotent_reply(idem.scoped(order.id))
    if reply is None:
        return None
    if reply.request_hash != idem.request_hash(order, order.id):
        return _refused(order.id, IdempotencyMismatch(
            f"Idempotency-Key {idem.key!r} was used before with another request for order "
            f"{order.id}; use a new key for a new request"
        ))  # fmt: skip
    return BatchResultOut(id=order.id, status="allocated", order=OrderOut(**reply.body))


def _refused(order_id: str, exc: LedgerError) -> BatchResultOut:
    _, body = ledger_error(exc)
    return BatchResultOut(id=order_id, status="refused", error=body["error"])


def _result(outcome: BatchOutcome, metrics: Metrics) -> BatchResultOut:
    if outcome.order is not None:
        metrics.allocations.labels("batch").inc()
        return BatchResultOut(
            id=outcome.order_id, status="allocated", order=OrderOut.of(outcome.order)
        )
    assert outcome.error is not None
    if isinstance(outcome.error, InsufficientStock):
        metrics.shortage("order", len(outcome.error.shortages))
    return _refused(outcome.order_id, outcome.error)


@router.get("/orders/{order_id}", responses=errors(404, 422), response_model=OrderDetailOut)
def get_order(order_id: OrderId, service: ServiceDep) -> OrderDetailOut:
    """State, lines, allocations, shipments, the plan with its costs, and the history."""
    view = service.get_order(order_id)
    o = view.order
    return OrderDetailOut(
        **OrderOut.of(o).model_dump(),
        version=o.version,
        created_at=o.created_at,
        updated_at=o.updated_at,
        history=[EventOut.of(e) for e in view.history],
    )


STEP = errors(404, 409, 422)


def _step(
    idem: Idempotent,
    body: BaseModel | None,
    call: Callable[[Replay[OrderRecord] | None], OrderRecord],
) -> JSONResponse:
    return idem.run(body, call, order_reply(200))


@router.post("/orders/{order_id}/release", responses=STEP, response_model=OrderOut)
def release(order_id: OrderId, service: ServiceDep, idem: IdempotencyDep) -> JSONResponse:
    """Hand the order to its nodes for picking (allocated -> released)."""
    return _step(idem, None, lambda r: service.release(order_id, r))


@router.post("/orders/{order_id}/ship", responses=STEP, response_model=OrderOut)
def ship(
    order_id: OrderId, body: ShipIn, service: ServiceDep, idem: IdempotencyDep
) -> JSONResponse:
    """The node shipped everything it holds for the order: on hand and allocated go down;
    the order is partially_shipped or shipped."""
    return _step(idem, body, lambda r: service.ship(order_id, body.node, r))


@router.post("/orders/{order_id}/cancel", responses=STEP, response_model=OrderOut)
def cancel(
    order_id: OrderId,
    service: ServiceDep,
    idem: IdempotencyDep,
    body: Annotated[CancelIn | None, Body()] = None,
) -> JSONResponse:
    """Cancel the whole order, or some lines' units (never shipped ones: those are
    returned); their stock is available again."""
    lines = None if body is None or body.lines is None else lines_of(body.lines)
    return _step(idem, body, lambda r: service.cancel(order_id, lines, r))


@router.post("/orders/{order_id}/reject", responses=STEP, response_model=OrderOut)
def reject(
    order_id: OrderId, body: RejectIn, service: ServiceDep, idem: IdempotencyDep
) -> JSONResponse:
    """The node cannot fulfil these units (say, not found on the shelf): they are sourced
    again with the engine, never from a node that rejected the order, in the same atomic
    step; units that cannot be are cancelled (`order.lines_unfillable`)."""
    lines = None if body.lines is None else lines_of(body.lines)
    return _step(idem, body, lambda r: service.reject(order_id, body.node, lines, r))


@router.post("/orders/{order_id}/return", responses=STEP, response_model=OrderOut)
def return_units(
    order_id: OrderId, body: ReturnIn, service: ServiceDep, idem: IdempotencyDep
) -> JSONResponse:
    """Shipped units came back; with restock they are on hand again at the node that
    shipped them."""
    lines = [(ln.sku, ln.qty, ln.node) for ln in body.lines]
    return _step(idem, body, lambda r: service.return_units(order_id, lines, body.restock, r))
