"""BI export: orders, shipments, allocations or events of a time range as CSV or Parquet,
streamed a record batch at a time (scope `planning`: the analysts' and planners' reads;
an orders key is for the OMS that changes orders, an admin key can issue keys)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Security
from fastapi.responses import StreamingResponse

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.schemas import errors

router = APIRouter(
    prefix="/v1", tags=["exports"], dependencies=[Security(require("planning")), StrictRequest]
)

INSTANT = "an ISO 8601 date or time, UTC unless it names a zone (2026-12-01T08:00:00+01:00)"
From = Annotated[str | None, Query(alias="from", max_length=40, description=f"Included; {INSTANT}")]
To = Annotated[str | None, Query(alias="to", max_length=40, description=f"Excluded; {INSTANT}")]


@router.get(
    "/exports/{kind}",
    responses={
        **errors(422),
        200: {
            "description": "The rows as CSV (header first) or a Parquet file (docs/export.md)",
            "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
        },
    },
    response_class=StreamingResponse,
)
def export(
    kind: str,
    service: ServiceDep,
    start: From = None,
    end: To = None,
    format: Literal["csv", "parquet"] = "csv",
) -> StreamingResponse:
    """orders, shipments and allocations: those of the orders created in the range, as they
    are now; events: those recorded in it. Columns: docs/export.md."""
    req = service.export_request(kind, start, end, format)  # checked before the first byte
    name = f"{kind}.{format}"
    return StreamingResponse(
        service.export_stream(req),
        media_type=req.media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
