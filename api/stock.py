"""Stock: counts from a WMS or POS, adjustments, inbound supply, and where a SKU is
(scope `inventory`). Routes are plain `def`: the store calls block, so FastAPI runs them in
its thread pool instead of on the event loop."""

from typing import Annotated

from fastapi import APIRouter, Path, Security
from fastapi.responses import Response

from sourcing_engine import resources
from sourcing_engine.api import render
from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.idempotency import IdempotencyDep, answer
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import (
    ID_PATTERN,
    AdjustmentIn,
    AdjustmentsIn,
    CountsIn,
    InboundOut,
    InboundsIn,
    PositionsOut,
    ReceiptIn,
    ReceiptOut,
    SnapshotIn,
    SnapshotOut,
    StockOut,
    Upserted,
    errors,
)
from sourcing_engine.service import Adjustment

router = APIRouter(
    prefix="/v1", tags=["stock"], dependencies=[Security(require("inventory")), StrictRequest]
)

SkuPath = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
InboundPath = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]


@router.post("/stock/snapshots", responses=errors(404, 422), response_model=SnapshotOut)
def snapshot(body: SnapshotIn, service: ServiceDep, idem: IdempotencyDep) -> SnapshotOut:
    """Set on hand (and safety stock) per SKU at one node: the physical truth. Allocations
    and holds stay; a position counted below them shows as oversold."""
    service.set_stock(body.node, body.counts_by_sku(), body.reason)
    return SnapshotOut(node=body.node, counted=len(body.counts))


@router.post("/stock/counts", responses=errors(409, 422), response_model=PositionsOut)
def count(body: CountsIn, service: ServiceDep, idem: IdempotencyDep) -> Response:
    """Counts of many positions from a POS or WMS, all or nothing, each applied relative to
    the movements recorded since its `as_of` (a count taken before a shipment and sent
    after it does not bring the shipped units back). A count not after the last one applied
    from the same `source` at that position (by `sequence`, or else by `as_of`) is stale:
    409 `stale_counts` when every refused entry is stale, otherwise 422 `invalid_entries`
    (unknown node or SKU, `as_of` more than 5 minutes ahead or older than the 7 days of
    movements kept), with one detail per refused entry. A left-out `safety_stock` keeps its
    value. Events `stock.counted`."""
    done = service.count_stock(body.stock_counts(), body.reason, idem.key_for(body))
    return answer(done, PositionsOut.of, 200)


@router.post("/stock/adjustments/batch", responses=errors(422), response_model=PositionsOut)
def adjust_many(body: AdjustmentsIn, service: ServiceDep, idem: IdempotencyDep) -> Response:
    """Adjustments of many positions in order, all or nothing: 422 `invalid_entries` with
    one detail per entry at an unknown node or of an unknown SKU, or that would take on hand
    below zero (counting the earlier entries). Events `stock.adjusted`."""
    done = service.adjust_stock_many(body.stock_adjustments(), idem.key_for(body))
    return answer(done, PositionsOut.of, 200)


@router.post("/stock/adjustments", responses=errors(404, 409, 422), response_model=AdjustmentIn)
def adjust(body: AdjustmentIn, service: ServiceDep, idem: IdempotencyDep) -> Response:
    """Add a delta to on hand with a reason (refused below zero on hand); the reply echoes
    the adjustment applied (GET /v1/stock/{sku} shows the positions)."""
    adjustment = Adjustment(body.node, body.sku, body.delta, body.reason)
    done = service.adjust_stock(adjustment, idem.key_for(body))
    return answer(done, lambda _: body.model_dump(mode="json"), 200)


@router.post("/inbound", responses=errors(404, 422), response_model=Upserted)
def add_inbound(body: InboundsIn, service: ServiceDep, idem: IdempotencyDep) -> Upserted:
    """Expected supply (purchase orders, transfers) by id: node, SKU, quantity, date."""
    service.add_inbound([i.record() for i in body.inbound])
    return Upserted(upserted=len(body.inbound))


@router.post(
    "/inbound/{inbound_id}/receive", responses=errors(404, 409, 422), response_model=ReceiptOut
)
def receive(
    inbound_id: InboundPath, body: ReceiptIn, service: ServiceDep, idem: IdempotencyDep
) -> Response:
    """Units of a purchase order or transfer arrived at its node: on hand rises by `qty`
    and the inbound's open quantity falls by as much (partial receipts allowed; the
    inbound is gone once received in full). Event `inbound.received`."""
    done = service.receive_inbound(inbound_id, body.qty, idem.key_for(body))
    return answer(
        done,
        lambda p: {"inbound": inbound_id, "received": body.qty, "position": render.position(p)},
        200,
    )


@router.get("/inbound/{inbound_id}", responses=errors(404, 422), response_model=InboundOut)
def get_inbound(inbound_id: InboundPath, service: ServiceDep) -> Response:
    """A purchase order or transfer still open: node, SKU, the quantity not yet received
    and the expected arrival (404 once received in full; its receipts are
    `inbound.received` events, its changes `inbound.created` / `inbound.updated`)."""
    return json_response(resources.inbound(service.get_inbound(inbound_id)))


@router.get("/stock/{sku}", responses=errors(422), response_model=StockOut)
def stock_of(sku: SkuPath, service: ServiceDep) -> StockOut:
    """Per node: on hand, safety stock, reserved, allocated, available; and the totals."""
    return StockOut.of(service.stock(sku))
