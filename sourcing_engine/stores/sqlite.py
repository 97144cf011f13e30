"""The embedded ledger store: one SQLite file, WAL, synchronous=FULL, writes in BEGIN IMMEDIATE.

Every mutating call is one `BEGIN IMMEDIATE` transaction (the database write lock), so its
checks and effects see no other writer in between; threads of one process queue on a lock
first, and processes on an exclusive `flock` of `<database>.lock` (where available), so
that no writer busy-polls: SQLite's own busy handler, still there behind them, waits in
naps of up to 100 ms, which with several API worker processes cost more throughput than it
left and p99 latencies of a second. Each thread has its own connection. Reads run in one
deferred transaction, a consistent WAL snapshot. Order transitions are
`lifecycle.apply`, run inside the write transaction on the order as stored.

`reserved` is never stored: it is summed from the active hold lines whose `expires_at` is
still in the future, so an expired hold counts for nothing whether or not the reaper ran.
"""

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from sourcing_engine import lifecycle, resources
from sourcing_engine.domain import (
    Inbound,
    Item,
    Node,
    NodeCalendar,
    Position,
    Unit,
    merge_units,
    sku_totals,
)
from sourcing_engine.errors import (
    CapacityShort,
    Conflict,
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
    HoldState,
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
from sourcing_engine.order_search import OrderPage, OrderQuery, index_terms
from sourcing_engine.stock_sync import (
    MOVEMENT_RETENTION_S,
    LastCount,
    StockAdjustment,
    StockCount,
    below_zero,
    check_adjustments,
    check_counts,
    count_problem,
    counted_on_hand,
    judge_count,
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
    Webhook,
    utc_day,
)

R = TypeVar("R", bound=Result)
T = TypeVar("T", Node, Item, Inbound)

_UNAVAILABLE = ("database is locked", "disk I/O error", "database or disk is full",
                "unable to open database file")  # fmt: skip
PURGE_BATCH = 100  # results purged per keyed write, so purging never makes one write slow

SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    ship_capacity INTEGER, unit_capacity INTEGER, handling_per_shipment REAL NOT NULL,
    handling_per_unit REAL NOT NULL, ship_enabled INTEGER NOT NULL,
    calendar TEXT NOT NULL DEFAULT '{}');
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
    expires_at REAL NOT NULL, state TEXT NOT NULL, order_id TEXT,
    document TEXT NOT NULL DEFAULT '{}');
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
    document TEXT NOT NULL, backordered TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS backorders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, inbound_id TEXT NOT NULL, order_id TEXT NOT NULL,
    qty INTEGER NOT NULL CHECK (qty > 0), UNIQUE (inbound_id, order_id));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, type TEXT NOT NULL,
    subject TEXT NOT NULL, data TEXT NOT NULL, resource TEXT);
