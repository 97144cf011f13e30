"""Node capacity per day: what orders took of each node's shipments and units on a day,
and what is left (scope `inventory`). Allocations charge it atomically in the store."""

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Query, Security
from fastapi.responses import Response

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import ID_PATTERN, CapacityOut, errors
from sourcing_engine.errors import Invalid

router = APIRouter(
    prefix="/v1", tags=["capacity"], dependencies=[Security(require("inventory")), StrictRequest]
)
MAX_NODES = 1000


@router.get("/capacity", responses=errors(404, 422), response_model=CapacityOut)
def capacity(
    service: ServiceDep,
    node: Annotated[
        list[str] | None,
        Query(max_length=MAX_NODES, description="only these nodes (repeat the key)"),
    ] = None,
    day: Annotated[
        str | None,
        Query(max_length=10, description="YYYY-MM-DD (default: each node's local today)"),
    ] = None,
) -> Response:
    """Per node: its shipment and unit capacity per day (null: no limit), what orders took
    of it on the day (each node's local today unless `day` is given) and what is left."""
    for value in node or []:
        if len(value) > 128 or re.fullmatch(ID_PATTERN, value) is None:
            raise Invalid(f"query: node {value!r} is not an id (letters, digits and . _ : -)")
    try:
        on = None if day is None else dt.date.fromisoformat(day)
    except ValueError:
        raise Invalid(f"query: day {day!r}; expected a date YYYY-MM-DD") from None
    found = service.capacity(node, on)
    return json_response(
        {
            "nodes": [
                {"node": c.node, "day": c.day, "ship_capacity": c.ship_capacity,
                 "unit_capacity": c.unit_capacity, "shipments": c.shipments, "units": c.units,
                 "shipments_left": c.shipments_left, "units_left": c.units_left}
                for c in found
            ]
        }
    )  # fmt: skip
