"""The order-lifecycle use cases, independent of HTTP: source with the engine, then let the
ledger store allocate atomically; drive orders through their states; hold stock for checkout.

The store re-checks every unit atomically, so the engine's plan is only a proposal: when
another caller took the stock in between, the store refuses the whole request
(InsufficientStock) and the order is sourced again on the new stock, a few times, before
the shortage is reported with every short line.

Idempotency: a caller may pass a `Replay` (its key, the request's hash and how it renders a
result as its HTTP reply). The service computes the result a step will have *before* the
store call (order_lifecycle.after), renders it, and hands that reply to the store, which
stores it in the same atomic step as the effect.
"""

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from sourcing_engine import access, order_lifecycle
from sourcing_engine.domain import Batch
from sourcing_engine.ledger import (
    ApiKey,
    Conflict,
    Event,
    HoldState,
    Idempotency,
    IdempotentReply,
    Inbound,
    InsufficientStock,
    Invalid,
    ItemRecord,
    LedgerError,
    NodeRecord,
    NotFound,
    OrderRecord,
    OrderState,
    Position,
    Reservation,
    Store,
    Unit,
)
from sourcing_engine.live_sourcing import (
    Demand,
    Destination,
    Plan,
    Sourced,
    SourcingConfig,
    merge_lines,
    price_plan,
    source,
)
from sourcing_engine.order_lifecycle import Action, merge_units, pick_units, sku_totals

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ServiceConfig:
    """sourcing: cost model and penalties; allocate_attempts: how often an order is sourced
    again when its stock was taken concurrently; batch_time_limit_s: the joint solve's
    limit; key_cache_s: how long a verified API key is taken as valid without asking the
    store again (so a revocation reaches other API processes within that time);
    network_cache_s: how long nodes and items read from the store are used for sourcing
    and pricing (a change made through another process reaches them within that time;
    stock is never cached: the store checks it atomically); clock_refresh_s: how often the
    offset of the store's clock is measured again (it dates the replies computed before a
    store call)."""

    sourcing: SourcingConfig = field(default_factory=SourcingConfig)
    allocate_attempts: int = 4
    batch_time_limit_s: float = 10.0
    key_cache_s: float = 1.0
    network_cache_s: float = 1.0
    clock_refresh_s: float = 10.0

    def __post_init__(self) -> None:
        if self.allocate_attempts < 1:
            raise ValueError("allocate_attempts must be >= 1")
        if not self.batch_time_limit_s > 0:
            raise ValueError("batch_time_limit_s must be > 0")


@dataclass(frozen=True)
class Replay(Generic[T]):
    """An idempotency key, the hash of its request, and the reply a result renders to."""

    key: str
    request_hash: str
    render: Callable[[T], tuple[int, dict[str, Any]]]

    def reply(self, value: T) -> Idempotency:
        status, body = self.render(value)
        return Idempotency(self.key, self.request_hash, status, body)


@dataclass(frozen=True)
class StockView:
    """Enterprise-wide stock of one SKU: each node's position and the totals."""

    sku: str
    positions: tuple[Position, ...]

    def total(self, what: str) -> int:
        if what == "available":
            return sum(p.available for p in self.positions)
        return sum(int(getattr(p, what)) for p in self.positions)


@dataclass(frozen=True)
class OrderView:
    """An order with its history."""

    order: OrderRecord
    history: tuple[Event, ...]


@dataclass(frozen=True)
class BatchOutcome:
    """One order of a batch: allocated (order) or refused (error)."""

    order_id: str
    order: OrderRecord | None = None
    error: LedgerError | None = None


@dataclass(frozen=True)
class _Network:
    """Nodes and the items of some SKUs, read once for one sourcing and its pricing."""

    nodes: list[NodeRecord]
    items: dict[str, ItemRecord]


@dataclass(frozen=True)
class Adjustment:
    """on_hand += delta at a node for a SKU, with the reason (count correction, damage)."""

    node: str
    sku: str
    delta: int
    reason: str


@dataclass(frozen=True)
class _Step:
    """One transition's arguments to the store (ship takes only its node: the store ships
    everything allocated there), and the rejecting nodes to remember."""

    node: str | None = None
    units: tuple[Unit, ...] = ()
    new_allocations: tuple[Unit, ...] = ()
    restock: bool = True
    excluded: tuple[str, ...] | None = None


