"""Redis ledger store: one inventory shared by many API replicas, every operation one Lua script.

`RedisStore("redis://host:6379/0")` implements `sourcing_engine.ledger.Store`. Each mutating
operation is a single script (`lua/<operation>.lua`, with `lua/common.lua` prepended), run by
EVALSHA: it reads the server clock once, makes every check (all lines, duplicates summed),
and only then writes, so it applies whole or not at all and no other client sees half of it.
Failures come back as a structured reply that this module turns into the domain error
(`InsufficientStock` with every short line, `Conflict` with the current state, ...).

Key layout. Every key of one store starts with ``se:{<namespace>}:`` (namespace "default"
unless given, ``?namespace=`` in the URL), so all of them hash to one Redis Cluster slot and
multi-key scripts never cross slots. Scripts get the key ``se:{ns}:seq`` as KEYS[1] (it
routes them in a cluster) and derive every other key from its prefix; each script starts
with a ``#!lua`` shebang, so a cluster node refuses any script touching another slot.
``?cluster=1`` connects with the cluster client.

    seq              string  last event seq (INCR)
    events           zset    event JSON, score = seq: events(after, limit) is one range read
    hist:<order id>  list    the order's order.* event JSON, in order
    nodes, items     hash    id -> record JSON
    pos:<sku>        hash    per node of that SKU: oh:<node> on hand, ss:<node> safety stock,
                             al:<node> allocated, rs:<node> units of holds still in hz:<sku>
                             (a position exists once oh:<node> does)
    hz:<sku>         zset    holds of that SKU, score = expires_at, member JSON [hold, node, qty]
    hold_exp         zset    hold ids by expires_at (the reaper's queue)
    res:<id>         hash    a hold: cart, units, created_at, expires_at, state, order_id
    order:<id>       hash    an order: state, version, lines, alloc, shipped, returned,
                             released, times, doc (the caller's document, stored as given)
    ocreated         zset    order ids by created_at; oidx:<term> (zset) the same for the
                             orders with that search term (lua/write_order.lua)
    ocap:<order id>  hash    node -> "day|shipments|units" the order charged there
    ready            zset    orders ready for pickup, score = when they became ready
    cap:<day>        hash    s:<node> shipments, u:<node> units charged to the node that day
    webhooks         hash    id -> subscription JSON; whprog:<id> (string) the deliverer's
                             progress, whrep:<id> (list) replay requests, whfail:<id> (list)
                             deliveries given up on, newest first (lua/webhook.lua)
    inbound          hash    inbound id -> record JSON;  inb:<sku>  set of inbound ids
    bosum            hash    inbound id -> units orders wait for (backordered on it)
    bo:<inbound id>  zset    the orders backordered on it, oldest first (score: boseq INCR)
    settings         hash    name -> JSON document (the network settings), v:<name> -> version
    idem:<key>       hash    idempotency key: in flight (hash, lease_until) or done (hash,
                             status, body); the only key with a TTL (24 h after completion)
    apikeys          hash    key id -> JSON (name, secret hash, scopes, created_at, revoked)
    transfer:<id>    hash    a transfer: rec (JSON of lifecycle.TransferRecord's fields but
                             times and version), version, created_at, updated_at; shipped,
                             its units are inbound "transfer:<id>:<sku>" (lua/write_transfer)
    mv:<node>/<sku>  zset    movements of on hand, score = when, member "<id>|<delta>" (ids
                             from string mvseq); cnt:<node>/<sku> (hash) source -> its last
                             count's "as_of|sequence" (stock sync, lua/common.lua)

Durability. A reply means the write is on disk: the server must run with ``appendonly yes``
and ``appendfsync always`` (Redis fsyncs the append-only file before it sends any reply of
that event-loop turn). The store checks both with CONFIG GET when it connects and refuses to
start otherwise; ``configure_durability=True`` (or ``?configure_durability=1`` in the URL)
sets them with CONFIG SET instead, where the server allows it (in a cluster, on every node,
as a promoted replica must be as durable). Redis 7.0 has no WAITAOF; with replicas, WAIT
would also be needed to survive losing the primary's disk. Each script's writes reach the
append-only file as one MULTI/EXEC block, so a crash mid-write replays all or none of it.
Client retries are off: a command whose reply was lost is reported, never sent twice
(callers retry with an idempotency key).

Time and expiry. Scripts use the server's TIME, so replicas agree. No key TTL or keyspace
notification is involved in expiry: a hold counts in ``reserved`` only while its expires_at
is after the script's clock reading (reserved = rs - units of members of hz:<sku> with score
<= now), whether or not the reaper (`expire_reservations`, idempotent) has run. Writes drop
expired members from the counters of the SKUs they touch, so reads stay O(log n).
"""

import importlib.resources
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from functools import cache, wraps
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.retry import Retry

from sourcing_engine import lifecycle, resources
from sourcing_engine.domain import Inbound, Item, Node, Position, Unit, sku_totals
from sourcing_engine.errors import (
    CapacityShort,
    Conflict,
    DomainError,
    EntriesRefused,
    IdempotencyInFlight,
    IdempotencyMismatch,
    InsufficientCapacity,
    InsufficientStock,
    Invalid,
    NotFound,
    PreconditionFailed,
    Shortage,
    StoreUnavailable,
)
from sourcing_engine.lifecycle import (
    Backorder,
    Effects,
    OrderAction,
    OrderRecord,
    OrderState,
    Reservation,
    ReturnLine,
    Step,
    TransferAction,
    TransferEffects,
    TransferRecord,
    TransferState,
    TransferStep,
    hold_state_at,
)
from sourcing_engine.order_search import MAX_SCAN, OrderPage, OrderQuery, index_terms
from sourcing_engine.stock_sync import (
    MAX_AHEAD_S,
    LastCount,
    StockAdjustment,
    StockCount,
    below_zero,
    check_adjustments,
    check_counts,
    count_problem,
)
from sourcing_engine.stores.base import (
    IDEMPOTENCY_RETENTION_S,
    LAST_ADMIN,
    ApiKey,
    Event,
    IdempotencyKey,
    IdempotentReply,
    Replayed,
    Result,
    Setting,
    StoreNotDurable,
    Webhook,
    utc_day,
)

