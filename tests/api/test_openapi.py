"""The OpenAPI document: every operation under one audience tag, every request body with an
example that its route accepts."""

import importlib
import pkgutil
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

import sourcing_engine.api
from sourcing_engine.api.app import create_app
from sourcing_engine.api.openapi import EXAMPLES, TAGS
from sourcing_engine.settings import Settings
from sourcing_engine.whatif.scenario import loads


def _document() -> dict[str, Any]:
    app = create_app(Settings(store="sqlite:////nonexistent/never-opened.db"))
    doc: dict[str, Any] = app.openapi()
    return doc


def _body_routes() -> dict[tuple[str, str], APIRoute]:
    out = {}
    for module in pkgutil.iter_modules(sourcing_engine.api.__path__):
        router = getattr(importlib.import_module(f"sourcing_engine.api.{module.name}"),
                         "router", None)  # fmt: skip
        if isinstance(router, APIRouter):
            for r in router.routes:
                if isinstance(r, APIRoute) and r.body_field is not None:
                    out.update({(m, r.path): r for m in r.methods or ()})
    return out


def test_every_operation_has_one_audience_tag() -> None:
    doc = _document()
    audiences = {t["name"] for t in TAGS}
    assert {t["name"] for t in doc["tags"]} == audiences
    untagged = [f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m, op in ops.items()
                if len(op.get("tags", [])) != 1 or op["tags"][0] not in audiences]  # fmt: skip
    assert untagged == []


def test_every_request_body_has_an_example_its_route_accepts() -> None:
    """The document shows each body's example; each validates against the route's body
    model (the what-if scenario text also parses as a scenario)."""
    doc = _document()
    routes = _body_routes()
    assert set(routes) == set(EXAMPLES), "a route with a body needs an example, and back"
    for (method, path), route in routes.items():
        example = EXAMPLES[(method, path)]
        shown = doc["paths"][path][method.lower()]["requestBody"]["content"]
        assert shown["application/json"]["example"] == example
        assert route.body_field is not None
        model: Any = route.body_field.field_info.annotation
        TypeAdapter(model).validate_python(example)
    loads(EXAMPLES[("POST", "/v1/whatif")]["scenario"], "scenario")
