"""The invariant load of tests/sourcing_engine/stores/invariants.py, driven through the HTTP API.

`seed_network` puts three nodes and the two hot SKUs straight into a store (so that
`sourcing-engine serve` finds a network and loads no scenario). `HttpWorker` runs random
steps -- reserve, commit, release, create, cancel, ship, receive -- through the API, with an
`Idempotency-Key` on every write as a careful client would send, and keeps a `Tally` of
what the API acknowledged (2xx) from the replies alone. After every step it reads the hot
positions with `GET /v1/stock/{sku}` and checks them. At the end the caller merges every
worker's tally and checks the store against it (`check_against_tally`).

Unlike the store-level load, the engine chooses the nodes: a hold or an order names only
SKUs, quantities and a destination.
"""

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from sourcing_engine.domain import Item, Node, Position
from sourcing_engine.stores import open_store
from tests.sourcing_engine.stores.invariants import (
    HOT_NODES,
    HOT_SKUS,
    Key,
    Tally,
    check_position,
    seed_hot,
)

HOLD_TTL_S = 120  # longer than any load: holds end by commit or release only
# HOT_NODES: a New Jersey warehouse, a Chicago store, a Los Angeles store
NODE_RECORDS = [
    Node(HOT_NODES[0], "warehouse", 40.79, -74.06, handling_per_shipment=1.5),
    Node(HOT_NODES[1], "store", 41.88, -87.63, handling_per_shipment=2.5),
    Node(HOT_NODES[2], "store", 34.05, -118.24, handling_per_shipment=2.5),
]
# destinations near each node, so that every node is somebody's cheapest
DESTINATIONS = [
    {"lat": 40.71, "lon": -74.01},
    {"lat": 41.85, "lon": -87.65},
    {"lat": 34.10, "lon": -118.30},
]


def seed_network(
    store_url: str, on_hand: tuple[int, int], safety: int
) -> dict[Key, tuple[int, int]]:
    """Nodes, the hot items and their stock, written to the store directly; returns the
    initial (on_hand, safety_stock) per (node, sku)."""
    store = open_store(store_url)
    try:
        store.upsert_nodes(NODE_RECORDS)
        store.upsert_items([Item(sku, 1.0 + i) for i, sku in enumerate(HOT_SKUS)])
        return seed_hot(store, on_hand, safety)
    finally:
        store.close()


def units_of(data: list[dict[str, Any]]) -> Counter[Key]:
    """{node, sku, qty} entries of a reply as a counter by (node, sku)."""
    out: Counter[Key] = Counter()
    for u in data:
        out[(u["node"], u["sku"])] += u["qty"]
    return out


def check_stock_reply(sku: str, body: dict[str, Any]) -> list[Position]:
    """The positions of one `GET /v1/stock/{sku}` reply, each checked (its `available` too)."""
    out = []
    for p in body["nodes"]:
        position = Position(p["node"], sku, p["on_hand"], p["safety_stock"], p["reserved"],
                            p["allocated"])  # fmt: skip
        check_position(position)
        assert p["available"] == position.available, p
        out.append(position)
    return out


class UnexpectedReply(AssertionError):
    """The API answered something the load never expects (a 5xx, an unknown 4xx)."""


