"""The network settings: one versioned document (scope `admin`). GET answers it with its
version as the ETag; PUT replaces it, refused with 412 when If-Match (or the body's
version) is not the stored version, so that two admins never overwrite each other."""

import re
from typing import Annotated

from fastapi import APIRouter, Header, Security
from fastapi.responses import Response

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import SettingsIn, SettingsOut, errors
from sourcing_engine.domain import NetworkSettings
from sourcing_engine.errors import Invalid
from sourcing_engine.exchange import settings_to_data

router = APIRouter(
    prefix="/v1", tags=["settings"], dependencies=[Security(require("admin")), StrictRequest]
)

ETAG_PATTERN = r'^(W/)?"?([0-9]{1,15})"?$'
_ETAG = re.compile(ETAG_PATTERN)


def _reply(settings: NetworkSettings) -> Response:
    return json_response(settings_to_data(settings), 200, {"ETag": f'"{settings.version}"'})


def version_of(if_match: str | None) -> int | None:
    """The version an If-Match header names ("3", 3 or W/"3"); None without one."""
    if if_match is None:
        return None
    found = _ETAG.match(if_match.strip())
    if found is None:
        raise Invalid(f'If-Match: {if_match!r}; expected a version such as "3" (GET\'s ETag)')
    return int(found[2])


@router.get("/settings", responses=errors(), response_model=SettingsOut)
async def get_settings(service: ServiceDep) -> Response:
    """The settings the service sources and promises with, and their version (also the
    ETag): rate card and currency, carrier, penalties, cap on shipments per order, default
    service level, the country of postal codes given without one."""
    return _reply(service.network_settings())


@router.put("/settings", responses=errors(412, 422), response_model=SettingsOut)
async def put_settings(
    body: SettingsIn,
    service: ServiceDep,
    if_match: Annotated[
        str | None,
        Header(
            max_length=40,
            description='The version read (GET\'s ETag, e.g. "3"): 412 if it moved on.',
        ),
    ] = None,
) -> Response:
    """Replace the settings (each change is a `settings.changed` event). Fields left out
    take their defaults. 412 `precondition_failed` if If-Match, or the body's `version`,
    is not the stored version; 422 names each field that cannot be used."""
    data = body.model_dump(exclude_unset=True)
    return _reply(service.put_network_settings_data(data, version_of(if_match)))
