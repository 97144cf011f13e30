"""A real HTTP server for the API tests: uvicorn in a thread on a free port, over a temporary
SQLite store (or a namespace of the session's redis-server), with a small network.

Tests talk to it with httpx over TCP. Each test stocks its own SKUs (`stock` fixture) so
that tests sharing a server never see each other's stock.
"""

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from sourcing_engine.api.app import create_app
from sourcing_engine.settings import Settings
from tests.conftest import free_port

ADMIN_KEY = "sk_00000000000000ad_test-admin-secret-0123456789"

# Three nodes: a New Jersey warehouse, a Chicago store, a Los Angeles store.
NODES: list[dict[str, Any]] = [
    {"id": "DC-NJ", "kind": "warehouse", "lat": 40.79, "lon": -74.06,
     "handling_per_shipment": 1.5, "handling_per_unit": 0.25},
    {"id": "ST-CHI", "kind": "store", "lat": 41.88, "lon": -87.63,
     "handling_per_shipment": 2.5, "handling_per_unit": 0.5},
    {"id": "ST-LA", "kind": "store", "lat": 34.05, "lon": -118.24,
     "handling_per_shipment": 2.5, "handling_per_unit": 0.5},
]  # fmt: skip
LEASE_S = 0.5
"""Idempotency lease of the test servers (a refused call's key is free again after it)."""
NYC = {"lat": 40.71, "lon": -74.01}
"""A destination next to DC-NJ: the cheapest node for it when DC-NJ has the stock."""


class ApiServer:
    """uvicorn serving create_app(settings) in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail(f"API server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def shift_clock(self, seconds: float) -> None:
        """Move the served store's clock (tests step past an expiry instead of sleeping)."""
        self.app.state.service.store.shift_clock(seconds)

    def client(self, key: str | None = ADMIN_KEY, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


def start_server(store_url: str, **settings: Any) -> ApiServer:
    server = ApiServer(Settings(store=store_url, admin_key=ADMIN_KEY, **settings))
    server.start()
    with server.client() as c:
        assert c.put("/v1/nodes", json={"nodes": NODES}).status_code == 200
    return server


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'ledger.db'}"


def redis_namespace_url(redis_url: str) -> str:
    return f"{redis_url}?namespace=api-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One API server on a fresh SQLite store for the test module."""
    srv = start_server(
        sqlite_url(tmp_path_factory.mktemp("api")),
        reaper_interval_s=0.2,
        idempotency_lease_s=LEASE_S,
    )
    yield srv
    srv.stop()


def store_url_for(request: pytest.FixtureRequest, factory: pytest.TempPathFactory) -> str:
    """A fresh store for a fixture parametrized by store kind ("sqlite" or "redis")."""
    if request.param == "sqlite":
        return sqlite_url(factory.mktemp("api"))
    return redis_namespace_url(request.getfixturevalue("redis_url"))


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def any_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The API server on each store: embedded SQLite, and Redis (a real redis-server)."""
    srv = start_server(store_url_for(request, tmp_path_factory), reaper_interval_s=0.2)
    yield srv
    srv.stop()


@pytest.fixture
def client(server: ApiServer) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@dataclass(frozen=True)
class Stocker:
    """Creates SKUs of its own for one test and counts stock at the test network's nodes."""

    client: httpx.Client
    prefix: str

    def __call__(self, counts: dict[str, int], weight_lb: float = 1.0) -> str:
        """A new SKU with on hand per node; returns the SKU."""
        sku = f"{self.prefix}-{uuid.uuid4().hex[:8]}"
        r = self.client.put("/v1/items", json={"items": [{"sku": sku, "weight_lb": weight_lb}]})
        assert r.status_code == 200, r.text
        for node, on_hand in counts.items():
            r = self.client.post(
                "/v1/stock/snapshots",
                json={"node": node, "counts": [{"sku": sku, "on_hand": on_hand}]},
            )
            assert r.status_code == 200, r.text
        return sku

    def available(self, sku: str) -> dict[str, int]:
        r = self.client.get(f"/v1/stock/{sku}")
        assert r.status_code == 200, r.text
        return {p["node"]: p["available"] for p in r.json()["nodes"]}


@pytest.fixture
def stock(client: httpx.Client, request: pytest.FixtureRequest) -> Stocker:
    return Stocker(client, request.node.name[:20].replace("[", "-").replace("]", ""))


def new_id(prefix: str = "O") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def order_body(sku_qty: dict[str, int], order_id: str | None = None, **dest: Any) -> dict[str, Any]:
    return {
        "id": order_id or new_id(),
        "destination": dest or NYC,
        "lines": [{"sku": s, "qty": q} for s, q in sku_qty.items()],
    }


class Served:
    """`python -m sourcing_engine serve ...` with its output in a file."""

    def __init__(self, cwd: Path, *args: str, admin_key: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "SOURCING_ENGINE_ADMIN_KEY"}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
        if admin_key is not None:
            env["SOURCING_ENGINE_ADMIN_KEY"] = admin_key
        self.log = cwd / f"serve-{self.port}.out"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sourcing_engine", "serve", "--port", str(self.port),
                 *args],
                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def __enter__(self) -> "Served":
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"serve exited:\n{self.output}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"serve not ready:\n{self.output}"
            time.sleep(0.1)

    def __exit__(self, *_: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def output(self) -> str:
        return self.log.read_text()

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes this serve started (none with one worker: the
        serve process is the worker then)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue  # the process ended meanwhile
            if int(fields[1]) == self.proc.pid and b"spawn_main" in cmdline:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def get(self, path: str, key: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {key}"})
