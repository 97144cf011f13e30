"""Structured logs of `sourcing-engine serve`: JSON lines carrying the request id, which
is the caller's X-Request-Id when usable (else a new one) and comes back in the reply."""

import json
import time
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import Served

ADMIN = "sk_00000000000000ad_logs-admin-secret-0123456789"


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _line_of(served: Served, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        found = [x for x in _lines(served.output) if x.get("request_id") == request_id
                 and x["message"] == "request"]  # fmt: skip
        if found:
            (line,) = found
            return line
        assert time.monotonic() < deadline, served.output[-3000:]
        time.sleep(0.05)


def test_one_json_line_per_request_with_its_id(tmp_path: Path) -> None:
    """A usable incoming id is kept and returned, a missing or unusable one replaced by a
    new one; each request logs method, path, status, duration and the key's id (none for
    a request without a valid key); every log line is JSON."""
    with Served(tmp_path, "--access-log", admin_key=ADMIN) as served:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        keys = httpx.get(f"{served.url}/v1/keys", headers={**auth, "X-Request-Id": "trace-42"})
        assert keys.headers["x-request-id"] == "trace-42"
        key_id = keys.json()["keys"][0]["id"]
        line = _line_of(served, "trace-42")
        assert {k: line[k] for k in ("level", "logger", "method", "path", "status")} == {
            "level": "info", "logger": "api.requests", "method": "GET", "path": "/v1/keys",
            "status": 200}  # fmt: skip
        assert line["api_key_id"] == key_id
        assert line["duration_ms"] > 0
        fresh = httpx.get(f"{served.url}/v1/nodes")  # no key: 401, no key id
        assert fresh.status_code == 401
        generated = fresh.headers["x-request-id"]
        assert len(generated) == 32
        assert _line_of(served, generated)["api_key_id"] is None
        assert _line_of(served, generated)["status"] == 401
        unusable = httpx.get(f"{served.url}/healthz", headers={"X-Request-Id": "x" * 129})
        assert unusable.headers["x-request-id"] != "x" * 129
        _line_of(served, unusable.headers["x-request-id"])
        app_lines = [x for x in _lines(served.output) if x["logger"].startswith("api")]
        assert len(app_lines) >= 3
