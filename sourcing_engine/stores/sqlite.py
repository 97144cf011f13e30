"""The embedded ledger store: one SQLite file, WAL, synchronous=FULL, writes in BEGIN IMMEDIATE.

Every mutating call is one `BEGIN IMMEDIATE` transaction (the database write lock), so its
checks and effects see no other writer in between; threads of one process queue on a lock
first, and processes on an exclusive `flock` of `<database>.lock` (where available), so
that no writer busy-polls: SQLite's own busy handler, still there behind them, waits in
naps of up to 100 ms, which with several API worker processes cost more throughput than it
left and p99 latencies of a second. Each thread has its own connection. Reads run in one
deferred transaction, a consistent WAL snapshot.

`reserved` is never stored: it is summed from the active hold lines whose `expires_at` is
still in the future, so an expired hold counts for nothing whether or not the reaper ran.
"""

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sourcing_engine.ledger import (
    ALLOWED_FROM,
    ApiKey,
    Conflict,
    Event,
    HoldState,
    Idempotency,
    IdempotencyInFlight,
    IdempotencyMismatch,
    IdempotentReply,
    Inbound,
    InsufficientStock,
    Invalid,
    ItemRecord,
    NodeRecord,
    NotFound,
    OrderAction,
    OrderRecord,
    OrderState,
    Position,
    Reservation,
    Shortage,
    Unit,
    hold_state_at,
)

UnitMap = dict[tuple[str, str], int]  # (node, sku) -> qty, in order of first appearance

IDEMPOTENCY_RETENTION_S = 24 * 3600.0
PURGE_BATCH = 100  # replies purged per write, so purging never makes one write slow

SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    ship_capacity INTEGER, unit_capacity INTEGER, handling_per_shipment REAL NOT NULL,
    handling_per_unit REAL NOT NULL, ship_enabled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    sku TEXT PRIMARY KEY, weight_lb REAL NOT NULL, dims TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    node TEXT NOT NULL, sku TEXT NOT NULL,
    on_hand INTEGER NOT NULL CHECK (on_hand >= 0),
    safety_stock INTEGER NOT NULL CHECK (safety_stock >= 0),
    allocated INTEGER NOT NULL DEFAULT 0 CHECK (allocated >= 0),
    PRIMARY KEY (node, sku)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS positions_sku ON positions (sku, node);
CREATE TABLE IF NOT EXISTS inbound (
    id TEXT PRIMARY KEY, node TEXT NOT NULL, sku TEXT NOT NULL, qty INTEGER NOT NULL,
    expected_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS inbound_sku ON inbound (sku);
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY, cart TEXT NOT NULL, created_at REAL NOT NULL,
    expires_at REAL NOT NULL, state TEXT NOT NULL, order_id TEXT);
