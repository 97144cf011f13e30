"""Dependencies shared by the routers, as `Annotated` aliases."""

from typing import Annotated

from fastapi import Depends, Request

from api.metrics import Metrics
from sourcing_engine.service import Service


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]