CREATE INDEX IF NOT EXISTS events_subject ON events (subject, seq);
CREATE TABLE IF NOT EXISTS idempotent_results (
    key TEXT PRIMARY KEY, request_hash TEXT NOT NULL, result TEXT, lease_until REAL NOT NULL,
    created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS idempotent_results_created ON idempotent_results (created_at);
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS capacity_use (
    node TEXT NOT NULL, day TEXT NOT NULL, shipments INTEGER NOT NULL, units INTEGER NOT NULL,
    PRIMARY KEY (node, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS order_capacity (
    order_id TEXT NOT NULL, node TEXT NOT NULL, day TEXT NOT NULL, shipments INTEGER NOT NULL,
    units INTEGER NOT NULL, PRIMARY KEY (order_id, node)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL, scopes TEXT NOT NULL,
    created_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, event_types TEXT NOT NULL, secret TEXT NOT NULL,
    created_at REAL NOT NULL, progress TEXT);
CREATE TABLE IF NOT EXISTS webhook_replays (
    webhook_id TEXT NOT NULL, n INTEGER NOT NULL, after INTEGER NOT NULL,
    through INTEGER NOT NULL, PRIMARY KEY (webhook_id, n)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS webhook_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT NOT NULL, failure TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS webhook_failures_by ON webhook_failures (webhook_id, id);
CREATE INDEX IF NOT EXISTS orders_ready ON orders (updated_at) WHERE state = 'ready_for_pickup';
CREATE TABLE IF NOT EXISTS transfers (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, destination TEXT NOT NULL, lines TEXT NOT NULL,
    received TEXT NOT NULL, state TEXT NOT NULL, expected_at REAL, version INTEGER NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, lease_until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS stock_movements (
    node TEXT NOT NULL, sku TEXT NOT NULL, at REAL NOT NULL, delta INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS stock_movements_at ON stock_movements (node, sku, at);
CREATE TABLE IF NOT EXISTS stock_sources (
    node TEXT NOT NULL, sku TEXT NOT NULL, source TEXT NOT NULL, as_of REAL NOT NULL,
    sequence INTEGER, PRIMARY KEY (node, sku, source)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at, id);
CREATE TABLE IF NOT EXISTS order_terms (
    term TEXT NOT NULL, created_at REAL NOT NULL, order_id TEXT NOT NULL,
    PRIMARY KEY (term, created_at, order_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS order_terms_order ON order_terms (order_id);
"""

# --- rows <-> records -----------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _units_to_json(units: Sequence[Unit]) -> str:
    return _dumps([[u.node, u.sku, u.qty] for u in units])


def _units_from_json(text: str) -> tuple[Unit, ...]:
    return tuple(Unit(n, s, q) for n, s, q in orjson.loads(text))


def _order_row(o: OrderRecord) -> tuple[Any, ...]:
    return (
        o.id, o.state.value, _dumps(o.lines), _units_to_json(o.allocations),
        _units_to_json(o.shipped), _units_to_json(o.returned), _dumps(list(o.released_nodes)),
        o.version, o.created_at, o.updated_at, _dumps(o.document),
        _dumps(lifecycle.backorders_data(o.backordered)),
    )  # fmt: skip


def _order_from_row(row: sqlite3.Row | tuple[Any, ...]) -> OrderRecord:
    # a result stored before backorders existed has 11 columns
    (id_, state, lines, allocations, shipped, returned, released, version, created_at,
     updated_at, document, *backordered) = tuple(row)  # fmt: skip
    return OrderRecord(
        id=id_,
        state=OrderState(state),
        lines=dict(sorted(orjson.loads(lines).items())),
        allocations=_units_from_json(allocations),
        shipped=_units_from_json(shipped),
        returned=_units_from_json(returned),
        released_nodes=tuple(orjson.loads(released)),
        version=version,
        created_at=created_at,
        updated_at=updated_at,
        document=orjson.loads(document),
        backordered=lifecycle.backorders_of(orjson.loads(backordered[0]) if backordered else []),
    )  # orjson: reading rows is most of a bulk read's time (the BI export), 3x json's speed


def _transfer_row(t: TransferRecord) -> tuple[Any, ...]:
    return (
        t.id, t.source, t.destination, _dumps(t.lines), _dumps(t.received), t.state.value,
        t.expected_at, t.version, t.created_at, t.updated_at, _dumps(t.document),
    )  # fmt: skip


def _transfer_from_row(row: sqlite3.Row | tuple[Any, ...]) -> TransferRecord:
    (id_, source, destination, lines, received, state, expected_at, version, created_at,
     updated_at, document) = tuple(row)  # fmt: skip
    return TransferRecord(
        id=id_, source=source, destination=destination, lines=json.loads(lines),
        received=json.loads(received), state=TransferState(state), expected_at=expected_at,
        version=version, created_at=created_at, updated_at=updated_at,
        document=json.loads(document),
    )  # fmt: skip


def _result_to_json(result: Result) -> str:
    """A keyed call's result as its key keeps it."""
    if isinstance(result, OrderRecord):
        return _dumps({"order": list(_order_row(result))})
    if isinstance(result, TransferRecord):
        return _dumps({"transfer": list(_transfer_row(result))})
    if isinstance(result, Reservation):
        r = result
        hold = [r.id, r.cart, _units_to_json(r.units), r.created_at, r.expires_at, r.state.value,
                r.order_id, r.document]  # fmt: skip
        return _dumps({"reservation": hold})
    if isinstance(result, tuple):
        return _dumps({"positions": [_position_values(p) for p in result]})
    return _dumps({"position": _position_values(result)})


def _position_values(p: Position) -> list[Any]:
    return [p.node, p.sku, p.on_hand, p.safety_stock, p.reserved, p.allocated]


def _result_from_json(text: str) -> Result:
    ((kind, values),) = json.loads(text).items()
    if kind == "order":
        return _order_from_row(tuple(values))
    if kind == "transfer":
        return _transfer_from_row(tuple(values))
    if kind == "reservation":
        id_, cart, units, created_at, expires_at, state, order_id, document = values
        units_ = _units_from_json(units)
        state_ = HoldState(state)
        return Reservation(id_, cart, units_, created_at, expires_at, state_, order_id, document)
    if kind == "positions":
        return tuple(Position(*v) for v in values)
    return Position(*values)


def _event(row: sqlite3.Row) -> Event:
    resource = row["resource"]
    return Event(
        row["seq"], row["at"], row["type"], row["subject"], orjson.loads(row["data"]),
        None if resource is None else orjson.loads(resource),
    )  # fmt: skip


def _api_key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        row["id"],
        row["name"],
        tuple(json.loads(row["scopes"])),
        row["created_at"],
        bool(row["revoked"]),
    )


POSITION_SQL = """
SELECT p.node, p.sku, p.on_hand, p.safety_stock, p.allocated,
       (SELECT COALESCE(SUM(h.qty), 0) FROM hold_lines h
         WHERE h.node = p.node AND h.sku = p.sku AND h.active = 1 AND h.expires_at > ?)
FROM positions p"""


def _webhook(row: sqlite3.Row) -> Webhook:
    return Webhook(
        row["id"], row["url"], tuple(json.loads(row["event_types"])), row["secret"],
        row["created_at"],
    )  # fmt: skip


def _position(row: sqlite3.Row) -> Position:
    node, sku, on_hand, safety, allocated, reserved = tuple(row)
    return Position(node, sku, on_hand, safety, reserved, allocated)


# --- the transaction ------------------------------------------------------------------------


@dataclass
class _Tx:
    """One open transaction and the store clock's reading at its start."""

    conn: sqlite3.Connection
    now: float

    def emit(
        self, type_: str, subject: str, data: dict[str, Any], resource: dict[str, Any] | None
    ) -> None:
        """Append an event with the changed record after the change (resources.py; None
        only for an event type without a resource function yet)."""
        self.conn.execute(
            "INSERT INTO events (at, type, subject, data, resource) VALUES (?, ?, ?, ?, ?)",
            (
                self.now,
                type_,
                subject,
                _dumps(data),
                None if resource is None else _dumps(resource),
            ),
        )

    def position(self, node: str, sku: str) -> Position:
        row = self.conn.execute(
            POSITION_SQL + " WHERE p.node = ? AND p.sku = ?", (self.now, node, sku)
        ).fetchone()
        return _position(row) if row else Position(node, sku, 0, 0, 0, 0)

    def check_available(self, need: Sequence[Unit], freed: Sequence[Unit] = ()) -> None:
        """InsufficientStock with every short (node, sku) line, or nothing; `freed` units
        are given back in the same step and count as available."""
        back = {(u.node, u.sku): u.qty for u in merge_units(freed)}
        shortages = []
        for (node, sku), qty in _summed(need).items():
            available = self.position(node, sku).available + back.get((node, sku), 0)
            if qty > available:
                shortages.append(Shortage(sku, (node,), qty, available))
        if shortages:
            raise InsufficientStock(shortages)

    def add_allocated(self, units: Sequence[Unit], sign: int) -> None:
        self.conn.executemany(
            "UPDATE positions SET allocated = allocated + ? WHERE node = ? AND sku = ?",
            [(sign * u.qty, u.node, u.sku) for u in units],
        )

    def moved(self, node: str, sku: str, delta: int, at: float | None = None) -> None:
        """Record a movement of on hand (stock sync counts apply relative to them) and drop
        the position's movements older than the retention."""
        if delta:
            self.conn.execute(
                "INSERT INTO stock_movements VALUES (?, ?, ?, ?)",
                (node, sku, self.now if at is None else at, delta),
            )
            self.conn.execute(
                "DELETE FROM stock_movements WHERE node = ? AND sku = ? AND at < ?",
                (node, sku, self.now - MOVEMENT_RETENTION_S),
            )

    def apply(self, effects: Effects) -> None:
        """A step's effects on stock (its allocations already checked)."""
        for units, sign in ((effects.ship, -1), (effects.restock, +1)):
            for u in units:
                self.moved(u.node, u.sku, sign * u.qty)
        self.add_allocated(effects.free, -1)
        self.add_allocated(effects.allocate, +1)
        self.add_allocated(effects.fill, +1)
        # max(0, ...): a shipment from a position a count left oversold never goes negative
        self.conn.executemany(
            "UPDATE positions SET on_hand = max(0, on_hand - ?) WHERE node = ? AND sku = ?",
            [(u.qty, u.node, u.sku) for u in effects.ship],
        )
        self.conn.executemany(
            "INSERT INTO positions (node, sku, on_hand, safety_stock) VALUES (?, ?, ?, 0)"
            " ON CONFLICT (node, sku) DO UPDATE SET on_hand = on_hand + excluded.on_hand",
            [(u.node, u.sku, u.qty) for u in effects.restock],
        )

    def charge_capacity(
        self, order: OrderRecord, days: Mapping[str, str] | None, check: bool = True
    ) -> None:
        """Charge the order's nodes' capacity of the day with what the step changed
        (base.py, "Capacity"); InsufficientCapacity, before any write, if a node is full
        (unless check is False: a receipt filling backorders is never refused)."""
        target = lifecycle.node_units(order)
        charged = {
            r[0]: (r[1], r[2], r[3])
            for r in self.conn.execute(
                "SELECT node, day, shipments, units FROM order_capacity WHERE order_id = ?",
                (order.id,),
            )
        }
        changes, shorts = [], []
        for node in sorted({*target, *charged}):
            units = target.get(node, 0)
            ships = 1 if units else 0
            day, s0, u0 = charged.get(node, (None, 0, 0))
            ds, du = ships - s0, units - u0
            if not ds and not du:
                continue
            day = day or (days or {}).get(node) or utc_day(self.now)
            if check and (ds > 0 or du > 0):
                shorts += self._capacity_shorts(node, day, ds, du)
            changes.append((node, day, ds, du, ships, units))
        if shorts:
            raise InsufficientCapacity(shorts)
        for node, day, ds, du, ships, units in changes:
            self.conn.execute(
                "INSERT INTO capacity_use VALUES (?, ?, max(0, ?), max(0, ?))"
                " ON CONFLICT (node, day) DO UPDATE SET shipments = max(0, shipments + ?),"
                " units = max(0, units + ?)",
                (node, day, ds, du, ds, du),
            )
            if units:
                self.conn.execute(
                    "REPLACE INTO order_capacity VALUES (?, ?, ?, ?, ?)",
                    (order.id, node, day, ships, units),
                )
            else:
                self.conn.execute(
                    "DELETE FROM order_capacity WHERE order_id = ? AND node = ?", (order.id, node)
                )

    def _capacity_shorts(self, node: str, day: str, ds: int, du: int) -> list[CapacityShort]:
        caps = self.conn.execute(
            "SELECT ship_capacity, unit_capacity FROM nodes WHERE id = ?", (node,)
        ).fetchone()
        if caps is None:
            return []
        used = self.conn.execute(
            "SELECT shipments, units FROM capacity_use WHERE node = ? AND day = ?", (node, day)
        ).fetchone() or (0, 0)
        out = []
        for what, delta, cap, had in (("shipments", ds, caps[0], used[0]),
                                      ("units", du, caps[1], used[1])):  # fmt: skip
            if delta > 0 and cap is not None and had + delta > cap:
                out.append(CapacityShort(node, day, what, delta, max(0, cap - had)))
        return out

    # --- backorders: promises against open inbound supply

    def check_backorders(self, backorders: Sequence[Backorder]) -> None:
        """InsufficientStock naming each inbound that has fewer open units no order waits
        for than these backorders take (closed or unknown inbound: none)."""
        shortages = []
        for b in backorders:
            row = self.conn.execute(
                "SELECT i.qty - coalesce((SELECT sum(qty) FROM backorders WHERE inbound_id = i.id),"
                " 0) FROM inbound i WHERE i.id = ?",
                (b.inbound,),
            ).fetchone()
            free = 0 if row is None else max(0, int(row[0]))
            if b.qty > free:
                shortages.append(Shortage(b.sku, (b.node,), b.qty, free))
        if shortages:
            raise InsufficientStock(shortages)

    def check_promised(self, inbound: Inbound) -> None:
        """Invalid if orders wait for more of the inbound than the upsert leaves open, or
        for its units at another node or of another SKU."""
        row = self.conn.execute(
            "SELECT i.node, i.sku, coalesce(sum(b.qty), 0) FROM inbound i"
            " JOIN backorders b ON b.inbound_id = i.id WHERE i.id = ?",
            (inbound.id,),
        ).fetchone()
        if row is not None and row[2]:
            lifecycle.check_inbound_upsert(inbound, row[0], row[1], row[2])

    def apply_backorders(self, order_id: str, effects: Effects) -> None:
        """Record an order's new promises on inbound supply, and drop those it gave back."""
        self.conn.executemany(
            "INSERT INTO backorders (inbound_id, order_id, qty) VALUES (?, ?, ?)"
            " ON CONFLICT (inbound_id, order_id) DO UPDATE SET qty = qty + excluded.qty",
            [(b.inbound, order_id, b.qty) for b in effects.backorder],
        )
        for b in effects.unbackorder:  # the row goes when nothing is left (qty > 0 always)
            where = (b.inbound, order_id, b.qty)
            self.conn.execute(
                "DELETE FROM backorders WHERE inbound_id = ? AND order_id = ? AND qty <= ?", where
            )
            self.conn.execute(
                "UPDATE backorders SET qty = qty - ? WHERE inbound_id = ? AND order_id = ?",
                (b.qty, b.inbound, order_id),
            )

    def fill_backorders(self, inbound_id: str, qty: int, days: Mapping[str, str] | None) -> None:
        """qty units just received on the inbound go to the orders waiting for it, oldest
        backorder first (lifecycle.fill_backorders, one step per order)."""
        waiting = self.conn.execute(
            "SELECT order_id FROM backorders WHERE inbound_id = ? ORDER BY seq", (inbound_id,)
        ).fetchall()
        ids = (r[0] for r in waiting)
        for _, after, effects in lifecycle.fill_in_turn(ids, self.load_order, inbound_id, qty):
            self.charge_capacity(after, days, check=False)
            self.apply(effects)
            self.apply_backorders(after.id, effects)
            self.save_order(replace(after, updated_at=self.now), effects, insert=False)

    def load_order(self, order_id: str) -> OrderRecord:
        row = self.conn.execute(
            "SELECT * FROM orders WHERE id = ?", (order_id,)
        ).fetchone()  # fmt: skip
        if row is None:
            raise NotFound(f"order {order_id} not found")
        return _order_from_row(row)

    def save_order(self, order: OrderRecord, effects: Effects, insert: bool) -> None:
        verb = "INSERT" if insert else "REPLACE"
        self.conn.execute(f"{verb} INTO orders VALUES ({', '.join('?' * 12)})", _order_row(order))
        self.index_order(order, insert)
        resource = resources.order(order)
        for type_, data in effects.events:
            self.emit(type_, order.id, data, resource)

    # --- the order search index (sourcing_engine/order_search.py)

    def emit_upserts(
        self,
        family: str,
        records: Sequence[tuple[str, T | None, T]],
        resource: Callable[[T], dict[str, Any]],
    ) -> None:
        """`<family>.created` or `.updated` (subject "<family>:<id>") per (id, record as
        stored or None, record written) that changes anything; the last of one id counts."""
        last = {record_id: (old, new) for record_id, old, new in records}
        for record_id, (old, new) in last.items():
            if old != new:
                what = "created" if old is None else "updated"
                self.emit(f"{family}.{what}", f"{family}:{record_id}", {}, resource(new))

    def index_order(self, order: OrderRecord, insert: bool) -> None:
        """The order's search terms, as the order now is, in the same transaction."""
        if not insert:
            self.conn.execute("DELETE FROM order_terms WHERE order_id = ?", (order.id,))
        self.conn.executemany(
            "INSERT INTO order_terms VALUES (?, ?, ?)",
            [(t, order.created_at, order.id) for t in index_terms(order)],
        )

    def receive_inbound(self, inbound_id: str, qty: int) -> Position:
        """qty units of an open inbound arrive: its open quantity falls (the record goes once
        none is open), its node's on hand rises; event `inbound.received`."""
        row = self.conn.execute("SELECT * FROM inbound WHERE id = ?", (inbound_id,)).fetchone()
        if row is None:
            raise NotFound(f"inbound {inbound_id}: unknown, or received in full already")
        if qty > row["qty"]:
            raise Invalid(
                f"receipt of inbound {inbound_id}: {qty} units, but {row['qty']} are open"
            )
        if qty == row["qty"]:
            self.conn.execute("DELETE FROM inbound WHERE id = ?", (inbound_id,))
        else:
            self.conn.execute("UPDATE inbound SET qty = qty - ? WHERE id = ?", (qty, inbound_id))
        node, sku = row["node"], row["sku"]
        self.conn.execute(
            "INSERT INTO positions (node, sku, on_hand, safety_stock) VALUES (?, ?, ?, 0)"
            " ON CONFLICT (node, sku) DO UPDATE SET on_hand = on_hand + ?",
            (node, sku, qty, qty),
        )
        self.moved(node, sku, qty)
        after = self.position(node, sku)
        data = {"inbound": inbound_id, "qty": qty, "open": row["qty"] - qty,
                "on_hand": after.on_hand}  # fmt: skip
        self.emit("inbound.received", f"stock:{node}/{sku}", data, resources.position(after))
        return after


def _search_sql(query: OrderQuery) -> tuple[str, list[Any]]:
    """Newest first from the most selective term's index entries (or the orders' creation
    index without terms); every other term is one primary-key probe per candidate."""
    terms = query.ordered_terms()
    params: list[Any] = []
    if terms:
        sql = "SELECT o.* FROM order_terms d JOIN orders o ON o.id = d.order_id WHERE d.term = ?"
        params.append(terms[0])
        at, oid = "d.created_at", "d.order_id"
    else:
        sql, at, oid = "SELECT o.* FROM orders o WHERE 1", "o.created_at", "o.id"
    for t in terms[1:]:
        sql += (
            " AND EXISTS (SELECT 1 FROM order_terms x WHERE x.term = ?"
            f" AND x.created_at = {at} AND x.order_id = {oid})"
        )
        params.append(t)
    if query.created_from is not None:
        sql += f" AND {at} >= ?"
        params.append(query.created_from)
    upper = query.upper()
    if upper is not None:
        sql += f" AND ({at} < ? OR ({at} = ? AND {oid} < ?))"
        params += [upper[0], upper[0], upper[1]]
    sql += f" ORDER BY {at} DESC, {oid} DESC LIMIT ?"
    return sql, [*params, query.limit + 1]  # one more: whether this page is the last


def _items(tx: _Tx, skus: Sequence[str]) -> dict[str, Item]:
    rows = tx.conn.execute(
        "SELECT * FROM items WHERE sku IN (SELECT value FROM json_each(?))", (_dumps(list(skus)),)
    ).fetchall()
    return {r["sku"]: Item(r["sku"], r["weight_lb"], tuple(json.loads(r["dims"]))) for r in rows}


INBOUND_SQL = (
    "SELECT i.*, (SELECT coalesce(sum(b.qty), 0) FROM backorders b"
    " WHERE b.inbound_id = i.id) AS backordered FROM inbound i"
)
"""Inbound rows with the units orders are backordered on each."""


def _inbound_row(r: sqlite3.Row) -> Inbound:
    return Inbound(r["id"], r["node"], r["sku"], r["qty"], r["expected_at"], r["backordered"])


def _inbound(tx: _Tx, ids: Sequence[str]) -> list[Inbound]:
    rows = tx.conn.execute(
        INBOUND_SQL + " WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (_dumps(list(ids)),),
    ).fetchall()
    return [_inbound_row(r) for r in rows]


def _summed(units: Sequence[Unit]) -> dict[tuple[str, str], int]:
    """(node, sku) -> units, in the order each pair first appears."""
    out: dict[tuple[str, str], int] = {}
    for u in units:
        out[(u.node, u.sku)] = out.get((u.node, u.sku), 0) + u.qty
    return out


# --- the store ------------------------------------------------------------------------------


class SqliteStore:
    """The embedded `Store` on one SQLite file (created, with its directory, if new)."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_s: float = 60.0,
        idempotency_retention_s: float = IDEMPOTENCY_RETENTION_S,
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a directory; expected a database file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._retention_s = idempotency_retention_s
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._process_lock = _ProcessLock(self.path.with_name(self.path.name + ".lock"))
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        self._clock_shift = 0.0
        with self._write() as tx:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    tx.conn.execute(statement)
            for table, column in (("holds", "document"), ("nodes", "calendar")):
                columns = {r["name"] for r in tx.conn.execute(f"PRAGMA table_info({table})")}
                if column not in columns:  # a ledger made before the column was added
                    tx.conn.execute(
                        f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT '{{}}'"
                    )
            if "resource" not in {r["name"] for r in tx.conn.execute("PRAGMA table_info(events)")}:
                tx.conn.execute("ALTER TABLE events ADD COLUMN resource TEXT")
            order_columns = {r["name"] for r in tx.conn.execute("PRAGMA table_info(orders)")}
            if "backordered" not in order_columns:
                tx.conn.execute(
                    "ALTER TABLE orders ADD COLUMN backordered TEXT NOT NULL DEFAULT '[]'"
                )
            if "version" not in {r["name"] for r in tx.conn.execute("PRAGMA table_info(settings)")}:
                tx.conn.execute(
                    "ALTER TABLE settings ADD COLUMN version INTEGER NOT NULL DEFAULT 1"
                )
            _index_unindexed_orders(tx)

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
    def _unavailable_as_such(self) -> Iterator[None]:
        """A database that cannot be used now (locked past the busy timeout, an I/O error, a
        full disk) is StoreUnavailable, a refusal the caller may retry; other SQLite errors
        are bugs and stay what they are."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if str(exc).startswith(_UNAVAILABLE):
                raise StoreUnavailable(f"the ledger {self.path} cannot be used now: {exc}") from exc
            raise

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[_Tx]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception).

        durable=False commits without waiting for the disk (synchronous=NORMAL: the WAL is
        written, fsynced by the next durable commit), for writes whose loss in a power cut
        is harmless: idempotency claims and their release. It saves an fsync under the
        write lock, a third of a millisecond here, twice per keyed call."""
        with self._write_lock, self._process_lock.held(), self._unavailable_as_such():
            conn = self._conn()
            if not durable:
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(conn, self.now())  # read after the lock: expiry is judged now
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # also after a failed COMMIT (I/O error, disk full)
                    conn.execute("ROLLBACK")
                raise
            finally:
                if not durable:
                    conn.execute("PRAGMA synchronous = FULL")

    def _keyed(self, idem: IdempotencyKey | None, operation: Callable[[_Tx], R]) -> R:
        """Run a mutating operation in one write transaction; with a key, at most once: a
        key that completed replays its stored result (Replayed) or, for another request,
        is refused (IdempotencyMismatch), as is a key leased to another request; the
        result is stored with the effect."""
        with self._write() as tx:
            if idem is not None:
                row = tx.conn.execute(
                    "SELECT * FROM idempotent_results WHERE key = ?", (idem.key,)
                ).fetchone()
                if row is not None and (row["result"] is not None or row["lease_until"] > tx.now):
                    _check_same_request(row["request_hash"], idem)
                    if row["result"] is not None:
                        raise Replayed(_result_from_json(row["result"]))
            result = operation(tx)
            if idem is not None:
                tx.conn.execute(
                    "REPLACE INTO idempotent_results VALUES (?, ?, ?, ?, ?)",
                    (idem.key, idem.request_hash, _result_to_json(result), tx.now, tx.now),
                )
                tx.conn.execute(
                    "DELETE FROM idempotent_results WHERE key IN (SELECT key FROM"
                    " idempotent_results WHERE created_at < ?"
                    " AND (result IS NOT NULL OR lease_until < ?) LIMIT ?)",
                    (tx.now - self._retention_s, tx.now, PURGE_BATCH),
                )
            return result

    @contextmanager
    def _read(self) -> Iterator[_Tx]:
        with self._unavailable_as_such():
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                yield _Tx(conn, self.now())
            finally:
                conn.execute("COMMIT")

    def now(self) -> float:
        return time.time() + self._clock_shift

    def shift_clock(self, seconds: float) -> None:
        # this process's clock only: the embedded store has no shared clock to move
        self._clock_shift += seconds

    # --- network and stock

    def upsert_nodes(self, nodes: Sequence[Node]) -> None:
        with self._write() as tx:
            before = {n.id: n for n in self._nodes(tx, [n.id for n in nodes])}
            tx.emit_upserts("node", [(n.id, before.get(n.id), n) for n in nodes], resources.node)
            tx.conn.executemany(
                "REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (n.id, n.kind, n.lat, n.lon, n.ship_capacity, n.unit_capacity,
                     n.handling_per_shipment, n.handling_per_unit, int(n.ship_enabled),
                     _dumps(n.calendar.to_data()))
                    for n in nodes
                ],
            )  # fmt: skip

    def list_nodes(self) -> list[Node]:
        with self._read() as tx:
            return self._nodes(tx)

    @staticmethod
    def _nodes(tx: _Tx, ids: Sequence[str] | None = None) -> list[Node]:
        """These nodes (every node without ids), by id."""
        if ids is None:
            rows = tx.conn.execute("SELECT * FROM nodes ORDER BY id").fetchall()
        else:
            rows = tx.conn.execute(
                "SELECT * FROM nodes WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (_dumps(list(ids)),),
            ).fetchall()
        return [
            Node(r["id"], r["kind"], r["lat"], r["lon"], r["ship_capacity"], r["unit_capacity"],
                 r["handling_per_shipment"], r["handling_per_unit"], bool(r["ship_enabled"]),
                 NodeCalendar.from_data(json.loads(r["calendar"])))
            for r in rows
        ]  # fmt: skip

    def upsert_items(self, items: Sequence[Item]) -> None:
        with self._write() as tx:
            before = _items(tx, [i.sku for i in items])
            tx.emit_upserts("item", [(i.sku, before.get(i.sku), i) for i in items], resources.item)
            tx.conn.executemany(
                "REPLACE INTO items VALUES (?, ?, ?)",
                [(i.sku, i.weight_lb, _dumps(list(i.dims_in))) for i in items],
            )

    def get_items(self, skus: Sequence[str]) -> dict[str, Item]:
        with self._read() as tx:
            return _items(tx, skus)

    def set_stock(
        self, node: str, counts: Mapping[str, tuple[int, int | None]], reason: str
    ) -> None:
        for sku, (on_hand, safety) in counts.items():
            if (
                not (isinstance(on_hand, int) and isinstance(safety, int | None))
                or min(on_hand, safety or 0) < 0
            ):
                raise Invalid(
                    f"stock of {sku} at {node}: on hand {on_hand}, safety stock "
                    f"{safety}; expected whole numbers >= 0"
                )
        with self._write() as tx:
            for sku, (on_hand, _) in counts.items():
                tx.moved(node, sku, on_hand - tx.position(node, sku).on_hand)
            tx.conn.executemany(
                "INSERT INTO positions (node, sku, on_hand, safety_stock)"
                " VALUES (?, ?, ?, coalesce(?, 0)) ON CONFLICT (node, sku) DO UPDATE"
                " SET on_hand = excluded.on_hand,"
                " safety_stock = coalesce(?, safety_stock)",
                [(node, sku, oh, ss, ss) for sku, (oh, ss) in counts.items()],
            )
            data = {"reason": reason, "counts": {s: list(c) for s, c in counts.items()}}
            counted = [tx.position(node, sku) for sku in sorted(counts)]
            tx.emit("stock.snapshot", f"node:{node}", data, resources.stock_count(node, counted))

    def adjust_stock(
        self, node: str, sku: str, delta: int, reason: str, idem: IdempotencyKey | None = None
    ) -> Position:
        def adjust(tx: _Tx) -> Position:
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
            tx.moved(node, sku, delta)
            after = tx.position(node, sku)
            tx.emit(
                "stock.adjusted",
                f"stock:{node}/{sku}",
                {"delta": delta, "reason": reason, "on_hand": after.on_hand},
                resources.position(after),
            )
            return after

        return self._keyed(idem, adjust)

    def positions(self, skus: Sequence[str], nodes: Sequence[str] | None = None) -> list[Position]:
        # The positions and their unexpired holds in two reads of one snapshot: a promise
        # reads thousands of positions, and a hold sum per row cost half the time.
        where = " WHERE sku IN (SELECT value FROM json_each(?))"
        params: list[Any] = [_dumps(list(skus))]
        if nodes is not None:
            where += " AND node IN (SELECT value FROM json_each(?))"
            params.append(_dumps(list(nodes)))
        with self._read() as tx:
            cursor = tx.conn.execute(
                "SELECT node, sku, on_hand, safety_stock, allocated FROM positions"
                + where + " ORDER BY sku, node", params,
            )  # fmt: skip
            cursor.row_factory = None  # plain tuples
            rows = cursor.fetchall()
            held = tx.conn.execute(
                "SELECT node, sku, SUM(qty) FROM hold_lines" + where
                + " AND active = 1 AND expires_at > ? GROUP BY node, sku", [*params, tx.now],
            ).fetchall()  # fmt: skip
        reserved = {(h[0], h[1]): h[2] for h in held}
        return [Position(n, s, oh, ss, reserved.get((n, s), 0), al) for n, s, oh, ss, al in rows]

    def add_inbound(self, inbound: Sequence[Inbound]) -> None:
        lifecycle.check_units((Unit(i.node, i.sku, i.qty) for i in inbound), "inbound")
        for i in inbound:
            lifecycle.check_inbound_not_transfer(i.id, "add")
        with self._write() as tx:
            before = {b.id: b for b in _inbound(tx, [b.id for b in inbound])}
            # an upsert keeps the orders waiting on it (check_promised below)
            upserts = [(b.id, before.get(b.id), replace(b, backordered=before[b.id].backordered)
                        if b.id in before else b) for b in inbound]  # fmt: skip
            tx.emit_upserts("inbound", upserts, resources.inbound)
            for i in inbound:
                tx.check_promised(i)
            tx.conn.executemany(
                "REPLACE INTO inbound VALUES (?, ?, ?, ?, ?)",
                [(i.id, i.node, i.sku, i.qty, i.expected_at) for i in inbound],
            )

    def receive_inbound(
        self,
        inbound_id: str,
        qty: int,
        idem: IdempotencyKey | None = None,
        *,
        days: Mapping[str, str] | None = None,
    ) -> Position:
        lifecycle.check_qty(qty, f"receipt of inbound {inbound_id}")

        def receive(tx: _Tx) -> Position:
            lifecycle.check_inbound_not_transfer(inbound_id, "receive")
            after = tx.receive_inbound(inbound_id, qty)
            tx.fill_backorders(inbound_id, qty, days)
            return tx.position(after.node, after.sku)

        return self._keyed(idem, receive)

    # --- stock sync (stock_sync.py): counts relative to the movements since, bulk adjustments

    def count_stock(
        self, counts: Sequence[StockCount], reason: str, idem: IdempotencyKey | None = None
    ) -> tuple[Position, ...]:
        check_counts(counts, lifecycle.MAX_QTY)

        def count(tx: _Tx) -> tuple[Position, ...]:
            problems, plans = [], []
            for i, c in enumerate(counts):
                last = None
                if c.source:
                    row = tx.conn.execute(
                        "SELECT as_of, sequence FROM stock_sources"
                        " WHERE node = ? AND sku = ? AND source = ?",
                        (c.node, c.sku, c.source),
                    ).fetchone()
                    last = LastCount(row[0], row[1]) if row else None
                kind = judge_count(c, last, tx.now)
                if kind:
                    problems.append(count_problem(i, c, kind, last, tx.now))
                    continue
                as_of = tx.now if c.as_of is None else c.as_of
                (moved,) = tx.conn.execute(
                    "SELECT coalesce(sum(delta), 0) FROM stock_movements"
                    " WHERE node = ? AND sku = ? AND at > ?",
                    (c.node, c.sku, as_of),
                ).fetchone()
                plans.append((c, as_of, moved, tx.position(c.node, c.sku)))
            if problems:
                raise EntriesRefused("counts", problems)
            out = []
            for c, as_of, moved, before in plans:
                on_hand = counted_on_hand(c.on_hand, moved)
                safety = before.safety_stock if c.safety_stock is None else c.safety_stock
                tx.conn.execute(
                    "INSERT INTO positions (node, sku, on_hand, safety_stock) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (node, sku) DO UPDATE"
                    " SET on_hand = excluded.on_hand, safety_stock = excluded.safety_stock",
                    (c.node, c.sku, on_hand, safety),
                )
                # at the moment the count describes: a later count from before then sees it
                tx.moved(c.node, c.sku, on_hand - before.on_hand, at=as_of)
                if c.source:
                    tx.conn.execute(
                        "REPLACE INTO stock_sources VALUES (?, ?, ?, ?, ?)",
                        (c.node, c.sku, c.source, as_of, c.sequence),
                    )
                data = {"counted": c.on_hand, "as_of": as_of, "source": c.source,
                        "sequence": c.sequence, "moved_since": moved,
                        "correction": on_hand - before.on_hand, "on_hand": on_hand,
                        "safety_stock": safety, "reason": reason}  # fmt: skip
                after = tx.position(c.node, c.sku)
                tx.emit("stock.counted", f"stock:{c.node}/{c.sku}", data, resources.position(after))
                out.append(after)
            return tuple(out)

        return self._keyed(idem, count)

    def adjust_stock_many(
        self, adjustments: Sequence[StockAdjustment], idem: IdempotencyKey | None = None
    ) -> tuple[Position, ...]:
        check_adjustments(adjustments, lifecycle.MAX_QTY)

        def adjust(tx: _Tx) -> tuple[Position, ...]:
            on_hand: dict[tuple[str, str], int] = {}
            problems = []
            for i, a in enumerate(adjustments):
                key = (a.node, a.sku)
                if key not in on_hand:
                    on_hand[key] = tx.position(a.node, a.sku).on_hand
                if on_hand[key] + a.delta < 0:
                    problems.append(below_zero(i, a, on_hand[key]))
                else:
                    on_hand[key] += a.delta
            if problems:
                raise EntriesRefused("adjustments", problems)
            out = []
            for a in adjustments:
                tx.conn.execute(
                    "INSERT INTO positions (node, sku, on_hand, safety_stock) VALUES (?, ?, ?, 0)"
                    " ON CONFLICT (node, sku) DO UPDATE SET on_hand = on_hand + ?",
                    (a.node, a.sku, max(a.delta, 0), a.delta),
                )
                tx.moved(a.node, a.sku, a.delta)
                after = tx.position(a.node, a.sku)
                data = {"delta": a.delta, "reason": a.reason, "on_hand": after.on_hand}
                tx.emit(
                    "stock.adjusted", f"stock:{a.node}/{a.sku}", data, resources.position(after)
                )
                out.append(after)
            return tuple(out)

        return self._keyed(idem, adjust)

    def put_setting(
        self, name: str, value: dict[str, Any], expected_version: int | None = None
    ) -> int:
        with self._write() as tx:
            row = tx.conn.execute(
                "SELECT version FROM settings WHERE name = ?", (name,)
            ).fetchone()  # fmt: skip
            stored = 0 if row is None else int(row["version"])
            if expected_version is not None and expected_version != stored:
                raise PreconditionFailed(
                    f"settings {name}: version is {stored}, not {expected_version}; read them "
                    "again and apply the change to what is there now"
                )
            tx.conn.execute(
                "REPLACE INTO settings VALUES (?, ?, ?)", (name, _dumps(value), stored + 1)
            )
            tx.emit(
                "settings.changed",
                f"settings:{name}",
                {"version": stored + 1, "value": value},
                resources.setting(name, value, stored + 1),
            )
            return stored + 1

    def get_setting(self, name: str) -> Setting | None:
        with self._read() as tx:
            row = tx.conn.execute(
                "SELECT value, version FROM settings WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else Setting(dict(json.loads(row["value"])), row["version"])

    def get_inbound(self, inbound_id: str) -> Inbound:
        with self._read() as tx:
            found = _inbound(tx, [inbound_id])
        if not found:
            raise NotFound(f"inbound {inbound_id}: unknown, or received in full already")
        return found[0]

    def list_inbound(self, skus: Sequence[str]) -> list[Inbound]:
        with self._read() as tx:
            rows = tx.conn.execute(
                INBOUND_SQL + " WHERE sku IN (SELECT value FROM json_each(?))"
                " ORDER BY expected_at, id",
                (_dumps(list(skus)),),
            ).fetchall()
        return [_inbound_row(r) for r in rows]

    def pickups_waiting(self, before: float, limit: int = 1000) -> list[str]:
        with self._read() as tx:
            rows = tx.conn.execute(
                "SELECT id FROM orders WHERE state = 'ready_for_pickup' AND updated_at < ?"
                " ORDER BY updated_at, id LIMIT ?",
                (before, limit),
            ).fetchall()
        return [r["id"] for r in rows]

    # --- transfers between nodes

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
        def create(tx: _Tx) -> TransferRecord:
            t, effects = lifecycle.create_transfer(
                transfer_id, source, destination, lines, expected_at, document or {}, tx.now
            )
            found = tx.conn.execute(
                "SELECT state FROM transfers WHERE id = ?", (transfer_id,)
            ).fetchone()
            if found is not None:
                raise Conflict(
                    f"transfer {transfer_id} already exists", current_state=found["state"]
                )
            tx.check_available(effects.reserve)
            return self._write_transfer(tx, t, effects, insert=True)

        return self._keyed(idem, create)

    def get_transfer(self, transfer_id: str) -> TransferRecord:
        with self._read() as tx:
            return self._load_transfer(tx, transfer_id)

    def transfer_step(
        self,
        transfer_id: str,
        action: TransferAction,
        step: TransferStep | None = None,
        idem: IdempotencyKey | None = None,
        *,
        expected_version: int | None = None,
    ) -> TransferRecord:
        def run(tx: _Tx) -> TransferRecord:
            t = self._load_transfer(tx, transfer_id)
            if expected_version is not None and expected_version != t.version:
                raise Conflict(
                    f"transfer {transfer_id}: version is {t.version}, not {expected_version}",
                    current_state=str(t.state),
                )
            after, effects = lifecycle.apply_transfer(t, action, step or TransferStep())
            return self._write_transfer(tx, replace(after, updated_at=tx.now), effects)

        return self._keyed(idem, run)

    @staticmethod
    def _load_transfer(tx: _Tx, transfer_id: str) -> TransferRecord:
        row = tx.conn.execute("SELECT * FROM transfers WHERE id = ?", (transfer_id,)).fetchone()
        if row is None:
            raise NotFound(f"transfer {transfer_id} not found")
        return _transfer_from_row(row)

    @staticmethod
    def _write_transfer(
        tx: _Tx, t: TransferRecord, effects: TransferEffects, insert: bool = False
    ) -> TransferRecord:
        """Apply a transfer step's effects (its reservation already checked) and save it."""
        tx.add_allocated(effects.free, -1)
        tx.add_allocated(effects.reserve, +1)
        tx.apply(Effects(ship=effects.ship))
        assert t.expected_at is not None or not effects.in_transit
        tx.conn.executemany(
            "INSERT INTO inbound VALUES (?, ?, ?, ?, ?)",
            [(lifecycle.transfer_inbound_id(t.id, u.sku), u.node, u.sku, u.qty, t.expected_at)
             for u in effects.in_transit],
        )  # fmt: skip
        for u in effects.receive:
            tx.receive_inbound(lifecycle.transfer_inbound_id(t.id, u.sku), u.qty)
        verb = "INSERT" if insert else "REPLACE"
        tx.conn.execute(f"{verb} INTO transfers VALUES ({', '.join('?' * 11)})", _transfer_row(t))
        for type_, data in effects.events:
            tx.emit(type_, t.id, data, resources.transfer(t))
        return t

    # --- checkout holds

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
        lifecycle.check_units(units, f"reservation {reservation_id}")
        if not units or not ttl_s > 0:
            raise Invalid(
                f"reservation {reservation_id}: expected at least one line and "
                f"a TTL > 0 s (got {len(units)} lines, TTL {ttl_s})"
            )
        need = merge_units(units)

        def reserve(tx: _Tx) -> Reservation:
            if tx.conn.execute("SELECT 1 FROM holds WHERE id = ?", (reservation_id,)).fetchone():
                raise Conflict(f"reservation {reservation_id} already exists")
            tx.check_available(units)
            expires_at = tx.now + ttl_s
            tx.conn.execute(
                "INSERT INTO holds VALUES (?, ?, ?, ?, 'active', NULL, ?)",
                (reservation_id, cart, tx.now, expires_at, _dumps(document or {})),
            )
            tx.conn.executemany(
                "INSERT INTO hold_lines VALUES (?, ?, ?, ?, ?, 1)",
                [(reservation_id, u.node, u.sku, u.qty, expires_at) for u in need],
            )
            data = {"cart": cart, "units": lifecycle.units_data(need), "expires_at": expires_at}
            hold = self._reservation(tx, reservation_id)
            tx.emit("reservation.created", reservation_id, data, resources.hold(hold))
            return hold

        return self._keyed(idem, reserve)

    def get_reservation(self, reservation_id: str) -> Reservation:
        with self._read() as tx:
            return self._reservation(tx, reservation_id)

    def release_reservation(
        self, reservation_id: str, idem: IdempotencyKey | None = None
    ) -> Reservation:
        def release(tx: _Tx) -> Reservation:
            self._end_hold(tx, self._active_hold(tx, reservation_id), HoldState.RELEASED)
            hold = self._reservation(tx, reservation_id)
            tx.emit("reservation.released", reservation_id, {}, resources.hold(hold))
            return hold

        return self._keyed(idem, release)

    def commit_reservation(
        self,
        hold: Reservation,
        order_id: str,
        document: dict[str, Any],
        idem: IdempotencyKey | None = None,
        *,
        days: Mapping[str, str] | None = None,
    ) -> OrderRecord:
        reservation_id = hold.id

        def commit(tx: _Tx) -> OrderRecord:
            active = self._active_hold(tx, reservation_id)
            self._check_new_order(tx, order_id)
            units = self._reservation(tx, reservation_id).units
            order, effects = lifecycle.create(
                order_id, sku_totals(units), units, document, tx.now, reservation_id
            )
            tx.charge_capacity(order, days)
            self._end_hold(tx, active, HoldState.COMMITTED, order_id)
            committed = resources.hold(self._reservation(tx, reservation_id))
            tx.emit("reservation.committed", reservation_id, {"order_id": order_id}, committed)
            tx.apply(effects)  # the held units move from reserved to allocated
            tx.save_order(order, effects, insert=True)
            return order

        return self._keyed(idem, commit)

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
                expired = resources.hold(self._reservation(tx, hold_id))
                tx.emit("reservation.expired", hold_id, {}, expired)
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
            document=json.loads(row["document"]),
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
        idem: IdempotencyKey | None = None,
        *,
        days: Mapping[str, str] | None = None,
        backorders: Sequence[Backorder] = (),
    ) -> OrderRecord:
        def create(tx: _Tx) -> OrderRecord:
            order, effects = lifecycle.create(
                order_id, lines, allocations, document, tx.now, backorders=backorders
            )
            self._check_new_order(tx, order_id)
            tx.check_available(allocations)
            tx.check_backorders(effects.backorder)
            tx.charge_capacity(order, days)
            tx.apply(effects)
            tx.apply_backorders(order_id, effects)
            tx.save_order(order, effects, insert=True)
            return order

        return self._keyed(idem, create)

    @staticmethod
    def _check_new_order(tx: _Tx, order_id: str) -> None:
        row = tx.conn.execute("SELECT state FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is not None:
            raise Conflict(f"order {order_id} already exists", current_state=row["state"])

    def get_order(self, order_id: str) -> OrderRecord:
        with self._read() as tx:
            return tx.load_order(order_id)

    def get_orders(self, order_ids: Sequence[str]) -> list[OrderRecord]:
        if not order_ids:
            return []
        with self._read() as tx:
            rows = tx.conn.execute(
                "SELECT o.* FROM json_each(?) j JOIN orders o ON o.id = j.value ORDER BY j.key",
                (_dumps(list(order_ids)),),
            ).fetchall()
        return [_order_from_row(r) for r in rows]

    def search_orders(self, query: OrderQuery) -> OrderPage:
        sql, params = _search_sql(query)
        with self._read() as tx:
            found = [_order_from_row(r) for r in tx.conn.execute(sql, params).fetchall()]
        if len(found) <= query.limit:
            return OrderPage(found, None)
        last = found[query.limit - 1]
        return OrderPage(found[: query.limit], (last.created_at, last.id))

    def capacity_used(self, days: Mapping[str, str]) -> dict[str, tuple[int, int]]:
        if not days:
            return {}
        with self._read() as tx:
            rows = tx.conn.execute(
                "SELECT c.node, c.shipments, c.units FROM capacity_use c JOIN json_each(?) j"
                " ON c.node = json_extract(j.value, '$[0]')"
                " AND c.day = json_extract(j.value, '$[1]')",
                (_dumps(sorted(days.items())),),
            ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows if r[1] or r[2]}

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
        # `read` is not needed: the transaction reads the order under the write lock

        def transition(tx: _Tx) -> OrderRecord:
            order = tx.load_order(order_id)
            lifecycle.check_allowed(order, action)
            lifecycle.check_version(order, expected_version)
            after, effects = lifecycle.apply(order, action, step)
            tx.check_available(effects.allocate, freed=effects.free)
            tx.charge_capacity(after, days)
            tx.apply(effects)
            tx.apply_backorders(order_id, effects)
            after = _with(after, tx.now, document)
            tx.save_order(after, effects, insert=False)
            return after

        return self._keyed(idem, transition)

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
                "SELECT request_hash, result FROM idempotent_results"
                " WHERE key = ? AND result IS NOT NULL",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return IdempotentReply(row["request_hash"], _result_from_json(row["result"]))

    def claim_idempotency_key(self, key: str, request_hash: str, lease_s: float) -> Result | None:
        # a claim lost in a power cut only frees its key: the effect's commit is durable
        idem = IdempotencyKey(key, request_hash)
        with self._write(durable=False) as tx:
            row = tx.conn.execute(
                "SELECT * FROM idempotent_results WHERE key = ?", (key,)
            ).fetchone()
            if row is not None and (row["result"] is not None or row["lease_until"] > tx.now):
                _check_same_request(row["request_hash"], idem)
                if row["result"] is not None:
                    return _result_from_json(row["result"])  # the caller replays it
                raise IdempotencyInFlight(
                    f"a request with idempotency key {key!r} is still in flight; retry later"
                )
            tx.conn.execute(
                "REPLACE INTO idempotent_results VALUES (?, ?, NULL, ?, ?)",
                (key, request_hash, tx.now + lease_s, tx.now),
            )
            return None

    def release_idempotency_key(self, key: str) -> None:
        with self._write(durable=False) as tx:
            tx.conn.execute(
                "DELETE FROM idempotent_results WHERE key = ? AND result IS NULL", (key,)
            )

    # --- webhooks

    def create_webhook(self, webhook: Webhook) -> Webhook:
        with self._write() as tx:
            if tx.conn.execute("SELECT 1 FROM webhooks WHERE id = ?", (webhook.id,)).fetchone():
                raise Conflict(f"webhook {webhook.id} already exists")
            tx.conn.execute(
                "INSERT INTO webhooks VALUES (?, ?, ?, ?, ?, NULL)",
                (webhook.id, webhook.url, _dumps(list(webhook.event_types)), webhook.secret,
                 tx.now),
            )  # fmt: skip
            return Webhook(webhook.id, webhook.url, webhook.event_types, webhook.secret, tx.now)

    def list_webhooks(self) -> list[Webhook]:
        with self._read() as tx:
            rows = tx.conn.execute("SELECT * FROM webhooks ORDER BY created_at, id").fetchall()
        return [_webhook(r) for r in rows]

    def get_webhook(self, webhook_id: str) -> Webhook:
        with self._read() as tx:
            row = tx.conn.execute("SELECT * FROM webhooks WHERE id = ?", (webhook_id,)).fetchone()
        if row is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return _webhook(row)

    def delete_webhook(self, webhook_id: str) -> None:
        with self._write() as tx:
            if not tx.conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)).rowcount:
                raise NotFound(f"webhook {webhook_id} not found")
            for table in ("webhook_replays", "webhook_failures"):
                tx.conn.execute(f"DELETE FROM {table} WHERE webhook_id = ?", (webhook_id,))

    def webhook_progress(self, webhook_id: str) -> dict[str, Any] | None:
        with self._read() as tx:
            row = tx.conn.execute(
                "SELECT progress FROM webhooks WHERE id = ?", (webhook_id,)
            ).fetchone()
        return None if row is None or row["progress"] is None else json.loads(row["progress"])

    def save_webhook_progress(
        self, webhook_id: str, progress: dict[str, Any], failure: dict[str, Any] | None = None
    ) -> None:
        with self._write() as tx:
            updated = tx.conn.execute(
                "UPDATE webhooks SET progress = ? WHERE id = ?", (_dumps(progress), webhook_id)
            ).rowcount
            if updated and failure is not None:
                tx.conn.execute(
                    "INSERT INTO webhook_failures (webhook_id, failure) VALUES (?, ?)",
                    (webhook_id, _dumps(failure)),
                )

    def add_webhook_replay(self, webhook_id: str, after: int, through: int) -> int:
        with self._write() as tx:
            if not tx.conn.execute("SELECT 1 FROM webhooks WHERE id = ?", (webhook_id,)).fetchone():
                raise NotFound(f"webhook {webhook_id} not found")
            n = tx.conn.execute(
                "SELECT COUNT(*) FROM webhook_replays WHERE webhook_id = ?", (webhook_id,)
            ).fetchone()[0]
            tx.conn.execute(
                "INSERT INTO webhook_replays VALUES (?, ?, ?, ?)", (webhook_id, n, after, through)
            )
            return int(n) + 1

    def webhook_replays(self, webhook_id: str, start: int) -> list[tuple[int, int]]:
        with self._read() as tx:
            rows = tx.conn.execute(
                "SELECT after, through FROM webhook_replays WHERE webhook_id = ? AND n >= ?"
                " ORDER BY n",
                (webhook_id, start),
            ).fetchall()
        return [(int(r["after"]), int(r["through"])) for r in rows]

    def webhook_failures(self, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        with self._read() as tx:
            rows = tx.conn.execute(
                "SELECT failure FROM webhook_failures WHERE webhook_id = ? ORDER BY id DESC"
                " LIMIT ?",
                (webhook_id, limit),
            ).fetchall()
        return [json.loads(r["failure"]) for r in rows]

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
            row = tx.conn.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
            if row is None:
                raise NotFound(f"API key {key_id} not found")
            others = tx.conn.execute(
                "SELECT scopes FROM api_keys WHERE revoked = 0 AND id != ?", (key_id,)
            ).fetchall()
            if (
                not row["revoked"]
                and "admin" in json.loads(row["scopes"])
                and not any("admin" in json.loads(r["scopes"]) for r in others)
            ):
                raise Conflict(LAST_ADMIN.format(key_id=key_id))
            tx.conn.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?", (key_id,))

    # --- background jobs

    def save_job(self, job_id: str, document: dict[str, Any]) -> None:
        with self._write() as tx:
            tx.conn.execute("REPLACE INTO jobs VALUES (?, ?)", (job_id, _dumps(document)))

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        with self._read() as tx:
            row = tx.conn.execute("SELECT document FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else cast(dict[str, Any], json.loads(row["document"]))

    # --- leases

    def acquire_lease(self, name: str, holder: str, lease_s: float) -> bool:
        if not lease_s > 0:
            raise Invalid(f"lease_s must be positive, got {lease_s!r}")
        with self._write(durable=False) as tx:  # a lease lost in a power cut is only free
            row = tx.conn.execute(
                "SELECT holder, lease_until FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row["holder"] != holder and row["lease_until"] > tx.now:
                return False
            tx.conn.execute(
                "REPLACE INTO leases VALUES (?, ?, ?)", (name, holder, tx.now + lease_s)
            )
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self._write(durable=False) as tx:
            tx.conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

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


def _index_unindexed_orders(tx: _Tx) -> None:
    """Index the orders of a ledger made before the search index (every order has a status
    term, so a ledger with orders and no terms is one)."""
    if tx.conn.execute("SELECT 1 FROM order_terms LIMIT 1").fetchone() is not None:
        return
    for row in tx.conn.execute("SELECT * FROM orders").fetchall():
        tx.index_order(_order_from_row(row), insert=True)


def _with(order: OrderRecord, now: float, document: dict[str, Any] | None) -> OrderRecord:
    """The order as a step leaves it, stamped now, with its new document if given."""
    return replace(order, updated_at=now, document=order.document if document is None else document)


def _check_same_request(request_hash: str, idem: IdempotencyKey) -> None:
    if request_hash != idem.request_hash:
        raise IdempotencyMismatch(
            f"idempotency key {idem.key!r} was used before with another request"
        )


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
