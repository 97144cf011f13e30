"""Structured logs: one JSON object per line, each with the id of the request it belongs to.

The request id is the caller's `X-Request-Id` when it is a usable one (1 to 128 printable
ASCII characters), a new one otherwise; it is returned in the reply's `X-Request-Id` and
carried by every log line written while the request is served (a context variable: it
follows the request into the thread pool). With the access log on (`serve --access-log`),
every request writes one line: method, path, status, duration and the API key's id.

The standard library's logging with this formatter does all that is asked: structlog would
bring processors and bound loggers that one formatter and one context variable replace.
"""

import contextvars
import datetime as dt
import json
import logging
import re
import sys
import time
import uuid
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-Id"
_USABLE = re.compile(r"^[\x21-\x7e]{1,128}$")
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
FIELDS = ("method", "path", "status", "duration_ms", "api_key_id")
"""Fields a record may carry (as `extra`) that the JSON line shows."""

log = logging.getLogger("api.requests")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        at = dt.datetime.fromtimestamp(record.created, dt.UTC)
        out: dict[str, Any] = {
            "time": at.isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            out["request_id"] = request_id
        out.update({f: getattr(record, f) for f in FIELDS if hasattr(record, f)})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"), default=str)


def configure(stream: TextIO = sys.stderr) -> None:
    """JSON lines for the API's loggers ("api" and below), at INFO."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("api")
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-Id if usable, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _USABLE.match(text):
                return text
    return uuid.uuid4().hex


class RequestLog:
    """ASGI middleware: the request id (set for the request's log lines, returned in the
    reply) and, if `access_log`, one line per request."""

    def __init__(self, app: ASGIApp, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        # each request runs in its own task, so the value ends with it (no reset: an error
        # handler outside this middleware still logs with it)
        REQUEST_ID.set(request_id)
        start = time.perf_counter()
        status = 500

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                header = (b"x-request-id", request_id.encode("latin-1"))
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            if self.access_log:
                key = scope.get("state", {}).get("api_key")
                log.info(
                    "request",
                    extra={
                        "method": scope.get("method", ""),
                        "path": scope.get("path", ""),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                        "api_key_id": getattr(key, "id", None),
                    },
                )
