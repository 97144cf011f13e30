"""/metrics: every counter moves when its action happens, and with several workers a scrape
sums them all (it showed only the figures of the worker it reached)."""

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import (
    NYC,
    ApiServer,
    Served,
    Stocker,
    new_id,
    order_body,
    sqlite_url,
    start_server,
)

Series = tuple[str, tuple[tuple[str, str], ...]]
ADMIN = "sk_00000000000000ad_metrics-admin-secret-0123456789"


def counters(text: str) -> dict[Series, float]:
    """Every sample of every counter family: (sample name, labels) -> value."""
    out: dict[Series, float] = {}
    for family in text_string_to_metric_families(text):
        if family.type == "counter":
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def counter_names(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text) if f.type == "counter"}


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    srv = start_server(sqlite_url(tmp_path_factory.mktemp("metrics")), reaper_interval_s=0.1)
    yield srv
    srv.stop()


def _hold(c: httpx.Client, sku: str, qty: int, ttl_s: int = 600) -> httpx.Response:
    body = {"cart": new_id("cart"), "destination": NYC, "ttl_s": ttl_s,
            "lines": [{"sku": sku, "qty": qty}]}  # fmt: skip
    return c.post("/v1/reservations", json=body)


EXPIRED: Series = ("reservations_total", (("outcome", "expired"),))


def _expire(c: httpx.Client, sku: str) -> None:
    """A one-second hold, until the reaper has counted it expired."""
    start = counters(c.get("/metrics").text).get(EXPIRED, 0.0)
    assert _hold(c, sku, 1, ttl_s=1).status_code == 201
    deadline = time.monotonic() + 10  # the reaper marks it within its interval after expiry
    while counters(c.get("/metrics").text).get(EXPIRED, 0.0) == start:
        assert time.monotonic() < deadline, "the reaper did not count the expired hold"
        time.sleep(0.1)


def test_every_counter_moves_when_its_action_happens(metrics_server: ApiServer) -> None:
    """For each action, exactly the series it should move move by as much; every counter
    family the app exposes is covered (a new counter fails this test until it is added)."""
    with metrics_server.client() as c:
        stock = Stocker(c, "metrics")
        sku = stock({"DC-NJ": 100})

        def commit() -> None:
            hold_id = _hold(c, sku, 3).json()["id"]
            r = c.post(f"/v1/reservations/{hold_id}/commit",
                       json={"order_id": new_id(), "destination": NYC})  # fmt: skip
            assert r.status_code == 201, r.text

        def release() -> None:
            r = c.post(f"/v1/reservations/{_hold(c, sku, 1).json()['id']}/release")
            assert r.status_code == 200, r.text

        def batch() -> None:
            body = {"orders": [order_body({sku: 2}), order_body({sku: 1})], "policy": "closest"}
            assert c.post("/v1/orders/batch", json=body).json()["allocated"] == 2

        def short_order() -> None:
            other = stock({"DC-NJ": 1})
            r = c.post("/v1/orders", json=order_body({sku: 1, other: 5}))
            assert r.status_code == 409, r.text

        allocation = ("allocations_total", "via")
        actions: list[tuple[str, Callable[[], object], dict[Series, float]]] = [
            ("an order", lambda: c.post("/v1/orders", json=order_body({sku: 4})),
             {(allocation[0], (("via", "order"),)): 1, ("allocated_units_total", ()): 4}),
            ("a batch", batch,
             {(allocation[0], (("via", "batch"),)): 2, ("allocated_units_total", ()): 3}),
            ("a hold committed", commit,
             {(allocation[0], (("via", "reservation"),)): 1, ("allocated_units_total", ()): 3,
              ("reservations_total", (("outcome", "created"),)): 1,
              ("reservations_total", (("outcome", "committed"),)): 1}),
            ("a hold released", release,
             {("reservations_total", (("outcome", "created"),)): 1,
              ("reservations_total", (("outcome", "released"),)): 1}),
            ("a short order", short_order,
             {("shortages_total", (("for", "order"),)): 1, ("shortage_lines_total", ()): 1}),
            ("a short hold", lambda: _hold(c, sku, 10_000),
             {("shortages_total", (("for", "reservation"),)): 1, ("shortage_lines_total", ()): 1}),
            ("a hold expired", lambda: _expire(c, sku),
             {("reservations_total", (("outcome", "created"),)): 1, EXPIRED: 1}),
        ]  # fmt: skip
        moved: set[str] = set()
        for what, act, expected in actions:
            before = counters(c.get("/metrics").text)
            act()
            after = counters(c.get("/metrics").text)
            changed = {
                k: after[k] - before.get(k, 0.0)
                for k in after
                if after[k] != before.get(k, 0.0) and k[0] != "http_requests_total"
            }
            assert changed == expected, what
            moved |= {name for name, _ in changed}
        # every request is counted by route template and status
        before = counters(c.get("/metrics").text)
        c.get("/healthz")
        after = counters(c.get("/metrics").text)
        labels = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
        health = ("http_requests_total", labels)
        assert after[health] - before.get(health, 0.0) == 1
        moved.add("http_requests_total")
        families = counter_names(c.get("/metrics").text)
    assert {f"{f}_total" for f in families} == moved


@pytest.mark.slow
def test_workers_sum_their_metrics(tmp_path: Path) -> None:
    """serve --workers 3: nine orders answered by several workers; every scrape, whichever
    worker answers it, counts all nine orders and their units."""
    store = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Served(tmp_path, "--store", store, "--workers", "3", admin_key=ADMIN) as served:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        by: set[str] = set()
        for i in range(9):  # a new connection each: the kernel hands them to any worker
            body = {"id": f"M-{uuid.uuid4().hex[:8]}-{i}", "destination": {"zip": "10001"},
                    "lines": [{"sku": "SKU-000021", "qty": 2}]}  # fmt: skip
            r = httpx.post(f"{served.url}/v1/orders", json=body, headers=headers, timeout=120)
            assert r.status_code == 201, r.text
            by.add(r.headers["x-worker-pid"])
        scraped_by = set()
        for _ in range(9):
            r = httpx.get(f"{served.url}/metrics", timeout=60)
            scraped_by.add(r.headers["x-worker-pid"])
            found = counters(r.text)
            assert found[("allocations_total", (("via", "order"),))] == 9
            assert found[("allocated_units_total", ())] == 18
    assert len(by | scraped_by) > 1, "one worker answered everything: nothing was summed"
