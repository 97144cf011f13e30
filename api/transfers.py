"""Transfer orders between nodes: create (reserve at the source), get, ship (in transit,
incoming at the destination), receive (in part or in full), cancel (scope `inventory`)."""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Security
from fastapi.responses import Response

from sourcing_engine.api import render
from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import IfMatchDep, ServiceDep, StrictRequest
from sourcing_engine.api.idempotency import IdempotencyDep, answer
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import (
    ID_PATTERN,
    TransferIn,
    TransferOut,
    TransferReceiveIn,
    TransferShipIn,
    errors,
    lines_of,
)

router = APIRouter(
    prefix="/v1", tags=["transfers"], dependencies=[Security(require("inventory")), StrictRequest]
)

TransferId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
STEP = errors(404, 409, 412, 422)
"""Each step takes If-Match with the transfer's version (GET's ETag): 412 if it moved on."""


@router.post(
    "/transfers", status_code=201, responses=errors(404, 409, 422), response_model=TransferOut
)
def create_transfer(body: TransferIn, service: ServiceDep, idem: IdempotencyDep) -> Response:
    """Reserve the lines at the source for the destination, all or nothing: 409
    `insufficient_stock` lists every short line; 409 `conflict` if the id exists. The
    units count as allocated at the source until shipped or cancelled."""
    done = service.create_transfer(
        body.id, body.source, body.destination, lines_of(body.lines), body.expected_at,
        idem.key_for(body),
    )  # fmt: skip
    return answer(done, render.transfer, 201)


@router.get("/transfers/{transfer_id}", responses=errors(404, 422), response_model=TransferOut)
def get_transfer(transfer_id: TransferId, service: ServiceDep) -> Response:
    """The transfer: state, lines, received and in transit; the version is the ETag."""
    t = service.get_transfer(transfer_id)
    return json_response(render.transfer(t), headers={"ETag": f'"{t.version}"'})


@router.post("/transfers/{transfer_id}/ship", responses=STEP, response_model=TransferOut)
def ship_transfer(
    transfer_id: TransferId,
    service: ServiceDep,
    idem: IdempotencyDep,
    version: IfMatchDep,
    body: Annotated[TransferShipIn | None, Body()] = None,
) -> Response:
    """The source shipped it: the units leave its on hand and are incoming at the
    destination from `expected_at` (GET /v1/stock/{sku} lists them; a promise may offer
    them as a backorder from that date)."""
    expected_at = None if body is None else body.expected_at
    done = service.ship_transfer(transfer_id, expected_at, idem.key_for(body), version)
    return answer(done, render.transfer, 200)


@router.post("/transfers/{transfer_id}/receive", responses=STEP, response_model=TransferOut)
def receive_transfer(
    transfer_id: TransferId,
    service: ServiceDep,
    idem: IdempotencyDep,
    version: IfMatchDep,
    body: Annotated[TransferReceiveIn | None, Body()] = None,
) -> Response:
    """These lines arrived (without lines: everything in transit): on hand rises at the
    destination; the transfer is partially_received until every unit is, then received.
    422 naming the SKU for more than is in transit."""
    lines = None if body is None or body.lines is None else lines_of(body.lines)
    done = service.receive_transfer(transfer_id, lines, idem.key_for(body), version)
    return answer(done, render.transfer, 200)


@router.post("/transfers/{transfer_id}/cancel", responses=STEP, response_model=TransferOut)
def cancel_transfer(
    transfer_id: TransferId, service: ServiceDep, idem: IdempotencyDep, version: IfMatchDep
) -> Response:
    """Cancel a transfer not shipped yet (409 once shipped: receive it instead); its
    units are available at the source again."""
    done = service.cancel_transfer(transfer_id, idem.key_for(None), version)
    return answer(done, render.transfer, 200)
