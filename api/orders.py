"""Orders: create (source, then allocate), batch allocate, get, and each lifecycle step
(scope `orders`)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Security
from fastapi.responses import Response

from sourcing_engine.api import render
from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import IfMatchDep, MetricsDep, ServiceDep, StrictRequest
from sourcing_engine.api.errors import domain_error
from sourcing_engine.api.explanations import AcceptLanguage, explanation
from sourcing_engine.api.idempotency import IdempotencyDep, answer
from sourcing_engine.api.metrics import Metrics
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import (
    ID_PATTERN,
    BatchIn,
    BatchOut,
    CancelIn,
    JobOut,
    OrderDetailOut,
    OrderIn,
    OrderOut,
    ReallocateIn,
    RejectIn,
    ReturnIn,
    ShipIn,
    errors,
    lines_of,
    order_of,
)
from sourcing_engine.batch_jobs import BatchJobs, JobFailed, Progress, job_id
from sourcing_engine.errors import DomainError, InsufficientStock, Invalid
from sourcing_engine.explain.summary import negotiate
from sourcing_engine.lifecycle import OrderRecord
from sourcing_engine.service import BatchOutcome, Done
from sourcing_engine.stores.base import IdempotencyKey

router = APIRouter(
    prefix="/v1", tags=["orders"], dependencies=[Security(require("orders")), StrictRequest]
)

OrderId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
JobId = Annotated[str, Path(pattern=r"^bj_[0-9a-f]{32}$")]


def counted(metrics: Metrics, via: str, run: Callable[[], Done[OrderRecord]]) -> Done[OrderRecord]:
    """Count the allocations (orders and units) and shortages of a call that allocates."""
    try:
        done = run()
    except InsufficientStock as exc:
        metrics.shortage("order", len(exc.shortages))
        raise
    if not done.replayed:
        metrics.allocated(via, done.value)
    return done


@router.post("/orders", status_code=201, responses=errors(404, 409, 422), response_model=OrderOut)
def create_order(
    body: OrderIn, service: ServiceDep, idem: IdempotencyDep, metrics: MetricsDep
) -> Response:
    """Source the order with the engine on live stock, then allocate it whole, atomically.
    With `backorder: true` what stock cannot cover is promised from open purchase orders
    (`backordered`, `promised_date`) in the same step (shipped orders only). 409
    `insufficient_stock` lists every short line (SKU, nodes tried, requested, available);
    409 `conflict` if the id exists."""
    key = idem.key_for(body)
    if (pickup := body.pickup()) is not None:
        if body.backorder:
            raise Invalid('backorder: only for shipped orders, not with fulfillment "pickup"')
        lines = lines_of(body.lines)
        refs = body.references()
        done = counted(
            metrics,
            "order",
            lambda: service.create_pickup_order(body.id, lines, pickup, key, refs),
        )
        return answer(done, render.order, 201)
    order = order_of(
        body.id, body.shipped_to(), body.lines, service.postal_country(), body, body.backorder
    )
    done = counted(metrics, "order", lambda: service.create_order(order, key))
    return answer(done, render.order, 201)


@router.post(
    "/orders/batch",
    responses={**errors(409, 422), 202: {"model": JobOut, "description": "a background job"}},
    response_model=BatchOut,
)
def allocate_batch(
    body: BatchIn,
    request: Request,
    service: ServiceDep,
    idem: IdempotencyDep,
    metrics: MetricsDep,
    explain: Annotated[bool, Query()] = False,
    background: Annotated[bool | None, Query()] = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Source many orders jointly with `policy` (default `optimal`) within `time_limit_s`
    (default the service's) on the stock and node capacity left today, then allocate each
    whole and atomically (an order whose stock or capacity was taken meanwhile is sourced
    again alone). `plan` is the joint plan's status, cost, proven bound and gap (bound and
    gap null for rule-based policies); `allocated_cost` what the allocated orders cost as
    allocated. Each order answers for itself; with an Idempotency-Key each order is
    idempotent on its own (a retry replays allocated orders and tries the refused ones
    again), and a retry while
    the first call still runs answers 409 `idempotency_key_in_flight`. With
    `explain=true` each allocated order also carries its `explanation` (as
    GET /v1/orders/{id}/explanation answers it, in the language of `Accept-Language`).
    A batch of more orders than the service's `batch_job_orders` (or any batch, with
    `background=true`; none, with `background=false`) runs as a background job: 202 with
    the job and its `Location`
    (GET /v1/jobs/{id}: progress, then this call's answer as `result`); with an
    Idempotency-Key a retry answers the same job."""
    body.check_distinct()
    by_id = {o.id: o for o in body.orders}
    country = service.postal_country()
    orders = [order_of(o.id, o.shipped_to(f"orders[{i}]."), o.lines, country, o, o.backorder)
              for i, o in enumerate(body.orders)]  # fmt: skip
    language, _ = negotiate(accept_language)
    headers = {"Content-Language": language} if explain else None

    def allocate(progress: Progress | None, batch_key: IdempotencyKey | None) -> dict[str, Any]:
        done = service.allocate_batch(
            orders,
            key_for=lambda o: idem.key_for(by_id[o.id], part=o.id),
            batch_key=batch_key,
            policy=body.policy,
            time_limit_s=body.time_limit_s,
            progress=progress,
        )
        results = [_result(outcome, metrics) for outcome in done.outcomes]
        allocated = sum(r["status"] == "allocated" for r in results)
        if explain:
            for r in results:
                if r["status"] == "allocated":
                    r["explanation"] = explanation(service, r["id"], language)
        plan = None if done.plan is None else vars(done.plan)
        return {
            "allocated": allocated,
            "refused": len(results) - allocated,
            "allocated_cost": done.allocated_cost,
            "plan": plan,
            "results": results,
        }

    key = idem.key_for(body)
    large = len(orders) > request.app.state.settings.batch_job_orders
    if not (large if background is None else background):
        return json_response(allocate(None, key), headers=headers)

    def run(progress: Progress) -> dict[str, Any]:
        try:  # the job itself is the batch's guard: a retry finds it by the same key
            return allocate(progress, None)
        except DomainError as exc:
            raise JobFailed(domain_error(exc)[1]["error"]) from None

    jobs: BatchJobs = request.app.state.batch_jobs
    request_hash = key.request_hash if key is not None else idem.request_hash(body)
    job = jobs.start(job_id(None if key is None else key.key), request_hash, len(orders), run)
    return json_response(job.to_data(), 202, {"Location": f"/v1/jobs/{job.id}"})


