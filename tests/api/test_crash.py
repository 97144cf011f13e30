"""kill -9 of the API process in the middle of a load, on each store.

Client threads create orders and hold-then-commit through `sourcing-engine serve`, each
write with an Idempotency-Key. The API process is killed with SIGKILL mid-load, then started
again on the same store. Every acknowledged (2xx) create and commit must be there as
acknowledged; every request that was in flight at the kill (outcome unknown to its client)
is retried with its key and ends with exactly one effect; then the store matches what the
clients were told, unit for unit, and every position adds up.
"""

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from sourcing_engine.stores import open_store
from tests.api.conftest import Served
from tests.api.http_load import DESTINATIONS, HOLD_TTL_S, seed_network, units_of
from tests.sourcing_engine.stores.invariants import (
    HOT_NODES,
    HOT_SKUS,
    Key,
    Tally,
    check_against_tally,
)

ADMIN = "sk_00000000000000ad_crash-admin-secret-0123456789"
CLIENTS = 6


@dataclass(frozen=True)
class Call:
    """One write as sent: retried as is (same key, same body) if its outcome is unknown."""

    path: str
    body: dict[str, Any]
    key: str
    ok: int


@dataclass
class Client:
    """A client thread's acknowledged orders and holds, and its call in flight at the kill."""

    name: str
    orders: dict[str, Counter[Key]] = field(default_factory=dict)
    holds: dict[str, Counter[Key]] = field(default_factory=dict)
    unknown: Call | None = None
    then_commit: str | None = None  # the order id a hold in flight was meant for
    acks: int = 0

    def send(self, http: httpx.Client, call: Call) -> dict[str, Any]:
        """The reply of a write; raises httpx.TransportError (outcome unknown) on the kill."""
        self.unknown = call
        r = http.post(call.path, json=call.body, headers={"Idempotency-Key": call.key})
        assert r.status_code == call.ok, f"{call.path} -> {r.status_code} {r.text}"
        self.unknown = None
        data: dict[str, Any] = r.json()
        return data

    def create(self, http: httpx.Client, i: int, rng: random.Random) -> None:
        body = {"id": f"{self.name}-o{i}", "destination": rng.choice(DESTINATIONS),
                "lines": [{"sku": rng.choice(HOT_SKUS), "qty": rng.randint(1, 3)}]}  # fmt: skip
        order = self.send(http, Call("/v1/orders", body, f"{self.name}-c{i}", 201))
        self.orders[order["id"]] = units_of(order["allocations"])
        self.acks += 1

    def hold_and_commit(self, http: httpx.Client, i: int, rng: random.Random) -> None:
        order_id = f"{self.name}-o{i}"
        self.then_commit = order_id
        body = {"cart": self.name, "destination": rng.choice(DESTINATIONS), "ttl_s": HOLD_TTL_S,
                "lines": [{"sku": rng.choice(HOT_SKUS), "qty": rng.randint(1, 3)}]}  # fmt: skip
        hold = self.send(http, Call("/v1/reservations", body, f"{self.name}-r{i}", 201))
        self.holds[hold["id"]] = units_of(hold["units"])
        self.commit(http, hold["id"], order_id, f"{self.name}-m{i}")
        self.then_commit = None

    def commit(self, http: httpx.Client, hold_id: str, order_id: str, key: str) -> None:
        body = {"order_id": order_id, "destination": DESTINATIONS[0]}
        order = self.send(http, Call(f"/v1/reservations/{hold_id}/commit", body, key, 201))
        assert units_of(order["allocations"]) == self.holds.pop(hold_id)
        self.orders[order["id"]] = units_of(order["allocations"])
        self.acks += 1

    def run(self, url: str, seed: int) -> None:
        """Writes until the server dies under this client."""
        rng = random.Random(seed)
        with httpx.Client(base_url=url, headers=_auth(), timeout=30) as http:
            for i in range(10**9):
                try:
                    if i % 2:
                        self.create(http, i, rng)
                    else:
                        self.hold_and_commit(http, i, rng)
                except httpx.TransportError:
                    return

    def settle(self, http: httpx.Client) -> None:
        """After the restart: retry the call whose outcome is unknown, with its key, until it
        is no longer in flight (the dead process's claim lapses with its lease)."""
        call = self.unknown
        if call is None:
            return
        deadline = time.monotonic() + 30
        while True:
            r = http.post(call.path, json=call.body, headers={"Idempotency-Key": call.key})
            if r.status_code != 409 or r.json()["error"]["code"] != "idempotency_key_in_flight":
                break
            assert time.monotonic() < deadline, f"{call.key} still in flight"
            time.sleep(0.1)
        assert r.status_code == call.ok, f"retry of {call.path} -> {r.status_code} {r.text}"
        self.unknown = None
        data = r.json()
        if call.path == "/v1/reservations":  # the hold is there (made now or before the kill)
            self.holds[data["id"]] = units_of(data["units"])
            assert self.then_commit is not None
            self.commit(http, data["id"], self.then_commit, f"{call.key}-after")
        elif "allocations" in data:
            hold_id = call.path.split("/")[3] if "/commit" in call.path else None
            if hold_id is not None:
                assert units_of(data["allocations"]) == self.holds.pop(hold_id)
            self.orders[data["id"]] = units_of(data["allocations"])


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store of each kind (Redis: a namespace of the session's redis-server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'ledger.db'}"
    else:
        yield f"{request.getfixturevalue('redis_url')}?namespace=crash-{uuid.uuid4().hex[:8]}"


@pytest.mark.slow
def test_kill_9_of_the_api_loses_no_acknowledged_write(store_url: str, tmp_path: Path) -> None:
    """kill -9 mid-load, restart: every 2xx is there, retried calls end once, store = replies."""
    initial = seed_network(store_url, on_hand=(100_000, 100_000), safety=0)
    clients = [Client(f"k{i}-{uuid.uuid4().hex[:4]}") for i in range(CLIENTS)]
    with Served(tmp_path, "--store", store_url, admin_key=ADMIN) as served:
        threads = [
            threading.Thread(target=c.run, args=(served.url, i)) for i, c in enumerate(clients)
        ]
        for t in threads:
            t.start()
        want, deadline = random.randint(150, 300), time.monotonic() + 30
        while sum(c.acks for c in clients) < want and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(served.proc.pid, signal.SIGKILL)  # mid-load
        served.proc.wait()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a client hung on the dead server"
    acked = {oid: units for c in clients for oid, units in c.orders.items()}
    assert len(acked) >= 100, f"only {len(acked)} acknowledged orders before the kill"
    assert any(c.unknown is not None for c in clients), "no call was in flight at the kill"

    with (
        Served(tmp_path, "--store", store_url, admin_key=ADMIN) as again,
        httpx.Client(base_url=again.url, headers=_auth(), timeout=30) as http,
    ):
        for order_id, units in acked.items():
            r = http.get(f"/v1/orders/{order_id}")
            assert r.status_code == 200, f"acknowledged order {order_id} lost: {r.text}"
            assert units_of(r.json()["allocations"]) == units
            assert [e["type"] for e in r.json()["history"]] == ["order.created", "order.allocated"]
        for c in clients:
            c.settle(http)
        for c in clients:
            for order_id in c.orders:
                history = http.get(f"/v1/orders/{order_id}").json()["history"]
                assert [e["type"] for e in history].count("order.created") == 1

    told = Tally()
    for c in clients:
        for units in c.orders.values():
            told.allocated.update(units)
        for units in c.holds.values():
            told.held.update(units)
    store = open_store(store_url)
    try:
        check_against_tally(initial, store.positions(HOT_SKUS, HOT_NODES), told)
    finally:
        store.close()
    assert set(acked) <= {oid for c in clients for oid in c.orders}
    for node in HOT_NODES:  # the load reached every node
        assert any(n == node for units in acked.values() for n, _ in units)
