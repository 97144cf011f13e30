"""Load on the order-lifecycle API: 64 clients doing reserve-then-commit, and a probe
measuring single-order allocation (POST /v1/orders) while the load runs; and a mixed
lifecycle load (holds, commits, creates, releases, cancels, ships, rejects, returns).

The client side shares the machine with the API, so it is kept cheap: one asyncio loop
with a raw HTTP/1.1 keep-alive connection per client (no client library: httpx costs
several times the CPU per request), and the probe in a process of its own with a blocking
`http.client` connection, so its timings do not wait on the load's event loop.

Run one load by hand (and profile the API meanwhile, e.g. with py-spy):

    python -m benchmarks.service_load --store redis --workers 3 --seconds 20 [--mixed]
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sourcing_engine.domain import Position
from sourcing_engine.stores import open_store

REPO = Path(__file__).resolve().parents[1]
ADMIN = "sk_00000000000000ad_bench-admin-secret-0123456789"
HOT_SKU_COUNT = 20  # SKUs of the demo network stocked everywhere for the load
ON_HAND = 10_000_000  # per node and SKU of most hot SKUs: the throughput's share
SCARCE_SKU_COUNT = 2  # ... but the first hot SKUs run out within seconds of the load
SCARCE_ON_HAND = 5  # per node: about a tenth of the carts then must be refused (409), and
# the store check (nothing negative, the store = what the clients were told) can see an
# oversell; the single-order probe orders the plentiful SKUs only
HOLD_TTL_S = 600
# destinations spread over the US (the demo network's nodes are in US cities)
DESTINATIONS = [
    {"zip": z} for z in ("10001", "60601", "94103", "30303", "75201", "98101", "02108", "80202")
]
Key = tuple[str, str]


# --- a minimal HTTP/1.1 client ------------------------------------------------------------


class RawHttp:
    """One keep-alive HTTP/1.1 connection; the API always answers with Content-Length."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\nHost: {host}:{port}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.served_by = 0  # the API process of the last reply (X-Worker-Pid)

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def request(
        self, method: str, path: str, body: Any = None, key: str | None = None
    ) -> tuple[int, Any]:
        assert self.reader is not None
        assert self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\n{self.auth}"
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        if key is not None:
            head += f"Idempotency-Key: {key}\r\n"
        self.writer.write(head.encode() + b"\r\n" + payload)
        status = int((await self.reader.readuntil(b"\r\n")).split()[1])
        length = 0
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"x-worker-pid":
                self.served_by = int(value)
            elif name.lower() == b"transfer-encoding":
                raise RuntimeError(f"{method} {path}: chunked reply not expected")
        data = await self.reader.readexactly(length)
        return status, json.loads(data) if data else None


# --- the load -----------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What the clients saw inside the measured window (warm-up excluded)."""

    seconds: float
    pairs: int = 0  # reserve + commit, both 201
    requests: int = 0  # HTTP requests answered
    pair_latencies: list[float] = field(default_factory=list)
    request_latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # every reply, warm-up included
    allocated: Counter[Key] = field(default_factory=Counter)  # every acknowledged commit
    held: Counter[Key] = field(default_factory=Counter)  # holds acknowledged, not committed
    errors: list[str] = field(default_factory=list)
    refused_for_stock: int = 0  # holds refused 409 insufficient_stock (the scarce SKUs)
    served_by: Counter[int] = field(default_factory=Counter)  # replies per API process


def _units(data: list[dict[str, Any]]) -> Counter[Key]:
    out: Counter[Key] = Counter()
    for u in data:
        out[(u["node"], u["sku"])] += u["qty"]
    return out