CREATE INDEX IF NOT EXISTS holds_active ON holds (expires_at) WHERE state = 'active';
CREATE TABLE IF NOT EXISTS hold_lines (
    hold_id TEXT NOT NULL, node TEXT NOT NULL, sku TEXT NOT NULL,
    qty INTEGER NOT NULL CHECK (qty > 0), expires_at REAL NOT NULL, active INTEGER NOT NULL,
    PRIMARY KEY (hold_id, node, sku)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS hold_lines_position
    ON hold_lines (node, sku, expires_at) WHERE active = 1;
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, lines TEXT NOT NULL, allocations TEXT NOT NULL,
    shipped TEXT NOT NULL, returned TEXT NOT NULL, released_nodes TEXT NOT NULL,
    version INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, type TEXT NOT NULL,
    subject TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_subject ON events (subject, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, status INTEGER, body TEXT,
    lease_until REAL NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL, scopes TEXT NOT NULL,
    created_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
"""

# --- pure helpers ---------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _check_units(units: Iterable[Unit], what: str) -> None:
    for u in units:
        if not (isinstance(u.qty, int) and u.qty >= 1 and u.node and u.sku):
            raise Invalid(f"{what}: {u.qty} of {u.sku!r} at {u.node!r}; expected qty >= 1")


def _merge(units: Iterable[Unit]) -> UnitMap:
    """Sum lines for the same (node, sku), keeping the order of first appearance."""
    merged: UnitMap = {}
    for u in units:
        merged[(u.node, u.sku)] = merged.get((u.node, u.sku), 0) + u.qty
    return merged


def _units(m: UnitMap) -> tuple[Unit, ...]:
    return tuple(Unit(n, s, q) for (n, s), q in sorted(m.items()) if q > 0)


def _per_sku(m: UnitMap) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_, sku), qty in m.items():
        out[sku] = out.get(sku, 0) + qty
    return out


def _units_json(m: UnitMap) -> list[dict[str, Any]]:
    return [{"node": u.node, "sku": u.sku, "qty": u.qty} for u in _units(m)]


def _map_from_json(text: str) -> UnitMap:
    return {(n, s): q for n, s, q in json.loads(text)}


def _map_to_json(m: UnitMap) -> str:
    return _dumps([[u.node, u.sku, u.qty] for u in _units(m)])


def _subtract(have: UnitMap, take: UnitMap, what: str, state: OrderState) -> None:
    """have -= take; Conflict (with the order's state) if it does not hold those units."""
    for key, qty in take.items():
        if have.get(key, 0) < qty:
            raise Conflict(
                f"{what}: {qty} of {key[1]} at {key[0]} but the order has {have.get(key, 0)}",
                current_state=state.value,
            )
    for key, qty in take.items():
        have[key] -= qty
        if have[key] == 0:
            del have[key]


def _add(have: UnitMap, add: UnitMap) -> None:
    for key, qty in add.items():
        have[key] = have.get(key, 0) + qty


# --- orders as rows -------------------------------------------------------------------------


@dataclass
class _Order:
    id: str
    state: OrderState
    lines: dict[str, int]
    allocations: UnitMap
    shipped: UnitMap
    returned: UnitMap
    released_nodes: list[str]
    version: int
    created_at: float
    updated_at: float
    document: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "_Order":
        return cls(
            id=row["id"],
            state=OrderState(row["state"]),
            lines=json.loads(row["lines"]),
            allocations=_map_from_json(row["allocations"]),
            shipped=_map_from_json(row["shipped"]),
            returned=_map_from_json(row["returned"]),
            released_nodes=json.loads(row["released_nodes"]),
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            document=json.loads(row["document"]),
        )

    def record(self) -> OrderRecord:
        return OrderRecord(
            id=self.id,
            state=self.state,
            lines=dict(sorted(self.lines.items())),
            allocations=_units(self.allocations),
            shipped=_units(self.shipped),
            returned=_units(self.returned),
            released_nodes=tuple(self.released_nodes),
            version=self.version,
            created_at=self.created_at,
            updated_at=self.updated_at,
            document=self.document,
        )

    def take_lines(self, m: UnitMap) -> None:
        """Units leave the order (cancelled, unfillable)."""
        for sku, qty in _per_sku(m).items():
            self.lines[sku] -= qty
            if self.lines[sku] == 0:
                del self.lines[sku]

    def settle(self) -> None:
        """The state after units left the order or shipped (docs/service.md, "Orders")."""
        if not self.allocations:
            self.state = OrderState.SHIPPED if self.shipped else OrderState.CANCELLED
        elif self.shipped:
            self.state = OrderState.PARTIALLY_SHIPPED

    def conflict(self, message: str) -> Conflict:
        return Conflict(f"order {self.id}: {message}", current_state=self.state.value)


# --- the transaction ------------------------------------------------------------------------


@dataclass
class _Tx:
    """One open transaction and the store clock's reading at its start."""

    conn: sqlite3.Connection
    now: float

    def emit(self, type_: str, subject: str, data: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO events (at, type, subject, data) VALUES (?, ?, ?, ?)",
            (self.now, type_, subject, _dumps(data)),
        )

    def position(self, node: str, sku: str) -> Position:
        row = self.conn.execute(
            POSITION_SQL + " WHERE p.node = ? AND p.sku = ?", (self.now, node, sku)
        ).fetchone()
        return _position(row) if row else Position(node, sku, 0, 0, 0, 0)

    def check_available(self, need: UnitMap) -> None:
        """InsufficientStock with every short (node, sku) line, or nothing."""
        shortages = []
        for (node, sku), qty in need.items():
            available = self.position(node, sku).available
            if qty > available:
                shortages.append(Shortage(sku, (node,), qty, available))
        if shortages:
            raise InsufficientStock(shortages)

    def add_allocated(self, m: UnitMap, sign: int) -> None:
        self.conn.executemany(
            "UPDATE positions SET allocated = allocated + ? WHERE node = ? AND sku = ?",
            [(sign * q, n, s) for (n, s), q in m.items()],
        )

    def add_on_hand(self, m: UnitMap, sign: int) -> None:
        # max(0, ...): a shipment from a position a snapshot left oversold never goes negative
        self.conn.executemany(
            "UPDATE positions SET on_hand = max(0, on_hand + ?) WHERE node = ? AND sku = ?",
            [(sign * q, n, s) for (n, s), q in m.items()],
        )

    def load_order(self, order_id: str) -> _Order:
        row = self.conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is None:
            raise NotFound(f"order {order_id} not found")
        return _Order.from_row(row)

    def save_order(self, o: _Order, insert: bool) -> None:
        verb = "INSERT" if insert else "REPLACE"
        self.conn.execute(
            f"{verb} INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                o.id,
                o.state.value,
                _dumps(o.lines),
                _map_to_json(o.allocations),
                _map_to_json(o.shipped),
                _map_to_json(o.returned),
                _dumps(o.released_nodes),
                o.version,
                o.created_at,
                o.updated_at,
                _dumps(o.document),
            ),
        )
        for type_, data in o.events:
            self.emit(type_, o.id, {**data, "state": o.state.value, "version": o.version})
        o.events.clear()


POSITION_SQL = """
SELECT p.node, p.sku, p.on_hand, p.safety_stock, p.allocated,
       (SELECT COALESCE(SUM(h.qty), 0) FROM hold_lines h
         WHERE h.node = p.node AND h.sku = p.sku AND h.active = 1 AND h.expires_at > ?)
FROM positions p"""


def _position(row: sqlite3.Row) -> Position:
    node, sku, on_hand, safety, allocated, reserved = tuple(row)
    return Position(node, sku, on_hand, safety, reserved, allocated)


# --- the store ------------------------------------------------------------------------------


class SqliteStore:
    """The embedded `ledger.Store` on one SQLite file (created, with its directory, if new)."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_s: float = 60.0,
        idempotency_retention_s: float = IDEMPOTENCY_RETENTION_S,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._retention_s = idempotency_retention_s
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._process_lock = _ProcessLock(self.path.with_name(self.path.name + ".lock"))
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- connections and transactions

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():  # never one from before a fork
            return conn
        if self._closed:
            raise RuntimeError(f"store {self.path} is closed")
        # isolation_level=None: we issue BEGIN/COMMIT ourselves; check_same_thread=False only
        # so that close() may close every thread's connection (each is used by one thread).
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=self._busy_timeout_ms / 1000,
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    @contextmanager
    def _write(self, idem: Idempotency | None = None, durable: bool = True) -> Iterator[_Tx]:
        """BEGIN IMMEDIATE ... COMMIT, with the idempotency reply written inside it.

        durable=False commits without waiting for the disk (synchronous=NORMAL: the WAL is
        written, fsynced by the next durable commit), for writes whose loss in a power cut
        is harmless: idempotency claims and their release. It saves an fsync under the
        write lock, a third of a millisecond here, twice per keyed call."""
        with self._write_lock, self._process_lock.held():
            conn = self._conn()
            if not durable:
                conn.execute("PRAGMA synchronous = NORMAL")
            try:
                with self._transaction(conn, idem) as tx:
                    yield tx
            finally:
                if not durable:
                    conn.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection, idem: Idempotency | None) -> Iterator[_Tx]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            tx = _Tx(conn, time.time())  # read after the lock: expiry is judged now
            if idem is not None:
                self._check_key_unused(tx, idem)
            yield tx
            if idem is not None:
                self._store_reply(tx, idem)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # also after a failed COMMIT (I/O error, disk full)
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _read(self) -> Iterator[_Tx]:
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield _Tx(conn, time.time())
        finally:
            conn.execute("COMMIT")

    def now(self) -> float:
        return time.time()

    # --- network and stock

    def upsert_nodes(self, nodes: Sequence[NodeRecord]) -> None:
        with self._write() as tx:
            tx.conn.executemany(
                "REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        n.id,
                        n.kind,
                        n.lat,
                        n.lon,
                        n.ship_capacity,
                        n.unit_capacity,
                        n.handling_per_shipment,
                        n.handling_per_unit,
                        int(n.ship_enabled),
                    )
                    for n in nodes
                ],
            )

    def list_nodes(self) -> list[NodeRecord]:
        with self._read() as tx:
            rows = tx.conn.execute("SELECT * FROM nodes ORDER BY id").fetchall()
        return [
            NodeRecord(
                r["id"],
                r["kind"],
                r["lat"],
                r["lon"],
                r["ship_capacity"],
                r["unit_capacity"],
                r["handling_per_shipment"],
                r["handling_per_unit"],
                bool(r["ship_enabled"]),
            )
            for r in rows
        ]

    def upsert_items(self, items: Sequence[ItemRecord]) -> None:
        with self._write() as tx:
            tx.conn.executemany(
                "REPLACE INTO items VALUES (?, ?, ?)",
                [(i.sku, i.weight_lb, _dumps(list(i.dims_in))) for i in items],
            )

    def get_items(self, skus: Sequence[str]) -> dict[str, ItemRecord]:
        with self._read() as tx:
            rows = tx.conn.execute(
                "SELECT * FROM items WHERE sku IN (SELECT value FROM json_each(?))",
                (_dumps(list(skus)),),
            ).fetchall()
        return {
            r["sku"]: ItemRecord(r["sku"], r["weight_lb"], tuple(json.loads(r["dims"])))
            for r in rows
        }

    def set_stock(self, node: str, counts: dict[str, tuple[int, int]], reason: str) -> None:
        for sku, (on_hand, safety) in counts.items():
            if (
                not (isinstance(on_hand, int) and isinstance(safety, int))
                or min(on_hand, safety) < 0
            ):
                raise Invalid(
                    f"stock of {sku} at {node}: on hand {on_hand}, safety stock "
                    f"{safety}; expected whole numbers >= 0"
                )
        with self._write() as tx:
            tx.conn.executemany(
                "INSERT INTO positions (node, sku, on_hand, safety_stock) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (node, sku) DO UPDATE"
                " SET on_hand = excluded.on_hand, safety_stock = excluded.safety_stock",
                [(node, sku, oh, ss) for sku, (oh, ss) in counts.items()],
            )
            data = {"reason": reason, "counts": {s: list(c) for s, c in counts.items()}}
            tx.emit("stock.snapshot", f"node:{node}", data)

    def adjust_stock(
        self, node: str, sku: str, delta: int, reason: str, idem: Idempotency | None = None
    ) -> Position:
        with self._write(idem) as tx:
            before = tx.position(node, sku)
            if before.on_hand + delta < 0:
                raise Invalid(
                    f"adjustment of {sku} at {node} by {delta}: on hand is "
                    f"{before.on_hand} and may not go below zero"
                )
            tx.conn.execute(
                "INSERT INTO positions (node, sku, on_hand, safety_stock) VALUES (?, ?, ?, 0)"
                " ON CONFLICT (node, sku) DO UPDATE SET on_hand = on_hand + ?",
                (node, sku, max(delta, 0), delta),
            )
            after = tx.position(node, sku)
            tx.emit(
                "stock.adjusted",
                f"stock:{node}/{sku}",
                {"delta": delta, "reason": reason, "on_hand": after.on_hand},
            )
            return after

    def positions(self, skus: Sequence[str], nodes: Sequence[str] | None = None) -> list[Position]:
        sql = POSITION_SQL + " WHERE p.sku IN (SELECT value FROM json_each(?))"
        params: list[Any] = [_dumps(list(skus))]
        if nodes is not None:
            sql += " AND p.node IN (SELECT value FROM json_each(?))"
            params.append(_dumps(list(nodes)))
        with self._read() as tx:
            params.insert(0, tx.now)
            rows = tx.conn.execute(sql + " ORDER BY p.sku, p.node", params).fetchall()
        return [_position(r) for r in rows]

    def add_inbound(self, inbound: Sequence[Inbound]) -> None:
        _check_units((Unit(i.node, i.sku, i.qty) for i in inbound), "inbound")
        with self._write() as tx:
            tx.conn.executemany(
                "REPLACE INTO inbound VALUES (?, ?, ?, ?, ?)",
                [(i.id, i.node, i.sku, i.qty, i.expected_at) for i in inbound],
            )

    def list_inbound(self, skus: Sequence[str]) -> list[Inbound]:
        with self._read() as tx:
            rows = tx.conn.execute(
                "SELECT * FROM inbound WHERE sku IN (SELECT value FROM json_each(?))"
                " ORDER BY expected_at, id",
                (_dumps(list(skus)),),
            ).fetchall()
        return [Inbound(r["id"], r["node"], r["sku"], r["qty"], r["expected_at"]) for r in rows]

    # --- checkout holds

    def reserve(
        self,
        reservation_id: str,
        cart: str,
        units: Sequence[Unit],
        ttl_s: float,
        idem: Idempotency | None = None,
    ) -> Reservation:
        _check_units(units, f"reservation {reservation_id}")
        if not units or not ttl_s > 0:
            raise Invalid(
                f"reservation {reservation_id}: expected at least one line and "
                f"a TTL > 0 s (got {len(units)} lines, TTL {ttl_s})"
            )
        need = _merge(units)
        with self._write(idem) as tx:
            if tx.conn.execute("SELECT 1 FROM holds WHERE id = ?", (reservation_id,)).fetchone():
                raise Conflict(f"reservation {reservation_id} already exists")
            tx.check_available(need)
            expires_at = tx.now + ttl_s
            tx.conn.execute(
                "INSERT INTO holds VALUES (?, ?, ?, ?, 'active', NULL)",
                (reservation_id, cart, tx.now, expires_at),
            )
            tx.conn.executemany(
                "INSERT INTO hold_lines VALUES (?, ?, ?, ?, ?, 1)",
                [(reservation_id, n, s, q, expires_at) for (n, s), q in need.items()],
            )
            tx.emit(
                "reservation.created",
                reservation_id,
                {"cart": cart, "units": _units_json(need), "expires_at": expires_at},
            )
            return self._reservation(tx, reservation_id)

    def get_reservation(self, reservation_id: str) -> Reservation:
        with self._read() as tx:
            return self._reservation(tx, reservation_id)

    def release_reservation(
        self, reservation_id: str, idem: Idempotency | None = None
    ) -> Reservation:
        with self._write(idem) as tx:
            self._end_hold(tx, self._active_hold(tx, reservation_id), HoldState.RELEASED)
            tx.emit("reservation.released", reservation_id, {})
            return self._reservation(tx, reservation_id)

    def commit_reservation(
        self,
        reservation_id: str,
        order_id: str,
        lines: dict[str, int],
        document: dict[str, Any],
        idem: Idempotency | None = None,
    ) -> OrderRecord:
        with self._write(idem) as tx:
            hold = self._active_hold(tx, reservation_id)
            units = {
                (r["node"], r["sku"]): r["qty"]
                for r in tx.conn.execute(
                    "SELECT node, sku, qty FROM hold_lines WHERE hold_id = ?", (reservation_id,)
                )
            }
            self._check_new_order(tx, order_id, lines, units)
            self._end_hold(tx, hold, HoldState.COMMITTED, order_id)
            tx.emit("reservation.committed", reservation_id, {"order_id": order_id})
            order = self._new_order(tx, order_id, lines, units, document, reservation_id)
            tx.save_order(order, insert=True)
            return order.record()

    def expire_reservations(self, limit: int = 1000) -> int:
        with self._read() as tx:  # the reaper runs often: take the write lock only if needed
            if not tx.conn.execute(
                "SELECT 1 FROM holds WHERE state = 'active' AND expires_at <= ? LIMIT 1",
                (tx.now,),
            ).fetchone():
                return 0
        with self._write() as tx:
            ids = [
                r[0]
                for r in tx.conn.execute(
                    "SELECT id FROM holds WHERE state = 'active' AND expires_at <= ?"
                    " ORDER BY expires_at LIMIT ?",
                    (tx.now, limit),
                )
            ]
            for hold_id in ids:
                tx.conn.execute("UPDATE holds SET state = 'expired' WHERE id = ?", (hold_id,))
                tx.conn.execute("UPDATE hold_lines SET active = 0 WHERE hold_id = ?", (hold_id,))
                tx.emit("reservation.expired", hold_id, {})
            return len(ids)

    def _reservation(self, tx: _Tx, reservation_id: str) -> Reservation:
        row = tx.conn.execute("SELECT * FROM holds WHERE id = ?", (reservation_id,)).fetchone()
        if row is None:
            raise NotFound(f"reservation {reservation_id} not found")
        lines = tx.conn.execute(
            "SELECT node, sku, qty FROM hold_lines WHERE hold_id = ? ORDER BY node, sku",
            (reservation_id,),
        ).fetchall()
        return Reservation(
            id=row["id"],
            cart=row["cart"],
            units=tuple(Unit(*r) for r in lines),
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            state=hold_state_at(row["state"], row["expires_at"], tx.now),
            order_id=row["order_id"],
        )

    def _active_hold(self, tx: _Tx, reservation_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = tx.conn.execute(
            "SELECT * FROM holds WHERE id = ?", (reservation_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"reservation {reservation_id} not found")
        state = hold_state_at(row["state"], row["expires_at"], tx.now)
        if state != HoldState.ACTIVE:
            raise Conflict(f"reservation {reservation_id} is {state.value}", state.value)
        return row

    def _end_hold(
        self, tx: _Tx, hold: sqlite3.Row, state: HoldState, order_id: str | None = None
    ) -> None:
        tx.conn.execute(
            "UPDATE holds SET state = ?, order_id = ? WHERE id = ?",
            (state.value, order_id, hold["id"]),
        )
        tx.conn.execute("UPDATE hold_lines SET active = 0 WHERE hold_id = ?", (hold["id"],))

    # --- orders

    def create_order(
        self,
        order_id: str,
        lines: dict[str, int],
        allocations: Sequence[Unit],
        document: dict[str, Any],
        idem: Idempotency | None = None,
    ) -> OrderRecord:
        _check_units(allocations, f"order {order_id}")
        need = _merge(allocations)
        with self._write(idem) as tx:
            self._check_new_order(tx, order_id, lines, need)
            tx.check_available(need)
            order = self._new_order(tx, order_id, lines, need, document)
            tx.save_order(order, insert=True)
            return order.record()

    def _check_new_order(self, tx: _Tx, order_id: str, lines: dict[str, int], m: UnitMap) -> None:
        if not m or dict(sorted(lines.items())) != dict(sorted(_per_sku(m).items())):
            raise Invalid(
                f"order {order_id}: lines {lines} must be the allocated units per SKU "
                f"{_per_sku(m)}, and not empty"
            )
        row = tx.conn.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is not None:
            raise Conflict(f"order {order_id} already exists", current_state=row["state"])

    def _new_order(
        self,
        tx: _Tx,
        order_id: str,
        lines: dict[str, int],
        m: UnitMap,
        document: dict[str, Any],
        reservation_id: str | None = None,
    ) -> _Order:
        tx.add_allocated(m, +1)
        order = _Order(
            order_id,
            OrderState.ALLOCATED,
            dict(lines),
            dict(m),
            {},
            {},
            [],
            1,
            tx.now,
            tx.now,
            document,
        )
        created = {"lines": dict(lines), "reservation_id": reservation_id}
        order.events += [("order.created", created), ("order.allocated", {"units": _units_json(m)})]
        return order

    def get_order(self, order_id: str) -> OrderRecord:
        with self._read() as tx:
            return tx.load_order(order_id).record()

    def order_history(self, order_id: str) -> list[Event]:
        with self._read() as tx:
            tx.load_order(order_id)
            rows = tx.conn.execute(
                "SELECT * FROM events WHERE subject = ? AND type LIKE 'order.%' ORDER BY seq",
                (order_id,),
            ).fetchall()
        return [_event(r) for r in rows]

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
        idem: Idempotency | None = None,
    ) -> OrderRecord:
        if action not in ALLOWED_FROM:
            raise Invalid(f"order {order_id}: unknown action {action!r}")
        _check_units(units, f"order {order_id} {action}")
        _check_units(new_allocations, f"order {order_id} {action} new allocations")
        step = _Step(node, _merge(units), _merge(new_allocations), restock)
        with self._write(idem) as tx:
            order = tx.load_order(order_id)
            if order.state not in ALLOWED_FROM[action]:
                raise order.conflict(f"cannot {action} an order that is {order.state.value}")
            if expected_version is not None and expected_version != order.version:
                raise order.conflict(f"version is {order.version}, not {expected_version}")
            HANDLERS[action](tx, order, step)
            order.version += 1
            order.updated_at = tx.now
            if document is not None:
                order.document = document
            tx.save_order(order, insert=False)
            return order.record()

    # --- events and idempotency

    def events(self, after: int, limit: int = 100) -> list[Event]:
        with self._read() as tx:
            rows = tx.conn.execute(
                "SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
        return [_event(r) for r in rows]

    def idempotent_reply(self, key: str) -> IdempotentReply | None:
        with self._read() as tx:
            row = tx.conn.execute(
                "SELECT * FROM idempotency WHERE key = ? AND status IS NOT NULL", (key,)
            ).fetchone()
        if row is None:
            return None
        return IdempotentReply(row["request_hash"], row["status"], json.loads(row["body"]))

    def claim_idempotency_key(self, key: str, request_hash: str, lease_s: float) -> bool:
        # a claim lost in a power cut only frees its key: the effect's commit is durable
        with self._write(durable=False) as tx:
            row = tx.conn.execute("SELECT * FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is not None and (row["status"] is not None or row["lease_until"] > tx.now):
                _check_same_request(row, key, request_hash)
                if row["status"] is not None:
                    return True  # completed with this request: the caller replays the reply
                raise IdempotencyInFlight(
                    f"a request with idempotency key {key!r} is still in flight; retry later"
                )
            tx.conn.execute(
                "REPLACE INTO idempotency VALUES (?, ?, NULL, NULL, ?, ?)",
                (key, request_hash, tx.now + lease_s, tx.now),
            )
            return False

    def release_idempotency_key(self, key: str) -> None:
        with self._write(durable=False) as tx:
            tx.conn.execute("DELETE FROM idempotency WHERE key = ? AND status IS NULL", (key,))

    def _check_key_unused(self, tx: _Tx, idem: Idempotency) -> None:
        """The effect runs at most once per key: refuse if the key completed or is leased to
        another request."""
        row = tx.conn.execute("SELECT * FROM idempotency WHERE key = ?", (idem.key,)).fetchone()
        if row is None or (row["status"] is None and row["lease_until"] <= tx.now):
            return
        _check_same_request(row, idem.key, idem.request_hash)
        if row["status"] is not None:
            raise IdempotencyInFlight(
                f"idempotency key {idem.key!r} already completed; replay its stored reply"
            )

    def _store_reply(self, tx: _Tx, idem: Idempotency) -> None:
        tx.conn.execute(
            "REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
            (idem.key, idem.request_hash, idem.status, _dumps(idem.body), tx.now, tx.now),
        )
        tx.conn.execute(
            "DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency"
            " WHERE created_at < ? AND (status IS NOT NULL OR lease_until < ?) LIMIT ?)",
            (tx.now - self._retention_s, tx.now, PURGE_BATCH),
        )

    # --- API keys

    def create_api_key(
        self, key_id: str, name: str, secret_hash: str, scopes: Sequence[str]
    ) -> ApiKey:
        with self._write() as tx:
            if tx.conn.execute("SELECT 1 FROM api_keys WHERE id = ?", (key_id,)).fetchone():
                raise Conflict(f"API key {key_id} already exists")
            tx.conn.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, 0)",
                (key_id, name, secret_hash, _dumps(list(scopes)), tx.now),
            )
            return ApiKey(key_id, name, tuple(scopes), tx.now)

    def find_api_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        with self._read() as tx:
            row = tx.conn.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        return None if row is None else (_api_key(row), row["secret_hash"])

    def list_api_keys(self) -> list[ApiKey]:
        with self._read() as tx:
            rows = tx.conn.execute("SELECT * FROM api_keys ORDER BY created_at, id").fetchall()
        return [_api_key(r) for r in rows]

    def revoke_api_key(self, key_id: str) -> None:
        with self._write() as tx:
            if (
                tx.conn.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?", (key_id,)).rowcount
                == 0
            ):
                raise NotFound(f"API key {key_id} not found")

    # --- lifecycle

    def ping(self) -> bool:
        try:
            with self._read() as tx:
                tx.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        self._closed = True
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
        self._process_lock.close()


class _ProcessLock:
    """An exclusive flock of a file next to the database, taken around each write, so that
    writer processes wait in the kernel and the next one is woken as soon as the lock is
    free. Without fcntl (Windows) it does nothing: SQLite's busy handler orders writers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        if sys.platform == "win32":
            yield
            return
        import fcntl

        if self._fd is None or self._pid != os.getpid():  # never an fd from before a fork
            self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644), os.getpid()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def _check_same_request(row: sqlite3.Row, key: str, request_hash: str) -> None:
    if row["request_hash"] != request_hash:
        raise IdempotencyMismatch(f"idempotency key {key!r} was used with another request body")


def _event(row: sqlite3.Row) -> Event:
    return Event(row["seq"], row["at"], row["type"], row["subject"], json.loads(row["data"]))


def _api_key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        row["id"],
        row["name"],
        tuple(json.loads(row["scopes"])),
        row["created_at"],
        bool(row["revoked"]),
    )


