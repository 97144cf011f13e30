"""`Idempotency-Key` on state-changing calls.

The key is scoped to the API key that sends it. The request's hash covers the method, the
path and the validated body, so a retry with the same body replays the stored reply
(status and body, header `Idempotent-Replayed: true`), another body answers 422, and a
retry while the first is in flight answers 409. The reply is rendered before the store
call and stored by the store in the same atomic step as the effect. A call refused with an
error stores no reply and releases its claim, so a retry runs it again at once: it answers
the same refusal if nothing changed, and succeeds if, say, stock arrived meanwhile.

Calls whose store operation takes no reply (upserts of nodes, items and inbound supply,
stock snapshots, key revocation) set absolute values: repeating them has the same effect,
so the key is only checked for its form there.
"""

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import ServiceDep
from sourcing_engine.ledger import IdempotencyInFlight, IdempotencyMismatch, IdempotentReply
from sourcing_engine.service import Replay, Service

log = logging.getLogger("api")
T = TypeVar("T")
Rendered = tuple[int, dict[str, Any]]

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


@dataclass(frozen=True)
class Claim:
    """A key taken for one call, and the reply it already has if it completed."""

    key: str
    request_hash: str
    stored: IdempotentReply | None


def replayed(reply: IdempotentReply) -> JSONResponse:
    return JSONResponse(reply.body, reply.status, headers={"Idempotent-Replayed": "true"})


class Idempotent:
    """The request's idempotency key (if any) and how to run a call under it."""

    def __init__(self, request: Request, service: Service, key: str | None) -> None:
        self.request = request
        self.service = service
        self.key = key
        self.lease_s: float = request.app.state.settings.idempotency_lease_s

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

    def claim(self, body: BaseModel | None, part: str = "") -> Claim | None:
        if self.key is None:
            return None
        key, request_hash = self.scoped(part), self.request_hash(body, part)
        try:
            stored = self.service.claim_idempotency(key, request_hash, self.lease_s)
        except IdempotencyMismatch:
            raise IdempotencyMismatch(
                f"{HEADER} {self.key!r} was used before with another request; use a new key "
                "for a new request"
            ) from None
        except IdempotencyInFlight:
            raise IdempotencyInFlight(
                f"a request with {HEADER} {self.key!r} is still in flight; retry in a moment"
            ) from None
        return Claim(key, request_hash, stored)

    def run(
        self,
        body: BaseModel | None,
        call: Callable[[Replay[T] | None], T],
        render: Callable[[T], Rendered],
    ) -> JSONResponse:
        """Run call(replay) once per key: replay a completed call's reply instead."""
        claim = self.claim(body)
        if claim is None:
            status, data = render(call(None))
            return JSONResponse(data, status)
        if claim.stored is not None:
            return replayed(claim.stored)
        stored, result = run_claimed(self.service, claim, call, render)
        if stored is not None:
            return replayed(stored)
        return JSONResponse(result[1], result[0])


def release_claim(service: Service, key: str) -> None:
    """Give up our claim of a key whose call was refused, so that a retry with it runs the
    call again at once (and answers the same refusal if nothing changed) instead of 409 in
    flight until the lease ends. A no-op if the call completed after all (its reply stays).
    Failing to release only leaves the key to its lease, so errors here are logged."""
    try:
        service.release_idempotency(key)
    except Exception:
        log.warning("could not release idempotency key %r; its lease frees it", key,
                    exc_info=True)  # fmt: skip


def run_claimed(
    service: Service,
    claim: Claim,
    call: Callable[[Replay[T] | None], T],
    render: Callable[[T], Rendered],
) -> tuple[IdempotentReply | None, Rendered]:
    """(stored reply of a concurrent twin, or None; the reply this call stored)."""
    kept: list[Rendered] = []

    def keep(value: T) -> Rendered:
        out = render(value)
        kept.append(out)
        return out

    try:
        result = call(Replay(claim.key, claim.request_hash, keep))
    except IdempotencyInFlight:
        # a twin whose lease we took over completed first: its reply is the answer
        stored = service.idempotent_reply(claim.key)
        if stored is not None and stored.request_hash == claim.request_hash:
            return stored, (stored.status, stored.body)
        raise
    except IdempotencyMismatch:
        raise  # the key is another request's now (our lease ended): not ours to release
    except Exception:
        release_claim(service, claim.key)
        raise
    # the reply stored with the effect is the one rendered last (before the store call
    # that succeeded), so the first answer and every replay are the same bytes
    return None, kept[-1] if kept else render(result)


async def idempotency(
    request: Request,
    service: ServiceDep,
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
    return Idempotent(request, service, key)


IdempotencyDep = Annotated[Idempotent, Depends(idempotency)]
