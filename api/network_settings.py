"""The network settings: one versioned document (scope `admin`). GET answers it with its
version as the ETag; PUT replaces it, refused with 412 when If-Match (or the body's
version) is not the stored version, so that two admins never overwrite each other."""

from fastapi import APIRouter, Security
from fastapi.responses import Response

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import IfMatchDep, ServiceDep, StrictRequest
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import SettingsIn, SettingsOut, errors
from sourcing_engine.domain import NetworkSettings
from sourcing_engine.exchange import settings_to_data

router = APIRouter(
    prefix="/v1", tags=["settings"], dependencies=[Security(require("admin")), StrictRequest]
)


def _reply(settings: NetworkSettings) -> Response:
    return json_response(settings_to_data(settings), 200, {"ETag": f'"{settings.version}"'})


@router.get("/settings", responses=errors(), response_model=SettingsOut)
def get_settings(service: ServiceDep) -> Response:
    """The settings the service sources and promises with, and their version (also the
    ETag): rate card and currency, carrier, penalties, cap on shipments per order, default
    service level, the country of postal codes given without one."""
    return _reply(service.network_settings())


@router.put("/settings", responses=errors(412, 422), response_model=SettingsOut)
def put_settings(
    body: SettingsIn,
    service: ServiceDep,
    version: IfMatchDep,
) -> Response:
    """Replace the settings (each change is a `settings.changed` event). Fields left out
    take their defaults. 412 `precondition_failed` if If-Match, or the body's `version`,
    is not the stored version; 422 names each field that cannot be used."""
    data = body.model_dump(exclude_unset=True)
    return _reply(service.put_network_settings_data(data, version))