async def _client(
    i: int, host: str, port: int, skus: list[str], start: float, warmup: float, stop: float,
    out: LoadResult,
) -> None:  # fmt: skip
    rng = random.Random(i)
    conn = RawHttp(host, port, ADMIN)
    await conn.open()
    loop = asyncio.get_running_loop()
    n = 0
    try:
        while loop.time() < stop:
            n += 1
            name = f"c{i}-{n}"
            lines = [{"sku": rng.choice(skus), "qty": rng.randint(1, 2)}]
            dest = rng.choice(DESTINATIONS)  # the cart's address, held and then ordered to
            t0 = loop.time()
            status, hold = await conn.request(
                "POST", "/v1/reservations",
                {"cart": name, "destination": dest, "lines": lines, "ttl_s": HOLD_TTL_S},
                key=f"{name}-r",
            )  # fmt: skip
            t1 = loop.time()
            out.statuses[status] += 1
            out.served_by[conn.served_by] += 1
            if status == 409 and hold["error"]["code"] == "insufficient_stock":
                out.refused_for_stock += 1
                continue
            if status != 201:
                out.errors.append(f"reserve {status} {hold}")
                continue
            units = _units(hold["units"])
            out.held.update(units)
            status, order = await conn.request(
                "POST", f"/v1/reservations/{hold['id']}/commit",
                {"order_id": f"{name}-o", "destination": dest},
                key=f"{name}-c",
            )  # fmt: skip
            t2 = loop.time()
            out.statuses[status] += 1
            out.served_by[conn.served_by] += 1
            if status != 201:
                out.errors.append(f"commit {status} {order}")
                continue
            out.held.subtract(units)
            out.allocated.update(_units(order["allocations"]))
            if start + warmup <= t0 and t2 <= stop:
                out.pairs += 1
                out.requests += 2
                out.pair_latencies.append(t2 - t0)
                out.request_latencies += [t1 - t0, t2 - t1]
    finally:
        conn.close()


async def _load(host: str, port: int, clients: int, seconds: float, warmup: float,
                skus: list[str]) -> LoadResult:  # fmt: skip
    loop = asyncio.get_running_loop()
    start = loop.time()
    out = LoadResult(seconds)
    stop = start + warmup + seconds
    await asyncio.gather(
        *(_client(i, host, port, skus, start, warmup, stop, out) for i in range(clients))
    )
    return out


def run_load(port: int, clients: int, seconds: float, warmup: float, skus: list[str]) -> LoadResult:
    """`clients` concurrent reserve-then-commit loops for warmup + seconds."""
    return asyncio.run(_load("127.0.0.1", port, clients, seconds, warmup, skus))


# --- the single-order probe (own process) ---------------------------------------------------


PROBE_CALLS_PER_CONNECTION = 10


def probe(
    port: int, delay: float, seconds: float, skus: list[str], interval: float
) -> dict[str, Any]:
    """After `delay`, one POST /v1/orders at a time, every `interval` s for `seconds`:
    the latencies and the allocations acknowledged.

    The probe reconnects every PROBE_CALLS_PER_CONNECTION calls: each connection stays with
    the worker process that accepted it, and the workers do not hold equal shares of the
    load's connections (uvicorn's workers accept from one socket without balancing), so one
    connection for the whole run would time one worker's queue only."""
    rng = random.Random(99)
    time.sleep(delay)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    allocated: list[list[Any]] = []
    errors: list[str] = []
    served_by: list[int] = []
    stop = time.perf_counter() + seconds
    n = 0
    while (now := time.perf_counter()) < stop:
        n += 1
        if n % PROBE_CALLS_PER_CONNECTION == 0:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        order_id = f"probe-{os.getpid()}-{n}"
        lines = [{"sku": s, "qty": 1} for s in rng.sample(skus, rng.randint(1, 3))]
        body = {"id": order_id, "destination": rng.choice(DESTINATIONS), "lines": lines}
        headers["Idempotency-Key"] = order_id
        t0 = time.perf_counter()
        conn.request("POST", "/v1/orders", json.dumps(body), headers)
        r = conn.getresponse()
        data = r.read()
        latencies.append(time.perf_counter() - t0)
        served_by.append(int(r.getheader("x-worker-pid", "0")))
        if r.status == 201:
            allocated += [[u["node"], u["sku"], u["qty"]] for u in json.loads(data)["allocations"]]
        else:
            errors.append(f"{r.status} {data[:200]!r}")
        time.sleep(max(0.0, now + interval - time.perf_counter()))
    conn.close()
    return {
        "latencies": latencies,
        "allocated": allocated,
        "errors": errors,
        "served_by": served_by,
    }


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class StoreUrl:
    """A store to load, and the pid of its server process (Redis), if any."""

    url: str
    server_pid: int | None = None


