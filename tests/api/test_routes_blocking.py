"""No route blocks the event loop: every route that calls the service (whose store calls
may block) or the what-if jobs (files, processes) is a plain `def`, which FastAPI runs in
the thread pool."""

import importlib
import inspect
import pkgutil

from fastapi import APIRouter
from fastapi.routing import APIRoute

import sourcing_engine.api
from sourcing_engine.api.deps import get_service
from sourcing_engine.api.whatif import get_jobs


def test_routes_that_call_blocking_code_are_plain_def() -> None:
    routes: list[APIRoute] = []
    for module in pkgutil.iter_modules(sourcing_engine.api.__path__):
        router = getattr(importlib.import_module(f"sourcing_engine.api.{module.name}"),
                         "router", None)  # fmt: skip
        if isinstance(router, APIRouter):
            routes += [r for r in router.routes if isinstance(r, APIRoute)]
    blocking = [
        r for r in routes
        if any(d.call in (get_service, get_jobs) for d in r.dependant.dependencies)
    ]  # fmt: skip
    assert len(blocking) > 30  # every area's routes were found
    on_the_loop = [f"{sorted(r.methods or ())} {r.path}" for r in blocking
                   if inspect.iscoroutinefunction(r.endpoint)]  # fmt: skip
    assert on_the_loop == []