# --- the order state machine's effects ------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """The arguments of one transition, with lines for the same (node, sku) summed."""

    node: str | None
    units: UnitMap
    new: UnitMap
    restock: bool

    def check(self, order: _Order, action: str, takes: frozenset[str]) -> None:
        """Invalid for an argument this action does not take, or without the node it needs."""
        given = {"node"} if self.node is not None else set()
        given |= {n for n, v in (("units", self.units), ("new_allocations", self.new)) if v}
        if extra := given - takes:
            raise Invalid(f"order {order.id} {action}: takes no {', '.join(sorted(extra))}")
        if "node" in takes and self.node is None:
            raise Invalid(f"order {order.id} {action}: a node is required")


def _release(tx: _Tx, order: _Order, step: _Step) -> None:
    step.check(order, "release", frozenset())
    order.released_nodes = sorted({n for n, _ in order.allocations})
    order.state = OrderState.RELEASED
    order.events.append(("order.released", {"nodes": order.released_nodes}))


def _ship(tx: _Tx, order: _Order, step: _Step) -> None:
    step.check(order, "ship", frozenset({"node"}))
    shipping = {k: q for k, q in order.allocations.items() if k[0] == step.node}
    if not shipping:
        raise order.conflict(f"nothing allocated at {step.node} to ship")
    _subtract(order.allocations, shipping, "ship", order.state)
    _add(order.shipped, shipping)
    tx.add_allocated(shipping, -1)
    tx.add_on_hand(shipping, -1)
    order.settle()
    order.events.append(("order.shipped", {"node": step.node, "units": _units_json(shipping)}))