SCRIPTS = (
    "reserve",
    "release_reservation",
    "expire_reservations",
    "write_order",
    "set_stock",
    "adjust_stock",
    "positions",
    "get_reservation",
    "upsert",
    "add_inbound",
    "receive_inbound",
    "put_setting",
    "claim_idempotency",
    "release_idempotency",
    "api_key",
    "webhook",
    "now",
    "write_transfer",
    "count_stock",
    "adjust_stock_many",
    "search_orders",
    "lease",
)
R = TypeVar("R")
MAX_QTY = lifecycle.MAX_QTY
_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError)
_UNAVAILABLE_REPLIES = ("READONLY", "MASTERDOWN", "LOADING", "CLUSTERDOWN", "TRYAGAIN")
"""Errors and replies of a server that cannot answer now (StoreUnavailable, retryable)."""
CONNECT_TIMEOUT_S = 2.0
PING_TIMEOUT_S = 1.0
"""What a readiness check waits: a server that stopped answering (paused, a hung host) makes
ping() False within it, not after CALL_TIMEOUT_S."""
CALL_TIMEOUT_S = 10.0
"""A script never runs for long; ten seconds without a reply means the server is in trouble."""
Arg = str | int | float
_NO_IDEM: tuple[Arg, ...] = ("", "", "")
WRITE_ATTEMPTS = 8
"""How often a transition without an expected version is computed again when the order
changed between its read and its write."""


READ_ONLY_SCRIPTS = frozenset({"positions", "get_reservation", "now", "search_orders"})


@cache
def script_source(name: str) -> str:
    """The Lua source of one operation, with the shared helpers prepended.

    The shebang makes the server enforce, on a cluster node, that a script touches one slot
    only (scripts without one may cross slots, for compatibility); read-only scripts say
    so, so they may run on replicas and never write.
    """
    lua = importlib.resources.files("sourcing_engine.stores") / "lua"
    shebang = "#!lua flags=no-writes" if name in READ_ONLY_SCRIPTS else "#!lua"
    common = (lua / "common.lua").read_text()
    return f"{shebang}\n{common}\n{(lua / f'{name}.lua').read_text()}"


