"""API keys on every route but health: `Authorization: Bearer <key>`, checked against the
stored hash, then the route's scope (401 without a valid key, 403 without the scope)."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sourcing_engine import api_keys
from sourcing_engine.api.deps import ServiceDep
from sourcing_engine.api.errors import ApiError
from sourcing_engine.stores.base import ApiKey

MAX_TOKEN = 512

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `Authorization: Bearer sk_...`. Each route needs one scope.",
)


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def require(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency admitting keys that hold `scope` (admin keys hold every scope). Async, so
    that a key verified a moment ago costs no hop to the thread pool."""

    async def check(
        request: Request,
        service: ServiceDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> ApiKey:
        if credentials is None:
            raise _unauthorized("missing API key: send the header Authorization: Bearer <key>")
        token = credentials.credentials
        key = None
        if len(token) <= MAX_TOKEN:
            # a key verified a moment ago costs no store call and no thread; verifying one
            # reads the store and hashes, so it runs in the thread pool, off the event loop
            key = service.cached_key(token) or await run_in_threadpool(service.authenticate, token)
        if key is None:
            raise _unauthorized("invalid or revoked API key")
        if not api_keys.allows(key, scope):
            raise ApiError(
                403,
                "forbidden",
                f"this key lacks the {scope!r} scope (it has: {', '.join(key.scopes)})",
                [{"required_scope": scope}],
            )
        request.state.api_key = key
        return key

    check.__name__ = f"require_{scope}"
    return check