@dataclass(frozen=True)
class OrderRequest:
    id: str
    destination: Destination
    lines: Mapping[str, int]


def _document(
    destination: Destination, plan: Plan, excluded: Sequence[str] = (), **extra: Any
) -> dict[str, Any]:
    """What the service stores with an order: where it goes, its plan with costs, and the
    nodes that rejected it (never sourced from again for this order)."""
    return {
        "destination": destination.to_data(),
        "plan": plan.to_data(),
        "currency": plan.currency,
        "excluded_nodes": sorted(excluded),
        **extra,
    }


KEY_CACHE_ENTRIES = 10_000
ITEM_CACHE_ENTRIES = 100_000


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def destination_of(order: OrderRecord) -> Destination:
    data = order.document.get("destination")
    if not isinstance(data, dict):
        raise Invalid(f"order {order.id} has no destination in its document")
    return Destination.from_data(data)


class Service:
    """Every use case of the order-lifecycle service, over one `Store`."""

    def __init__(self, store: Store, config: ServiceConfig | None = None) -> None:
        self.store = store
        self.config = config or ServiceConfig()
        self._verified: dict[bytes, tuple[ApiKey, float]] = {}  # token digest -> key, until
        self._nodes: tuple[list[NodeRecord], float] | None = None  # nodes, until (monotonic)
        self._items: dict[str, tuple[ItemRecord, float]] = {}  # sku -> item, until
        self._clock: tuple[float, float] | None = None  # store clock - time.time(), until

    # --- network and stock --------------------------------------------------------------

    def upsert_nodes(self, nodes: Sequence[NodeRecord]) -> None:
        self.store.upsert_nodes(nodes)
        self._nodes = None

    def list_nodes(self) -> list[NodeRecord]:
        return self.store.list_nodes()

    def upsert_items(self, items: Sequence[ItemRecord]) -> None:
        self.store.upsert_items(items)
        for item in items:
            self._items.pop(item.sku, None)

    def _check_node(self, node: str) -> None:
        if node in {n.id for n in self._cached_nodes()}:
            return
        self._nodes = None  # perhaps added through another process a moment ago
        if node not in {n.id for n in self._cached_nodes()}:
            raise NotFound(f"node {node}: unknown; add it first (PUT /v1/nodes)")

    def set_stock(self, node: str, counts: Mapping[str, tuple[int, int]], reason: str) -> None:
        """A WMS or POS count: sku -> (on hand, safety stock) at one node."""
        self._check_node(node)
        self.store.set_stock(node, dict(counts), reason)

    def adjust_stock(
        self, adjustment: "Adjustment", replay: Replay["Adjustment"] | None = None
    ) -> "Adjustment":
        """on_hand += delta with a reason (Invalid below zero on hand). The reply is the
        adjustment itself: the position after it depends on every other caller."""
        a = adjustment
        self._check_node(a.node)
        idem = None if replay is None else replay.reply(a)
        self.store.adjust_stock(a.node, a.sku, a.delta, a.reason, idem)
        return a

    def add_inbound(self, inbound: Sequence[Inbound]) -> None:
        for node in sorted({i.node for i in inbound}):
            self._check_node(node)
        self.store.add_inbound(inbound)

    def load_network(self, batch: Batch, reason: str = "scenario") -> None:
        """Nodes, items and stock of a scenario batch (its orders are not loaded)."""
        self.upsert_nodes([NodeRecord(**vars(n)) for n in batch.nodes])
        self.upsert_items([ItemRecord(i.sku, i.weight_lb, i.dims_in) for i in batch.items])
        node_ids = [n.id for n in batch.nodes]
        skus = [i.sku for i in batch.items]
        inv = batch.inventory
        counts: dict[str, dict[str, tuple[int, int]]] = {}
        for n, s, on_hand, safety in zip(
            inv.node.tolist(), inv.item.tolist(), inv.on_hand.tolist(),
            inv.safety_stock.tolist(), strict=True,
        ):  # fmt: skip
            counts.setdefault(node_ids[n], {})[skus[s]] = (on_hand, safety)
        for node, node_counts in counts.items():
            self.store.set_stock(node, node_counts, reason)

    def stock(self, sku: str) -> StockView:
        return StockView(sku, tuple(sorted(self.store.positions([sku]), key=lambda p: p.node)))

    # --- sourcing -----------------------------------------------------------------------

    def _network(self, skus: Sequence[str]) -> _Network:
        return _Network(self._cached_nodes(), self._cached_items(skus))

    def _cached_nodes(self) -> list[NodeRecord]:
        """The nodes, read from the store at most once per network_cache_s."""
        now = time.monotonic()
        if self._nodes is None or self._nodes[1] <= now:
            self._nodes = (self.store.list_nodes(), now + self.config.network_cache_s)
        return self._nodes[0]

    def _cached_items(self, skus: Sequence[str]) -> dict[str, ItemRecord]:
        """Items of these SKUs; those not read within network_cache_s (or unknown then)
        are read from the store."""
        now = time.monotonic()
        out: dict[str, ItemRecord] = {}
        missing = []
        for sku in sorted(set(skus)):
            found = self._items.get(sku)
            if found is not None and found[1] > now:
                out[sku] = found[0]
            else:
                missing.append(sku)
        if missing:
            read = self.store.get_items(missing)
            if len(self._items) + len(read) > ITEM_CACHE_ENTRIES:
                self._items.clear()
            until = now + self.config.network_cache_s
            for sku, item in read.items():
                self._items[sku] = (item, until)
                out[sku] = item
        return out

    def _now(self) -> float:
        """The store's clock, as this process's clock plus an offset measured every
        clock_refresh_s (a store call less per write; the times of a reply computed before
        its store call are a moment off the store's either way)."""
        now = time.time()
        if self._clock is None or self._clock[1] <= now:
            before = time.time()
            store_now = self.store.now()
            offset = store_now - (before + time.time()) / 2
            self._clock = (offset, now + self.config.clock_refresh_s)
        return now + self._clock[0]

    def source(
        self,
        demands: Sequence[Demand],
        exclude: Sequence[str] = (),
        joint: bool = False,
        network: _Network | None = None,
    ) -> list[Sourced]:
        """Source demands on the live available stock (no effect on the ledger)."""
        skus = sorted({s for d in demands for s in d.lines})
        network = network or self._network(skus)
        return source(
            demands,
            network.nodes,
            network.items,
            self.store.positions(skus),
            self.config.sourcing,
            exclude=exclude,
            joint_time_limit=self.config.batch_time_limit_s if joint else None,
        )

    def _price(
        self, destination: Destination, units: Sequence[Unit], network: _Network | None = None
    ) -> Plan:
        network = network or self._network([u.sku for u in units])
        return price_plan(destination, units, network.nodes, network.items, self.config.sourcing)

    def _with_retries(self, attempt: Callable[[Sourced, _Network], T], demand: Demand) -> T:
        """Run attempt(sourced, network) on fresh sourcing until the store stops answering
        InsufficientStock (stock taken concurrently), at most allocate_attempts times."""
        last: InsufficientStock | None = None
        for _ in range(self.config.allocate_attempts):
            network = self._network(list(demand.lines))
            sourced = self.source([demand], network=network)[0]
            try:
                return attempt(sourced, network)
            except InsufficientStock as exc:
                if sourced.shortages:  # the engine's own answer: final
                    raise
                last = exc
        assert last is not None
        raise last

    # --- orders -------------------------------------------------------------------------

    def create_order(
        self, request: OrderRequest, replay: Replay[OrderRecord] | None = None
    ) -> OrderRecord:
        """Source the order on live stock and allocate it whole (InsufficientStock with
        every short line otherwise)."""
        demand = Demand(request.id, request.destination, dict(request.lines))

        def attempt(sourced: Sourced, network: _Network) -> OrderRecord:
            return self._allocate(request, sourced.require_complete(), replay, network)

        return self._with_retries(attempt, demand)

    def _allocate(
        self,
        request: OrderRequest,
        units: Sequence[Unit],
        replay: Replay[OrderRecord] | None,
        network: _Network | None = None,
    ) -> OrderRecord:
        units = merge_units(units)
        plan = self._price(request.destination, units, network)
        document = _document(request.destination, plan)
        lines = dict(request.lines)
        idem = None
        if replay is not None:
            now = self._now()
            predicted = OrderRecord(
                id=request.id,
                state=OrderState.ALLOCATED,
                lines=lines,
                allocations=units,
                shipped=(),
                returned=(),
                released_nodes=(),
                version=1,
                created_at=now,
                updated_at=now,
                document=document,
            )
            idem = replay.reply(predicted)
        return self.store.create_order(request.id, lines, units, document, idem)

    def allocate_batch(
        self,
        requests: Sequence[OrderRequest],
        replay_for: Callable[[str], Replay[OrderRecord] | None] = lambda _: None,
    ) -> list[BatchOutcome]:
        """Source many orders jointly with `optimal`, then allocate each atomically; an
        order whose stock was taken meanwhile (or that the joint plan left short) is
        sourced again alone. replay_for(order id) gives each order's own idempotency."""
        ids = [r.id for r in requests]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise Invalid(f"orders: order id {', '.join(dup)} appears more than once")
        demands = [Demand(r.id, r.destination, dict(r.lines)) for r in requests]
        network = self._network([s for d in demands for s in d.lines])
        try:
            joint = self.source(demands, joint=True, network=network) if demands else []
        except Invalid:
            joint = []  # an unknown SKU somewhere: every order is sourced alone and named
        by_id = {s.demand.id: s for s in joint}
        out: list[BatchOutcome] = []
        for request in requests:
            planned = by_id.get(request.id)
            try:
                replay = replay_for(request.id)  # claims the order's key just before use
                if planned is not None and planned.complete:
                    try:
                        order = self._allocate(request, planned.units, replay, network)
                    except InsufficientStock:
                        order = self.create_order(request, replay)
                else:
                    order = self.create_order(request, replay)
                out.append(BatchOutcome(request.id, order=order))
            except LedgerError as exc:
                out.append(BatchOutcome(request.id, error=exc))
        return out

    def get_order(self, order_id: str) -> OrderView:
        order = self.store.get_order(order_id)
        return OrderView(order, tuple(self.store.order_history(order_id)))

    def _step(
        self,
        order_id: str,
        action: Action,
        prepare: Callable[[OrderRecord], _Step],
        replay: Replay[OrderRecord] | None,
    ) -> OrderRecord:
        """One transition on the order as it is now, guarded by its version: if another
        caller changed the order in between, it is read and prepared again."""
        for attempt in range(self.config.allocate_attempts):
            order = self.store.get_order(order_id)
            order_lifecycle.check_allowed(order, action)
            step = prepare(order)
            predicted = order_lifecycle.after(
                order,
                action,
                node=step.node,
                units=step.units,
                new_allocations=step.new_allocations,
            )
            document = self._redocument(predicted, step.excluded)
            predicted = replace(predicted, document=document)
            try:
                return self.store.transition(
                    order_id,
                    action,
                    expected_version=order.version,
                    node=step.node,
                    units=step.units,
                    new_allocations=step.new_allocations,
                    restock=step.restock,
                    document=document,
                    idem=None if replay is None else replay.reply(predicted),
                )
            except InsufficientStock:
                # only a reject allocates: its new nodes' stock was taken meanwhile
                if attempt == self.config.allocate_attempts - 1:
                    raise
            except Conflict:
                now = self.store.get_order(order_id)
                if now.version == order.version or attempt == self.config.allocate_attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _redocument(self, order: OrderRecord, excluded: Sequence[str] | None) -> dict[str, Any]:
        """The document with the plan priced again for the units the order holds now
        (allocated and shipped), so costs always describe the current plan."""
        destination = destination_of(order)
        plan = self._price(destination, [*order.allocations, *order.shipped])
        old = order.document
        nodes = list(old.get("excluded_nodes", [])) if excluded is None else list(excluded)
        keep = {k: v for k, v in old.items() if k not in ("destination", "plan", "currency")}
        return {**keep, **_document(destination, plan, nodes)}

    def release(self, order_id: str, replay: Replay[OrderRecord] | None = None) -> OrderRecord:
        """Hand the order to its nodes for picking (allocated -> released)."""
        return self._step(order_id, "release", lambda _: _Step(), replay)

    def ship(
        self, order_id: str, node: str, replay: Replay[OrderRecord] | None = None
    ) -> OrderRecord:
        """The node shipped everything it holds for the order."""

        def prepare(order: OrderRecord) -> _Step:
            if not any(u.node == node for u in order.allocations):
                raise Conflict(
                    f"order {order.id} has nothing allocated at node {node} "
                    f"(allocated at: {', '.join(sorted({u.node for u in order.allocations}))})",
                    current_state=str(order.state),
                )
            return _Step(node=node)

        return self._step(order_id, "ship", prepare, replay)

    def cancel(
        self,
        order_id: str,
        lines: Mapping[str, int] | None = None,
        replay: Replay[OrderRecord] | None = None,
    ) -> OrderRecord:
        """Cancel the whole order (its unshipped units) or some lines' units; units at
        nodes not yet released to are cancelled first."""

        def prepare(order: OrderRecord) -> _Step:
            allocated = merge_units(order.allocations)
            if lines is None:
                return _Step(units=allocated)
            units = pick_units(
                allocated, lines, order, "unshipped (shipped units are returned, not cancelled)",
                prefer=order.released_nodes,
            )  # fmt: skip
            return _Step(units=units)

        return self._step(order_id, "cancel", prepare, replay)

    def reject(
        self,
        order_id: str,
        node: str,
        lines: Mapping[str, int] | None = None,
        replay: Replay[OrderRecord] | None = None,
    ) -> OrderRecord:
        """The node cannot fulfil these units (all it holds without lines): they are sourced
        again excluding every node that rejected the order; what cannot be is cancelled."""

        def prepare(order: OrderRecord) -> _Step:
            at_node = tuple(u for u in merge_units(order.allocations) if u.node == node)
            if not at_node:
                raise Conflict(
                    f"order {order.id} has nothing allocated at node {node}",
                    current_state=str(order.state),
                )
            units = at_node if lines is None else pick_units(at_node, lines, order, f"at {node}")
            excluded = tuple(sorted({*order.document.get("excluded_nodes", []), node}))
            demand = Demand(order.id, destination_of(order), sku_totals(units))
            sourced = self.source([demand], exclude=excluded)[0]
            return _Step(node, units, sourced.units, excluded=excluded)

        return self._step(order_id, "reject", prepare, replay)

    def return_units(
        self,
        order_id: str,
        lines: Sequence[tuple[str, int, str | None]],
        restock: bool,
        replay: Replay[OrderRecord] | None = None,
    ) -> OrderRecord:
        """Shipped units came back: (sku, qty, node or None for any shipping node)."""

        def prepare(order: OrderRecord) -> _Step:
            outstanding = order_lifecycle.subtract_units(order.shipped, order.returned)
            picked: list[Unit] = []
            for node in sorted({n for _, _, n in lines if n is not None}):
                want = merge_lines([(s, q) for s, q, n in lines if n == node])
                pool = tuple(u for u in outstanding if u.node == node)
                picked += pick_units(pool, want, order, f"shipped from {node} and not returned")
            outstanding = order_lifecycle.subtract_units(outstanding, picked)
            want = merge_lines([(s, q) for s, q, n in lines if n is None])
            if want:
                picked += pick_units(outstanding, want, order, "shipped and not returned")
            return _Step(units=merge_units(picked), restock=restock)

        return self._step(order_id, "return", prepare, replay)

    # --- checkout holds -----------------------------------------------------------------

    def reserve(
        self,
        cart: str,
        destination: Destination,
        lines: Mapping[str, int],
        ttl_s: float,
        replay: Replay[Reservation] | None = None,
    ) -> Reservation:
        """Source the cart's lines and hold the units until now + ttl_s."""
        reservation_id = "res_" + uuid.uuid4().hex

        def attempt(sourced: Sourced, _: _Network) -> Reservation:
            units = merge_units(sourced.require_complete())
            idem = None
            if replay is not None:
                now = self._now()
                predicted = Reservation(
                    id=reservation_id,
                    cart=cart,
                    units=units,
                    created_at=now,
                    expires_at=now + ttl_s,
                    state=HoldState.ACTIVE,
                )
                idem = replay.reply(predicted)
            return self.store.reserve(reservation_id, cart, units, ttl_s, idem)

        return self._with_retries(attempt, Demand(reservation_id, destination, dict(lines)))

    def get_reservation(self, reservation_id: str) -> Reservation:
        return self.store.get_reservation(reservation_id)

    def release_reservation(
        self, reservation_id: str, replay: Replay[Reservation] | None = None
    ) -> Reservation:
        hold = self.store.get_reservation(reservation_id)
        self._check_active(hold, "release")
        idem = None
        if replay is not None:
            idem = replay.reply(replace(hold, state=HoldState.RELEASED))
        return self.store.release_reservation(reservation_id, idem)

    @staticmethod
    def _check_active(hold: Reservation, action: str) -> None:
        if hold.state != HoldState.ACTIVE:
            raise Conflict(
                f"reservation {hold.id} is {hold.state}: only an active hold can be {action}d",
                current_state=str(hold.state),
            )

    def commit_reservation(
        self,
        reservation_id: str,
        order_id: str,
        destination: Destination,
        replay: Replay[OrderRecord] | None = None,
    ) -> OrderRecord:
        """Turn an unexpired hold into an allocated order with its units (the store
        refuses, atomically, a hold that expired, was released or committed)."""
        hold = self.store.get_reservation(reservation_id)
        self._check_active(hold, "commit")
        units = merge_units(hold.units)
        plan = self._price(destination, units)
        document = _document(destination, plan, reservation=reservation_id)
        lines = sku_totals(units)
        idem = None
        if replay is not None:
            now = self._now()
            predicted = OrderRecord(
                id=order_id,
                state=OrderState.ALLOCATED,
                lines=lines,
                allocations=units,
                shipped=(),
                returned=(),
                released_nodes=(),
                version=1,
                created_at=now,
                updated_at=now,
                document=document,
            )
            idem = replay.reply(predicted)
        return self.store.commit_reservation(reservation_id, order_id, lines, document, idem)

    def expire_reservations(self) -> int:
        """The reaper's pass: mark holds past their expiry (they already count for nothing)."""
        total = 0
        while True:
            n = self.store.expire_reservations(limit=1000)
            total += n
            if n < 1000:
                return total

    # --- idempotency ----------------------------------------------------------------------

    def claim_idempotency(
        self, key: str, request_hash: str, lease_s: float
    ) -> IdempotentReply | None:
        """Take the key for a call (IdempotencyInFlight while another holds it,
        IdempotencyMismatch if used with another request); the stored reply if the call
        already completed."""
        if not self.store.claim_idempotency_key(key, request_hash, lease_s):
            return None  # claimed now: no reply to replay (no store read needed)
        return self.store.idempotent_reply(key)

    def idempotent_reply(self, key: str) -> IdempotentReply | None:
        return self.store.idempotent_reply(key)

    def release_idempotency(self, key: str) -> None:
        """Give up the claim of a call that was refused (no reply stored), so that a retry
        runs it again at once; a no-op if the call completed."""
        self.store.release_idempotency_key(key)

    # --- events, keys, health -----------------------------------------------------------

    def events(self, after: int, limit: int) -> list[Event]:
        return self.store.events(after, limit)

    def issue_key(
        self, name: str, scopes: Sequence[str], key_id: str | None = None
    ) -> access.IssuedKey:
        return access.issue(self.store, name, scopes, key_id)

    def install_key(self, token: str, name: str, scopes: Sequence[str]) -> ApiKey:
        key = access.install(self.store, token, name, scopes)
        self._verified.clear()  # installing revokes the key installed before under the name
        return key

    def authenticate(self, token: str) -> ApiKey | None:
        """The key a token stands for (None: unknown, wrong secret or revoked). A verified
        key is remembered for `config.key_cache_s`: a revocation through this process takes
        effect at once, one through another process within that time."""
        key = self.cached_key(token)
        if key is not None:
            return key
        key = access.verify(self.store, token)
        if key is not None and self.config.key_cache_s > 0:
            if len(self._verified) >= KEY_CACHE_ENTRIES:
                self._verified.clear()
            until = time.monotonic() + self.config.key_cache_s
            self._verified[_digest(token)] = (key, until)
        return key

    def cached_key(self, token: str) -> ApiKey | None:
        """The key of a token verified within the last `key_cache_s` (no store call)."""
        found = self._verified.get(_digest(token))
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def list_keys(self) -> list[ApiKey]:
        return self.store.list_api_keys()

    def revoke_key(self, key_id: str) -> None:
        if not any(k.id == key_id for k in self.store.list_api_keys()):
            raise NotFound(f"API key {key_id}: unknown")
        self.store.revoke_api_key(key_id)
        self._verified.clear()

    def ready(self) -> bool:
        try:
            return self.store.ping()
        except Exception:  # readiness answers, it never raises
            log.exception("store ping failed")
            return False
