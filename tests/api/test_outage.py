"""The API while its Redis is down: a real redis-server killed under load, then restarted.

While it is down every call answers 503 `store_unavailable` with Retry-After, the client's
keep-alive connection keeps working, and the log holds one line per failed request and no
traceback; once it is back the same connections succeed again. A 503 may come after the
write reached the store (its reply lost with the server): the client's retry with the same
Idempotency-Key then answers the outcome, so every order is allocated once and told once.
"""

import threading
import time
from pathlib import Path

import httpx

from tests.api.conftest import ADMIN_KEY, NODES, Served, new_id, order_body
from tests.conftest import RedisServer


def test_a_redis_outage_is_503_and_the_api_recovers(tmp_path: Path) -> None:
    """Kill -9 redis-server under load, restart it on its files: 503s meanwhile, then 2xx."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        with Served(tmp_path, "--store", redis.url, admin_key=ADMIN_KEY) as served:
            headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
            with httpx.Client(base_url=served.url, headers=headers, timeout=30) as client:
                assert client.put("/v1/nodes", json={"nodes": NODES}).status_code == 200
                sku = new_id("S")
                assert client.put("/v1/items", json={"items": [{"sku": sku, "weight_lb": 1}]}
                                  ).status_code == 200  # fmt: skip
                counts = {"node": "DC-NJ", "counts": [{"sku": sku, "on_hand": 1000}]}
                assert client.post("/v1/stock/snapshots", json=counts).status_code == 200

                statuses: list[int] = []
                stop = threading.Event()

                def load() -> None:
                    """Keyed creates all the while; a 503 is retried with the same key until
                    it answers (the reply may have been lost after the write), and so is a
                    409 in flight (a claim the outage kept from being released)."""
                    with httpx.Client(base_url=served.url, headers=headers, timeout=30) as c:
                        while not stop.is_set():
                            key = {"Idempotency-Key": new_id("k")}
                            body = order_body({sku: 1})
                            while True:
                                r = c.post("/v1/orders", json=body, headers=key)
                                statuses.append(r.status_code)
                                in_flight = r.status_code == 409 and (
                                    r.json()["error"]["code"] == "idempotency_key_in_flight"
                                )
                                if r.status_code != 503 and not in_flight:
                                    break
                                time.sleep(0.05)

                loader = threading.Thread(target=load)
                loader.start()
                time.sleep(0.5)
                redis.kill()
                down: list[httpx.Response] = []
                for _ in range(20):  # one keep-alive connection through the outage
                    down.append(client.post("/v1/orders", json=order_body({sku: 1})))
                assert {r.status_code for r in down} == {503}
                for r in down:
                    assert r.json()["error"]["code"] == "store_unavailable"
                    assert r.headers["Retry-After"] == "1"
                assert client.get("/readyz").status_code == 503

                redis.start()  # the same port and append-only file
                deadline = time.monotonic() + 20
                while client.get("/readyz").status_code != 200:
                    assert time.monotonic() < deadline, "the API did not see Redis come back"
                    time.sleep(0.1)
                after = client.post("/v1/orders", json=order_body({sku: 1}))
                assert after.status_code == 201, after.text
                time.sleep(0.3)
                stop.set()
                loader.join(timeout=30)

            assert set(statuses) <= {201, 409, 503}
            assert statuses.count(201) >= 2  # before and after the outage
            assert statuses[-1] == 201  # every request ended answered
            log = served.output
            at = log.find("Traceback")
            assert at < 0, log[max(0, at - 2000) : at + 6000]  # who printed it, and why
            failed = 20 + statuses.count(503)
            lines = [ln for ln in log.splitlines() if "503 on POST /v1/orders" in ln]
            assert len(lines) == failed, log[-3000:]
            # every order was allocated once and acknowledged: on hand less every 201 is left
            stock = client_stock(served.url, sku)
            assert stock == 1000 - statuses.count(201) - 1
    finally:
        redis.stop()


def client_stock(url: str, sku: str) -> int:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        return int(c.get(f"/v1/stock/{sku}").json()["totals"]["available"])
