"""Liveness, readiness and metrics: no key needed."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from sourcing_engine.api.deps import MetricsDep, ServiceDep, StrictRequest
from sourcing_engine.api.schemas import Health

router = APIRouter(tags=["health"], dependencies=[StrictRequest])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(service: ServiceDep) -> JSONResponse:
    """The store answers (503 otherwise, within a second for a store that hangs): route
    traffic here. Plain `def`: the ping blocks, so it runs in the thread pool."""
    ok = service.ready()
    return JSONResponse(
        Health(status="ok" if ok else "unavailable").model_dump(), status_code=200 if ok else 503
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus text format."""
    return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
