"""Nodes and items: the live network the engine sources from (scope `inventory`)."""

from fastapi import APIRouter, Security

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.idempotency import IdempotencyDep
from sourcing_engine.api.schemas import ItemsIn, NodeOut, NodesIn, NodesOut, Upserted, errors

router = APIRouter(
    prefix="/v1", tags=["network"], dependencies=[Security(require("inventory")), StrictRequest]
)


@router.put("/nodes", responses=errors(422), response_model=Upserted)
def upsert_nodes(body: NodesIn, service: ServiceDep, idem: IdempotencyDep) -> Upserted:
    """Add or replace nodes by id (warehouses and stores, location, capacity, handling)."""
    service.upsert_nodes([n.record() for n in body.nodes])
    return Upserted(upserted=len(body.nodes))


@router.get("/nodes", responses=errors(), response_model=NodesOut)
def list_nodes(service: ServiceDep) -> NodesOut:
    return NodesOut(nodes=[NodeOut.of(n) for n in service.list_nodes()])


@router.put("/items", responses=errors(422), response_model=Upserted)
def upsert_items(body: ItemsIn, service: ServiceDep, idem: IdempotencyDep) -> Upserted:
    """Add or replace items by SKU (unit weight and dimensions, for parcel prices)."""
    service.upsert_items([i.record() for i in body.items])
    return Upserted(upserted=len(body.items))