def _cancel(tx: _Tx, order: _Order, step: _Step) -> None:
    step.check(order, "cancel", frozenset({"units"}))
    cancelling = dict(step.units or order.allocations)
    _subtract(order.allocations, cancelling, "cancel", order.state)
    tx.add_allocated(cancelling, -1)
    order.take_lines(cancelling)
    order.settle()
    order.events.append(("order.cancelled", {"units": _units_json(cancelling)}))


def _reject(tx: _Tx, order: _Order, step: _Step) -> None:
    step.check(order, "reject", frozenset({"node", "units", "new_allocations"}))
    rejected = dict(step.units or {k: q for k, q in order.allocations.items() if k[0] == step.node})
    if any(n != step.node for n, _ in rejected) or any(n == step.node for n, _ in step.new):
        raise Invalid(
            f"order {order.id} reject at {step.node}: rejected units must be at "
            "that node and new allocations elsewhere"
        )
    if not rejected:
        raise order.conflict(f"nothing allocated at {step.node} to reject")
    unfillable = _per_sku(rejected)
    for sku, qty in _per_sku(step.new).items():
        if qty > unfillable.get(sku, 0):
            raise Invalid(
                f"order {order.id} reject: {qty} of {sku} re-allocated but only "
                f"{unfillable.get(sku, 0)} rejected"
            )
        unfillable[sku] -= qty
    _subtract(order.allocations, rejected, "reject", order.state)
    tx.add_allocated(rejected, -1)
    _allocate_more(tx, order, step.new)
    order.take_lines({("", s): q for s, q in unfillable.items() if q})
    order.settle()
    order.events.append(("order.rejected", {"node": step.node, "units": _units_json(rejected)}))
    if step.new:
        order.events.append(
            (
                "order.reallocated",
                {"released": _units_json(rejected), "units": _units_json(step.new)},
            )
        )
    if any(unfillable.values()):
        order.events.append(
            (
                "order.lines_unfillable",
                {"lines": {s: q for s, q in sorted(unfillable.items()) if q}},
            )
        )


