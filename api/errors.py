"""One JSON error shape for every failure: `{"error": {"code", "message", "details"}}`.

Domain errors are mapped here to their HTTP status and error code (and, where a route
fixes them, the message names it); request validation names the field; anything
unexpected is logged with its traceback and answered as a 500 in the same shape, without
the traceback.
"""

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sourcing_engine.errors import (
    Conflict,
    DomainError,
    EntriesRefused,
    IdempotencyInFlight,
    IdempotencyMismatch,
    InsufficientCapacity,
    InsufficientStock,
    Invalid,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
    UnknownItems,
    UnknownNode,
)

log = logging.getLogger("api")


class ApiError(Exception):
    """An error raised by the HTTP layer itself (auth, headers, body size)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


_CODES: list[tuple[type[DomainError], int, str]] = [
    (InsufficientStock, 409, "insufficient_stock"),
    (InsufficientCapacity, 409, "insufficient_capacity"),
    (IdempotencyMismatch, 422, "idempotency_key_reused"),
    (IdempotencyInFlight, 409, "idempotency_key_in_flight"),
    (PreconditionFailed, 412, "precondition_failed"),
    (Conflict, 409, "conflict"),
    (NotFound, 404, "not_found"),
    (Invalid, 422, "invalid"),
    (StoreUnavailable, 503, "store_unavailable"),
]
RETRY_AFTER_S = 1
"""What a 503 tells the caller to wait before retrying (with its Idempotency-Key)."""

_FIXED_BY = [(UnknownNode, "PUT /v1/nodes"), (UnknownItems, "PUT /v1/items")]
"""Errors a route fixes, and that route (named in the message)."""


def domain_error(exc: DomainError) -> tuple[int, dict[str, Any]]:
    """Status and body of a domain error."""
    status, code = next(((s, c) for t, s, c in _CODES if isinstance(exc, t)), (400, "bad_request"))
    message = str(exc)
    route = next((r for t, r in _FIXED_BY if isinstance(exc, t)), None)
    if route is not None:
        message += f" ({route})"
    details: list[dict[str, Any]] = []
    if isinstance(exc, EntriesRefused):
        status, code = (409, "stale_counts") if exc.stale_only else (422, "invalid_entries")
        details = [
            {"field": f"{exc.what}[{p.entry}]", "entry": p.entry, "node": p.node, "sku": p.sku,
             "problem": p.problem, "message": p.message}
            for p in exc.problems
        ]  # fmt: skip
    elif isinstance(exc, InsufficientStock):
        details = [
            {"sku": s.sku, "nodes": list(s.nodes), "requested": s.requested,
             "available": s.available}
            for s in exc.shortages
        ]  # fmt: skip
    elif isinstance(exc, InsufficientCapacity):
        details = [
            {"node": c.node, "day": c.day, "what": c.what, "requested": c.requested,
             "left": c.left}
            for c in exc.shorts
        ]  # fmt: skip
    elif isinstance(exc, Conflict) and exc.current_state is not None:
        details = [{"current_state": exc.current_state}]
    return status, error_body(code, message, details)


def _field(loc: tuple[int | str, ...]) -> str:
    """('body', 'lines', 0, 'qty') -> 'lines[0].qty' (the part of the request it names)."""
    out = ""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts.pop(0)
        if where != "body":
            out = f"{where}."
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("" if out.endswith(".") or not out else ".") + str(p)
    return out or "body"


def validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        elif err.get("type") == "json_invalid":
            msg = "not valid JSON" + (f" ({err['ctx']['error']})" if err.get("ctx") else "")
        details.append({"field": _field(loc), "message": msg, "type": err.get("type", "")})
    return details


def allowed_methods(request: Request) -> list[str]:
    """The methods the API's own document lists for the request's path."""
    paths: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        request.app.state, "allowed_methods", None
    )
    if paths is None:
        paths = [
            (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"),
             sorted(m.upper() for m in operations))
            for template, operations in request.app.openapi()["paths"].items()
        ]  # fmt: skip
        request.app.state.allowed_methods = paths
    return next((methods for pattern, methods in paths if pattern.match(request.url.path)), [])


def install(app: FastAPI) -> None:
    """Register the handlers: domain, validation, HTTP and anything else."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status, body = domain_error(exc)
        headers = None
        if isinstance(exc, StoreUnavailable):  # one line, no traceback: the cause is outside
            log.warning("503 on %s %s: %s", request.method, request.url.path, exc)
            headers = {"Retry-After": str(RETRY_AFTER_S)}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc)
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:10])
        if len(details) > 10:
            message += f"; and {len(details) - 10} more"
        return error_response(422, "validation_error", message or "invalid request", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's only 400: a body it could not decode
            detail = {"field": "body", "message": "not valid UTF-8 JSON", "type": "json_invalid"}
            return error_response(422, "validation_error", "body: not valid UTF-8 JSON", [detail])
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        code = codes.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:  # every method the path has, not the first route's only
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return error_response(exc.status_code, code, message, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # the server closes the connection after an unhandled error: say so to the client
        return error_response(
            500, "internal_error", "internal error; it has been logged",
            headers={"Connection": "close"},
        )  # fmt: skip
