"""Explanations of live orders: GET /v1/orders/{id}/explanation (scope `orders`)."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Security
from fastapi.responses import Response

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import ID_PATTERN, errors
from sourcing_engine.explain.summary import negotiate, summary
from sourcing_engine.service import Service

router = APIRouter(
    prefix="/v1", tags=["orders"], dependencies=[Security(require("orders")), StrictRequest]
)

OrderId = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
AcceptLanguage = Annotated[str | None, Header(max_length=256)]


def explanation(service: Service, order_id: str, language: str) -> dict[str, Any]:
    """An order's explanation as the API answers it, with its summary in `language`."""
    found = service.explain_order(order_id)
    return {**found.to_data(), "language": language, "summary": summary(found, language)}


@router.get("/orders/{order_id}/explanation", responses=errors(404, 422))
def order_explanation(
    order_id: OrderId,
    service: ServiceDep,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Why the order is sourced as it is: its plan's cost term by term, the next best plans
    (each feasible, priced, with what it lost by), why nearer or cheaper nodes did not ship,
    what the closest and greedy-cost rules would have cost, and a summary to read aloud in
    the language of `Accept-Language` (en, it; any other: English, and Content-Language
    says so). Computed on the available stock now with the order's own units given back."""
    language, _ = negotiate(accept_language)
    return json_response(
        explanation(service, order_id, language), headers={"Content-Language": language}
    )
