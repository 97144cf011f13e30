"""The inventory ledger: every state change of stock, holds and orders, behind one protocol.

Two stores implement `Store` and pass one contract test suite:
- `sourcing_engine.stores.sqlite.SqliteStore`: embedded, durable (WAL, synchronous=FULL,
  every write in BEGIN IMMEDIATE), the default;
- `sourcing_engine.stores.redis.RedisStore`: for many API replicas on one inventory, each
  operation one Lua script with every check before the first write.

Quantities per node and SKU (a *position*):
    on_hand      units physically there (WMS / POS counts, minus shipments, plus restocks)
    safety_stock units never promised
    reserved     units held by unexpired checkout holds
    allocated    units committed to orders and not yet shipped
    available    max(0, on_hand - safety_stock - allocated - reserved)

Every mutating operation is atomic and all-or-nothing over all its lines (lines for the same
node and SKU are summed before the check), appends one or more events to the global event
log (operations on stock, holds and orders; reference data -- nodes, items, inbound, API
keys -- is not logged), and, when given an idempotency key, stores the key and its response
in the same atomic step. A refused operation changes nothing: no effect, event or reply.
Times are UNIX seconds (float); stores use their own clock (the Redis server's TIME, the
process clock for SQLite) so that every replica agrees on expiry.

Conventions every store follows (pinned by tests/sourcing_engine/stores/contract.py):
- quantities in units, lines and allocations are whole numbers >= 1 (Invalid otherwise);
- unit tuples returned (hold units, allocations, shipped, returned) have one entry per
  (node, sku), sorted by (node, sku);
- an InsufficientStock carries one Shortage per short (node, sku) after summing, with
  nodes=(node,), in the order the pairs first appear in the request;
- events: `stock.snapshot` (subject "node:<id>"), `stock.adjusted` ("stock:<node>/<sku>"),
  `reservation.*` (the reservation id), `order.*` (the order id; data also carries the
  order's `state` and `version` after the change); units in event data are lists of
  {"node", "sku", "qty"}.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol

# --- values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeRecord:
    """A node of the live network (same fields as the exchange format's nodes)."""

    id: str
    kind: Literal["warehouse", "store"]
    lat: float
    lon: float
    ship_capacity: int | None = None  # shipments per batch (used by batch allocation)
    unit_capacity: int | None = None
    handling_per_shipment: float = 0.0
    handling_per_unit: float = 0.0
    ship_enabled: bool = True


@dataclass(frozen=True)
class ItemRecord:
    sku: str
    weight_lb: float
    dims_in: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Position:
    """Stock of one SKU at one node, as of `at`."""

    node: str
    sku: str
    on_hand: int
    safety_stock: int
    reserved: int
    allocated: int

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.safety_stock - self.allocated - self.reserved)


@dataclass(frozen=True)
class Unit:
    """qty units of sku at node (a line of a hold, an allocation, a shipment)."""

    node: str
    sku: str
    qty: int


@dataclass(frozen=True)
class Inbound:
    """Expected supply: a purchase order or transfer arriving at a node."""

    id: str
    node: str
    sku: str
    qty: int
    expected_at: float


class HoldState(StrEnum):
    ACTIVE = "active"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


def hold_state_at(stored: str, expires_at: float, now: float) -> HoldState:
    """A hold's state as reported at `now`: an active hold is expired once now >= expires_at
    (whether or not the reaper has marked it)."""
    if stored == HoldState.ACTIVE and expires_at <= now:
        return HoldState.EXPIRED
    return HoldState(stored)


@dataclass(frozen=True)
class Reservation:
    """A checkout hold: units held at nodes for a cart until expires_at."""

    id: str
    cart: str
    units: tuple[Unit, ...]
    created_at: float
    expires_at: float
    state: HoldState  # ACTIVE is reported as EXPIRED once now >= expires_at
    order_id: str | None = None  # set when committed into an order


class OrderState(StrEnum):
    ALLOCATED = "allocated"
    RELEASED = "released"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    RETURNED = "returned"


OrderAction = Literal["release", "ship", "cancel", "reject", "return", "reallocate"]
"""The steps of the order state machine (docs/service.md, "Orders")."""

_OPEN = frozenset({OrderState.ALLOCATED, OrderState.RELEASED, OrderState.PARTIALLY_SHIPPED})
ALLOWED_FROM: dict[OrderAction, frozenset[OrderState]] = {
    "release": frozenset({OrderState.ALLOCATED}),
    "ship": _OPEN,
    "cancel": _OPEN,
    "reject": _OPEN,
    "reallocate": _OPEN,
    "return": frozenset({OrderState.PARTIALLY_SHIPPED, OrderState.SHIPPED}),
}
"""Each action and the states it is allowed from."""