@router.get("/jobs/{job_id}", responses=errors(404, 422), response_model=JobOut)
def get_job(job_id: JobId, request: Request) -> Response:
    """A background job: its progress, then its result or error (see POST /v1/orders/batch)."""
    jobs: BatchJobs = request.app.state.batch_jobs
    return json_response(jobs.get(job_id).to_data())


def _result(outcome: BatchOutcome, metrics: Metrics) -> dict[str, Any]:
    if outcome.done is not None:
        if not outcome.done.replayed:
            metrics.allocated("batch", outcome.done.value)
        order = render.order(outcome.done.value)
        return {"id": outcome.order_id, "status": "allocated", "order": order, "error": None}
    assert outcome.error is not None
    if isinstance(outcome.error, InsufficientStock):
        metrics.shortage("order", len(outcome.error.shortages))
    _, body = domain_error(outcome.error)
    return {"id": outcome.order_id, "status": "refused", "order": None, "error": body["error"]}


@router.get("/orders/{order_id}", responses=errors(404, 422), response_model=OrderDetailOut)
def get_order(order_id: OrderId, service: ServiceDep) -> Response:
    """State, lines, allocations, shipments, the plan with its costs, and the history; the
    version is the ETag (If-Match on a step: 412 if the order moved on)."""
    view = service.get_order(order_id)
    etag = {"ETag": f'"{view.order.version}"'}
    return json_response(render.order_detail(view.order, view.history), headers=etag)


STEP = errors(404, 409, 412, 422)
"""Each step takes If-Match with the order's version (GET's ETag): 412 if it moved on."""


@router.post("/orders/{order_id}/release", responses=STEP, response_model=OrderOut)
def release(
    order_id: OrderId, service: ServiceDep, idem: IdempotencyDep, version: IfMatchDep
) -> Response:
    """Hand the order to its nodes for picking (allocated -> released)."""
    return answer(service.release(order_id, idem.key_for(None), version), render.order, 200)


@router.post("/orders/{order_id}/ready", responses=STEP, response_model=OrderOut)
def ready(
    order_id: OrderId, service: ServiceDep, idem: IdempotencyDep, version: IfMatchDep
) -> Response:
    """A pickup order's store has every unit (its shelf's, and the legs' shipped there):
    ready_for_pickup (409 while another node still holds units, or for an order shipped
    to its customer). It is not collected after the network's `pickup_days`."""
    done = service.ready_for_pickup(order_id, idem.key_for(None), version)
    return answer(done, render.order, 200)


