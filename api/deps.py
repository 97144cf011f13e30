"""Dependencies shared by the routers, as `Annotated` aliases.

They are `async def` although they never await: FastAPI runs a plain `def` dependency in
its thread pool, one hop per dependency per request, which cost more than their work."""

import re
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from sourcing_engine.api.errors import ApiError
from sourcing_engine.api.metrics import Metrics
from sourcing_engine.errors import Invalid
from sourcing_engine.service import Service


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def _query_params(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_params(sub)
    return names


def _query_names(route: APIRoute) -> frozenset[str]:
    # computed once per route and kept on it (routes are not hashable)
    names: frozenset[str] | None = getattr(route, "_known_query", None)
    if names is None:
        names = frozenset(_query_params(route.dependant))
        setattr(route, "_known_query", names)  # noqa: B010
    return names


async def strict_request(request: Request) -> None:
    """Unknown query parameters are refused like unknown body fields (a typo such as
    `?afterr=10` must not silently mean `after=0`), and so is a body sent to a route that
    takes none (`{"node": "X"}` on a release must not look accepted)."""
    route = request.scope.get("route")
    known = _query_names(route) if isinstance(route, APIRoute) else frozenset()
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        details = [
            {"field": f"query.{name}", "message": "unknown query parameter",
             "type": "extra_forbidden"}
            for name in unknown
        ]  # fmt: skip
        raise ApiError(
            422,
            "validation_error",
            "; ".join(f"{d['field']}: unknown query parameter" for d in details),
            details,
        )
    if isinstance(route, APIRoute) and route.body_field is None and await request.body():
        detail = {"field": "body", "message": "this route takes no body", "type": "extra_forbidden"}
        raise ApiError(422, "validation_error", "body: this route takes no body", [detail])


StrictRequest = Depends(strict_request)


_ETAG = re.compile(r'^(W/)?"?([0-9]{1,15})"?$')


def version_of(if_match: str | None) -> int | None:
    """The version an If-Match header names ("3", 3 or W/"3"); None without one."""
    if if_match is None:
        return None
    found = _ETAG.match(if_match.strip())
    if found is None:
        raise Invalid(f'If-Match: {if_match!r}; expected a version such as "3" (the ETag)')
    return int(found[2])


async def if_match(
    value: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=40,
            description='The version read (the ETag, e.g. "3"): 412 if it moved on.',
        ),
    ] = None,
) -> int | None:
    return version_of(value)


IfMatchDep = Annotated[int | None, Depends(if_match)]
"""The version an If-Match header names (None without one)."""