@dataclass(frozen=True)
class OrderRecord:
    """An order as the ledger knows it.

    lines: what the customer ordered (sku -> qty, after cancellations); always allocated +
        shipped per SKU (returned units stay in shipped and in lines);
    allocations: units still allocated (not yet shipped), per node and SKU;
    shipped / returned: units shipped and returned, per node and SKU;
    released_nodes: the nodes the order was released to (sorted);
    version: 1 at creation, +1 per transition;
    document: the service's own data (destination, plan with costs), stored as given.
    """

    id: str
    state: OrderState
    lines: dict[str, int]
    allocations: tuple[Unit, ...]
    shipped: tuple[Unit, ...]
    returned: tuple[Unit, ...]
    released_nodes: tuple[str, ...]
    version: int
    created_at: float
    updated_at: float
    document: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One state change. seq is the global, strictly increasing cursor."""

    seq: int
    at: float
    type: str  # e.g. "order.allocated", "order.shipped", "reservation.expired"
    subject: str  # order or reservation id, or "node:<id>" / "stock:<node>/<sku>"
    data: dict[str, Any]


@dataclass(frozen=True)
class IdempotentReply:
    """A stored response for an idempotency key."""

    request_hash: str
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: float
    revoked: bool = False


# --- errors -----------------------------------------------------------------------------


class LedgerError(Exception):
    """Base of the ledger's domain errors; each carries the HTTP status the API answers."""

    status = 400


@dataclass(frozen=True)
class Shortage:
    """One line that could not be covered: what was asked where, and what was there."""

    sku: str
    nodes: tuple[str, ...]
    requested: int
    available: int


class InsufficientStock(LedgerError):
    """Not enough available stock for one or more lines; carries every short line."""

    status = 409

    def __init__(self, shortages: Sequence[Shortage]) -> None:
        self.shortages = tuple(shortages)
        super().__init__(
            "insufficient stock: "
            + "; ".join(
                f"{s.sku} at {','.join(s.nodes)}: requested {s.requested}, available {s.available}"
                for s in self.shortages
            )
        )


class NotFound(LedgerError):
    status = 404


class Conflict(LedgerError):
    """The request conflicts with the current state (e.g. a transition not allowed)."""

    status = 409

    def __init__(self, message: str, current_state: str | None = None) -> None:
        self.current_state = current_state
        super().__init__(message)


class IdempotencyMismatch(LedgerError):
    """The idempotency key was used before with a different request body."""

    status = 422


class IdempotencyInFlight(LedgerError):
    """A request with this idempotency key is still being processed."""

    status = 409


class Invalid(LedgerError):
    """A request the ledger refuses as such (e.g. an adjustment below zero on hand)."""

    status = 422


# --- the protocol -----------------------------------------------------------------------


@dataclass(frozen=True)
class Idempotency:
    """Passed to mutating calls: store (key, hash) -> reply atomically with the effect.

    The reply is computed by the caller before the call (the body it will send), so the
    store can write it in the same transaction or script as the effect.
    """

    key: str
    request_hash: str
    status: int
    body: dict[str, Any]


