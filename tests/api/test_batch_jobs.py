"""Batch allocations as background jobs over a real server, on both stores: a batch larger
than batch_job_orders (or asked with background=true) answers 202 and a job whose progress,
then result, GET /v1/jobs/{id} reads; a retry with the same Idempotency-Key finds the job; a
job whose process died reads as interrupted, and the same request runs it again without
allocating any order twice."""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sourcing_engine.stores import open_store
from tests.api.conftest import ApiServer, Stocker, order_body, store_url_for
from tests.api.conftest import start_server as start

JOB_ORDERS = 5
CITIES: list[dict[str, Any]] = [{"lat": 40.71, "lon": -74.01}, {"lat": 41.85, "lon": -87.65},
          {"lat": 34.10, "lon": -118.30}]  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    srv = start(store_url_for(request, tmp_path_factory), batch_job_orders=JOB_ORDERS)
    yield srv
    srv.stop()


@pytest.fixture
def client(server: ApiServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def stock(client: httpx.Client, request: pytest.FixtureRequest) -> Stocker:
    return Stocker(client, "JOB")


def orders(sku: str, n: int) -> list[dict[str, Any]]:
    return [order_body({sku: 1}, **CITIES[k % 3]) for k in range(n)]


def finished(c: httpx.Client, location: str) -> dict[str, Any]:
    """Poll the job until it finishes (every reply checked for its shape meanwhile)."""
    deadline = time.monotonic() + 60
    while True:
        r = c.get(location)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        assert 0 <= job["done"] <= job["total"]
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_a_large_batch_is_a_job_with_progress_then_the_answer(
    client: httpx.Client, stock: Stocker
) -> None:
    sku = stock({"DC-NJ": 4, "ST-CHI": 2, "ST-LA": 2})
    body: dict[str, Any] = {"orders": orders(sku, 9), "policy": "greedy-cost"}
    r = client.post("/v1/orders/batch", json=body, headers={"Idempotency-Key": "big-1"})
    assert r.status_code == 202, r.text
    queued = r.json()
    assert r.headers["Location"] == f"/v1/jobs/{queued['id']}"
    assert (queued["state"], queued["total"], queued["result"]) == ("queued", 9, None)
    job = finished(client, r.headers["Location"])
    assert (job["state"], job["phase"], job["done"], job["error"]) == ("succeeded", "done", 9, None)
    result = job["result"]
    assert (result["allocated"], result["refused"]) == (8, 1)  # 8 units on hand, 9 ordered
    assert [x["id"] for x in result["results"]] == [o["id"] for o in body["orders"]]
    refused = next(x for x in result["results"] if x["status"] == "refused")
    assert refused["error"]["code"] == "insufficient_stock"
    assert stock.available(sku) == {"DC-NJ": 0, "ST-CHI": 0, "ST-LA": 0}
    # the same request again: the same job, finished; another body under the key: refused
    again = client.post("/v1/orders/batch", json=body, headers={"Idempotency-Key": "big-1"})
    assert (again.status_code, again.json()["id"], again.json()["state"]) == (
        202, queued["id"], "succeeded",
    )  # fmt: skip
    other = {"orders": orders(sku, 6), "policy": "greedy-cost"}
    clash = client.post("/v1/orders/batch", json=other, headers={"Idempotency-Key": "big-1"})
    assert clash.status_code == 422, clash.text
    assert clash.json()["error"]["code"] == "idempotency_key_reused"


def test_background_true_makes_a_small_batch_a_job_and_small_ones_stay_synchronous(
    client: httpx.Client, stock: Stocker
) -> None:
    sku = stock({"DC-NJ": 5})
    small = {"orders": orders(sku, 2), "policy": "closest"}
    assert client.post("/v1/orders/batch", json=small).status_code == 200
    r = client.post("/v1/orders/batch?background=true", json={**small, "orders": orders(sku, 2)})
    assert r.status_code == 202, r.text
    job = finished(client, r.headers["Location"])
    assert (job["state"], job["result"]["allocated"]) == ("succeeded", 2)
    assert stock.available(sku) == {"DC-NJ": 1}


def test_an_interrupted_job_reads_failed_and_a_retry_finishes_it_once(
    server: ApiServer, client: httpx.Client, stock: Stocker
) -> None:
    sku = stock({"DC-NJ": 20})
    body = {"orders": orders(sku, 7), "policy": "greedy-cost"}
    key = {"Idempotency-Key": "dies-1"}
    r = client.post("/v1/orders/batch", json=body, headers=key)
    job = finished(client, r.headers["Location"])
    assert job["result"]["allocated"] == 7
    # as a process killed in the middle leaves it: running, its heartbeat long stopped
    store = open_store(server.settings.store)
    try:
        stale = {**job, "state": "running", "phase": "allocating", "done": 3, "result": None}
        stale["updated_at"] = store.now() - 3600
        store.save_job(job["id"], stale)
    finally:
        store.close()
    seen = client.get(r.headers["Location"]).json()
    assert (seen["state"], seen["error"]["code"]) == ("failed", "interrupted")
    retried = client.post("/v1/orders/batch", json=body, headers=key)
    assert retried.status_code == 202
    assert retried.json()["id"] == job["id"]
    again = finished(client, retried.headers["Location"])
    assert (again["state"], again["result"]["allocated"]) == ("succeeded", 7)
    assert stock.available(sku) == {"DC-NJ": 13}  # the 7 orders allocated once


def test_unknown_and_malformed_jobs(client: httpx.Client) -> None:
    missing = client.get("/v1/jobs/bj_" + "0" * 32)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    bad = client.get("/v1/jobs/not-a-job")
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["details"][0]["field"] == "path.job_id"
