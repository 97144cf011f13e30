"""Webhook subscriptions (scope `admin`): create, list, read with delivery status, delete,
replay. A subscription's secret is shown once, in the reply to its creation."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Security
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import errors
from sourcing_engine.stores.base import Webhook
from sourcing_engine.webhooks.subscriptions import MAX_EVENT_TYPES, WebhookStatus

router = APIRouter(
    prefix="/v1", tags=["webhooks"], dependencies=[Security(require("admin")), StrictRequest]
)

WebhookId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://oms.example.com/hooks", "event_types": ["order.*"]}]
        },
    )
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    event_types: Annotated[list[str], Field(min_length=1, max_length=MAX_EVENT_TYPES)]


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    created_at: float


class CreatedWebhookOut(WebhookOut):
    secret: str = Field(description="whsec_...: shown only in this reply")


class WebhooksOut(BaseModel):
    webhooks: list[WebhookOut]


class WebhookStatusOut(WebhookOut):
    delivery: dict[str, Any] | None = Field(
        description="cursor (events up to it delivered or given up), delivered, the head "
        "being retried (seq, attempts, last_error, next_at), replays_done"
    )
    failures: list[dict[str, Any]] = Field(description="deliveries given up, newest first")


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: float = Field(description="UNIX seconds, included")
    until: float = Field(description="UNIX seconds, excluded")


class ReplayOut(BaseModel):
    after: int
    through: int


def _webhook(w: Webhook) -> dict[str, Any]:
    return {
        "id": w.id,
        "url": w.url,
        "event_types": list(w.event_types),
        "created_at": w.created_at,
    }


def _status(s: WebhookStatus) -> dict[str, Any]:
    return {**_webhook(s.webhook), "delivery": s.progress, "failures": s.failures}


@router.post("/webhooks", status_code=201, responses=errors(422), response_model=CreatedWebhookOut)
def create_webhook(body: WebhookIn, service: ServiceDep) -> Response:
    """Subscribe a URL to event types ("order.shipped", "order.*", "*"); events recorded
    from now on are posted to it, signed with the secret in this reply (shown once)."""
    made = service.webhooks.create(body.url, body.event_types)
    return json_response({**_webhook(made), "secret": made.secret}, 201)


@router.get("/webhooks", responses=errors(), response_model=WebhooksOut)
def list_webhooks(service: ServiceDep) -> Response:
    return json_response({"webhooks": [_webhook(w) for w in service.webhooks.list()]})


@router.get("/webhooks/{webhook_id}", responses=errors(404, 422), response_model=WebhookStatusOut)
def get_webhook(webhook_id: WebhookId, service: ServiceDep) -> Response:
    """The subscription and its deliveries: progress, the event being retried with its last
    error, and the deliveries given up on."""
    return json_response(_status(service.webhooks.status(webhook_id)))


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=errors(404, 422))
def delete_webhook(webhook_id: WebhookId, service: ServiceDep) -> Response:
    service.webhooks.delete(webhook_id)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id}/replay",
    status_code=202,
    responses=errors(404, 422),
    response_model=ReplayOut,
)
def replay_webhook(webhook_id: WebhookId, body: ReplayIn, service: ServiceDep) -> Response:
    """Send again the subscription's events recorded in [since, until): the deliverer posts
    them (before live events) in feed order; answers their seq range (after, through]."""
    after, through = service.webhooks.replay(webhook_id, body.since, body.until)
    return json_response({"after": after, "through": through}, 202)