@contextmanager
def redis_server(data_dir: Path) -> Iterator[StoreUrl]:
    """A redis-server with a durable append-only file (fsync always), as deployed."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir),
         "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_for(lambda: _redis_up(port), f"redis-server on {port}")
        yield StoreUrl(f"redis://127.0.0.1:{port}/0", proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _redis_up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _ready(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def _wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up")
        time.sleep(0.05)


@dataclass
class Api:
    """`sourcing-engine serve` running as it is deployed (one process per worker)."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def pids(self) -> list[int]:
        """The serving processes: the workers, or the serve process itself with one."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and b"spawn_main" in cmdline:
                children.append(int(stat.parent.name))
        return sorted(children) or [self.proc.pid]

    def cpu_seconds(self) -> float:
        """User + system CPU of the serving processes so far."""
        return cpu_seconds(self.pids())


def load_average() -> float:
    """The machine's 1-minute load average as a load ends: CPU per request grows with it
    (other processes on the same cores cost the API caches and switches: the mixed load's
    1.6 ms a request recorded on cd2c097 measured 3-5 ms on that commit at a load of 6-10);
    the load itself makes about 2."""
    return round(os.getloadavg()[0], 1)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (those still running)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


@contextmanager
def api(
    cwd: Path, store_url: str, workers: int, scenario: str | None = None, start_s: float = 60
) -> Iterator[Api]:
    """`serve` on the store (loading `scenario` into an empty one, the demo network by
    default), ready to answer."""
    port = free_port()
    env = {**os.environ, "SOURCING_ENGINE_ADMIN_KEY": ADMIN, "PYTHONPATH": str(REPO)}
    log = cwd / f"serve-{port}.log"
    extra = ["--scenario", scenario] if scenario else []
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sourcing_engine", "serve", "--port", str(port),
             "--store", store_url, "--workers", str(workers), *extra],
            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for(lambda: _ready(port), f"serve on {port}", timeout=start_s)
        served = Api(port, proc, log)
        if workers > 1:  # every worker up (each answers /readyz once its app started)
            _wait_for(lambda: len(served.pids()) == workers, f"{workers} workers")
            time.sleep(1.0)
        yield served
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stock_hot_skus(port: int) -> list[str]:
    """Count ON_HAND units of the first HOT_SKU_COUNT SKUs at every node of the demo
    network (through the API, as a WMS would) and lift the nodes' daily capacities;
    returns the SKUs. The load measures throughput and that stock is never oversold: the
    demo network's capacities per day would refuse most of a minute's commits (capacity
    under concurrency is what tests/sourcing_engine/stores/*concurrency* check)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    conn.request("GET", "/v1/nodes", headers=headers)
    listed = json.loads(conn.getresponse().read())["nodes"]
    unlimited = [{**n, "ship_capacity": None, "unit_capacity": None} for n in listed]
    conn.request("PUT", "/v1/nodes", json.dumps({"nodes": unlimited}), headers)
    r = conn.getresponse()
    assert r.status == 200, r.read()
    r.read()
    nodes = [n["id"] for n in listed]
    skus = [f"SKU-{i:06d}" for i in range(1, HOT_SKU_COUNT + 1)]  # the demo network's SKUs
    for node in nodes:
        counts = [
            {"sku": s, "on_hand": SCARCE_ON_HAND if i < SCARCE_SKU_COUNT else ON_HAND}
            for i, s in enumerate(skus)
        ]
        body = json.dumps({"node": node, "counts": counts, "reason": "load"})
        conn.request("POST", "/v1/stock/snapshots", body, headers)
        r = conn.getresponse()
        assert r.status == 200, r.read()
        r.read()
    conn.close()
    return skus


# --- one measured run -----------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Measured:
    """The figures of one run, and the invariant check's findings."""

    figures: dict[str, Any]
    violations: list[str]


def check_store(
    store_url: str, skus: list[str], told: Callable[[Key], tuple[int, int, int]]
) -> list[str]:
    """Every position adds up and nothing is negative, and the store holds exactly what the
    clients were told: told(node, sku) = (allocated, reserved, on hand)."""
    store = open_store(store_url)
    try:
        positions: list[Position] = store.positions(skus)
    finally:
        store.close()
    out = []
    for p in positions:
        if min(p.on_hand, p.safety_stock, p.reserved, p.allocated, p.available) < 0:
            out.append(f"negative: {p}")
        if p.on_hand != p.available + p.reserved + p.allocated + p.safety_stock:
            out.append(f"does not add up: {p}")
        allocated, reserved, on_hand = told((p.node, p.sku))
        if (p.allocated, p.reserved, p.on_hand) != (allocated, reserved, on_hand):
            out.append(
                f"{p}: clients were told allocated {allocated}, held {reserved}, on hand {on_hand}"
            )
    return out


def measure(
    store: StoreUrl, workers: int, clients: int = 64, seconds: float = 20.0, warmup: float = 3.0,
    probe_interval: float = 0.05, cwd: Path | None = None,
) -> Measured:  # fmt: skip
    """Start serve on the store, stock the hot SKUs, run the load with the probe, stop, check."""
    store_url = store.url
    others = [store.server_pid] if store.server_pid is not None else []
    with tempfile.TemporaryDirectory() as tmp, api(cwd or Path(tmp), store_url, workers) as served:
        skus = stock_hot_skus(served.port)
        ledger = open_store(store_url)
        try:
            initial = {(p.node, p.sku): p.on_hand for p in ledger.positions(skus)}
            assert all(p.allocated == p.reserved == 0 for p in ledger.positions(skus))
        finally:
            ledger.close()
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            probing: Future[dict[str, Any]] = pool.submit(
                probe, served.port, warmup, seconds, skus[SCARCE_SKU_COUNT:], probe_interval
            )
            cpu0, wall0 = served.cpu_seconds(), time.perf_counter()
            client0, other0 = time.process_time(), cpu_seconds(others)
            load = run_load(served.port, clients, seconds, warmup, skus)
            client_cpu = time.process_time() - client0
            server_cpu, wall = served.cpu_seconds() - cpu0, time.perf_counter() - wall0
            other_cpu = cpu_seconds(others) - other0
            probed = probing.result()
    allocated = Counter(load.allocated)
    for node, sku, qty in probed["allocated"]:
        allocated[(node, sku)] += qty
    violations = check_store(
        store_url, skus, lambda key: (allocated[key], load.held[key], initial[key])
    )
    violations += [f"load: {e}" for e in load.errors[:20]]
    violations += [f"probe: {e}" for e in probed["errors"][:20]]
    served_by = load.served_by + Counter(probed["served_by"])
    lat = load.pair_latencies
    req = load.request_latencies
    probe_lat = probed["latencies"]
    figures = {
        "store": store_url.split(":")[0],
        "api_workers": workers,
        "clients": clients,
        "seconds": seconds,
        "pairs": load.pairs,
        "reserve_commit_per_s": load.pairs / seconds,
        "http_requests_per_s": load.requests / seconds,
        "pair_p50_ms": _ms(percentile(lat, 0.5)),
        "pair_p99_ms": _ms(percentile(lat, 0.99)),
        "request_p50_ms": _ms(percentile(req, 0.5)),
        "request_p99_ms": _ms(percentile(req, 0.99)),
        "single_order_allocations": len(probe_lat),
        "single_order_p50_ms": _ms(percentile(probe_lat, 0.5)),
        "single_order_p99_ms": _ms(percentile(probe_lat, 0.99)),
        "statuses": {str(k): v for k, v in sorted(load.statuses.items())},
        "refused_for_stock": load.refused_for_stock,
        "scarce_skus": SCARCE_SKU_COUNT,
        "workers_reached": len(served_by),
        "replies_per_worker": sorted(served_by.values(), reverse=True),
        # all run on the same cores: the clients' and redis-server's CPU is taken from the
        # API's (the probe's is small: one request at a time)
        "api_cpu_s_per_s": server_cpu / wall,
        "client_cpu_s_per_s": client_cpu / wall,
        "redis_server_cpu_s_per_s": other_cpu / wall if others else None,
        "api_cpu_ms_per_request": _ms(server_cpu / max(1, sum(load.statuses.values()))),
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "invariant_violations": len(violations),
    }
    return Measured(figures, violations)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


# --- the mixed lifecycle load ---------------------------------------------------------------


@dataclass
class MixedResult:
    """What the mixed load's clients saw, and what they were told the store holds."""

    seconds: float
    requests: int = 0  # inside the measured window
    latencies: list[float] = field(default_factory=list)
    by_step: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    allocated: Counter[Key] = field(default_factory=Counter)  # orders' allocations now
    held: Counter[Key] = field(default_factory=Counter)  # active holds
    shipped: Counter[Key] = field(default_factory=Counter)
    restocked: Counter[Key] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


class _Order:
    """What the client last heard of one order."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.id = reply["id"]
        self.allocations = _units(reply["allocations"])

    def update(self, reply: dict[str, Any], out: "MixedResult") -> None:
        out.allocated.subtract(self.allocations)
        self.allocations = _units(reply["allocations"])
        out.allocated.update(self.allocations)


async def _mixed_client(
    i: int, host: str, port: int, skus: list[str], start: float, warmup: float, stop: float,
    out: MixedResult,
) -> None:  # fmt: skip
    """Each round one path through the lifecycle, every write with an Idempotency-Key:
    hold -> commit -> release -> ship -> return; hold -> release; create -> cancel;
    create -> reject a node -> ship the rest; create -> ship."""
    rng = random.Random(1000 + i)
    conn = RawHttp(host, port, ADMIN)
    await conn.open()
    loop = asyncio.get_running_loop()
    n = 0

    async def step(name: str, method: str, path: str, body: Any, ok: int) -> Any:
        nonlocal n
        n += 1
        t0 = loop.time()
        status, reply = await conn.request(method, path, body, key=f"m{i}-{n}")
        t1 = loop.time()
        out.statuses[status] += 1
        if start + warmup <= t0 and t1 <= stop:
            out.requests += 1
            out.latencies.append(t1 - t0)
            out.by_step[name] += 1
        if status != ok:
            out.errors.append(f"{name} {status} {reply}")
            return None
        return reply

    def lines() -> list[dict[str, Any]]:
        return [{"sku": s, "qty": rng.randint(1, 2)} for s in rng.sample(skus, rng.randint(1, 3))]

    async def ship_all(order: _Order, path: str) -> None:
        for node in sorted({node for node, _ in order.allocations}):
            reply = await step("ship", "POST", f"{path}/ship", {"node": node}, 200)
            if reply is None:
                return
            before = Counter(order.allocations)
            order.update(reply, out)
            out.shipped.update(before - Counter(order.allocations))

    try:
        while loop.time() < stop:
            dest = rng.choice(DESTINATIONS)
            path_kind = rng.random()
            if path_kind < 0.45:  # checkout holds
                hold = await step("reserve", "POST", "/v1/reservations",
                                  {"cart": f"m{i}-{n}", "destination": dest, "lines": lines(),
                                   "ttl_s": HOLD_TTL_S}, 201)  # fmt: skip
                if hold is None:
                    continue
                held = _units(hold["units"])
                out.held.update(held)
                if path_kind < 0.15:
                    if await step("release hold", "POST", f"/v1/reservations/{hold['id']}/release",
                                  None, 200) is not None:  # fmt: skip
                        out.held.subtract(held)
                    continue
                commit = {"order_id": f"m{i}-{n}-o", "destination": dest}
                reply = await step(
                    "commit", "POST", f"/v1/reservations/{hold['id']}/commit", commit, 201
                )
                if reply is None:
                    continue
                out.held.subtract(held)
                order = _Order(reply)
                out.allocated.update(order.allocations)
            else:
                reply = await step("create", "POST", "/v1/orders",
                                   {"id": f"m{i}-{n}", "destination": dest, "lines": lines()},
                                   201)  # fmt: skip
                if reply is None:
                    continue
                order = _Order(reply)
                out.allocated.update(order.allocations)
            path = f"/v1/orders/{order.id}"
            if path_kind < 0.30:  # released, shipped, then returned in part
                reply = await step("release", "POST", f"{path}/release", None, 200)
                if reply is None:
                    continue
                await ship_all(order, path)
                sku = sorted({s for _, s in order_units(reply)})[0]
                body = {"lines": [{"sku": sku, "qty": 1}], "restock": True}
                back = await step("return", "POST", f"{path}/return", body, 200)
                if back is not None:
                    returned = _units(back["returned"])
                    out.restocked.update(returned)
            elif path_kind < 0.60:
                reply = await step("cancel", "POST", f"{path}/cancel", None, 200)
                if reply is not None:
                    order.update(reply, out)
            elif path_kind < 0.80:
                node = sorted({node for node, _ in order.allocations})[0]
                reply = await step("reject", "POST", f"{path}/reject", {"node": node}, 200)
                if reply is None:
                    continue
                order.update(reply, out)
                await ship_all(order, path)
            else:
                await ship_all(order, path)
    finally:
        conn.close()


def order_units(reply: dict[str, Any]) -> Counter[Key]:
    """Every unit an order holds or shipped, from its reply."""
    return _units(reply["allocations"]) + _units(reply["shipped"])


def run_mixed(
    port: int, clients: int, seconds: float, warmup: float, skus: list[str]
) -> MixedResult:
    async def main() -> MixedResult:
        loop = asyncio.get_running_loop()
        start = loop.time()
        out = MixedResult(seconds)
        stop = start + warmup + seconds
        await asyncio.gather(*(
            _mixed_client(i, "127.0.0.1", port, skus, start, warmup, stop, out)
            for i in range(clients)
        ))  # fmt: skip
        return out

    return asyncio.run(main())


def measure_mixed(
    store: StoreUrl, workers: int, clients: int = 32, seconds: float = 20.0, warmup: float = 3.0,
    cwd: Path | None = None,
) -> Measured:  # fmt: skip
    """Start serve on the store, stock the hot SKUs, run the mixed load, stop, check."""
    others = [store.server_pid] if store.server_pid is not None else []
    with tempfile.TemporaryDirectory() as tmp, api(cwd or Path(tmp), store.url, workers) as served:
        skus = stock_hot_skus(served.port)
        ledger = open_store(store.url)
        try:
            initial = {(p.node, p.sku): p.on_hand for p in ledger.positions(skus)}
        finally:
            ledger.close()
        cpu0, wall0 = served.cpu_seconds(), time.perf_counter()
        other0 = cpu_seconds(others)
        # the mixed load's steps assume stock (a refusal is an error there): plentiful SKUs
        out = run_mixed(served.port, clients, seconds, warmup, skus[SCARCE_SKU_COUNT:])
        server_cpu, wall = served.cpu_seconds() - cpu0, time.perf_counter() - wall0
        other_cpu = cpu_seconds(others) - other0
    # told: the orders' allocations, the open holds, on hand less shipped plus restocked
    violations = check_store(
        store.url, skus,
        lambda key: (out.allocated[key], out.held[key],
                     initial[key] - out.shipped[key] + out.restocked[key]),
    )  # fmt: skip
    violations += [f"load: {e}" for e in out.errors[:20]]
    figures = {
        "store": store.url.split(":")[0],
        "api_workers": workers,
        "clients": clients,
        "seconds": seconds,
        "requests_per_s": out.requests / seconds,
        "request_p50_ms": _ms(percentile(out.latencies, 0.5)),
        "request_p99_ms": _ms(percentile(out.latencies, 0.99)),
        "requests_by_step": dict(sorted(out.by_step.items())),
        "statuses": {str(k): v for k, v in sorted(out.statuses.items())},
        "api_cpu_s_per_s": server_cpu / wall,
        "redis_server_cpu_s_per_s": other_cpu / wall if others else None,
        "api_cpu_ms_per_request": _ms(server_cpu / max(1, sum(out.statuses.values()))),
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "invariant_violations": len(violations),
    }
    return Measured(figures, violations)


@contextmanager
def store_for(kind: str, data_dir: Path) -> Iterator[StoreUrl]:
    """A fresh store of this kind (Redis: a redis-server of its own)."""
    if kind == "redis":
        with redis_server(data_dir) as store:
            yield store
    else:
        yield StoreUrl(f"sqlite:///{data_dir / 'ledger.db'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--mixed", action="store_true", help="the mixed lifecycle load")
    args = parser.parse_args()
    run = measure_mixed if args.mixed else measure
    with tempfile.TemporaryDirectory() as tmp, store_for(args.store, Path(tmp)) as store:
        m = run(store, args.workers, args.clients, args.seconds, args.warmup, cwd=Path(tmp))
    print(json.dumps(m.figures, indent=1))
    for v in m.violations[:20]:
        print("VIOLATION", v)


if __name__ == "__main__":
    main()
