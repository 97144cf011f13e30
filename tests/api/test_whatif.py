"""POST /v1/whatif over a real server: a background run (202, its id), its progress, then its
numbers (the CLI's runner: the same figures) and its HTML report; scope `planning`; bad
scenarios are 422 naming the line, unknown runs 404, a report before the end 409."""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from sourcing_engine.settings import Settings
from sourcing_engine.whatif.runner import run
from sourcing_engine.whatif.scenario import loads
from tests.api.conftest import ADMIN_KEY, ApiServer
from tests.sourcing_engine.whatif.test_command import SCENARIO

SMALL = SCENARIO.replace("count = 400", "count = 150").replace(
    "time_limit = 0.5", "time_limit = 0.2"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("whatif-api")
    s = ApiServer(Settings(store=f"sqlite:///{tmp / 'ledger.db'}", admin_key=ADMIN_KEY,
                           whatif_dir=str(tmp / "runs")))  # fmt: skip
    s.start()
    yield s
    s.stop()


def _wait(c: Any, run_id: str) -> dict[str, Any]:
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body: dict[str, Any] = c.get(f"/v1/whatif/{run_id}").json()
        seen.add(body["state"])
        if body["state"] in ("done", "failed"):
            body["seen"] = seen
            return body
        time.sleep(0.2)
    pytest.fail("the what-if run did not finish in 120 s")


def test_a_run_reports_progress_then_the_cli_s_numbers_and_its_report(server: ApiServer) -> None:
    with server.client() as c:
        started = c.post("/v1/whatif", json={"scenario": SMALL})
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        assert started.json()["state"] == "queued"
        early = c.get(f"/v1/whatif/{run_id}/report")
        body = _wait(c, run_id)
        assert body["state"] == "done", body
        assert body["orders_done"] == body["orders_total"] == 450
        got = {v["variant"]: v for v in body["outcomes"]["variants"]}
        # the same numbers as the runner the CLI calls, in this process
        local = run(loads(SMALL), workers=1)
        for o in local.outcomes:
            assert got[o.variant]["total_cost"] == pytest.approx(o.total_cost, rel=1e-9)
            assert got[o.variant]["shipments"] == o.shipments
        html = c.get(body["report_url"])
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        assert 'id="map"' in html.text
        assert "Test roll-out" in html.text
        if early.status_code != 200:  # asked while it ran
            assert early.status_code == 409
            assert early.json()["error"]["code"] == "conflict"


def test_bad_scenarios_unknown_runs_and_scopes(server: ApiServer) -> None:
    with server.client() as c:
        bad = c.post(
            "/v1/whatif", json={"scenario": SMALL.replace('kind = "store"', 'kind = "shop"')}
        )
        assert bad.status_code == 422
        assert "scenario, line 16: variants.0.changes.0.kind: expected one of warehouse" in bad.text
        files = c.post(
            "/v1/whatif", json={"scenario": SMALL.replace("count = 150", 'file = "/etc/passwd"')}
        )
        assert files.status_code == 422
        assert c.post("/v1/whatif", json={"scenario": "x = "}).status_code == 422
        assert c.get("/v1/whatif/" + "0" * 32).status_code == 404
        assert c.get("/v1/whatif/../../etc").status_code == 404
        key = c.post("/v1/keys", json={"name": "orders-only", "scopes": ["orders"]})
        assert key.status_code in (200, 201), key.text
    with server.client(key.json()["token"]) as other:
        assert other.post("/v1/whatif", json={"scenario": SMALL}).status_code == 403
    with server.client(None) as anonymous:
        assert anonymous.get("/v1/whatif/" + "0" * 32).status_code == 401


def test_a_change_that_does_not_fit_the_base_fails_the_run_naming_its_line(
    server: ApiServer,
) -> None:
    with server.client() as c:
        text = SMALL.replace('kind = "store"', 'nodes = ["ST-9999"]')
        run_id = c.post("/v1/whatif", json={"scenario": text}).json()["id"]
        body = _wait(c, run_id)
        assert body["state"] == "failed"
        assert body["error"].startswith(
            "scenario, line 16: variant 'warehouses only': nodes: no node"
        )
        assert c.get(f"/v1/whatif/{run_id}/report").status_code == 409
