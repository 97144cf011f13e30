"""Webhooks over HTTP: the admin routes, and a real `sourcing-engine deliver` process posting
to a real receiver, killed with -9 mid-run and restarted without losing an event."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from sourcing_engine.stores import open_store
from tests.sourcing_engine.webhooks.receiver import (
    Receiver,
    make_orders,
    order_events,
    running,
    stocked,
)

FAST_RETRIES = {
    "SOURCING_ENGINE_WEBHOOK_FIRST_BACKOFF_S": "0.05",
    "SOURCING_ENGINE_WEBHOOK_TIMEOUT_S": "1",
}


def test_webhook_routes(client: httpx.Client) -> None:
    """Created with its secret shown once; listed and read without it; bad input is 422
    naming the field; deleted, it is 404."""
    r = client.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/h", "event_types": ["order.*"]}
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["secret"].startswith("whsec_")
    listed = client.get("/v1/webhooks")
    assert made["id"] in [w["id"] for w in listed.json()["webhooks"]]
    assert made["secret"] not in listed.text
    status = client.get(f"/v1/webhooks/{made['id']}")
    assert status.status_code == 200
    assert made["secret"] not in status.text
    assert status.json()["delivery"]["head"] is None
    assert status.json()["failures"] == []
    bad = client.post("/v1/webhooks", json={"url": "http://h/x", "event_types": ["orders.*"]})
    assert bad.status_code == 422
    assert "event_types[0]" in bad.text
    bad = client.post("/v1/webhooks", json={"url": "ftp://h/x", "event_types": ["*"]})
    assert bad.status_code == 422
    assert "url" in bad.text
    replay = client.post(f"/v1/webhooks/{made['id']}/replay", json={"since": 10, "until": 5})
    assert replay.status_code == 422
    assert "until" in replay.text
    assert client.delete(f"/v1/webhooks/{made['id']}").status_code == 204
    assert client.get(f"/v1/webhooks/{made['id']}").status_code == 404
    assert (
        client.post(f"/v1/webhooks/{made['id']}/replay", json={"since": 0, "until": 1}).status_code
        == 404
    )


def start_deliverer(store_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sourcing_engine", "deliver", "--store", store_url],
        env={**os.environ, **FAST_RETRIES},
        stdout=subprocess.DEVNULL,
    )


def wait_for(check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("not reached in time")


def test_a_deliverer_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    """kill -9 of the deliverer while it sends: restarted, every event arrives (some twice,
    as at-least-once allows), each order's events in order at their first arrival."""
    store_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = open_store(store_url)
    stocked(store)
    slow = Receiver(behaviour=lambda attempt: "fail" if attempt % 7 == 0 else "ok")
    with running(slow) as receiver:
        from sourcing_engine.webhooks.subscriptions import Webhooks

        receiver.secret = Webhooks(store).create(receiver.url, ["order.*"]).secret
        make_orders(store, 120)
        deliverer = start_deliverer(store_url)
        try:
            wait_for(lambda: len(receiver.accepted) >= 100, 30)
            deliverer.send_signal(signal.SIGKILL)
            deliverer.wait()
            assert len({b["seq"] for b in receiver.accepted}) < 360  # killed mid-run
            make_orders(store, 30, prefix="later")
            deliverer = start_deliverer(store_url)
            wait_for(lambda: len({b["seq"] for b in receiver.accepted}) >= 450, 60)
        finally:
            deliverer.terminate()
            deliverer.wait(20)
    first: dict[int, dict[str, object]] = {}
    for body in receiver.accepted:
        first.setdefault(body["seq"], body)
    assert len(first) == 450
    assert receiver.bad_signatures == 0
    per = order_events(list(first.values()))
    assert len(per) == 150
    assert all(t == ["order.created", "order.allocated", "order.shipped"] for t in per.values())
    store.close()
