"""The FastAPI application: routers under /v1, one error shape, limits, metrics, and the
service (from the domain, ready on its store) and hold reaper created in the lifespan."""

import logging
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI

from sourcing_engine import __version__
from sourcing_engine.api import (
    capacity,
    docs,
    errors,
    events,
    exports,
    health,
    keys,
    network,
    network_settings,
    openapi,
    order_reads,
    orders,
    promise,
    reoptimizations,
    reservations,
    stock,
    transfers,
    webhooks,
)
from sourcing_engine.api.explanations import router as explanations_router
from sourcing_engine.api.limits import BodyLimit
from sourcing_engine.api.logs import RequestLog, configure
from sourcing_engine.api.metrics import Metrics, MetricsMiddleware
from sourcing_engine.api.whatif import router as whatif_router
from sourcing_engine.batch_jobs import BatchJobs
from sourcing_engine.errors import StoreUnavailable
from sourcing_engine.geocode import load_zip_table
from sourcing_engine.reoptimization import Schedule
from sourcing_engine.service import Service
from sourcing_engine.settings import Settings, open_service
from sourcing_engine.whatif.jobs import WhatifJobs

log = logging.getLogger("api")


class Reaper:
    """Marks expired holds every `interval_s` in a background thread. Expired holds count
    for nothing even before they are marked; this only records their end (and events).
    The same pass marks pickup orders waiting longer than the network's pickup_days as
    not collected (their units sellable at the store again)."""

    def __init__(self, service: Service, interval_s: float, metrics: Metrics) -> None:
        self.service = service
        self.interval_s = interval_s
        self.metrics = metrics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hold-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.metrics.holds.labels("expired").inc(self.service.expire_reservations())
                self.service.expire_pickups()
            except StoreUnavailable as exc:  # the next pass tries again
                log.warning("hold reaper: %s", exc)
            except Exception:  # the next pass tries again; a crash would stop reaping
                log.exception("hold reaper pass failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # every route that calls the store is a plain def and runs in this thread pool: a
        # store call may block (a lock held by another worker, a server that hangs)
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        # before the worker answers: its first requests would otherwise wait about a
        # second of CPU each for the ZIP table (destinations are given by ZIP code)
        load_zip_table()
        service = open_service(settings)
        app.state.service = service
        app.state.batch_jobs = BatchJobs(service.store)
        reaper = Reaper(service, settings.reaper_interval_s, metrics)
        reaper.start()
        schedule = Schedule(service, settings.reoptimize_check_s)
        schedule.start()
        try:
            yield
        finally:
            schedule.stop()
            reaper.stop()
            app.state.batch_jobs.close()
            service.close()

    app = FastAPI(
        title="Sourcing engine: order lifecycle",
        version=__version__,
        description=(
            "Allocate orders on live stock with the sourcing engine and drive them through "
            "their life; hold stock for checkout. Every state-changing call accepts an "
            '`Idempotency-Key`; errors have one shape, `{"error": {"code", "message", '
            '"details"}}`.'
        ),
        lifespan=lifespan,
        docs_url=None,  # served from the package instead of a CDN (api/docs.py)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.whatif = WhatifJobs(
        Path(settings.whatif_dir or Path(tempfile.gettempdir()) / "sourcing-engine-whatif")
    )
    errors.install(app)
    # each router carries its /v1 prefix itself, so a route's path is its full template
    # (the label of its metrics)
    for area in (network, network_settings, stock, capacity, order_reads, orders, reservations,
                 promise, events, exports, keys, webhooks, transfers,
                 reoptimizations):  # fmt: skip
        app.include_router(area.router)
    app.include_router(explanations_router)
    app.include_router(whatif_router)
    app.include_router(health.router)
    docs.install(app)
    openapi.install(app)
    # added last = outermost: the request id is set before anything logs, and the body
    # limit acts before anything reads the body
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestLog, access_log=settings.access_log)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and worker processes: settings from the environment,
    logs as JSON lines (api/logs.py)."""
    configure()
    return create_app(Settings())
