"""Prometheus metrics: requests by route and status, latency, allocations and shortages.

Each app has its own registry (several apps can live in one process, as in tests). With
several worker processes (`serve --workers N`) every worker writes its figures to files in
PROMETHEUS_MULTIPROC_DIR (set by `serve`), and /metrics, whichever worker answers it, sums
them all: a per-worker registry made a scrape show only the figures of the worker it
reached (allocated_units_total at 0 after nine allocations other workers had made).
"""

import os
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sourcing_engine.lifecycle import OrderRecord

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series: noise

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The directory worker processes share their figures in (prometheus_client reads it when
it is imported, so it must be set before the workers start)."""
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.allocations = Counter(
            "allocations_total",
            "Orders allocated, by how (order, batch, reservation commit)",
            ["via"],
            registry=self.registry,
        )
        self.units_allocated = Counter(
            "allocated_units_total", "Units allocated to orders", registry=self.registry
        )
        self.shortages = Counter(
            "shortages_total",
            "Requests refused for insufficient stock, by what asked (order, reservation)",
            ["for"],
            registry=self.registry,
        )
        self.short_lines = Counter(
            "shortage_lines_total", "Short lines in refused requests", registry=self.registry
        )
        self.holds = Counter(
            "reservations_total",
            "Checkout holds by outcome (created, committed, released, expired)",
            ["outcome"],
            registry=self.registry,
        )

    def allocated(self, via: str, order: OrderRecord) -> None:
        """An order allocated (by a single call, a batch or a hold's commit)."""
        self.allocations.labels(via).inc()
        self.units_allocated.inc(sum(u.qty for u in order.allocations))

    def shortage(self, what: str, lines: int) -> None:
        self.shortages.labels(what).inc()
        self.short_lines.inc(lines)

    def exposition(self) -> bytes:
        """Every worker's figures summed when the workers share a metrics directory, else
        this app's."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (never the raw path: ids would explode the
    label set)."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    app = scope.get("app")
    for r in getattr(app, "routes", []):
        match, _ = r.matches(scope)
        if match == Match.FULL:
            return str(r.path)
    return "unmatched"


class MetricsMiddleware:
    """ASGI middleware counting every request, whatever answered it; every reply gets the
    X-Worker-Pid header."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # the process that served it (read per reply: right in forked workers too), so
                # a load or an operator can tell which worker answered
                pid = (b"x-worker-pid", str(os.getpid()).encode())
                message["headers"] = [*message.get("headers", ()), pid]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = _route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)
