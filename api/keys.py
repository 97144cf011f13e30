"""API keys and their scopes (scope `admin`). A key's token is shown once, at creation."""

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Security
from fastapi.responses import Response

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.idempotency import IdempotencyDep
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import IssuedKeyOut, KeyIn, KeyOut, KeysOut, errors
from sourcing_engine.errors import Conflict
from sourcing_engine.stores.base import ApiKey

router = APIRouter(
    prefix="/v1", tags=["keys"], dependencies=[Security(require("admin")), StrictRequest]
)

KeyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")]


@router.post("/keys", status_code=201, responses=errors(409, 422), response_model=IssuedKeyOut)
def create_key(body: KeyIn, service: ServiceDep, idem: IdempotencyDep) -> Response:
    """Create a key with scopes; the reply holds its token, the only time it is shown.

    With an Idempotency-Key the new key's id is derived from it, so a retry cannot create
    a second key: it answers 409 (the token of the first is not stored, only its hash)."""
    key_id = None
    if idem.key is not None:
        key_id = hashlib.sha256(idem.scoped().encode()).hexdigest()[:16]
    try:
        issued = service.issue_key(body.name, body.scopes, key_id=key_id)
    except Conflict:
        raise Conflict(
            "a key was already created with this Idempotency-Key; its token was shown once "
            f"(key id {key_id})"
        ) from None
    return json_response({**_key(issued.key), "token": issued.token}, 201)


def _key(k: ApiKey) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "scopes": list(k.scopes), "created_at": k.created_at,
            "revoked": k.revoked}  # fmt: skip


@router.get("/keys", responses=errors(), response_model=KeysOut)
def list_keys(service: ServiceDep) -> Response:
    return json_response({"keys": [_key(k) for k in service.list_keys()]})


@router.delete("/keys/{key_id}", responses=errors(404, 422), response_model=KeyOut)
def revoke_key(key_id: KeyId, service: ServiceDep, idem: IdempotencyDep) -> Response:
    """Revoke a key (again is harmless); its requests answer 401 from now on."""
    return json_response(_key(service.revoke_key(key_id)))