@dataclass
class HttpWorker:
    """One client of the API: its holds and orders, and the tally of acknowledged effects."""

    client: httpx.Client
    name: str
    rng: random.Random
    tally: Tally = field(default_factory=Tally)
    holds: dict[str, Counter[Key]] = field(default_factory=dict)
    orders: dict[str, Counter[Key]] = field(default_factory=dict)  # unshipped allocations
    serial: int = 0
    requests: int = 0
    served_by: Counter[int] = field(default_factory=Counter)  # replies per X-Worker-Pid

    def post(self, path: str, body: dict[str, Any] | None, ok: int) -> dict[str, Any] | None:
        """POST with a fresh Idempotency-Key: the reply's body on `ok`, None on a shortage."""
        self.serial += 1
        headers = {"Idempotency-Key": f"{self.name}-{self.serial}"}
        r = self.client.post(path, json=body, headers=headers)
        self.requests += 1
        self.served_by[int(r.headers["x-worker-pid"])] += 1
        if r.status_code == ok:
            data: dict[str, Any] = r.json()
            return data
        if r.status_code == 409 and r.json()["error"]["code"] == "insufficient_stock":
            self.tally.refused["shortage"] += 1
            return None
        raise UnexpectedReply(f"{self.name}: POST {path} -> {r.status_code} {r.text}")

    def lines(self) -> list[dict[str, Any]]:
        """One or two lines on the hot SKUs, sometimes the same SKU twice (summed)."""
        return [{"sku": self.rng.choice(HOT_SKUS), "qty": self.rng.randint(1, 3)}
                for _ in range(self.rng.randint(1, 2))]  # fmt: skip

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.3:
            self.reserve()
        elif roll < 0.5 and self.holds:
            self.end_hold(commit=self.rng.random() < 0.7)
        elif roll < 0.7:
            self.create()
        elif roll < 0.8 and self.orders:
            self.cancel()
        elif roll < 0.93 and self.orders:
            self.ship()
        else:
            self.receive()
        self.check()

    def check(self) -> None:
        for sku in HOT_SKUS:
            r = self.client.get(f"/v1/stock/{sku}")
            self.requests += 1
            self.served_by[int(r.headers["x-worker-pid"])] += 1
            if r.status_code != 200:
                raise UnexpectedReply(f"GET /v1/stock/{sku} -> {r.status_code} {r.text}")
            check_stock_reply(sku, r.json())
        self.tally.checks += 1

    def reserve(self) -> None:
        body = {"cart": self.name, "destination": self.rng.choice(DESTINATIONS),
                "lines": self.lines(), "ttl_s": HOLD_TTL_S}  # fmt: skip
        hold = self.post("/v1/reservations", body, 201)
        if hold is not None:
            units = units_of(hold["units"])
            self.holds[hold["id"]] = units
            self.tally.held.update(units)
            self.tally.ops["reserve"] += 1

    def end_hold(self, commit: bool) -> None:
        hold_id = self.rng.choice(list(self.holds))
        units = self.holds.pop(hold_id)
        if commit:
            body = {"order_id": f"{hold_id}-order", "destination": DESTINATIONS[0]}
            order = self.post(f"/v1/reservations/{hold_id}/commit", body, 201)
            assert order is not None, "a commit takes no stock of its own"
            assert units_of(order["allocations"]) == units, (order, units)
            self.orders[order["id"]] = Counter(units)
            self.tally.allocated.update(units)
        else:
            self.post(f"/v1/reservations/{hold_id}/release", None, 200)
        self.tally.held.subtract(units)
        self.tally.ops["commit" if commit else "release"] += 1

    def create(self) -> None:
        self.serial += 1
        body = {"id": f"{self.name}-o{self.serial}", "destination": self.rng.choice(DESTINATIONS),
                "lines": self.lines()}  # fmt: skip
        order = self.post("/v1/orders", body, 201)
        if order is not None:
            units = units_of(order["allocations"])
            self.orders[order["id"]] = units
            self.tally.allocated.update(units)
            self.tally.ops["create"] += 1

    def cancel(self) -> None:
        order_id = self.rng.choice(list(self.orders))
        before = self.orders[order_id]
        skus = sorted({s for _, s in before})
        body = None
        if self.rng.random() < 0.5:  # some units of one SKU, or the whole order
            sku = self.rng.choice(skus)
            have = sum(q for (_, s), q in before.items() if s == sku)
            body = {"lines": [{"sku": sku, "qty": self.rng.randint(1, have)}]}
        order = self.post(f"/v1/orders/{order_id}/cancel", body, 200)
        assert order is not None
        self._moved(order_id, order, shipped=False)
        self.tally.ops["cancel"] += 1

    def ship(self) -> None:
        order_id = self.rng.choice(list(self.orders))
        node = self.rng.choice(sorted({n for n, _ in self.orders[order_id]}))
        order = self.post(f"/v1/orders/{order_id}/ship", {"node": node}, 200)
        assert order is not None
        gone = self._moved(order_id, order, shipped=True)
        assert {n for n, _ in gone} == {node}, (gone, node)
        self.tally.ops["ship"] += 1

    def _moved(self, order_id: str, order: dict[str, Any], shipped: bool) -> Counter[Key]:
        """Units that left the order's allocations in this step (tallied as shipped or
        given back); the order is forgotten once nothing is allocated."""
        before = self.orders[order_id]
        after = units_of(order["allocations"])
        assert set(after) <= set(before), (before, after)
        assert all(after[k] <= q for k, q in before.items()), (before, after)
        gone = before - after
        self.tally.allocated.subtract(gone)
        if shipped:
            self.tally.shipped.update(gone)
        if after:
            self.orders[order_id] = after
        else:
            del self.orders[order_id]
        return gone

    def receive(self) -> None:
        node, sku, qty = (
            self.rng.choice(HOT_NODES),
            self.rng.choice(HOT_SKUS),
            self.rng.randint(1, 6),
        )
        body = {"node": node, "sku": sku, "delta": qty, "reason": "receipt"}
        if self.post("/v1/stock/adjustments", body, 200) is not None:
            self.tally.received[(node, sku)] += qty
            self.tally.ops["receive"] += 1


def hammer_http(
    base_url: str, token: str, name: str, seconds: float, seed: int, keepalive: bool = True
) -> HttpWorker:
    """Random steps through the API for `seconds`, every step checked. keepalive=False opens
    a connection per request, so that the requests spread over the API's worker processes
    (a kept connection stays with the worker that accepted it)."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits() if keepalive else httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base_url, headers=headers, timeout=60, limits=limits) as client:
        worker = HttpWorker(client, f"{name}-{uuid.uuid4().hex[:6]}", random.Random(seed))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            worker.step()
    return worker
