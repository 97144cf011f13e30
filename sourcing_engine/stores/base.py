"""The ledger: every state change of stock, holds and orders, behind one protocol.

Two stores implement `Store` and pass one contract test suite
(tests/sourcing_engine/stores/contract.py):
- `sourcing_engine.stores.sqlite.SqliteStore`: embedded, durable (WAL, synchronous=FULL,
  every write in BEGIN IMMEDIATE), the default;
- `sourcing_engine.stores.redis.RedisStore`: for many API replicas on one inventory, each
  write one Lua script with every check before the first write.
Both apply the one order state machine of `sourcing_engine.lifecycle`.

Quantities per node and SKU (a *position*):
    on_hand      units physically there (WMS / POS counts, minus shipments, plus restocks)
    safety_stock units never promised
    reserved     units held by unexpired checkout holds
    allocated    units committed to orders and not yet shipped
    available    max(0, on_hand - safety_stock - allocated - reserved)

Every mutating operation is atomic and all-or-nothing over all its lines (lines for the same
node and SKU are summed before the check), appends one or more events to the global event
log (operations on stock, holds, orders and settings, and every change of a node, an item
or an inbound; API keys and webhooks are not logged), and, when given an idempotency key,
stores the key with the operation's result in the same atomic step: a later call with the
key applies nothing and raises `Replayed` with that result (callers claim a key before the
call, so that a retry while it runs is told so). A refused operation changes nothing: no
effect, event or result. Times are UNIX seconds (float); stores use their own clock (the
Redis server's TIME, the process clock for SQLite) so that every replica agrees on expiry.

Capacity. Every write of an order charges its nodes' capacity of the day, atomically with
the write: a node holding units of the order (allocated or shipped, `lifecycle.node_units`)
counts one shipment and those units, on the day it was first charged for the order (`days`:
node -> its local date YYYY-MM-DD, given by the caller; the store clock's UTC date for a
node not in it). An increase beyond the node's `ship_capacity` or `unit_capacity` (None: no
limit) for that day is refused (InsufficientCapacity with every full node) and nothing is
written; cancelled and rejected units give their day's capacity back, shipped ones do not.

Conventions every store follows (pinned by the contract suite):
- quantities in units, lines and allocations are whole numbers >= 1 (Invalid otherwise);
- unit tuples returned (hold units, allocations, shipped, returned) have one entry per
  (node, sku), sorted by (node, sku);
- an InsufficientStock carries one Shortage per short (node, sku) after summing, with
  nodes=(node,), in the order the pairs first appear in the request;
- events: `stock.snapshot` (subject "node:<id>"), `stock.adjusted` and `inbound.received`
  ("stock:<node>/<sku>"), `settings.changed` ("settings:<name>"),
  `reservation.*` (the reservation id), `order.*` (the order id; data also carries the
  order's `state` and `version` after the change), `transfer.*` (the transfer id; data
  also carries its `state` and `version`), `node.created` / `node.updated`
  ("node:<id>"), `item.*` ("item:<sku>") and `inbound.created` / `inbound.updated`
  ("inbound:<id>"), only for a record that changes; units in event data are lists of
  {"node", "sku", "qty"};
- every event carries `resource`, the changed record after the change, read in the same
  atomic step (sourcing_engine/resources.py: an order, a hold, a position, a count's
  positions, a setting, a node, an item, an inbound, a transfer);
- the order search index (`search_orders`) is written with the order, atomically.
"""

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sourcing_engine.domain import Inbound, Item, Node, Position, Unit
from sourcing_engine.lifecycle import (
    Backorder,
    OrderAction,
    OrderRecord,
    Reservation,
    ReturnLine,
    TransferAction,
    TransferRecord,
    TransferStep,
)
from sourcing_engine.order_search import OrderPage, OrderQuery
from sourcing_engine.stock_sync import StockAdjustment, StockCount

IDEMPOTENCY_RETENTION_S = 24 * 3600.0
LAST_ADMIN = (
    "API key {key_id} is the last admin key: revoking it would lock every admin out; "
    "create another admin key first"
)
"""How long a completed idempotency key keeps its result (a retry within it replays)."""