@router.post("/orders/{order_id}/pick-up", responses=STEP, response_model=OrderOut)
def pick_up(
    order_id: OrderId, service: ServiceDep, idem: IdempotencyDep, version: IfMatchDep
) -> Response:
    """The customer collected a ready order: the store's units leave its on hand."""
    return answer(service.pick_up(order_id, idem.key_for(None), version), render.order, 200)


@router.post("/orders/{order_id}/not-collected", responses=STEP, response_model=OrderOut)
def not_collected(
    order_id: OrderId, service: ServiceDep, idem: IdempotencyDep, version: IfMatchDep
) -> Response:
    """Nobody collected a ready order (the service does it by itself after
    `pickup_days`): its units are sellable at the store again, the legs' units restocked
    there."""
    done = service.not_collected(order_id, idem.key_for(None), version)
    return answer(done, render.order, 200)


@router.post("/orders/{order_id}/ship", responses=STEP, response_model=OrderOut)
def ship(
    order_id: OrderId,
    body: ShipIn,
    service: ServiceDep,
    idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:
    """The node shipped everything it holds for the order, or the `lines` given (a part),
    in one parcel (`carrier` and `tracking`, both or neither: kept in the order's `parcels`
    and the `order.shipped` event): on hand and allocated go down; the order is
    partially_shipped or shipped."""
    if (body.carrier is None) != (body.tracking is None):
        raise Invalid("carrier, tracking: give both (the parcel's carrier and its number)")
    lines = None if body.lines is None else lines_of(body.lines)
    parcel = None
    if body.carrier is not None and body.tracking is not None:
        parcel = (body.carrier, body.tracking)
    done = service.ship(order_id, body.node, idem.key_for(body), version, lines, parcel)
    return answer(done, render.order, 200)


@router.post("/orders/{order_id}/cancel", responses=STEP, response_model=OrderOut)
def cancel(
    order_id: OrderId,
    service: ServiceDep,
    idem: IdempotencyDep,
    version: IfMatchDep,
    body: Annotated[CancelIn | None, Body()] = None,
) -> Response:
    """Cancel the whole order, or some lines' units (never shipped ones: those are
    returned); their stock is available again."""
    lines = None if body is None or body.lines is None else lines_of(body.lines)
    return answer(service.cancel(order_id, lines, idem.key_for(body), version), render.order, 200)


@router.post("/orders/{order_id}/reject", responses=STEP, response_model=OrderOut)
def reject(
    order_id: OrderId,
    body: RejectIn,
    service: ServiceDep,
    idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:
    """The node cannot fulfil these units (say, not found on the shelf): they are sourced
    again with the engine, never from a node that rejected the order, in the same atomic
    step; units that cannot be are cancelled (`order.lines_unfillable`)."""
    lines = None if body.lines is None else lines_of(body.lines)
    done = service.reject(order_id, body.node, lines, idem.key_for(body), version)
    return answer(done, render.order, 200)


@router.post("/orders/{order_id}/reallocate", responses=STEP, response_model=OrderOut)
def reallocate(
    order_id: OrderId,
    service: ServiceDep,
    idem: IdempotencyDep,
    version: IfMatchDep,
    body: Annotated[ReallocateIn | None, Body()] = None,
) -> Response:
    """Source the order's units at nodes it is not released to again on the stock
    available now (never from a node that rejected their SKU), and move them to the new
    plan in one atomic step if the order then costs more than `min_saving` less (event
    `order.reallocated`, version + 1); otherwise the order is answered as it is, unchanged.
    409 if every unit is at a node it is released to."""
    min_saving = 0.0 if body is None else body.min_saving
    done = service.reallocate(order_id, min_saving, idem.key_for(body), version)
    return answer(done, render.order, 200)


@router.post("/orders/{order_id}/return", responses=STEP, response_model=OrderOut)
def return_units(
    order_id: OrderId,
    body: ReturnIn,
    service: ServiceDep,
    idem: IdempotencyDep,
    version: IfMatchDep,
) -> Response:
    """Shipped units came back, at `receiving_node` (any node; default: the node that
    shipped them), each line with its `disposition`: restocked units are sellable there
    again; quarantined and written-off units add no stock. Event `order.returned` with the
    lines, their dispositions and the receiving node."""
    lines = [(ln.sku, ln.qty, ln.node) for ln in body.lines]
    done = service.return_units(
        order_id, lines, body.restock, idem.key_for(body), version,
        at=body.receiving_node, dispositions=[ln.disposition for ln in body.lines],
    )  # fmt: skip
    return answer(done, render.order, 200)