def _reallocate(tx: _Tx, order: _Order, step: _Step) -> None:
    step.check(order, "reallocate", frozenset({"units", "new_allocations"}))
    if not step.units or _per_sku(step.units) != _per_sku(step.new):
        raise Invalid(
            f"order {order.id} reallocate: new allocations {_per_sku(step.new)} must "
            f"move exactly the released units {_per_sku(step.units)} per SKU"
        )
    _subtract(order.allocations, step.units, "reallocate", order.state)
    tx.add_allocated(step.units, -1)
    _allocate_more(tx, order, step.new)
    order.events.append(
        ("order.reallocated", {"released": _units_json(step.units), "units": _units_json(step.new)})
    )


def _allocate_more(tx: _Tx, order: _Order, new: UnitMap) -> None:
    """Allocate new units to the order (after its released units were given back)."""
    tx.check_available(new)
    tx.add_allocated(new, +1)
    _add(order.allocations, new)
    if order.state == OrderState.RELEASED:
        order.released_nodes = sorted({*order.released_nodes, *(n for n, _ in new)})


def _return(tx: _Tx, order: _Order, step: _Step) -> None:
    step.check(order, "return", frozenset({"units"}))
    outstanding = dict(order.shipped)
    _subtract(outstanding, order.returned, "return", order.state)
    returning = dict(step.units or outstanding)
    if not returning:
        raise order.conflict("nothing shipped is left to return")
    _subtract(outstanding, returning, "return", order.state)
    _add(order.returned, returning)
    if step.restock:
        tx.add_on_hand(returning, +1)
    if order.state == OrderState.SHIPPED and not outstanding:
        order.state = OrderState.RETURNED
    order.events.append(
        ("order.returned", {"units": _units_json(returning), "restock": step.restock})
    )


HANDLERS: dict[str, Callable[[_Tx, _Order, _Step], None]] = {
    "release": _release,
    "ship": _ship,
    "cancel": _cancel,
    "reject": _reject,
    "reallocate": _reallocate,
    "return": _return,
}