def utc_day(at: float) -> str:
    """The UTC date of a store clock reading, YYYY-MM-DD (a node's day when none is given)."""
    return time.strftime("%Y-%m-%d", time.gmtime(at))


class StoreNotDurable(RuntimeError):
    """The store's server would acknowledge a write before it is on disk."""


@dataclass(frozen=True)
class Event:
    """One state change. seq is the global, strictly increasing cursor."""

    seq: int
    at: float
    type: str  # e.g. "order.allocated", "order.shipped", "reservation.expired"
    subject: str  # order or reservation id, or "node:<id>" / "stock:<node>/<sku>"
    data: dict[str, Any]
    resource: dict[str, Any] | None = None
    """The changed record after the change (sourcing_engine/resources.py); None for events
    recorded before events carried it."""


@dataclass(frozen=True)
class Setting:
    """A stored setting: its JSON document and its version (1 when first written)."""

    value: dict[str, Any]
    version: int


@dataclass(frozen=True)
class IdempotencyKey:
    """Passed to mutating calls: the operation applies at most once per key, and its result
    is stored with the key in the same atomic step. request_hash tells a retry of the same
    request from another request that reuses the key."""

    key: str
    request_hash: str


Result = OrderRecord | Reservation | Position | TransferRecord | tuple[Position, ...]
"""What a keyed operation returns, and what its key keeps (positions: a bulk stock call's)."""


@dataclass(frozen=True)
class IdempotentReply:
    """The result a completed call stored under its key, and its request's hash."""

    request_hash: str
    result: Result


class Replayed(Exception):
    """The key completed before with this request: nothing was applied now; `result` is
    what the first call returned."""

    def __init__(self, result: Result) -> None:
        self.result = result
        super().__init__("idempotency key already completed; its stored result is replayed")


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: float
    revoked: bool = False


@dataclass(frozen=True)
class Webhook:
    """A subscription: events whose type matches one of event_types ("order.shipped",
    "order.*", "*") are posted to url, signed with secret ("whsec_" + base64 key)."""

    id: str
    url: str
    event_types: tuple[str, ...]
    secret: str
    created_at: float


