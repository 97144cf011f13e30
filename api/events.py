"""Every state change, in order, for the rest of the OMS to poll (scope `orders`)."""

from typing import Annotated

from fastapi import APIRouter, Query, Security

from sourcing_engine.api import render
from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.schemas import EventOut, EventsOut, errors

router = APIRouter(
    prefix="/v1", tags=["events"], dependencies=[Security(require("orders")), StrictRequest]
)

MAX_EVENTS = 1000


@router.get("/events", responses=errors(422), response_model=EventsOut)
def events(
    service: ServiceDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Events with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
    type: Annotated[
        list[str],
        Query(
            max_length=50,
            description="Only these types: 'order.shipped', a family 'order.*', or '*' "
            "(repeat the parameter for several)",
        ),
    ] = [],  # noqa: B006 (FastAPI copies the default)
    subject: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Only this resource: an order or reservation id, 'stock:<node>/<sku>', "
            "'node:<id>'",
        ),
    ] = None,
) -> EventsOut:
    """Events with seq > `after`, oldest first; pass `next_after` as `after` next time.
    Filtered, a call looks through at most 10,000 events: fewer than `limit` may come back
    before the end, and `next_after` is where it stopped."""
    found, next_after = service.feed(after, limit, type, subject)
    return EventsOut(events=[EventOut(**render.event(e)) for e in found], next_after=next_after)
