"""`Idempotency-Key` on state-changing calls.

The key is scoped to the API key that sends it. The request's hash covers the method, the
path and the validated body, so a retry with the same body replays the first reply (the
same status and bytes, rendered from the result the store kept with the key, and the
header `Idempotent-Replayed: true`), another body answers 422, and a retry while the first
is in flight answers 409. What the key guards is the service's business
(`Service._keyed`): this module only names the key and renders the answer.

Calls whose store operation keeps no result (upserts of nodes, items and inbound supply,
stock snapshots, key revocation) set absolute values: repeating them has the same effect,
so the key is only checked for its form there.
"""

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from sourcing_engine.api.render import json_response
from sourcing_engine.service import Done
from sourcing_engine.stores.base import IdempotencyKey

T = TypeVar("T")

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
REPLAYED = "Idempotent-Replayed"


class Idempotent:
    """The request's idempotency key, if it has one, as the store knows it."""

    def __init__(self, request: Request, key: str | None) -> None:
        self.request = request
        self.key = key

    def request_hash(self, body: BaseModel | None, part: str = "") -> str:
        data = None if body is None else body.model_dump(mode="json")
        text = json.dumps(
            [self.request.method, self.request.url.path, part, data],
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def scoped(self, part: str = "") -> str:
        """The store's key: the API key's id, the client's key, and the part of a batch."""
        owner = getattr(self.request.state, "api_key", None)
        base = f"{owner.id if owner else '-'}:{self.key}"
        return f"{base}/{part}" if part else base

    def key_for(self, body: BaseModel | None, part: str = "") -> IdempotencyKey | None:
        """The store's key of this request (of one part of a batch), or None without one."""
        if self.key is None:
            return None
        return IdempotencyKey(self.scoped(part), self.request_hash(body, part))


def answer(done: Done[T], render: Callable[[T], dict[str, Any]], status: int) -> Response:
    """The reply of a call: its result rendered; a replayed result says so in a header."""
    headers = {REPLAYED: "true"} if done.replayed else None
    return json_response(render(done.value), status, headers)


async def idempotency(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            pattern=KEY_PATTERN,
            description="Makes the call safe to retry: the same key and body replay the "
            "first reply; another body answers 422; a retry in flight answers 409.",
        ),
    ] = None,
) -> Idempotent:
    return Idempotent(request, key)


IdempotencyDep = Annotated[Idempotent, Depends(idempotency)]
