"""Stock: counts from a WMS or POS, adjustments, inbound supply, and where a SKU is
(scope `inventory`)."""

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
    InboundOut,
    InboundsIn,
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
async def snapshot(body: SnapshotIn, service: ServiceDep, idem: IdempotencyDep) -> SnapshotOut:
    """Set on hand (and safety stock) per SKU at one node: the physical truth. Allocations
    and holds stay; a position counted below them shows as oversold."""
    service.set_stock(body.node, body.counts_by_sku(), body.reason)
    return SnapshotOut(node=body.node, counted=len(body.counts))


@router.post("/stock/adjustments", responses=errors(404, 409, 422), response_model=AdjustmentIn)
async def adjust(body: AdjustmentIn, service: ServiceDep, idem: IdempotencyDep) -> Response:
    """Add a delta to on hand with a reason (refused below zero on hand); the reply echoes
    the adjustment applied (GET /v1/stock/{sku} shows the positions)."""
    adjustment = Adjustment(body.node, body.sku, body.delta, body.reason)
    done = service.adjust_stock(adjustment, idem.key_for(body))
    return answer(done, lambda _: body.model_dump(mode="json"), 200)


@router.post("/inbound", responses=errors(404, 422), response_model=Upserted)
async def add_inbound(body: InboundsIn, service: ServiceDep, idem: IdempotencyDep) -> Upserted:
    """Expected supply (purchase orders, transfers) by id: node, SKU, quantity, date."""
    service.add_inbound([i.record() for i in body.inbound])
    return Upserted(upserted=len(body.inbound))


@router.post(
    "/inbound/{inbound_id}/receive", responses=errors(404, 409, 422), response_model=ReceiptOut
)
async def receive(
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
async def get_inbound(inbound_id: InboundPath, service: ServiceDep) -> Response:
    """A purchase order or transfer still open: node, SKU, the quantity not yet received
    and the expected arrival (404 once received in full; its receipts are
    `inbound.received` events, its changes `inbound.created` / `inbound.updated`)."""
    return json_response(resources.inbound(service.get_inbound(inbound_id)))


@router.get("/stock/{sku}", responses=errors(422), response_model=StockOut)
async def stock_of(sku: SkuPath, service: ServiceDep) -> StockOut:
    """Per node: on hand, safety stock, reserved, allocated, available; and the totals."""
    return StockOut.of(service.stock(sku))