class Store(Protocol):
    """What every ledger store implements. All methods are safe to call concurrently from
    threads and processes; mutating methods are atomic and all-or-nothing."""

    def now(self) -> float: ...

    # network and stock
    def upsert_nodes(self, nodes: Sequence[NodeRecord]) -> None: ...
    def list_nodes(self) -> list[NodeRecord]: ...
    def upsert_items(self, items: Sequence[ItemRecord]) -> None: ...
    def get_items(self, skus: Sequence[str]) -> dict[str, ItemRecord]: ...
    def set_stock(self, node: str, counts: dict[str, tuple[int, int]], reason: str) -> None:
        """Snapshot from a WMS or POS: sku -> (on_hand, safety_stock) at one node, creating
        positions as needed (Invalid if a count is negative). Allocations and holds stay."""
        ...

    def adjust_stock(
        self, node: str, sku: str, delta: int, reason: str, idem: Idempotency | None = None
    ) -> Position:
        """on_hand += delta (creating the position with safety stock 0 if new); refuses
        (Invalid) to go below zero on hand. Returns the position after the change."""
        ...

    def positions(self, skus: Sequence[str], nodes: Sequence[str] | None = None) -> list[Position]:
        """Positions of these SKUs (at these nodes, or at every node), sorted by (sku, node);
        only positions that exist (set by a snapshot or adjustment) are listed."""
        ...

    def add_inbound(self, inbound: Sequence[Inbound]) -> None: ...
    def list_inbound(self, skus: Sequence[str]) -> list[Inbound]: ...

    # checkout holds
    def reserve(
        self,
        reservation_id: str,
        cart: str,
        units: Sequence[Unit],
        ttl_s: float,
        idem: Idempotency | None = None,
    ) -> Reservation:
        """Hold units until now + ttl_s; InsufficientStock if any line is short; Conflict if
        the id exists; Invalid without units or with ttl_s <= 0."""
        ...

    def get_reservation(self, reservation_id: str) -> Reservation:
        """The hold (NotFound if unknown)."""
        ...

    def release_reservation(
        self, reservation_id: str, idem: Idempotency | None = None
    ) -> Reservation:
        """Release an active hold; Conflict (with its current state) if it is committed,
        released or expired."""
        ...

    def commit_reservation(
        self,
        reservation_id: str,
        order_id: str,
        lines: dict[str, int],
        document: dict[str, Any],
        idem: Idempotency | None = None,
    ) -> OrderRecord:
        """Turn an unexpired hold into an allocated order, atomically; Conflict if the hold
        expired, was released or committed (the hold then ends in exactly one state), or if
        the order id exists. The order's allocations are the hold's units; `lines` must be
        those units per SKU (Invalid otherwise)."""
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
        idem: Idempotency | None = None,
    ) -> OrderRecord:
        """Allocate every unit atomically (InsufficientStock if any is short; Conflict if
        the order id exists; Invalid unless `lines` are the allocations per SKU, not empty).
        Appends `order.created` and `order.allocated`."""
        ...

    def get_order(self, order_id: str) -> OrderRecord:
        """The order (NotFound if unknown)."""
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
        idem: Idempotency | None = None,
    ) -> OrderRecord:
        """One step of the order state machine (docs/service.md), atomically: checks the
        transition is allowed (Conflict with the current state otherwise), the version if
        given (Conflict), the arguments, the stock for new_allocations, then applies every
        inventory effect; version += 1; `document`, if given, replaces the order's document.

        Arguments per action (any other argument given is Invalid):
        - release: none; released_nodes = the nodes holding allocations;
        - ship: node (required): ships all the order's allocations at that node;
        - cancel: units to cancel (empty: every unshipped unit);
        - reject: node (required), units at that node (empty: all of them), new_allocations
          at other nodes, at most the rejected units per SKU; rejected units not
          re-allocated leave the order (`order.lines_unfillable`);
        - reallocate: units to give back and new_allocations, equal per SKU (lines stay);
        - return: units shipped and not yet returned (empty: all of them), restock.
        Units the order does not hold at that node (nothing to ship, cancel, reject or
        return there) are a Conflict with the current state. After ship, cancel, reject:
        no allocations left -> shipped if anything shipped, else cancelled; some shipped ->
        partially_shipped; otherwise the state stays. A reject or reallocate of a released
        order adds the new nodes to released_nodes."""
        ...

    # events and idempotency
    def events(self, after: int, limit: int = 100) -> list[Event]:
        """Up to limit events with seq > after, in seq order."""
        ...

    def idempotent_reply(self, key: str) -> IdempotentReply | None:
        """The reply stored by a completed call with this key (None while in flight)."""
        ...

    def claim_idempotency_key(self, key: str, request_hash: str, lease_s: float) -> bool:
        """Mark a key in flight for lease_s and return False (IdempotencyInFlight if another
        holder's lease is live, IdempotencyMismatch if it is live or completed with another
        request hash). Returns True, claiming nothing, if the key was completed with this
        hash: the caller then reads idempotent_reply(key) and replays it instead of running
        the call. An expired lease of a call that never completed may be taken over, with
        any hash.

        Independently of leases, a mutating call given `idem` for a key already completed
        applies nothing and raises IdempotencyInFlight (same hash: replay the stored reply)
        or IdempotencyMismatch (another hash), so the effect happens at most once per key."""
        ...

    def release_idempotency_key(self, key: str) -> None:
        """Give up a claim whose call was refused (it stored no reply), so that a retry with
        the key runs the call again at once instead of waiting for the lease. A no-op for a
        key that completed (its reply stays) or that is unknown. Only the claim's holder
        calls it, after its own call failed; a holder whose lease had already ended may so
        free a successor's claim, which only shapes answers: the store still applies at
        most one effect per key."""
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
        """Mark the key revoked (again is a no-op); NotFound if unknown."""
        ...

    def ping(self) -> bool: ...
    def close(self) -> None: ...