class Store(Protocol):
    """What every ledger store implements. All methods are safe to call concurrently from
    threads and processes; mutating methods are atomic and all-or-nothing. Keyed calls
    raise IdempotencyMismatch when the key was used with another request, Replayed when it
    completed with this one."""

    def now(self) -> float: ...
    def shift_clock(self, seconds: float) -> None:
        """Move this store's clock by `seconds` (expiry, leases and timestamps follow): tests
        and simulations step time instead of sleeping. Redis: for every client of the
        namespace; SQLite: for this process."""
        ...

    # network and stock
    def upsert_nodes(self, nodes: Sequence[Node]) -> None: ...
    def list_nodes(self) -> list[Node]: ...
    def upsert_items(self, items: Sequence[Item]) -> None: ...
    def get_items(self, skus: Sequence[str]) -> dict[str, Item]: ...
    def set_stock(
        self, node: str, counts: Mapping[str, tuple[int, int | None]], reason: str
    ) -> None:
        """Snapshot from a WMS or POS: sku -> (on_hand, safety_stock) at one node, creating
        positions as needed (Invalid if a count is negative; safety stock None keeps the
        stored value, 0 for a new position). Allocations and holds stay. A count as of now:
        its correction of on hand is recorded as a movement (see "Stock sync")."""
        ...

    def adjust_stock(
        self, node: str, sku: str, delta: int, reason: str, idem: IdempotencyKey | None = None
    ) -> Position:
        """on_hand += delta (creating the position with safety stock 0 if new); refuses
        (Invalid) to go below zero on hand. Returns the position after the change."""
        ...

    def positions(self, skus: Sequence[str], nodes: Sequence[str] | None = None) -> list[Position]:
        """Positions of these SKUs (at these nodes, or at every node), sorted by (sku, node);
        only positions that exist (set by a snapshot or adjustment) are listed."""
        ...

    def add_inbound(self, inbound: Sequence[Inbound]) -> None: ...
    def get_inbound(self, inbound_id: str) -> Inbound:
        """One open purchase order or transfer, with its open quantity (NotFound if unknown
        or received in full)."""
        ...

    def list_inbound(self, skus: Sequence[str]) -> list[Inbound]:
        """Open purchase orders and transfers of these SKUs, by expected arrival."""
        ...

    def receive_inbound(
        self,
        inbound_id: str,
        qty: int,
        idem: IdempotencyKey | None = None,
        *,
        days: Mapping[str, str] | None = None,
    ) -> Position:
        """qty units of an open inbound arrived: its node's on hand rises by qty, its open
        quantity falls by qty (the record goes once nothing is open); NotFound for an
        unknown inbound, Invalid for more than is open. Event `inbound.received`. In the
        same atomic step the units go to the orders backordered on it, oldest backorder
        first (`lifecycle.fill_backorders`: allocated at its node, charged to the node's
        day in `days` without a capacity check, event `order.backorder_received`). Returns
        the position after."""
        ...

    # transfers between nodes (lifecycle.py, "transfer orders"): a requested transfer's
    # lines count as allocated at the source; shipped, they are open inbound at the
    # destination (ids `lifecycle.transfer_inbound_id`, received only through the transfer)
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
        """Reserve the lines at the source atomically (InsufficientStock with every short
        line; Conflict if the id exists; Invalid for bad lines or source == destination).
        Event `transfer.created`."""
        ...

    def get_transfer(self, transfer_id: str) -> TransferRecord:
        """The transfer (NotFound if unknown)."""
        ...

    def transfer_step(
        self,
        transfer_id: str,
        action: TransferAction,
        step: TransferStep | None = None,
        idem: IdempotencyKey | None = None,
        *,
        expected_version: int | None = None,
    ) -> TransferRecord:
        """One step of `lifecycle.apply_transfer`, atomically: ship (the reservation leaves
        the source's on hand and opens inbound at the destination), receive (that inbound
        to the destination's on hand, with `inbound.received` per SKU), cancel (the
        reservation is released). Conflict if the state does not allow it or the version
        is not the expected one. Event `transfer.shipped`, `.received` or `.cancelled`."""
        ...

    # stock sync (sourcing_engine/stock_sync.py): every change of on hand (shipments,
    # restocks, adjustments, receipts, count corrections) is recorded as a movement at the
    # time it happened, kept MOVEMENT_RETENTION_S; counts apply relative to them
    def count_stock(
        self, counts: Sequence[StockCount], reason: str, idem: IdempotencyKey | None = None
    ) -> tuple[Position, ...]:
        """Apply counts of many positions, all or nothing (EntriesRefused naming every entry
        that cannot apply: malformed, as_of ahead of the store clock or older than the
        movements kept, stale for its source). Each sets on hand to counted + the movements
        recorded after its as_of (not below zero), records its correction as a movement at
        its as_of and, with a source, the source's last count there; safety stock None
        keeps the stored value. Event `stock.counted` per entry ("stock:<node>/<sku>", data
        counted, as_of, source, sequence, moved_since, correction, on_hand, safety_stock,
        reason). Returns the positions after, in entry order."""
        ...

    def adjust_stock_many(
        self, adjustments: Sequence[StockAdjustment], idem: IdempotencyKey | None = None
    ) -> tuple[Position, ...]:
        """Apply adjustments in order, all or nothing (EntriesRefused naming every entry that
        would take on hand below zero, counting earlier entries of the call). Event
        `stock.adjusted` per entry, as adjust_stock. Returns the positions after each."""
        ...

    # network settings: one versioned JSON document per name
    def put_setting(
        self, name: str, value: dict[str, Any], expected_version: int | None = None
    ) -> int:
        """Replace the setting atomically: PreconditionFailed (nothing written) when
        expected_version is given and is not the stored version (0: none stored yet);
        version += 1; event `settings.changed` (subject "settings:<name>", data {"version",
        "value"}). Returns the new version."""
        ...

    def get_setting(self, name: str) -> "Setting | None":
        """The setting's value and version (None if never written)."""
        ...

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
        """Hold units until now + ttl_s, with the caller's document; InsufficientStock if any
        line is short; Conflict if the id exists; Invalid without units or with ttl_s <= 0."""
        ...

    def get_reservation(self, reservation_id: str) -> Reservation:
        """The hold (NotFound if unknown)."""
        ...

    def release_reservation(
        self, reservation_id: str, idem: IdempotencyKey | None = None
    ) -> Reservation:
        """Release an active hold; Conflict (with its current state) if it is committed,
        released or expired."""
        ...

    def commit_reservation(
        self,
        hold: Reservation,
        order_id: str,
        document: dict[str, Any],
        idem: IdempotencyKey | None = None,
        *,
        days: Mapping[str, str] | None = None,
    ) -> OrderRecord:
        """Turn an unexpired hold (as the caller read it: a hold's units never change) into
        an allocated order of its units, atomically; Conflict if the hold expired, was
        released or committed meanwhile (the hold then ends in exactly one state), or if
        the order id exists."""
        ...

    def expire_reservations(self, limit: int = 1000) -> int:
        """Mark holds past their expiry as expired (idempotent reaper, one
        `reservation.expired` event each); returns how many it marked (at most limit).
        Expired holds never count as reserved, whether or not this has run."""
        ...

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
        """Allocate every unit atomically (InsufficientStock if any is short; Conflict if
        the order id exists; Invalid unless `lines` are the allocations and backorders per
        SKU, not empty; InsufficientCapacity if a node's day is full, see "Capacity"
        above). Appends `order.created` and `order.allocated`. backorders: units promised
        from open inbound supply, each checked in the same step against the inbound's open
        units not promised yet (InsufficientStock naming the SKU and the inbound's node
        otherwise); event `order.backordered`."""
        ...

    def get_order(self, order_id: str) -> OrderRecord:
        """The order (NotFound if unknown)."""
        ...

    def get_orders(self, order_ids: Sequence[str]) -> list[OrderRecord]:
        """The orders found among order_ids, in that order (unknown ids are left out): one
        read for a page of orders (the BI export reads a million this way)."""
        ...

    def search_orders(self, query: OrderQuery) -> OrderPage:
        """The orders the query names, newest first by (created_at, id), read from an
        index the store keeps with every order write (sourcing_engine/order_search.py):
        each order's terms are those of its last write. The next cursor is None exactly
        when no order is left; a store that filters by scanning may answer fewer than
        `limit` with a cursor, after looking through MAX_SCAN index entries."""
        ...

    def capacity_used(self, days: Mapping[str, str]) -> dict[str, tuple[int, int]]:
        """Shipments and units charged to each node (node -> its day) on that day; nodes
        without any are left out."""
        ...

    def pickups_waiting(self, before: float, limit: int = 1000) -> list[str]:
        """Ids of the orders ready for pickup since a moment earlier than `before` (their
        last step, `ready`, at < before), the longest waiting first, at most limit: what
        the not-collected sweep reads."""
        ...

    def order_history(self, order_id: str) -> list[Event]:
        """The order's `order.*` events in seq order (NotFound if the order is unknown)."""
        ...

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
        """One step of the order state machine (`lifecycle.apply`), atomically: the
        transition must be allowed (Conflict with the current state otherwise), the version
        the expected one if given (Conflict), the new allocations in stock
        (InsufficientStock); then every effect is applied, version += 1, and `document`, if
        given, replaces the order's document. `read`: the order as the caller just read it,
        which a store may start from instead of reading it again (it still writes only if
        the order is at that version). days: each node's date for capacity (see
        "Capacity"); parcel: a ship's (carrier, tracking number), recorded in its event;
        backorders: a cancel's backorders (given back to their inbound); returns, at: a
        return's lines with their dispositions and the node receiving them; why: what a
        reallocate's event records of why the order moved (its saving, the run)."""
        ...

    # events and idempotency
    def events(self, after: int, limit: int = 100) -> list[Event]:
        """Up to limit events with seq > after, in seq order."""
        ...

    def idempotent_reply(self, key: str) -> IdempotentReply | None:
        """The result a completed call stored under this key (None if none did)."""
        ...

    def claim_idempotency_key(self, key: str, request_hash: str, lease_s: float) -> Result | None:
        """Mark a key in flight for lease_s and return None (IdempotencyInFlight if another
        holder's lease is live, IdempotencyMismatch if the key is live or completed with
        another request hash). If the key completed with this hash, claims nothing and
        returns its stored result: the caller replays it instead of running the call. An
        expired lease of a call that never completed may be taken over, with any hash.

        Leases only shape answers (a retry while the first call runs is told so instead of
        racing it); independently of them, a keyed mutating call applies at most once."""
        ...

    def release_idempotency_key(self, key: str) -> None:
        """Give up a claim whose call was refused (it stored no result), so that a retry
        with the key runs the call again at once instead of waiting for the lease. A no-op
        for a key that completed (its result stays) or that is unknown."""
        ...

    # webhooks: subscriptions, and the deliverer's progress for each (its JSON document,
    # written by the deliverer only), its replay requests (appended by the API only) and
    # the deliveries it gave up on; deleting a webhook deletes them all
    def create_webhook(self, webhook: Webhook) -> Webhook:
        """Store a new subscription; created_at is set by the store clock (Conflict if the
        id exists)."""
        ...

    def list_webhooks(self) -> list[Webhook]:
        """Every subscription, by creation time."""
        ...

    def get_webhook(self, webhook_id: str) -> Webhook:
        """The subscription (NotFound if unknown)."""
        ...

    def delete_webhook(self, webhook_id: str) -> None:
        """Delete it with its progress, replays and failures (NotFound if unknown)."""
        ...

    def webhook_progress(self, webhook_id: str) -> dict[str, Any] | None:
        """The deliverer's last saved progress document (None before the first save)."""
        ...

    def save_webhook_progress(
        self, webhook_id: str, progress: dict[str, Any], failure: dict[str, Any] | None = None
    ) -> None:
        """Replace the progress document and append `failure` (a delivery given up on) in
        one atomic step; nothing for a webhook deleted meanwhile."""
        ...

    def add_webhook_replay(self, webhook_id: str, after: int, through: int) -> int:
        """Append a request to deliver again the events with after < seq <= through;
        returns how many requests the webhook has had (NotFound if unknown)."""
        ...

    def webhook_replays(self, webhook_id: str, start: int) -> list[tuple[int, int]]:
        """The replay requests from index `start` on, (after, through) in request order."""
        ...

    def webhook_failures(self, webhook_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The last `limit` deliveries given up on, newest first."""
        ...

    # API keys (stored hashed)
    def create_api_key(
        self, key_id: str, name: str, secret_hash: str, scopes: Sequence[str]
    ) -> ApiKey:
        """Conflict if the id exists."""
        ...

    def find_api_key(self, key_id: str) -> tuple[ApiKey, str] | None:
        """The key (revoked ones too, flagged) and its stored secret hash; None if unknown."""
        ...

    def list_api_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, by creation time."""
        ...

    def revoke_api_key(self, key_id: str) -> None:
        """Mark the key revoked (again is a no-op); NotFound if unknown; Conflict
        (LAST_ADMIN), atomically, if it is the last unrevoked key with the admin scope."""
        ...

    # background jobs (sourcing_engine/jobs.py): one JSON document per job, replaced whole,
    # so that every API process of the store reads the same progress
    def save_job(self, job_id: str, document: dict[str, Any]) -> None:
        """Store (or replace) the job's document."""
        ...

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job's document as last saved; None if unknown."""
        ...

    # leases: how the API processes of one store elect the one that runs a background task
    # (the scheduled re-optimization), judged by the store's clock
    def acquire_lease(self, name: str, holder: str, lease_s: float) -> bool:
        """Hold the named lease for lease_s from now and answer True if it is free, expired
        or held by `holder` already (then renewed); False, changing nothing, while another
        holder's lease is live."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """Free the lease if `holder` holds it; a no-op otherwise (a lease that expired and
        was taken over is the new holder's)."""
        ...

    def ping(self) -> bool: ...
    def close(self) -> None: ...