def _truthy(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    """The URL without this store's own query options, and those options."""
    parts = urlsplit(url)
    ours = {"namespace", "configure_durability", "cluster"}
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {k: v for k, v in query if k in ours}
    rest = urlencode([(k, v) for k, v in query if k not in ours])
    return urlunsplit(parts._replace(query=rest)), options


def _units_args(units: Sequence[Unit]) -> list[Arg]:
    out: list[Arg] = [len(units)]
    for u in units:
        out += [u.node, u.sku, u.qty]
    return out


def _check_qty(qty: object, where: str, allow_zero: bool = False) -> None:
    least = 0 if allow_zero else 1
    # the bound keeps every sum exact in Lua's doubles and Redis's integer commands
    if isinstance(qty, bool) or not isinstance(qty, int) or not least <= qty <= MAX_QTY:
        raise Invalid(
            f"{where}: quantity must be a whole number from {least} to {MAX_QTY}, got {qty!r}"
        )


def _blank(value: float | int | None) -> Arg:
    """An optional script argument: '' for None (floats as repr: exact to the bit)."""
    return "" if value is None else repr(value) if isinstance(value, float) else value


def _check_id(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise Invalid(f"{what} must be a non-empty string, got {value!r}")


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _units_json(units: Sequence[Unit]) -> str:
    return _dumps([[u.node, u.sku, u.qty] for u in units])


def _unit_list(raw: str) -> tuple[Unit, ...]:
    data = json.loads(raw)
    # cjson writes an empty list as {}
    units = (Unit(str(n), str(s), int(q)) for n, s, q in (data or []))
    return tuple(sorted(units, key=lambda u: (u.node, u.sku)))


def _reservation(now: float, h: dict[str, str]) -> Reservation:
    expires_at = float(h["expires_at"])
    return Reservation(
        id=h["id"],
        cart=h["cart"],
        units=_unit_list(h["units"]),
        created_at=float(h["created_at"]),
        expires_at=expires_at,
        state=hold_state_at(h["state"], expires_at, now),
        order_id=h["order_id"] or None,
        document=json.loads(h.get("doc") or "{}"),
    )


def _order(order_id: str, h: dict[str, str]) -> OrderRecord:
    lines = json.loads(h["lines"])
    released = json.loads(h["released"])
    return OrderRecord(
        id=order_id,
        state=OrderState(h["state"]),
        lines={str(k): int(v) for k, v in sorted((lines or {}).items())},
        allocations=_unit_list(h["alloc"]),
        shipped=_unit_list(h["shipped"]),
        returned=_unit_list(h["returned"]),
        released_nodes=tuple(str(n) for n in (released or [])),
        version=int(h["version"]),
        created_at=float(h["created_at"]),
        updated_at=float(h["updated_at"]),
        document=json.loads(h["doc"]),
        backordered=lifecycle.backorders_of(json.loads(h.get("backordered") or "[]") or []),
    )


def _transfer(h: dict[str, str]) -> TransferRecord:
    r = json.loads(h["rec"])
    return TransferRecord(
        id=r["id"], source=r["source"], destination=r["destination"],
        lines={str(k): int(v) for k, v in sorted((r["lines"] or {}).items())},
        received={str(k): int(v) for k, v in sorted((r["received"] or {}).items())},
        state=TransferState(r["state"]),
        expected_at=None if r["expected_at"] is None else float(r["expected_at"]),
        version=int(h["version"]), created_at=float(h["created_at"]),
        updated_at=float(h["updated_at"]), document=r["document"],
    )  # fmt: skip


def _position(r: Sequence[str]) -> Position:
    """(node, sku, on hand, safety stock, allocated, reserved) as the scripts list them."""
    return Position(r[0], r[1], int(r[2]), int(r[3]), int(r[5]), int(r[4]))


def _result(raw: str) -> Result:
    """The result an idempotency key keeps: [kind, now, id or node, ...] (see common.lua)."""
    kind, now, *rest = json.loads(raw)
    if kind == "order":
        return _order(rest[0], _pairs(rest[1:]))
    if kind == "transfer":
        return _transfer(_pairs(rest[1:]))
    if kind == "reservation":
        return _reservation(float(now), {"id": rest[0], **_pairs(rest[1:])})
    if kind == "positions":
        return _positions(rest)
    return _position(rest)


def _positions(flat: Sequence[str]) -> tuple[Position, ...]:
    return tuple(_position(flat[i : i + 6]) for i in range(0, len(flat), 6))


class _EntriesReply(DomainError):
    """A script refused entries of a bulk stock call: [index, ...] per entry (turned into
    EntriesRefused, with the entries' words, by the method that sent them)."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self.rows = rows
        super().__init__("entries refused")


def _inbound(d: dict[str, Any], backordered: int = 0) -> Inbound:
    return Inbound(
        d["id"], d["node"], d["sku"], int(d["qty"]), float(d["expected_at"]), backordered
    )


def _promise_args(order: OrderRecord, effects: Effects) -> list[Arg]:
    """An order's changes to its promises on inbound supply, as write_order.lua takes them:
    count, then (inbound, sku, node, delta, what the order still waits for there)."""
    delta: dict[str, int] = {}
    at: dict[str, Backorder] = {}
    for sign, backorders in ((1, effects.backorder), (-1, effects.unbackorder)):
        for b in backorders:
            delta[b.inbound] = delta.get(b.inbound, 0) + sign * b.qty
            at[b.inbound] = b
    left = {b.inbound: b.qty for b in order.backordered}
    out: list[Arg] = [len(delta)]
    for inbound, d in sorted(delta.items()):
        out += [inbound, at[inbound].sku, at[inbound].node, d, left.get(inbound, 0)]
    return out


def _event(raw: str) -> Event:
    e = json.loads(raw)
    data = e["data"]
    return Event(
        seq=int(e["seq"]),
        at=float(e["at"]),
        type=e["type"],
        subject=e["subject"],
        data=data if isinstance(data, dict) else {"value": data},
        resource=e.get("resource"),
    )


def _api_key(key_id: str, raw: str) -> tuple[ApiKey, str]:
    r = json.loads(raw)
    key = ApiKey(
        id=key_id,
        name=r["name"],
        scopes=tuple(r["scopes"] or ()),
        created_at=float(r["created_at"]),
        revoked=bool(r["revoked"]),
    )
    return key, str(r["secret_hash"])


def _webhook(webhook_id: str, raw: str) -> Webhook:
    r = json.loads(raw)
    types = tuple(r["event_types"] or ())  # cjson writes an empty list as {}
    return Webhook(webhook_id, r["url"], types, r["secret"], float(r["created_at"]))


def _error(kind: str, message: str, extra: str) -> DomainError:
    """The domain error for a script's structured failure reply."""
    if kind == "insufficient":
        return InsufficientStock(
            [
                Shortage(
                    sku=s["sku"],
                    nodes=tuple(s["nodes"] or ()),
                    requested=int(s["requested"]),
                    available=int(s["available"]),
                )
                for s in json.loads(extra)
            ]
        )
    if kind == "not_found":
        return NotFound(message)
    if kind == "insufficient_capacity":
        return InsufficientCapacity(
            [
                CapacityShort(c["node"], c["day"], c["what"], int(c["requested"]), int(c["left"]))
                for c in json.loads(extra)
            ]
        )
    if kind == "precondition_failed":
        return PreconditionFailed(message)
    if kind == "conflict":
        return Conflict(message, current_state=extra or None)
    if kind == "invalid":
        return Invalid(message)
    if kind == "entries":
        return _EntriesReply(json.loads(extra))
    if kind == "idempotency_mismatch":
        return IdempotencyMismatch(message)
    if kind == "idempotency_in_flight":
        return IdempotencyInFlight(message)
    return DomainError(f"{kind}: {message}")


class RedisStore:
    """The ledger on Redis (see the module docstring for keys, durability and expiry)."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str | None = None,
        configure_durability: bool | None = None,
        cluster: bool | None = None,
        idempotency_ttl_s: int = int(IDEMPOTENCY_RETENTION_S),
    ) -> None:
        client_url, options = _split_url(url)
        ns = namespace if namespace is not None else options.get("namespace", "default")
        if not ns or "{" in ns or "}" in ns:
            raise ValueError(f"namespace must be non-empty without braces, got {ns!r}")
        if configure_durability is None:
            configure_durability = _truthy(options.get("configure_durability", "0"))
        if cluster is None:
            cluster = _truthy(options.get("cluster", "0"))
        if idempotency_ttl_s < IDEMPOTENCY_RETENTION_S:
            raise ValueError(f"idempotency_ttl_s must be at least {IDEMPOTENCY_RETENTION_S} s")
        self.namespace = ns
        parts = urlsplit(client_url)
        self.where = f"{parts.hostname or parts.path}:{parts.port or ''}".rstrip(":")
        self.prefix = f"se:{{{ns}}}:"
        self._seq_key = self.prefix + "seq"
        self._idem_ttl = idempotency_ttl_s
        # No automatic retries: a script whose reply was lost must not run twice.
        no_retry = Retry(NoBackoff(), 0)
        self._r: redis.Redis | RedisCluster
        # Timeouts: a server that stopped answering fails the call (StoreUnavailable, 503)
        # within seconds instead of holding the request, and the worker, for ever.
        timeouts = {"socket_connect_timeout": CONNECT_TIMEOUT_S, "socket_timeout": CALL_TIMEOUT_S}
        probe = {"socket_connect_timeout": PING_TIMEOUT_S, "socket_timeout": PING_TIMEOUT_S}
        self._probe: redis.Redis | RedisCluster
        if cluster:
            self._r = RedisCluster.from_url(
                client_url, decode_responses=True, retry=no_retry, **timeouts
            )
            self._probe = RedisCluster.from_url(client_url, retry=no_retry, **probe)
        else:
            self._r = redis.Redis.from_url(
                client_url, decode_responses=True, retry=no_retry, **timeouts
            )
            self._probe = redis.Redis.from_url(client_url, retry=no_retry, **probe)
        try:
            self._check_durability(configure_durability)
        except _UNAVAILABLE as exc:
            self._r.close()
            self._probe.close()
            raise StoreUnavailable(
                f"Redis ({self.where}) cannot be reached: {str(exc).rstrip('.')}"
            ) from exc
        except BaseException:
            self._r.close()
            self._probe.close()
            raise
        self._scripts: dict[str, Script] = {
            name: self._r.register_script(script_source(name)) for name in SCRIPTS
        }

    # --- plumbing ---------------------------------------------------------------------

    def _servers(self) -> list[redis.Redis]:
        """One client per server: in a cluster every primary and replica, since a replica
        promoted by a failover must be as durable as its primary."""
        if isinstance(self._r, RedisCluster):
            nodes = self._r.get_nodes()  # type: ignore[no-untyped-call]  # untyped in redis-py
            return [self._r.get_redis_connection(n) for n in nodes]
        return [self._r]

    def _check_durability(self, configure: bool) -> None:
        for server in self._servers():
            where = server.get_connection_kwargs().get("host", "redis")
            try:
                cfg = cast(dict[str, str], server.config_get("append*"))
            except redis.ResponseError as exc:
                raise StoreNotDurable(
                    f"cannot read the configuration of {where} to verify durability ({exc}); "
                    "the store needs appendonly yes and appendfsync always"
                ) from exc
            found = (cfg.get("appendonly"), cfg.get("appendfsync"))
            if found == ("yes", "always"):
                continue
            if not configure:
                raise StoreNotDurable(
                    f"Redis at {where} runs with appendonly {found[0]} and appendfsync "
                    f"{found[1]}: a reply would not mean the write is on disk. Start "
                    "redis-server with --appendonly yes --appendfsync always (or set them in "
                    "redis.conf), or let the store set them with configure_durability=True "
                    "(URL option ?configure_durability=1)"
                )
            self._configure(server, where)

    @staticmethod
    def _configure(server: redis.Redis, where: str) -> None:
        try:
            server.config_set("appendfsync", "always")
            server.config_set("appendonly", "yes")
        except redis.ResponseError as exc:
            raise StoreNotDurable(
                f"could not set appendonly yes / appendfsync always on {where}: {exc}"
            ) from exc
        # Turning AOF on starts a rewrite; only once it is done is every write in the AOF.
        deadline = time.monotonic() + 60
        while True:
            info = server.info("persistence")
            if (
                info.get("aof_enabled") == 1
                and not info.get("aof_rewrite_in_progress")
                and not info.get("aof_rewrite_scheduled")
            ):
                return
            if time.monotonic() > deadline:
                raise StoreNotDurable(f"the append-only file of {where} was not ready in 60 s")
            time.sleep(0.05)

    def _run(self, name: str, args: Sequence[Arg], idem: IdempotencyKey | None = None) -> list[str]:
        """Run a mutating script, whose first arguments are the idempotency key's (empty
        without one); Replayed if the key completed before with this request."""
        prefix: list[Arg] = list(_NO_IDEM)
        if idem is not None:
            _check_id(idem.key, "idempotency key")
            prefix = [idem.key, idem.request_hash, self._idem_ttl]
        return self._read(name, [*prefix, *args])

    def _read(self, name: str, args: Sequence[Arg]) -> list[str]:
        """Run a script on these arguments; the reply after 'ok', or the domain error it
        reports."""
        reply = cast(list[str], self._scripts[name](keys=[self._seq_key], args=list(args)))
        if reply[0] == "err":
            raise _error(reply[1], reply[2], reply[3])
        if reply[0] == "done":
            raise Replayed(_result(reply[1]))
        return reply[1:]

    def key(self, suffix: str) -> str:
        """The full name of one of this store's keys (for tests and operators)."""
        return self.prefix + suffix

    # --- Store ------------------------------------------------------------------------

    def now(self) -> float:
        # TIME of the server that runs this store's scripts (in a cluster: its slot's primary)
        return float(self._read("now", [])[0])

    def shift_clock(self, seconds: float) -> None:
        # kept in the namespace, so every client of this store sees the same clock
        self._r.incrbyfloat(self.key("clock_shift"), seconds)

    def _upsert(self, table: str, what: str, records: Sequence[tuple[str, Node | Item]]) -> None:
        """Replace (id, record) entries of a reference hash ("nodes" or "items")."""
        args: list[Arg] = [table, len(records)]
        for record_id, record in records:
            _check_id(record_id, what)
            data = resources.node(record) if isinstance(record, Node) else resources.item(record)
            args += [record_id, json.dumps(data)]
        if records:
            self._run("upsert", args)

    def upsert_nodes(self, nodes: Sequence[Node]) -> None:
        self._upsert("nodes", "node id", [(n.id, n) for n in nodes])

    def list_nodes(self) -> list[Node]:
        raw = cast(dict[str, str], self._r.hgetall(self.key("nodes")))
        return [Node.from_data(json.loads(raw[k])) for k in sorted(raw)]

    def upsert_items(self, items: Sequence[Item]) -> None:
        self._upsert("items", "item sku", [(it.sku, it) for it in items])

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]:
        skus = list(dict.fromkeys(skus))
        if not skus:
            return {}
        raw = cast(list[str | None], self._r.hmget(self.key("items"), skus))
        out: dict[str, Item] = {}
        for sku, rec in zip(skus, raw, strict=True):
            if rec is not None:
                d = json.loads(rec)
                out[sku] = Item(d["sku"], float(d["weight_lb"]), tuple(d["dims_in"]))
        return out

    def set_stock(
        self, node: str, counts: Mapping[str, tuple[int, int | None]], reason: str
    ) -> None:
        _check_id(node, "node")
        args: list[Arg] = [node, reason, len(counts)]
        for sku, (on_hand, safety) in counts.items():
            _check_id(sku, "sku")
            _check_qty(on_hand, f"on hand of {sku} at {node}", allow_zero=True)
            if safety is not None:
                _check_qty(safety, f"safety stock of {sku} at {node}", allow_zero=True)
            args += [sku, on_hand, "" if safety is None else safety]
        self._run("set_stock", args)

    def adjust_stock(
        self, node: str, sku: str, delta: int, reason: str, idem: IdempotencyKey | None = None
    ) -> Position:
        _check_id(node, "node")
        _check_id(sku, "sku")
        if isinstance(delta, bool) or not isinstance(delta, int) or abs(delta) > MAX_QTY:
            raise Invalid(
                f"delta for {sku} at {node} must be a whole number within ±{MAX_QTY}, got {delta!r}"
            )
        r = self._run("adjust_stock", [node, sku, delta, reason], idem)
        return _position(r[1:])

    def positions(self, skus: Sequence[str], nodes: Sequence[str] | None = None) -> list[Position]:
        skus = list(dict.fromkeys(skus))
        if not skus or (nodes is not None and not nodes):
            return []
        node_list = list(dict.fromkeys(nodes or ()))
        r = self._read("positions", [len(skus), *skus, len(node_list), *node_list])[1:]
        found = [_position(r[i : i + 6]) for i in range(0, len(r), 6)]
        return sorted(found, key=lambda p: (p.sku, p.node))

    def add_inbound(self, inbound: Sequence[Inbound]) -> None:
        args: list[Arg] = [len(inbound)]
        for b in inbound:
            _check_id(b.id, "inbound id")
            lifecycle.check_inbound_not_transfer(b.id, "add")
            _check_qty(b.qty, f"inbound {b.id}")
            # expected_at as text: Lua's cjson would round it when a receipt rewrites qty
            record = {**asdict(b), "expected_at": repr(b.expected_at)}
            # the resource without `backordered`: the script adds the units waiting on it
            resource = {k: v for k, v in resources.inbound(b).items() if k != "backordered"}
            args += [b.id, b.sku, json.dumps(record), json.dumps(resource)]
        if inbound:
            self._run("add_inbound", args)

    def receive_inbound(
        self,
        inbound_id: str,
        qty: int,
        idem: IdempotencyKey | None = None,
        *,
        days: Mapping[str, str] | None = None,
    ) -> Position:
        _check_id(inbound_id, "inbound id")
        lifecycle.check_qty(qty, f"receipt of inbound {inbound_id}")
        lifecycle.check_inbound_not_transfer(inbound_id, "receive")
        for attempt in range(WRITE_ATTEMPTS):
            try:
                args = [inbound_id, qty, *self._fill_args(inbound_id, qty, days)]
                r = self._run("receive_inbound", args, idem)
                return _position(r[1:])
            except Conflict:  # a waiting order changed since read: read them again
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _fill_args(self, inbound_id: str, qty: int, days: Mapping[str, str] | None) -> list[Arg]:
        """The units waiting on the inbound as read, and the backorders a receipt of qty
        fills, oldest first, as receive_inbound.lua takes them (computed by
        lifecycle.fill_in_turn on the orders as read; the script writes them only if
        neither changed)."""
        seen = int(cast(str | None, self._r.hget(self.key("bosum"), inbound_id)) or 0)
        waiting = cast(list[str], self._r.zrange(self.key(f"bo:{inbound_id}"), 0, -1))
        fills = lifecycle.fill_in_turn(waiting, self.get_order, inbound_id, qty)
        out: list[Arg] = [seen, len(fills)]
        for order, after, effects in fills:
            filled = effects.fill[0]
            still = sum(b.qty for b in after.backordered if b.inbound == inbound_id)
            out += [order.id, order.version, after.state.value, _units_json(after.allocations),
                    _dumps(list(after.released_nodes)),
                    _dumps(lifecycle.backorders_data(after.backordered)),
                    filled.node, filled.sku, filled.qty, still, len(effects.events)]  # fmt: skip
            for type_, data in effects.events:
                out += [type_, _dumps(data)]
            caps = self._fill_charges(order, after, days)
            out.append(len(caps))
            for c in caps:
                out += list(c)
            terms = index_terms(after)
            out += [len(terms), *terms, _dumps(resources.order(after))]
        return out

    def _fill_charges(
        self, before: OrderRecord, after: OrderRecord, days: Mapping[str, str] | None
    ) -> list[tuple[str, str, int, int, int, int]]:
        """Capacity charges of a filled backorder: (node, day, shipments delta, units delta,
        shipments, units) per node whose charge changes (the script checks the order's
        version, so the charges read here are the ones it has)."""
        charged = cast(dict[str, str], self._r.hgetall(self.key(f"ocap:{before.id}")))
        today = utc_day(time.time())
        out = []
        for node, units in lifecycle.node_units(after).items():
            day, s0, u0 = charged[node].split("|") if node in charged else ("", "0", "0")
            ships = 1 if units else 0
            ds, du = ships - int(s0), units - int(u0)
            if ds or du:
                out.append((node, day or (days or {}).get(node) or today, ds, du, ships, units))
        return out

    # --- stock sync (stock_sync.py; lua/count_stock.lua, lua/adjust_stock_many.lua)

    def count_stock(
        self, counts: Sequence[StockCount], reason: str, idem: IdempotencyKey | None = None
    ) -> tuple[Position, ...]:
        check_counts(counts, MAX_QTY)
        args: list[Arg] = [reason, MAX_AHEAD_S, len(counts)]
        for c in counts:
            _check_id(c.node, "node")
            _check_id(c.sku, "sku")
            if c.source:
                _check_id(c.source, "source")
            args += [c.node, c.sku, c.on_hand, _blank(c.safety_stock), _blank(c.as_of),
                     c.source or "", _blank(c.sequence)]  # fmt: skip
        try:
            r = self._run("count_stock", args, idem)
        except _EntriesReply as refused:
            now = self.now()
            problems = []
            for i, kind, last_t, last_seq in refused.rows:
                last = (
                    LastCount(float(last_t), int(last_seq) if last_seq else None)
                    if last_t
                    else None
                )
                problems.append(count_problem(i, counts[i], kind, last, now))
            raise EntriesRefused("counts", problems) from None
        return _positions(r[1:])

    def adjust_stock_many(
        self, adjustments: Sequence[StockAdjustment], idem: IdempotencyKey | None = None
    ) -> tuple[Position, ...]:
        check_adjustments(adjustments, MAX_QTY)
        args: list[Arg] = [len(adjustments)]
        for a in adjustments:
            _check_id(a.node, "node")
            _check_id(a.sku, "sku")
            args += [a.node, a.sku, a.delta, a.reason]
        try:
            r = self._run("adjust_stock_many", args, idem)
        except _EntriesReply as refused:
            problems = [below_zero(i, adjustments[i], oh) for i, oh in refused.rows]
            raise EntriesRefused("adjustments", problems) from None
        return _positions(r[1:])

    def put_setting(
        self, name: str, value: dict[str, Any], expected_version: int | None = None
    ) -> int:
        _check_id(name, "setting")
        if name.startswith("v:"):
            raise Invalid(f"setting {name!r}: a name may not start with 'v:'")
        expected = "" if expected_version is None else str(int(expected_version))
        return int(self._run("put_setting", [name, _dumps(value), expected])[1])

    def get_setting(self, name: str) -> Setting | None:
        raw, version = cast(
            list[str | None], self._r.hmget(self.key("settings"), name, f"v:{name}")
        )
        if raw is None:
            return None
        return Setting(dict(json.loads(raw)), int(version or 1))

    def get_inbound(self, inbound_id: str) -> Inbound:
        raw = cast(str | None, self._r.hget(self.key("inbound"), inbound_id))
        if raw is None:
            raise NotFound(f"inbound {inbound_id}: unknown, or received in full already")
        promised = cast(str | None, self._r.hget(self.key("bosum"), inbound_id))
        return _inbound(json.loads(raw), int(promised or 0))

    def list_inbound(self, skus: Sequence[str]) -> list[Inbound]:
        ids: list[str] = []
        for sku in dict.fromkeys(skus):
            ids += sorted(cast(set[str], self._r.smembers(self.key(f"inb:{sku}"))))
        if not ids:
            return []
        raw = cast(list[str | None], self._r.hmget(self.key("inbound"), ids))
        promised = cast(list[str | None], self._r.hmget(self.key("bosum"), ids))
        found = [
            _inbound(json.loads(r), int(p or 0))
            for r, p in zip(raw, promised, strict=True)
            if r is not None
        ]
        return sorted(found, key=lambda b: (b.expected_at, b.id))

    # checkout holds

    def reserve(
        self,
        reservation_id: str,
        cart: str,
        units: Sequence[Unit],
        ttl_s: float,
        idem: IdempotencyKey | None = None,
        *,
        document: dict[str, Any] | None = None,
    ) -> Reservation:
        _check_id(reservation_id, "reservation id")
        lifecycle.check_units(units, f"reservation {reservation_id}")
        if not units:
            raise Invalid(f"reservation {reservation_id}: expected at least one line")
        if not ttl_s > 0:
            raise Invalid(f"ttl_s must be positive, got {ttl_s!r}")
        args = [reservation_id, cart, repr(float(ttl_s)), _dumps(document or {}),
                *_units_args(units)]  # fmt: skip
        r = self._run("reserve", args, idem)
        return _reservation(float(r[0]), {"id": reservation_id, **_pairs(r[1:])})

    def get_reservation(self, reservation_id: str) -> Reservation:
        r = self._read("get_reservation", [reservation_id])
        return _reservation(float(r[0]), {"id": reservation_id, **_pairs(r[1:])})

    def release_reservation(
        self, reservation_id: str, idem: IdempotencyKey | None = None
    ) -> Reservation:
        r = self._run("release_reservation", [reservation_id], idem)
        return _reservation(float(r[0]), {"id": reservation_id, **_pairs(r[1:])})

    def commit_reservation(
        self,
        hold: Reservation,
        order_id: str,
        document: dict[str, Any],
        idem: IdempotencyKey | None = None,
        *,
        days: Mapping[str, str] | None = None,
    ) -> OrderRecord:
        _check_id(order_id, "order id")
        lifecycle.check_active(hold, "commit")  # the script checks again, atomically
        order, effects = lifecycle.create(
            order_id, sku_totals(hold.units), hold.units, document, 0.0, hold.id
        )
        return self._write_order(order, effects, 0, idem, hold=hold.id, days=days)

    def expire_reservations(self, limit: int = 1000) -> int:
        if limit <= 0:
            return 0
        return int(self._run("expire_reservations", [limit])[1])

    # orders

    def create_order(
        self,
        order_id: str,
        lines: dict[str, int],
        allocations: Sequence[Unit],
        document: dict[str, Any],
        idem: IdempotencyKey | None = None,
        *,
        days: Mapping[str, str] | None = None,
        backorders: Sequence[Backorder] = (),
    ) -> OrderRecord:
        _check_id(order_id, "order id")
        order, effects = lifecycle.create(
            order_id, lines, allocations, document, 0.0, backorders=backorders
        )
        return self._write_order(order, effects, 0, idem, days=days)

    def _write_order(
        self,
        order: OrderRecord,
        effects: Effects,
        expected_version: int,
        idem: IdempotencyKey | None,
        hold: str = "",
        days: Mapping[str, str] | None = None,
    ) -> OrderRecord:
        """Write an order as lifecycle computed it, if it is still at expected_version (0:
        if it does not exist yet); the store's clock stamps it."""
        args: list[Arg] = [
            order.id, expected_version, hold, order.state.value, _dumps(order.lines),
            _units_json(order.allocations), _units_json(order.shipped),
            _units_json(order.returned), _dumps(list(order.released_nodes)),
            _dumps(order.document), "" if expected_version == 0 else repr(order.created_at),
        ]  # fmt: skip
        for units in (effects.allocate, effects.free, effects.ship, effects.restock):
            args += _units_args(units)
        args.append(len(effects.events))
        for type_, data in effects.events:
            args += [type_, _dumps(data)]
        held = lifecycle.node_units(order)
        today = utc_day(time.time())  # a node without a day given: its UTC date
        args.append(len(held))
        for node in held:
            args += [node, (days or {}).get(node) or today]
        args.append(_dumps(lifecycle.backorders_data(order.backordered)))
        args += _promise_args(order, effects)
        terms = index_terms(order)
        args += [len(terms), *terms, _dumps(resources.order(order))]
        r = self._run("write_order", args, idem)
        return _order(order.id, _pairs(r[1:]))

    def get_order(self, order_id: str) -> OrderRecord:
        h = cast(dict[str, str], self._r.hgetall(self.key(f"order:{order_id}")))
        if not h:
            raise NotFound(f"order {order_id} not found")
        return _order(order_id, h)

    def get_orders(self, order_ids: Sequence[str]) -> list[OrderRecord]:
        pipe = self._r.pipeline(transaction=False)
        for order_id in order_ids:
            pipe.hgetall(self.key(f"order:{order_id}"))
        found = cast(list[dict[str, str]], pipe.execute()) if order_ids else []
        return [_order(i, h) for i, h in zip(order_ids, found, strict=True) if h]

    def search_orders(self, query: OrderQuery) -> OrderPage:
        upper = query.upper()
        terms = query.ordered_terms()
        args: list[Arg] = [
            query.limit, MAX_SCAN,
            "-inf" if query.created_from is None else repr(query.created_from),
            "" if upper is None else repr(upper[0]), "" if upper is None else upper[1],
            len(terms), *terms,
        ]  # fmt: skip
        r = self._read("search_orders", args)
        more, n = r[1] == "1", int(r[4])
        orders, k = [], 5
        for _ in range(n):
            order_id, size = r[k], int(r[k + 1])
            orders.append(_order(order_id, _pairs(r[k + 2 : k + 2 + size])))
            k += 2 + size
        return OrderPage(orders, (float(r[2]), r[3]) if more else None)

    def capacity_used(self, days: Mapping[str, str]) -> dict[str, tuple[int, int]]:
        by_day: dict[str, list[str]] = {}
        for node, day in days.items():
            by_day.setdefault(day, []).append(node)
        out: dict[str, tuple[int, int]] = {}
        for day, nodes in sorted(by_day.items()):
            fields = [f"{k}:{n}" for n in nodes for k in ("s", "u")]
            found = cast(list[str | None], self._r.hmget(self.key(f"cap:{day}"), fields))
            for k, node in enumerate(nodes):
                used = (int(found[2 * k] or 0), int(found[2 * k + 1] or 0))
                if any(used):
                    out[node] = used
        return out

    def order_history(self, order_id: str) -> list[Event]:
        # Orders are never deleted and their first events are written with them, so these
        # two reads need no transaction.
        if not self._r.exists(self.key(f"order:{order_id}")):
            raise NotFound(f"order {order_id} not found")
        raw = cast(list[str], self._r.lrange(self.key(f"hist:{order_id}"), 0, -1))
        return [_event(e) for e in raw]

    def transition(
        self,
        order_id: str,
        action: OrderAction,
        *,
        expected_version: int | None = None,
        node: str | None = None,
        units: Sequence[Unit] = (),
        new_allocations: Sequence[Unit] = (),
        restock: bool = True,
        document: dict[str, Any] | None = None,
        idem: IdempotencyKey | None = None,
        read: OrderRecord | None = None,
        days: Mapping[str, str] | None = None,
        parcel: tuple[str, str] | None = None,
        backorders: Sequence[Backorder] = (),
        returns: Sequence[ReturnLine] = (),
        at: str | None = None,
        why: Mapping[str, Any] | None = None,
    ) -> OrderRecord:
        step = Step(
            node, tuple(units), tuple(new_allocations), restock, parcel, tuple(backorders),
            tuple(returns), at, dict(why or {}),
        )  # fmt: skip
        for attempt in range(WRITE_ATTEMPTS):
            fresh = read is not None and attempt == 0 and read.id == order_id
            order = read if fresh and read is not None else self.get_order(order_id)
            lifecycle.check_allowed(order, action)
            lifecycle.check_version(order, expected_version)
            after, effects = lifecycle.apply(order, action, step)
            if document is not None:
                after = replace(after, document=document)
            try:
                return self._write_order(after, effects, order.version, idem, days=days)
            except Conflict:
                # changed since read: a caller that named no version gets the step applied
                # to the order as it is now, if the state machine still allows it
                if expected_version is not None or attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def pickups_waiting(self, before: float, limit: int = 1000) -> list[str]:
        if limit <= 0:
            return []
        found = self._r.zrangebyscore(self.key("ready"), "-inf", f"({before!r}", 0, limit)
        return list(cast(list[str], found))

    # transfers between nodes

    def create_transfer(
        self,
        transfer_id: str,
        source: str,
        destination: str,
        lines: Mapping[str, int],
        idem: IdempotencyKey | None = None,
        *,
        expected_at: float | None = None,
        document: dict[str, Any] | None = None,
    ) -> TransferRecord:
        _check_id(transfer_id, "transfer id")
        t, effects = lifecycle.create_transfer(
            transfer_id, source, destination, lines, expected_at, document or {}, 0.0
        )
        return self._write_transfer(t, effects, 0, idem)

    def get_transfer(self, transfer_id: str) -> TransferRecord:
        h = cast(dict[str, str], self._r.hgetall(self.key(f"transfer:{transfer_id}")))
        if not h:
            raise NotFound(f"transfer {transfer_id} not found")
        return _transfer(h)

    def transfer_step(
        self,
        transfer_id: str,
        action: TransferAction,
        step: TransferStep | None = None,
        idem: IdempotencyKey | None = None,
        *,
        expected_version: int | None = None,
    ) -> TransferRecord:
        if idem is not None and (done := self.idempotent_reply(idem.key)) is not None:
            # a completed step replays before the transfer it moved on is judged again
            if done.request_hash != idem.request_hash:
                raise IdempotencyMismatch(
                    f"idempotency key {idem.key} was used before with another request"
                )
            raise Replayed(done.result)
        for attempt in range(WRITE_ATTEMPTS):
            t = self.get_transfer(transfer_id)
            if expected_version is not None and expected_version != t.version:
                raise Conflict(
                    f"transfer {transfer_id}: version is {t.version}, not {expected_version}",
                    current_state=str(t.state),
                )
            after, effects = lifecycle.apply_transfer(t, action, step or TransferStep())
            try:
                return self._write_transfer(after, effects, t.version, idem)
            except Conflict:  # changed since read: computed again on what it is now
                if expected_version is not None or attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _write_transfer(
        self,
        t: TransferRecord,
        effects: TransferEffects,
        expected_version: int,
        idem: IdempotencyKey | None,
    ) -> TransferRecord:
        """Write a transfer as lifecycle computed it, if still at expected_version (0: if it
        does not exist yet); the store's clock stamps it."""
        # expected_at as text: Lua's cjson would round it (as for add_inbound)
        at = None if t.expected_at is None else repr(t.expected_at)
        rec = {"id": t.id, "source": t.source, "destination": t.destination, "lines": t.lines,
               "received": t.received, "state": t.state.value, "expected_at": at,
               "document": t.document}  # fmt: skip
        args: list[Arg] = [t.id, expected_version, _dumps(rec), at or ""]
        for units in (effects.reserve, effects.free, effects.ship, effects.in_transit,
                      effects.receive):  # fmt: skip
            args += _units_args(units)
        args.append(len(effects.events))
        for type_, data in effects.events:
            args += [type_, _dumps(data)]
        args.append(_dumps(resources.transfer(t)))
        r = self._run("write_transfer", args, idem)
        return _transfer(_pairs(r[1:]))

    # events and idempotency

    def events(self, after: int, limit: int = 100) -> list[Event]:
        if limit <= 0:
            return []
        raw = cast(
            list[str],
            self._r.zrangebyscore(self.key("events"), f"({int(after)}", "+inf", 0, limit),
        )
        return [_event(e) for e in raw]

    def idempotent_reply(self, key: str) -> IdempotentReply | None:
        found = cast(
            list[str | None], self._r.hmget(self.key(f"idem:{key}"), "state", "hash", "result")
        )
        if found[0] != "done" or found[1] is None or found[2] is None:
            return None
        return IdempotentReply(found[1], _result(found[2]))

    def claim_idempotency_key(self, key: str, request_hash: str, lease_s: float) -> Result | None:
        _check_id(key, "idempotency key")
        if not lease_s > 0:
            raise Invalid(f"lease_s must be positive, got {lease_s!r}")
        r = self._read("claim_idempotency", [key, request_hash, repr(float(lease_s))])
        return _result(r[2]) if r[1] == "done" else None

    def release_idempotency_key(self, key: str) -> None:
        _check_id(key, "idempotency key")
        self._read("release_idempotency", [key])

    # API keys

    def create_api_key(
        self, key_id: str, name: str, secret_hash: str, scopes: Sequence[str]
    ) -> ApiKey:
        _check_id(key_id, "API key id")
        r = self._read("api_key", ["create", key_id, name, secret_hash, json.dumps(list(scopes))])
        return _api_key(key_id, r[1])[0]

    def find_api_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        raw = cast(str | None, self._r.hget(self.key("apikeys"), key_id))
        return None if raw is None else _api_key(key_id, raw)

    def list_api_keys(self) -> list[ApiKey]:
        raw = cast(dict[str, str], self._r.hgetall(self.key("apikeys")))
        keys = [_api_key(k, v)[0] for k, v in raw.items()]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    def revoke_api_key(self, key_id: str) -> None:
        self._read("api_key", ["revoke", key_id, LAST_ADMIN.format(key_id=key_id)])

    def create_webhook(self, webhook: Webhook) -> Webhook:
        _check_id(webhook.id, "webhook id")
        types = json.dumps(list(webhook.event_types))
        r = self._run("webhook", ["create", webhook.id, webhook.url, types, webhook.secret])
        return Webhook(webhook.id, webhook.url, webhook.event_types, webhook.secret, float(r[0]))

    def list_webhooks(self) -> list[Webhook]:
        raw = cast(dict[str, str], self._r.hgetall(self.key("webhooks")))
        found = [_webhook(k, v) for k, v in raw.items()]
        return sorted(found, key=lambda w: (w.created_at, w.id))

    def get_webhook(self, webhook_id: str) -> Webhook:
        raw = cast(str | None, self._r.hget(self.key("webhooks"), webhook_id))
        if raw is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return _webhook(webhook_id, raw)

    def delete_webhook(self, webhook_id: str) -> None:
        self._run("webhook", ["delete", webhook_id])

    def webhook_progress(self, webhook_id: str) -> dict[str, Any] | None:
        raw = cast(str | None, self._r.get(self.key(f"whprog:{webhook_id}")))
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    def save_webhook_progress(
        self, webhook_id: str, progress: dict[str, Any], failure: dict[str, Any] | None = None
    ) -> None:
        failed = "" if failure is None else _dumps(failure)
        self._run("webhook", ["save", webhook_id, _dumps(progress), failed])

    def add_webhook_replay(self, webhook_id: str, after: int, through: int) -> int:
        return int(self._run("webhook", ["replay", webhook_id, int(after), int(through)])[1])

    def webhook_replays(self, webhook_id: str, start: int) -> list[tuple[int, int]]:
        raw = cast(list[str], self._r.lrange(self.key(f"whrep:{webhook_id}"), start, -1))
        return [(int(a), int(t)) for a, t in (r.split(",") for r in raw)]

    def webhook_failures(self, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        raw = cast(list[str], self._r.lrange(self.key(f"whfail:{webhook_id}"), 0, limit - 1))
        return [json.loads(r) for r in raw]

    # --- background jobs (one string per job: its document, written whole)

    def save_job(self, job_id: str, document: dict[str, Any]) -> None:
        self._r.set(self.key(f"job:{job_id}"), _dumps(document))

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        raw = cast(str | None, self._r.get(self.key(f"job:{job_id}")))
        return None if raw is None else cast(dict[str, Any], json.loads(raw))

    def acquire_lease(self, name: str, holder: str, lease_s: float) -> bool:
        _check_id(name, "lease name")
        if not lease_s > 0:
            raise Invalid(f"lease_s must be positive, got {lease_s!r}")
        return self._read("lease", ["acquire", name, holder, repr(float(lease_s))])[1] == "held"

    def release_lease(self, name: str, holder: str) -> None:
        _check_id(name, "lease name")
        self._read("lease", ["release", name, holder, "0"])

    def ping(self) -> bool:
        """The server answers within PING_TIMEOUT_S (its own connection, so a readiness
        probe never waits behind the calls' long timeout)."""
        try:
            return bool(self._probe.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._r.close()
        self._probe.close()


def _when_unreachable(method: Callable[..., R]) -> Callable[..., R]:
    """The store's method, with a server that cannot answer now reported as StoreUnavailable
    (a request the caller may retry) instead of the client library's error."""

    @wraps(method)
    def call(self: "RedisStore", *args: Any, **kwargs: Any) -> R:
        try:
            return method(self, *args, **kwargs)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(
                f"Redis ({self.where}) cannot be reached: {str(exc).rstrip('.')}"
            ) from exc
        except redis.ResponseError as exc:
            if str(exc).startswith(_UNAVAILABLE_REPLIES):
                raise StoreUnavailable(f"Redis ({self.where}) cannot serve now: {exc}") from exc
            raise

    return call


# Every operation of the Store protocol (ping answers False instead, close needs no server).
for _name in (
    "now", "upsert_nodes", "list_nodes", "upsert_items", "get_items", "set_stock",
    "adjust_stock", "positions", "add_inbound", "list_inbound", "receive_inbound",
    "put_setting", "get_setting", "reserve", "get_reservation",
    "release_reservation", "commit_reservation", "expire_reservations", "create_order",
    "get_order", "order_history", "capacity_used", "transition", "events", "idempotent_reply",
    "claim_idempotency_key", "release_idempotency_key", "create_api_key", "find_api_key",
    "list_api_keys", "revoke_api_key", "create_webhook", "list_webhooks", "get_webhook",
    "delete_webhook", "webhook_progress", "save_webhook_progress", "add_webhook_replay",
    "webhook_replays", "webhook_failures", "get_orders",
    "create_transfer", "get_transfer", "transfer_step", "pickups_waiting", "count_stock",
    "adjust_stock_many",
):  # fmt: skip
    setattr(RedisStore, _name, _when_unreachable(getattr(RedisStore, _name)))
