"""The order-lifecycle use cases, independent of HTTP: source with the engine, then let the
store allocate atomically; drive orders through their states; hold stock for checkout.

The store re-checks every unit atomically, so the engine's plan is only a proposal: when
another caller took the stock in between, the store refuses the whole request
(InsufficientStock) and the order is sourced again on the new stock, a few times, before
the shortage is reported with every short line.

Idempotency: a keyed call claims its key for a lease first (a retry while it runs is told
so: IdempotencyInFlight), then runs; the store keeps the call's result with its effect in
one atomic step, and a later call with the key gets that result back (`Done.replayed`)
without anything being applied again. A refused call releases its claim, so a retry runs
it again at once.
"""

import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar, cast
from zoneinfo import ZoneInfo

from sourcing_engine import api_keys, events, lifecycle
from sourcing_engine.backorders import backorders_for, promised_date
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.domain import (
    Batch,
    Carrier,
    Destination,
    Inbound,
    Item,
    NetworkSettings,
    Node,
    Order,
    Pickup,
    Plan,
    Position,
    Shipment,
    Unit,
    merge_lines,
    merge_units,
    sku_totals,
    subtract_units,
)
from sourcing_engine.errors import (
    CapacityShort,
    Conflict,
    DomainError,
    EntriesRefused,
    EntryProblem,
    IdempotencyMismatch,
    InputError,
    InsufficientCapacity,
    InsufficientStock,
    Invalid,
    NotFound,
    PreconditionFailed,
    Shortage,
    UnknownItems,
    UnknownNode,
)
from sourcing_engine.exchange import (
    network_carrier_from_data,
    settings_from_data,
    settings_to_data,
)
from sourcing_engine.lifecycle import OrderAction, OrderRecord, Reservation, TransferRecord
from sourcing_engine.lookahead.history import StoreHistory
from sourcing_engine.lookahead.planner import (
    LOOKAHEAD,
    Sample,
    next_midnight,
    rest_of_day_sample,
)
from sourcing_engine.order_search import OrderPage, OrderQuery
from sourcing_engine.promise.calendars import calendar_problems
from sourcing_engine.promise.carriers import default_carrier
from sourcing_engine.promise.legs import leg_arrival
from sourcing_engine.promise.network import PromiseNetwork
from sourcing_engine.promise.options import (
    METHODS,
    Method,
    Option,
    Promise,
    PromiseConfig,
    promise,
)
from sourcing_engine.solvers import POLICIES, Result
from sourcing_engine.sourcing import (
    Capacities,
    Network,
    Sourced,
    SourcingConfig,
    price,
    source,
    source_batch,
)
from sourcing_engine.stock_sync import StockAdjustment, StockCount
from sourcing_engine.stores.base import ApiKey, Event, IdempotencyKey, Replayed, Store
from sourcing_engine.webhooks.subscriptions import Webhooks
from sourcing_engine.whatif.world import network_time_zone

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # imported when needed by explain_order and itemize_promise
    from sourcing_engine.explain.itemize import ShipmentItems
    from sourcing_engine.explain.order import Explanation
    from sourcing_engine.export import ExportRequest

T = TypeVar("T")


@dataclass(frozen=True)
class ServiceConfig:
    """sourcing: cost model and penalties; allocate_attempts: how often an order is sourced
    again when its stock was taken concurrently; batch_time_limit_s: the joint solve's
    limit; idempotency_lease_s: how long a claimed key stays in flight before another
    request may take it over (a batch holds its key for its time limit and a minute more);
    key_cache_s: how long a verified API key is taken as valid without asking the store
    again (so a revocation reaches other API processes within that time); network_cache_s:
    how long nodes and items read from the store are used for sourcing and pricing (a
    change made through another process reaches them within that time; stock is never
    cached: the store checks it atomically); reoptimize_time_limit_s: the joint solve of
    a re-optimization of the hold window (sourcing_engine/reoptimization.py)."""

    sourcing: SourcingConfig = field(default_factory=SourcingConfig)
    allocate_attempts: int = 4
    batch_time_limit_s: float = 10.0
    idempotency_lease_s: float = 2.0
    key_cache_s: float = 1.0
    network_cache_s: float = 1.0
    promise: PromiseConfig = field(default_factory=PromiseConfig)
    promise_stock_cache_s: float = 0.0
    reoptimize_time_limit_s: float = 5.0

    def __post_init__(self) -> None:
        if self.allocate_attempts < 1:
            raise ValueError("allocate_attempts must be >= 1")
        if not self.batch_time_limit_s > 0:
            raise ValueError("batch_time_limit_s must be > 0")
        if not self.idempotency_lease_s > 0:
            raise ValueError("idempotency_lease_s must be > 0")


@dataclass(frozen=True)
class Done(Generic[T]):
    """A call's result, and whether it is the stored result of an earlier call with the
    same idempotency key (nothing was applied now)."""

    value: T
    replayed: bool = False


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
class NodeCapacity:
    """A node's capacity on a day (None: no limit) and what orders took of it."""

    node: str
    day: str
    ship_capacity: int | None
    unit_capacity: int | None
    shipments: int
    units: int

    @property
    def shipments_left(self) -> int | None:
        return None if self.ship_capacity is None else max(0, self.ship_capacity - self.shipments)

    @property
    def units_left(self) -> int | None:
        return None if self.unit_capacity is None else max(0, self.unit_capacity - self.units)


@dataclass(frozen=True)
class OrderView:
    """An order with its history."""

    order: OrderRecord
    history: tuple[Event, ...]


@dataclass(frozen=True)
class BatchOutcome:
    """One order of a batch: allocated (done) or refused (error)."""

    order_id: str
    done: Done[OrderRecord] | None = None
    error: DomainError | None = None


@dataclass(frozen=True)
class BatchPlan:
    """The joint plan of a batch's orders not allocated before (a retry's): the policy,
    its status, the plan's cost (shipments and penalties), the proven lower bound and
    gap (None for rule-based policies), the solve's time. Orders whose stock was taken
    meanwhile are sourced again alone, so the allocations may differ from it."""

    policy: str
    status: str
    cost: float
    bound: float | None
    gap: float | None
    runtime_s: float
    currency: str


@dataclass(frozen=True)
class BatchAllocation:
    """Each order's outcome, in the batch's order, and the joint plan (None when every
    order was replayed or a SKU is unknown)."""

    outcomes: list[BatchOutcome]
    plan: BatchPlan | None

    @property
    def allocated_cost(self) -> float:
        """What the allocated orders' plans cost, as allocated."""
        return round(sum(float(o.done.value.document["plan"]["cost"]) for o in self.outcomes
                         if o.done is not None), 6)  # fmt: skip


@dataclass(frozen=True)
class Reallocation:
    """An order after `Service.reallocate_to`: moved or not, and what the new plan saves
    (None: it cannot cover the order's units, or is the plan it has)."""

    order: OrderRecord
    moved: bool
    saving: float | None


@dataclass(frozen=True)
class Adjustment:
    """on_hand += delta at a node for a SKU, with the reason (count correction, damage)."""

    node: str
    sku: str
    delta: int
    reason: str


@dataclass(frozen=True)
class _Reference:
    """The network as read from the store: its nodes, its settings and the sourcing
    configuration they make (refreshed every network_cache_s)."""

    nodes: Network
    settings: NetworkSettings
    sourcing: SourcingConfig

    @property
    def carrier(self) -> Carrier:
        return self.settings.carrier

    @cached_property
    def promise(self) -> PromiseNetwork:
        return PromiseNetwork(self.nodes, self.carrier)


@dataclass(frozen=True)
class _Network:
    """The network and the items of some SKUs, read once for one sourcing and its pricing."""

    nodes: Network
    items: dict[str, Item]
    sourcing: SourcingConfig


@dataclass(frozen=True)
class _Step:
    """One transition's arguments, and the rejecting nodes to remember (every node that
    rejected some of the order, and per SKU the nodes that rejected it). unchanged: the
    step is not worth taking (a reallocation that saves too little): nothing is written."""

    step: lifecycle.Step = field(default_factory=lifecycle.Step)
    excluded: tuple[str, ...] | None = None
    parcel: dict[str, Any] | None = None  # a shipment's record, added to the order's parcels
    excluded_lines: dict[str, list[str]] | None = None
    unchanged: bool = False
    saving: float | None = None  # a reallocation's: what the new plan saves (None: none)


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


def _hold_document(destination: Destination, plan: Plan) -> dict[str, Any]:
    """What the service stores with a hold: where the cart was sourced for, and its plan
    with costs (an order committed from the hold to the same place takes it as it is)."""
    return {"destination": destination.to_data(), "plan": plan.to_data()}


def _held_plan(hold: Reservation, destination: Destination) -> Plan | None:
    """The plan the hold was sourced with, if it was sourced for this destination."""
    doc = hold.document
    if doc.get("destination") != destination.to_data() or "plan" not in doc:
        return None
    return Plan.from_data(doc["plan"])


SETTINGS = "network"
"""The name the network settings are stored under."""
LEGACY_CARRIER_SETTING = "carrier"
"""Where a ledger from before the settings document kept its carrier (read if no settings)."""
SET_ATTEMPTS = 8


def _chosen(found: Promise, option_id: str | None) -> Option:
    """The option a hold takes: the one named, or the first ranked that holds stock."""
    holdable = [o for o in found.options if o.units]
    if option_id is None:
        if not holdable:
            raise Conflict("the cart has no option with stock on hand to hold", current_state="")
        return holdable[0]
    option = found.option(option_id)
    if option is None or not option.units:
        offered = ", ".join(o.id for o in holdable) or "none"
        why = "is not offered for this cart now" if option is None else "holds no stock on hand"
        raise Conflict(f"option {option_id} {why}; options to hold: {offered}", current_state="")
    return option


@dataclass(frozen=True)
class SkuAvailability:
    """One SKU's positions (at the nodes asked about) and its open inbound supply."""

    sku: str
    positions: tuple[Position, ...]
    incoming: tuple[Inbound, ...]

    @property
    def sellable(self) -> int:
        """On hand minus safety stock, holds and allocations, summed over the nodes."""
        return sum(p.available for p in self.positions)


KEY_CACHE_ENTRIES = 10_000
ITEM_CACHE_ENTRIES = 100_000
BATCH_LEASE_MARGIN_S = 60.0
MAX_BATCH_TIME_LIMIT_S = 300.0


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _units_of(backorders: Iterable[lifecycle.Backorder]) -> list[Unit]:
    """Backordered units as units at their purchase orders' nodes (where they will ship)."""
    return [Unit(b.node, b.sku, b.qty) for b in backorders]


def _backorders_first(
    backordered: Sequence[lifecycle.Backorder], lines: Mapping[str, int]
) -> tuple[tuple[lifecycle.Backorder, ...], dict[str, int]]:
    """The backorders a cancel of `lines` takes (latest arrival first), and what of the
    lines is left to take from allocated units."""
    rest = dict(lines)
    taken = []
    for b in sorted(backordered, key=lambda b: (b.expected_at, b.inbound), reverse=True):
        n = min(b.qty, rest.get(b.sku, 0))
        if n:
            taken.append(replace(b, qty=n))
            rest[b.sku] -= n
    return lifecycle.merge_backorders(taken), {s: q for s, q in rest.items() if q > 0}


def _excluded_lines(order: OrderRecord) -> dict[str, list[str]]:
    """Per SKU, the nodes that rejected it for this order (an order recorded before
    exclusions were kept per SKU: every rejecting node, for every SKU)."""
    doc = order.document
    if "excluded_lines" in doc:
        return {s: list(n) for s, n in doc["excluded_lines"].items()}
    return {s: list(doc.get("excluded_nodes", [])) for s in order.lines}


def movable_units(order: OrderRecord) -> tuple[Unit, ...]:
    """The units a reallocation may move: allocated at nodes the order is not released to."""
    return tuple(u for u in merge_units(order.allocations) if u.node not in order.released_nodes)


def destination_of(order: OrderRecord) -> Destination:
    data = order.document.get("destination")
    if not isinstance(data, dict):
        raise Invalid(f"order {order.id} has no destination in its document")
    return Destination.from_data(data)


def order_of_record(record: OrderRecord) -> Order:
    """The order a record placed: its destination and lines (Invalid: no destination)."""
    return Order.of(record.id, destination_of(record), sorted(record.lines.items()))


class Service:
    """Every use case of the order-lifecycle service, over one `Store`."""

    def __init__(
        self,
        store: Store,
        config: ServiceConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """clock: seconds on a monotonic scale, for how long caches keep what they read (a
        test passes a clock it moves by hand, instead of sleeping through a cache time)."""
        self.store = store
        self.config = config or ServiceConfig()
        self._clock = clock
        self._verified: dict[bytes, tuple[ApiKey, float]] = {}  # token digest -> key, until
        self._reference: tuple[_Reference, float] | None = None  # network, until (monotonic)
        self._items: dict[str, tuple[Item, float]] = {}  # sku -> item, until
        self._stock: dict[str, tuple[list[Position], float]] = {}  # sku -> positions, until

    def close(self) -> None:
        self.store.close()

    # --- idempotency ------------------------------------------------------------------

    def _keyed(
        self,
        key: IdempotencyKey | None,
        call: Callable[[IdempotencyKey | None], T],
        lease_s: float | None = None,
    ) -> Done[T]:
        """Run call(key) at most once per key: claim the key, run, and answer the stored
        result of a call that completed with it instead (IdempotencyMismatch if the key was
        used for another request). A refused call releases its claim."""
        if key is None:
            return Done(call(None))
        lease = lease_s or self.config.idempotency_lease_s
        stored = self.store.claim_idempotency_key(key.key, key.request_hash, lease)
        if stored is not None:
            return Done(cast(T, stored), replayed=True)
        try:
            return Done(call(key))
        except Replayed as twin:  # a twin whose lease we took over completed first
            return Done(cast(T, twin.result), replayed=True)
        except IdempotencyMismatch:
            raise  # the key is another request's now (our lease ended): not ours to release
        except BaseException:
            self.release_idempotency(key.key)
            raise

    def release_idempotency(self, key: str) -> None:
        """Give up our claim of a key whose call was refused, so that a retry runs the call
        again at once (and answers the same refusal if nothing changed) instead of waiting
        for the lease. Failing to release only leaves the key to its lease: logged."""
        try:
            self.store.release_idempotency_key(key)
        except Exception as exc:  # one line: the cause is the store's, reported already
            log.warning("could not release idempotency key %r (%s); its lease frees it", key, exc)

    # --- network and stock --------------------------------------------------------------

    def upsert_nodes(self, nodes: Sequence[Node]) -> None:
        """Add or replace nodes (Invalid naming a node whose calendar cannot be used)."""
        country = self._network_reference().carrier.country
        for node in nodes:
            problems = calendar_problems(node, country)
            if problems:
                raise Invalid(f"node {node.id}: calendar: {'; '.join(problems)}")
        self.store.upsert_nodes(nodes)
        self._reference = None

    def carrier(self) -> Carrier:
        """The network's carrier: its rate card, service levels and holiday country."""
        return self._network_reference().carrier

    def postal_country(self) -> str:
        """The country of a postal code given without one."""
        return self._network_reference().settings.postal

    def network_settings(self) -> NetworkSettings:
        """The settings as stored now (defaults at version 0 if never set)."""
        stored = self.store.get_setting(SETTINGS)
        if stored is not None:
            found, _ = settings_from_data(stored.value, "stored settings")
            return replace(found, version=stored.version)
        legacy = self.store.get_setting(LEGACY_CARRIER_SETTING)
        carrier = (
            default_carrier("US", self.config.sourcing.shipping)
            if legacy is None
            else network_carrier_from_data(legacy.value)
        )
        c = self.config.sourcing
        return NetworkSettings(
            carrier, c.unfilled_penalty_per_unit, c.split_penalty, c.max_shipments_per_order
        )

    def put_network_settings(
        self, settings: NetworkSettings, expected_version: int | None = None
    ) -> NetworkSettings:
        """Replace the settings, if still at expected_version (PreconditionFailed if not);
        Invalid naming a node whose calendar the new country cannot use. Event
        `settings.changed`. The settings as stored, with their new version."""
        country = settings.carrier.country
        for node in self.store.list_nodes():
            if problems := calendar_problems(node, country):
                raise Invalid(
                    f"carrier.country: {country}: node {node.id}'s calendar cannot be used "
                    f"there ({'; '.join(problems)})"
                )
        document = settings_to_data(settings, resolved=False)
        del document["version"]
        version = self.store.put_setting(SETTINGS, document, expected_version)
        self._reference = None
        return replace(settings, version=version)

    def put_network_settings_data(
        self, data: Mapping[str, Any], expected_version: int | None = None
    ) -> NetworkSettings:
        """put_network_settings from a settings document (Invalid naming each field that
        cannot be used); the document's own version, if any, is the expected one unless
        expected_version is given (they must agree when both are)."""
        try:
            settings, version = settings_from_data(dict(data))
        except InputError as exc:
            raise Invalid(str(exc)) from None
        if version is not None and expected_version is not None and version != expected_version:
            raise Invalid(
                f"version: {version} in the body, {expected_version} in If-Match; give one, "
                "or the same in both"
            )
        return self.put_network_settings(
            settings, expected_version if expected_version is not None else version
        )

    def set_carrier(self, carrier: Carrier) -> None:
        """Replace the carrier (rate card, country, service levels), keeping the other
        settings (a default service level the new carrier lacks goes back to its first)."""
        for _ in range(SET_ATTEMPTS):
            now = self.network_settings()
            level = now.default_service_level
            keep = level if level in {lv.name for lv in carrier.levels} else None
            try:
                self.put_network_settings(
                    replace(now, carrier=carrier, default_service_level=keep), now.version
                )
                return
            except PreconditionFailed:
                continue  # changed in between: apply to what is there now
        raise Conflict("settings: changed by others too often to apply the carrier; retry")

    def list_nodes(self) -> list[Node]:
        return self.store.list_nodes()

    def upsert_items(self, items: Sequence[Item]) -> None:
        self.store.upsert_items(items)
        for item in items:
            self._items.pop(item.sku, None)

    def _check_node(self, node: str) -> None:
        if node in self._cached_nodes().index:
            return
        self._reference = None  # perhaps added through another process a moment ago
        if node not in self._cached_nodes().index:
            raise UnknownNode(node)

    def set_stock(
        self, node: str, counts: Mapping[str, tuple[int, int | None]], reason: str
    ) -> None:
        """A WMS or POS count as of now: sku -> (on hand, safety stock, None keeps it) at one
        node (UnknownNode, UnknownItems for SKUs without an item)."""
        self._check_node(node)
        self._check_skus(counts)
        self.store.set_stock(node, counts, reason)

    def adjust_stock(self, a: Adjustment, key: IdempotencyKey | None = None) -> Done[Position]:
        """on_hand += delta with a reason (Invalid below zero on hand); the position after."""
        self._check_node(a.node)
        self._check_skus([a.sku])
        return self._keyed(key, lambda k: self.store.adjust_stock(a.node, a.sku, a.delta,
                                                                   a.reason, k))  # fmt: skip

    def _check_skus(self, skus: Iterable[str]) -> None:
        unknown = sorted(set(skus) - set(self._cached_items(list(skus))))
        if unknown:
            raise UnknownItems(unknown)

    # stock sync (stock_sync.py): counts as of a time or a sequence, bulk adjustments

    def count_stock(
        self, counts: Sequence[StockCount], reason: str, key: IdempotencyKey | None = None
    ) -> Done[tuple[Position, ...]]:
        """Counts of many positions, all or nothing (EntriesRefused naming every entry at an
        unknown node or of an unknown SKU, malformed, stale or out of the clock's range);
        the positions after, in entry order."""
        self._check_entries("counts", counts)
        return self._keyed(key, lambda k: self.store.count_stock(counts, reason, k))

    def adjust_stock_many(
        self, adjustments: Sequence[StockAdjustment], key: IdempotencyKey | None = None
    ) -> Done[tuple[Position, ...]]:
        """Adjustments in order, all or nothing (EntriesRefused naming every entry at an
        unknown node or of an unknown SKU, or below zero on hand); the positions after."""
        self._check_entries("adjustments", adjustments)
        return self._keyed(key, lambda k: self.store.adjust_stock_many(adjustments, k))

    def _check_entries(self, what: str, entries: Sequence[StockCount | StockAdjustment]) -> None:
        """EntriesRefused naming each entry whose node or SKU the network does not have."""
        nodes = self._cached_nodes().index
        if any(e.node not in nodes for e in entries):
            self._reference = None  # perhaps added through another process a moment ago
            nodes = self._cached_nodes().index
        items = self._cached_items([e.sku for e in entries])
        problems = [
            EntryProblem(i, e.node, e.sku, "unknown_node", f"unknown node {e.node} (PUT /v1/nodes)")
            if e.node not in nodes
            else EntryProblem(i, e.node, e.sku, "unknown_sku",
                              f"unknown SKU {e.sku}: no item record (PUT /v1/items)")
            for i, e in enumerate(entries)
            if e.node not in nodes or e.sku not in items
        ]  # fmt: skip
        if problems:
            raise EntriesRefused(what, problems)

    def add_inbound(self, inbound: Sequence[Inbound]) -> None:
        for node in sorted({i.node for i in inbound}):
            self._check_node(node)
        self.store.add_inbound(inbound)

    def load_network(self, batch: Batch, reason: str = "scenario") -> None:
        """Nodes, items, stock and carrier of a scenario batch (its orders are not loaded)."""
        self.set_carrier(batch.carrier or default_carrier("US", batch.shipping))
        self.upsert_nodes(batch.nodes)
        self.upsert_items(batch.items)
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
        ref = self._network_reference()
        return _Network(ref.nodes, self._cached_items(skus), ref.sourcing)

    def _cached_nodes(self) -> Network:
        return self._network_reference().nodes

    def _network_reference(self) -> _Reference:
        """The nodes (with their arrays) and the settings, read from the store at most once
        per network_cache_s. A store without settings has the US demo carrier's service
        levels on the configured rate card and the configured penalties."""
        now = self._clock()
        if self._reference is None or self._reference[1] <= now:
            settings = self.network_settings()
            sourcing = SourcingConfig(
                shipping=settings.shipping,
                unfilled_penalty_per_unit=settings.unfilled_penalty_per_unit,
                split_penalty=settings.split_penalty,
                max_shipments_per_order=settings.max_shipments_per_order,
            )
            ref = _Reference(Network(self.store.list_nodes()), settings, sourcing)
            self._reference = (ref, now + self.config.network_cache_s)
        return self._reference[0]

    def _cached_items(self, skus: Sequence[str]) -> dict[str, Item]:
        """Items of these SKUs; those not read within network_cache_s (or unknown then)
        are read from the store."""
        now = self._clock()
        out: dict[str, Item] = {}
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

    def source(
        self,
        orders: Sequence[Order],
        exclude: Sequence[str] = (),
        joint: bool = False,
        network: _Network | None = None,
        capacity: bool = True,
        give_back: Sequence[Unit] = (),
    ) -> list[Sourced]:
        """Source orders on the live available stock (with the allocated units `give_back`
        counted free: an order sourced again may keep its own) and, unless capacity is
        False, the capacity each node has left today (no effect on the ledger)."""
        skus = sorted({ln.sku for o in orders for ln in o.lines})
        network = network or self._network(skus)
        return source(
            orders,
            network.nodes,
            network.items,
            self._positions_given_back(skus, give_back),
            network.sourcing,
            exclude=exclude,
            joint_time_limit=self.config.batch_time_limit_s if joint else None,
            capacity_left=self._capacity_left() if capacity else None,
        )

    def _positions_given_back(self, skus: Sequence[str], give_back: Sequence[Unit]
                              ) -> list[Position]:  # fmt: skip
        """The live positions of these SKUs with the allocated units `give_back` counted free."""
        own = {(u.node, u.sku): u.qty for u in merge_units(give_back)}
        return [
            replace(p, allocated=max(0, p.allocated - own.get((p.node, p.sku), 0)))
            for p in self.store.positions(skus)
        ]

    def source_again_jointly(
        self, orders: Sequence[tuple[Order, Sequence[Unit]]], time_limit_s: float
    ) -> tuple[list[Sourced], Result]:
        """Allocated orders sourced again in one joint `optimal` solve within time_limit_s,
        each (order, the units it holds now): their units counted free as stock, the
        shipments and units they take of each node's capacity today given back (no effect
        on the ledger)."""
        held = [u for _, units in orders for u in units]
        skus = sorted({ln.sku for o, _ in orders for ln in o.lines})
        network = self._network(skus)
        ships, units_left = (a.copy() for a in self._capacity_left())
        for _, units in orders:
            for node, qty in lifecycle.node_units_of(units).items():
                n = network.nodes.index.get(node)
                if n is not None and ships[n] < UNLIMITED:
                    ships[n] += 1
                if n is not None and units_left[n] < UNLIMITED:
                    units_left[n] += qty
        return source_batch(
            [o for o, _ in orders], network.nodes, network.items,
            self._positions_given_back(skus, held), network.sourcing,
            joint_time_limit=time_limit_s, capacity_left=(ships, units_left), policy="optimal",
        )  # fmt: skip

    # --- node capacity per day ----------------------------------------------------------

    def node_days(self, nodes: Iterable[str], at: dt.datetime | None = None) -> dict[str, str]:
        """Each node's local date (YYYY-MM-DD) at `at` (default now): the day whose capacity
        an allocation there takes. Unknown nodes are left out."""
        ref = self._network_reference()
        at = at or dt.datetime.now(dt.UTC)
        out = {}
        for node in nodes:
            n = ref.nodes.index.get(node)
            if n is not None:
                out[node] = at.astimezone(ref.promise.days(n, at.year).tz).date().isoformat()
        return out

    def _capacity_left(self) -> Capacities:
        """Shipments and units each node may still take today (by node index)."""
        ref = self._network_reference()
        net = ref.nodes
        capped = [net.ids[n] for n in range(len(net)) if
                  net.ship_capacity[n] < UNLIMITED or net.unit_capacity[n] < UNLIMITED]  # fmt: skip
        if not capped:
            return net.ship_capacity, net.unit_capacity
        used = self.store.capacity_used(self.node_days(capped))
        ship, unit = net.ship_capacity.copy(), net.unit_capacity.copy()
        for node, (shipments, units) in used.items():
            n = net.index[node]
            if ship[n] < UNLIMITED:
                ship[n] = max(0, int(ship[n]) - shipments)
            if unit[n] < UNLIMITED:
                unit[n] = max(0, int(unit[n]) - units)
        return ship, unit

    def capacity(self, nodes: Sequence[str] | None = None, day: dt.date | None = None
                 ) -> list[NodeCapacity]:  # fmt: skip
        """Capacity used and left per node on a day (default: each node's today)."""
        ref = self._network_reference()
        for node in nodes or ():
            self._check_node(node)
        chosen = [n for n in ref.nodes.nodes if nodes is None or n.id in set(nodes)]
        days = (
            {n.id: day.isoformat() for n in chosen}
            if day is not None
            else self.node_days(n.id for n in chosen)
        )
        used = self.store.capacity_used(days)
        return [
            NodeCapacity(
                n.id, days[n.id], n.ship_capacity, n.unit_capacity, *used.get(n.id, (0, 0))
            )
            for n in chosen
        ]

    def _refused_for_capacity(self, order: Order) -> InsufficientCapacity | None:
        """Whether an order the engine left short is short of capacity: None if it is short
        of stock (or no node has a capacity); else the error naming the full nodes its plan
        without capacity limits uses (none if they have room again: a retry may do)."""
        net = self._network_reference().nodes
        if not (net.ship_capacity < UNLIMITED).any() and not (net.unit_capacity < UNLIMITED).any():
            return None
        free = self.source([order], capacity=False)[0]
        if free.shortages:
            return None  # short of stock: the stock shortage is the reason
        left_ship, left_unit = self._capacity_left()
        ref = self._network_reference()
        days = self.node_days(s.node for s in free.plan.shipments)
        shorts = []
        for s in free.plan.shipments:
            n = ref.nodes.index[s.node]
            if left_ship[n] < 1:
                shorts.append(CapacityShort(s.node, days[s.node], "shipments", 1, 0))
            if left_unit[n] < s.units:
                shorts.append(
                    CapacityShort(s.node, days[s.node], "units", s.units, int(left_unit[n]))
                )
        return InsufficientCapacity(
            shorts, f"order {order.id}: the nodes with its stock have no capacity left today"
        )

    def _price(
        self, destination: Destination, units: Sequence[Unit], network: _Network | None = None
    ) -> Plan:
        network = network or self._network([u.sku for u in units])
        return price(destination, units, network.nodes, network.items, network.sourcing)

    def _with_retries(self, attempt: Callable[[Sourced], T], order: Order) -> T:
        """Run attempt(sourced) on fresh sourcing until the store stops answering
        InsufficientStock or InsufficientCapacity (taken concurrently), at most
        allocate_attempts times. An order the engine leaves short because the nodes with
        its stock are full today is refused with InsufficientCapacity naming them (an
        order that accepts waiting is backordered instead, see `_allocate`)."""
        last: InsufficientStock | InsufficientCapacity | None = None
        for _ in range(self.config.allocate_attempts):
            sourced = self.source([order])[0]
            try:
                return attempt(sourced)
            except InsufficientStock as exc:
                if sourced.shortages and not order.backorder:  # final, unless capacity
                    full = self._refused_for_capacity(order)
                    if full is None:
                        raise
                    if full.shorts:
                        raise full from None
                    # stock or capacity came back meanwhile: source again
                last = exc
            except InsufficientCapacity as exc:
                last = exc
        assert last is not None
        raise last

    # --- orders -------------------------------------------------------------------------

    def create_order(self, order: Order, key: IdempotencyKey | None = None) -> Done[OrderRecord]:
        """Source the order on live stock and allocate it whole (InsufficientStock with
        every short line otherwise)."""
        return self._keyed(key, lambda k: self._with_retries(lambda s: self._allocate(s, k), order))

    def _allocate(self, sourced: Sourced, key: IdempotencyKey | None) -> OrderRecord:
        """Allocate the order as sourced; what an order that accepts waiting has short is
        backordered on open purchase orders (InsufficientStock if they cannot cover it)."""
        order = sourced.order
        if not (order.backorder and sourced.shortages):
            plan = sourced.require_complete()
            document = _document(order.destination, plan, **order.references)
            days = self.node_days({u.node for u in sourced.units})
            return self.store.create_order(
                order.id, order.quantities, sourced.units, document, key, days=days
            )
        ref = self._network_reference()
        inbound = self.store.list_inbound([s.sku for s in sourced.shortages])
        backordered = backorders_for(sourced, inbound, ref.promise)
        # priced as it will ship: the backordered units from their purchase orders' nodes
        plan = self._price(order.destination, [*sourced.units, *_units_of(backordered)])
        document = _document(
            order.destination,
            plan,
            promised_date=promised_date(backordered, self._local_date),
            **order.references,
        )
        days = self.node_days({u.node for u in sourced.units})
        return self.store.create_order(
            order.id, order.quantities, sourced.units, document, key, days=days,
            backorders=backordered,
        )  # fmt: skip

    # --- click and collect ----------------------------------------------------------------

    def _at_pickup(
        self, order_id: str, lines: Mapping[str, int], pickup: Pickup
    ) -> tuple[tuple[Unit, ...], dict[str, Any]]:
        """Units for a pickup order (or hold) and its document: from the store's shelf what
        it has available; the rest, if the order allows a transfer, sourced by the engine
        from the other nodes to the store (legs), else InsufficientStock naming the store's
        short lines. The document carries the pickup: store, legs, and when it is ready
        (the promise's dates: the store's pickup preparation on its opening hours, each leg
        dated as ship-to-store is)."""
        ref = self._network_reference()
        node = ref.nodes.index.get(pickup.node)
        if node is None:
            raise UnknownNode(pickup.node)
        store = ref.nodes.nodes[node]
        if store.kind != "store":
            raise Invalid(f"pickup_node: {pickup.node} is a {store.kind}; pickup is at a store")
        have = {p.sku: p.available for p in self.store.positions(list(lines), [pickup.node])}
        shelf = {s: min(q, have.get(s, 0)) for s, q in lines.items() if have.get(s, 0) > 0}
        rest = {s: q - shelf.get(s, 0) for s, q in lines.items() if q > shelf.get(s, 0)}
        to_store = Destination(store.lat, store.lon, residential=False)
        units = [Unit(pickup.node, s, q) for s, q in shelf.items()]
        if rest and not pickup.allow_transfer:
            raise InsufficientStock(
                [Shortage(s, (pickup.node,), lines[s], have.get(s, 0)) for s in sorted(rest)]
            )
        if rest:
            legs = self.source([Order.of(order_id, to_store, rest.items())], exclude=(pickup.node,))
            legs[0].require_complete()
            units += legs[0].units
        now = dt.datetime.now(dt.UTC)
        days = ref.promise.days(node, now.year)
        ready = [days.ready_for_pickup(now)] if shelf else []
        leg_nodes = sorted({u.node for u in units if u.node != pickup.node})
        ready += [
            dt.datetime.fromtimestamp(self.leg_arrival(n, pickup.node, now), dt.UTC).astimezone(
                days.tz
            )
            for n in leg_nodes
        ]
        ready_at = max((r for r in ready if r is not None), default=None)
        merged = merge_units(units)
        info = {"node": pickup.node, "legs": leg_nodes, "allow_transfer": pickup.allow_transfer,
                "ready_at": None if ready_at is None else ready_at.isoformat()}  # fmt: skip
        document = _document(to_store, self._price(to_store, merged), fulfillment="pickup",
                             pickup=info)  # fmt: skip
        return merged, document

    def create_pickup_order(
        self,
        order_id: str,
        lines: Mapping[str, int],
        pickup: Pickup,
        key: IdempotencyKey | None = None,
        references: Mapping[str, str] | None = None,
    ) -> Done[OrderRecord]:
        """A click-and-collect order at the pickup store (`_at_pickup`), allocated whole,
        sourced again if its stock or capacity was taken between the read and the write
        (at most allocate_attempts times); references: its external and customer
        references, kept in its document as a shipped order's are."""
        quantities = merge_lines(lines.items())

        def allocate(k: IdempotencyKey | None) -> OrderRecord:
            for attempt in range(self.config.allocate_attempts):
                units, document = self._at_pickup(order_id, quantities, pickup)
                document = {**document, **(references or {})}
                days = self.node_days({u.node for u in units})
                try:
                    return self.store.create_order(
                        order_id, quantities, units, document, k, days=days
                    )
                except (InsufficientStock, InsufficientCapacity):
                    if attempt == self.config.allocate_attempts - 1:
                        raise
            raise AssertionError("unreachable")

        return self._keyed(key, allocate)

    def ready_for_pickup(
        self, order_id: str, key: IdempotencyKey | None = None, if_version: int | None = None
    ) -> Done[OrderRecord]:
        """The store has every unit of a pickup order (its shelf's picked, the legs'
        arrived): ready for pickup (Conflict while other nodes still hold units)."""
        return self._pickup_step(order_id, "ready", key, if_version)

    def pick_up(
        self, order_id: str, key: IdempotencyKey | None = None, if_version: int | None = None
    ) -> Done[OrderRecord]:
        """The customer collected the order at the store."""
        return self._pickup_step(order_id, "pick_up", key, if_version)

    def not_collected(
        self, order_id: str, key: IdempotencyKey | None = None, if_version: int | None = None
    ) -> Done[OrderRecord]:
        """Nobody collected it (or the customer gave up): every unit is sellable at the
        store again (the sweep `expire_pickups` does this after pickup_days)."""
        return self._pickup_step(order_id, "not_collected", key, if_version)

    def _pickup_step(
        self,
        order_id: str,
        action: OrderAction,
        key: IdempotencyKey | None,
        if_version: int | None,
    ) -> Done[OrderRecord]:
        def prepare(order: OrderRecord) -> _Step:
            node = lifecycle.pickup_node_of(order)
            if node is None:
                raise Conflict(
                    f"order {order.id} is shipped to its customer, not collected at a store",
                    current_state=str(order.state),
                )
            return _Step(lifecycle.Step(node=node))

        return self._step(order_id, action, prepare, key, if_version)

    def expire_pickups(self, limit: int = 1000, at: float | None = None) -> int:
        """The not-collected sweep: orders ready for pickup for longer than the network's
        pickup_days at `at` (UNIX seconds, default the store's now) are not collected,
        their units sellable at the store again. Returns how many it marked (at most limit
        a pass; one picked up meanwhile is left)."""
        days = self._network_reference().settings.pickup_days
        before = (self.store.now() if at is None else at) - days * 86400.0
        marked = 0
        for order_id in self.store.pickups_waiting(before, limit):
            try:
                self._pickup_step(order_id, "not_collected", None, None)
                marked += 1
            except Conflict:
                continue  # collected (or marked by another process) since the read
        return marked

    def allocate_batch(
        self,
        orders: Sequence[Order],
        key_for: Callable[[Order], IdempotencyKey | None] = lambda _: None,
        batch_key: IdempotencyKey | None = None,
        policy: str = "optimal",
        time_limit_s: float | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> "BatchAllocation":
        """Source many orders jointly with `policy` (default `optimal`, within time_limit_s,
        default batch_time_limit_s) on the stock and capacity left, then allocate each
        atomically; an order whose stock was taken meanwhile (or that the joint plan left
        short) is sourced again alone. key_for(order) gives each order its own idempotency
        key; batch_key, if any, is held in flight for the whole call, so that a retry of
        the batch while it runs is told so (IdempotencyInFlight) instead of racing it.
        progress(done, total), if given, is called as the orders are allocated."""
        ids = [o.id for o in orders]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise Invalid(f"orders: order id {', '.join(dup)} appears more than once")
        if policy not in POLICIES and policy != LOOKAHEAD:
            raise Invalid(
                f"policy: {policy!r}; expected one of {', '.join([*POLICIES, LOOKAHEAD])}"
            )
        limit = time_limit_s or self.config.batch_time_limit_s
        if not 0 < limit <= MAX_BATCH_TIME_LIMIT_S:
            raise Invalid(f"time_limit_s: {limit}; expected more than 0 and at most "
                          f"{MAX_BATCH_TIME_LIMIT_S:g} s")  # fmt: skip
        if batch_key is None:
            return self._allocate_batch(orders, key_for, policy, limit, progress)
        lease = limit + BATCH_LEASE_MARGIN_S
        claimed = self.store.claim_idempotency_key(batch_key.key, batch_key.request_hash, lease)
        if claimed is not None:  # batch keys keep no result: this key is another call's
            raise IdempotencyMismatch(
                f"idempotency key {batch_key.key!r} was used before with another request"
            )
        try:
            return self._allocate_batch(orders, key_for, policy, limit, progress)
        finally:
            self.release_idempotency(batch_key.key)  # each order keeps its own result

    def _allocate_batch(
        self,
        orders: Sequence[Order],
        key_for: Callable[[Order], IdempotencyKey | None],
        policy: str,
        time_limit_s: float,
        progress: Callable[[int, int], None] | None = None,
    ) -> "BatchAllocation":
        out: dict[str, BatchOutcome] = {}
        pending: list[Order] = []
        for order in orders:  # orders a retry of the batch completed already are replayed
            key = key_for(order)
            stored = None if key is None else self.store.idempotent_reply(key.key)
            if key is None or stored is None:
                pending.append(order)
            elif stored.request_hash != key.request_hash:
                error = IdempotencyMismatch(
                    f"the idempotency key of order {order.id} was used before with another "
                    "request; use a new key for a new request"
                )
                out[order.id] = BatchOutcome(order.id, error=error)
            else:
                done = Done(cast(OrderRecord, stored.result), replayed=True)
                out[order.id] = BatchOutcome(order.id, done=done)
        skus = {ln.sku for o in pending for ln in o.lines}
        forecast = self._lookahead_sample() if policy == LOOKAHEAD and pending else None
        if forecast is not None:  # the sample's plans take stock of their own SKUs too
            skus |= {ln.sku for o in forecast.orders for ln in o.lines}
        network = self._network(sorted(skus))
        joint: list[Sourced] = []
        plan = None
        if pending:
            try:
                joint, result = source_batch(
                    pending, network.nodes, network.items, self.store.positions(sorted(skus)),
                    network.sourcing, joint_time_limit=time_limit_s,
                    capacity_left=self._capacity_left(), policy=policy, forecast=forecast,
                )  # fmt: skip
                plan = BatchPlan(
                    result.policy, str(result.status), round(result.objective, 6),
                    None if result.bound is None else round(result.bound, 6), result.gap,
                    round(result.runtime_s, 4), network.sourcing.shipping.currency,
                )  # fmt: skip
            except UnknownItems:
                pass  # an unknown SKU somewhere: every order is sourced alone and named
        by_id = {s.order.id: s for s in joint}
        replayed = len(orders) - len(pending)
        for k, order in enumerate(pending):
            try:
                done = self._keyed(key_for(order), self._batch_allocation(order, by_id))
                out[order.id] = BatchOutcome(order.id, done=done)
            except DomainError as exc:
                out[order.id] = BatchOutcome(order.id, error=exc)
            if progress is not None:
                progress(replayed + k + 1, len(orders))
        return BatchAllocation([out[o.id] for o in orders], plan)

    def _lookahead_sample(self) -> Sample | None:
        """The orders the store took in the rest of today's hours on the days before (the
        network's days: its first warehouse's zone), the lookahead policy's forecast."""
        now = self.store.now()
        tz = ZoneInfo(network_time_zone(self._cached_nodes().nodes))
        history = StoreHistory(self.store, now, order_of_record)
        return rest_of_day_sample(history, now, next_midnight(now, tz))

    def _batch_allocation(
        self, order: Order, planned: Mapping[str, Sourced]
    ) -> Callable[[IdempotencyKey | None], OrderRecord]:
        """Allocate an order of a batch on its joint plan; if the plan left it short or its
        stock was taken meanwhile, source it again alone."""

        def allocate(key: IdempotencyKey | None) -> OrderRecord:
            sourced = planned.get(order.id)
            if sourced is not None and not sourced.shortages:
                try:
                    return self._allocate(sourced, key)
                except (InsufficientStock, InsufficientCapacity):
                    pass
            return self._with_retries(lambda s: self._allocate(s, key), order)

        return allocate

    def get_order(self, order_id: str) -> OrderView:
        order = self.store.get_order(order_id)
        return OrderView(order, tuple(self.store.order_history(order_id)))

    def explain_order(self, order_id: str) -> "Explanation":
        """Why the order is sourced as it is: its recorded plan itemized, against the
        available stock now with the order's own units given back (explain.context)."""
        # imported here: the explanation modules stay off the service's import path
        from sourcing_engine.explain.context import live_context
        from sourcing_engine.explain.order import explain

        record = self.store.get_order(order_id)
        plan = Plan.from_data(record.document["plan"], record.id)
        order = order_of_record(record)
        skus = sorted(record.lines)
        network = self._network(skus)
        ctx = live_context(
            order, plan, record.allocations, record.shipped, network.nodes,
            [n.kind for n in network.nodes.nodes], network.items, self.store.positions(skus),
            network.sourcing, record.document.get("excluded_nodes", []),
        )  # fmt: skip
        return explain(ctx)

    def itemize_promise(
        self, found: Promise, destination: Destination
    ) -> "dict[str, tuple[ShipmentItems, ...]]":
        """Each ship option of a promise, its shipments term by term at its service level's
        rates (explain.promise)."""
        from sourcing_engine.explain.promise import itemize_promise

        skus = sorted({ln.sku for o in found.options for s in o.shipments for ln in s.lines})
        network = self._network(skus)
        carrier = self._network_reference().carrier
        return itemize_promise(
            found, destination, network.nodes, network.items, carrier, network.sourcing
        )

    def _step(
        self,
        order_id: str,
        action: OrderAction,
        prepare: Callable[[OrderRecord], _Step],
        key: IdempotencyKey | None,
        if_version: int | None = None,
        retry_short: bool = True,
    ) -> Done[OrderRecord]:
        """One transition on the order as it is now, guarded by its version: if another
        caller changed the order in between, it is read and prepared again. if_version
        (the caller's If-Match): only from that version, PreconditionFailed otherwise.
        retry_short: prepare again when the new allocations' stock or capacity was taken
        (False: a step whose units do not change with a new read reports it at once)."""

        def run(k: IdempotencyKey | None) -> OrderRecord:
            for attempt in range(self.config.allocate_attempts):
                order = self.store.get_order(order_id)
                if if_version is not None and order.version != if_version:
                    raise PreconditionFailed(
                        f"order {order_id}: version is {order.version}, not {if_version}; "
                        "read it again (GET /v1/orders/{id}) and decide on what it is now"
                    )
                lifecycle.check_allowed(order, action)
                step = prepare(order)
                if step.unchanged:
                    if k is not None:  # nothing stored under it: a retry may run again
                        self.release_idempotency(k.key)
                    return order
                # the document priced for the order as the step leaves it
                after, _ = lifecycle.apply(order, action, step.step)
                try:
                    return self.store.transition(
                        order_id, action, expected_version=order.version,
                        node=step.step.node, units=step.step.units,
                        new_allocations=step.step.new_allocations, restock=step.step.restock,
                        document=self._redocument(
                            after, step.excluded, step.parcel, step.excluded_lines
                        ),
                        idem=k, read=order, days=self.node_days(lifecycle.node_units(after)),
                        parcel=step.step.parcel, backorders=step.step.backorders,
                        returns=step.step.returns, at=step.step.at, why=step.step.why,
                    )  # fmt: skip
                except (InsufficientStock, InsufficientCapacity):
                    # a reject's new nodes' stock was taken meanwhile: source it again
                    if not retry_short or attempt == self.config.allocate_attempts - 1:
                        raise
                except Conflict:
                    now = self.store.get_order(order_id)
                    if now.version == order.version or attempt == self.config.allocate_attempts - 1:
                        raise
            raise AssertionError("unreachable")

        return self._keyed(key, run)

    def _redocument(
        self,
        order: OrderRecord,
        excluded: Sequence[str] | None,
        parcel: dict[str, Any] | None = None,
        excluded_lines: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """The document with the plan priced again for the units the order holds now
        (allocated, shipped and backordered), so costs always describe the current plan; a
        shipment's parcel record is added to its parcels."""
        destination = destination_of(order)
        plan = self._price(
            destination, [*order.allocations, *order.shipped, *_units_of(order.backordered)]
        )
        old = order.document
        nodes = list(old.get("excluded_nodes", [])) if excluded is None else list(excluded)
        keep = {k: v for k, v in old.items() if k not in ("destination", "plan", "currency")}
        if parcel is not None:  # each shipment's parcel, in the order they shipped
            keep["parcels"] = [*old.get("parcels", []), parcel]
        if excluded_lines is not None:
            keep["excluded_lines"] = excluded_lines
        return {**keep, **_document(destination, plan, nodes)}

    def release(
        self, order_id: str, key: IdempotencyKey | None = None, if_version: int | None = None
    ) -> Done[OrderRecord]:
        """Hand the order to its nodes for picking (allocated -> released)."""
        return self._step(order_id, "release", lambda _: _Step(), key, if_version)

    def ship(
        self,
        order_id: str,
        node: str,
        key: IdempotencyKey | None = None,
        if_version: int | None = None,
        lines: Mapping[str, int] | None = None,
        parcel: tuple[str, str] | None = None,
    ) -> Done[OrderRecord]:
        """The node shipped everything it holds for the order, or these lines of it, in one
        parcel; parcel: (carrier, tracking number), kept in the order's `parcels` and the
        `order.shipped` event."""

        def prepare(order: OrderRecord) -> _Step:
            at_node = tuple(u for u in merge_units(order.allocations) if u.node == node)
            if not at_node:
                raise Conflict(
                    f"order {order.id} has nothing allocated at node {node} "
                    f"(allocated at: {', '.join(sorted({u.node for u in order.allocations}))})",
                    current_state=str(order.state),
                )
            if node == lifecycle.pickup_node_of(order):
                raise Conflict(
                    f"order {order.id} is collected at {node}: its units there are handed "
                    "over by pick_up once the order is ready for pickup, not shipped",
                    current_state=str(order.state),
                )
            units = () if lines is None else lifecycle.pick_units(
                at_node, lines, order, f"allocated at {node}"
            )  # fmt: skip
            record: dict[str, Any] = {
                "node": node, "lines": lifecycle.units_data(units or at_node),
                "carrier": None if parcel is None else parcel[0],
                "tracking": None if parcel is None else parcel[1],
            }  # fmt: skip
            return _Step(lifecycle.Step(node=node, units=units, parcel=parcel), parcel=record)

        return self._step(order_id, "ship", prepare, key, if_version)

    def cancel(
        self,
        order_id: str,
        lines: Mapping[str, int] | None = None,
        key: IdempotencyKey | None = None,
        if_version: int | None = None,
    ) -> Done[OrderRecord]:
        """Cancel the whole order (its unshipped and backordered units) or some lines'
        units; backordered units are cancelled first (the latest to arrive first), then
        units at nodes not yet released to."""

        def prepare(order: OrderRecord) -> _Step:
            allocated = merge_units(order.allocations)
            if lines is None:
                return _Step(lifecycle.Step(units=allocated, backorders=order.backordered))
            waiting, rest = _backorders_first(order.backordered, lines)
            units = () if not rest else lifecycle.pick_units(
                allocated, rest, order, "unshipped (shipped units are returned, not cancelled)",
                prefer=order.released_nodes,
            )  # fmt: skip
            return _Step(lifecycle.Step(units=units, backorders=waiting))

        return self._step(order_id, "cancel", prepare, key, if_version)

    def reject(
        self,
        order_id: str,
        node: str,
        lines: Mapping[str, int] | None = None,
        key: IdempotencyKey | None = None,
        if_version: int | None = None,
    ) -> Done[OrderRecord]:
        """The node cannot fulfil these units (all it holds without lines): they are sourced
        again, never from a node that rejected their SKU for this order (the node may still
        ship the order's other lines); what cannot be is cancelled."""

        def prepare(order: OrderRecord) -> _Step:
            at_node = tuple(u for u in merge_units(order.allocations) if u.node == node)
            if not at_node:
                raise Conflict(
                    f"order {order.id} has nothing allocated at node {node}",
                    current_state=str(order.state),
                )
            units = (
                at_node
                if lines is None
                else lifecycle.pick_units(at_node, lines, order, f"at {node}")
            )
            by_sku = _excluded_lines(order)
            for sku in sku_totals(units):
                by_sku[sku] = sorted({*by_sku.get(sku, []), node})
            new = self._source_lines(order, sku_totals(units), by_sku)
            excluded = tuple(sorted({*order.document.get("excluded_nodes", []), node}))
            return _Step(lifecycle.Step(node, units, new), excluded=excluded,
                         excluded_lines=by_sku)  # fmt: skip

        return self._step(order_id, "reject", prepare, key, if_version)

    def reallocate(
        self,
        order_id: str,
        min_saving: float = 0.0,
        key: IdempotencyKey | None = None,
        if_version: int | None = None,
    ) -> Done[OrderRecord]:
        """Source the order's units at nodes it is not released to again, on the stock
        available now (its own units counted free) and never from a node that rejected
        their SKU; move them to the new plan in one atomic step if the order then costs
        more than min_saving less, else change nothing (the order as it is)."""
        if not min_saving >= 0:
            raise Invalid(f"min_saving: {min_saving!r}; expected 0 or more")

        def prepare(order: OrderRecord) -> _Step:
            movable = movable_units(order)
            if not movable:
                raise Conflict(
                    f"order {order.id} has no units at nodes it is not released to "
                    f"(released to: {', '.join(order.released_nodes)})",
                    current_state=str(order.state),
                )
            new = self._source_lines(
                order, sku_totals(movable), _excluded_lines(order), give_back=movable
            )
            return self.move_step(order, new, min_saving)

        return self._step(order_id, "reallocate", prepare, key, if_version)

    def move_step(
        self,
        order: OrderRecord,
        new: Sequence[Unit],
        min_saving: float,
        why: Mapping[str, Any] | None = None,
    ) -> _Step:
        """The reallocate step moving the order's movable units (`movable_units`) to `new`
        if the order then costs more than min_saving less (each plan priced whole, shipped
        and backordered units included), else unchanged. Its event records the saving, the
        costs before and after, and `why`."""
        costs = self._move_costs(order, new)
        if costs is None:
            return _Step(unchanged=True)  # cannot cover it all now, or the same plan
        now, then = costs
        movable, new = movable_units(order), merge_units(new)
        if now - then <= min_saving:
            return _Step(unchanged=True, saving=round(now - then, 6))
        moved = subtract_units(new, movable)  # + where units go, - where they leave
        give = tuple(replace(u, qty=-u.qty) for u in moved if u.qty < 0)
        take = tuple(u for u in moved if u.qty > 0)
        record = {"saving": round(now - then, 6), "cost_before": round(now, 6),
                  "cost_after": round(then, 6), **(why or {})}  # fmt: skip
        return _Step(lifecycle.Step(units=give, new_allocations=take, why=record),
                     saving=record["saving"])  # fmt: skip

    def _move_costs(self, order: OrderRecord, new: Sequence[Unit]) -> tuple[float, float] | None:
        """What the order costs now and would cost with its movable units moved to `new`
        (None: `new` does not cover them, or is where they are)."""
        movable, new = movable_units(order), merge_units(new)
        if not movable or sku_totals(new) != sku_totals(movable) or new == movable:
            return None
        dest, rest = destination_of(order), [*order.shipped, *_units_of(order.backordered)]
        kept = subtract_units(order.allocations, movable)
        now = self._price(dest, [*order.allocations, *rest]).cost
        then = self._price(dest, [*kept, *new, *rest]).cost
        return now, then

    def move_saving(self, order: OrderRecord, new: Sequence[Unit]) -> float | None:
        """What moving the order's movable units to `new` would save (None: no move)."""
        costs = self._move_costs(order, new)
        return None if costs is None else round(costs[0] - costs[1], 6)

    def reallocate_to(
        self,
        order_id: str,
        units: Sequence[Unit],
        min_saving: float,
        if_version: int,
        why: Mapping[str, Any] | None = None,
    ) -> "Reallocation":
        """Move the order's movable units to `units`, a plan made elsewhere (a
        re-optimization's joint solve), by the same atomic step as `reallocate`: only if the
        order is still at if_version (PreconditionFailed) and the move saves more than
        min_saving, the new nodes' stock and capacity re-checked by the store
        (InsufficientStock, InsufficientCapacity)."""
        made: list[_Step] = []

        def prepare(order: OrderRecord) -> _Step:
            made.append(self.move_step(order, units, min_saving, why))
            return made[-1]

        done = self._step(order_id, "reallocate", prepare, None, if_version, retry_short=False)
        moved = done.value.version != if_version
        return Reallocation(done.value, moved, made[-1].saving if made else None)

    def _source_lines(
        self,
        order: OrderRecord,
        lines: Mapping[str, int],
        excluded: Mapping[str, Sequence[str]],
        give_back: Sequence[Unit] = (),
    ) -> tuple[Unit, ...]:
        """Units for some lines of an order, sourced to its destination with each SKU's
        excluded nodes left out (SKUs excluded alike are sourced together); lines the
        engine leaves short get fewer units."""
        groups: dict[tuple[str, ...], list[tuple[str, int]]] = {}
        for sku, qty in lines.items():
            groups.setdefault(tuple(excluded.get(sku, ())), []).append((sku, qty))
        units: list[Unit] = []
        for nodes, group in sorted(groups.items()):
            again = Order.of(order.id, destination_of(order), group)
            units += self.source([again], exclude=nodes, give_back=give_back)[0].units
        return merge_units(units)

    def return_units(
        self,
        order_id: str,
        lines: Sequence[tuple[str, int, str | None]],
        restock: bool,
        key: IdempotencyKey | None = None,
        if_version: int | None = None,
        *,
        at: str | None = None,
        dispositions: Sequence[lifecycle.Disposition | None] = (),
    ) -> Done[OrderRecord]:
        """Shipped units came back: (sku, qty, node that shipped them or None for any).
        at: the node receiving them (default: each at the node that shipped it; any node
        may take a return). dispositions, one per line (None: `restock` decides): restock
        adds sellable stock at the receiving node, quarantine and write_off do not."""
        if at is not None:
            self._check_node(at)
        if len(dispositions) not in (0, len(lines)):
            raise ValueError("dispositions: one per line")
        default: lifecycle.Disposition = "restock" if restock else "write_off"
        chosen = [d or default for d in dispositions] or [default] * len(lines)

        def prepare(order: OrderRecord) -> _Step:
            outstanding = subtract_units(order.shipped, order.returned)
            returns: list[lifecycle.ReturnLine] = []
            # lines naming their shipping node first, then the others from what is left
            for named in (True, False):
                for (sku, qty, node), disposition in zip(lines, chosen, strict=True):
                    if (node is not None) != named:
                        continue
                    pool = tuple(u for u in outstanding if node is None or u.node == node)
                    what = "shipped and not returned" + (f" from {node}" if node else "")
                    picked = lifecycle.pick_units(pool, {sku: qty}, order, what)
                    outstanding = subtract_units(outstanding, picked)
                    returns += [lifecycle.ReturnLine(u.node, u.sku, u.qty, disposition)
                                for u in picked]  # fmt: skip
            step = lifecycle.Step(returns=tuple(returns), at=at, restock=restock)
            return _Step(step)

        return self._step(order_id, "return", prepare, key, if_version)

    # --- checkout holds -----------------------------------------------------------------

    def reserve(
        self,
        cart: str,
        destination: Destination,
        lines: Mapping[str, int],
        ttl_s: float,
        key: IdempotencyKey | None = None,
    ) -> Done[Reservation]:
        """Source the cart's lines and hold the units until now + ttl_s."""
        reservation_id = "res_" + uuid.uuid4().hex
        cart_order = Order.of(reservation_id, destination, lines.items())

        def hold(k: IdempotencyKey | None) -> Reservation:
            def attempt(sourced: Sourced) -> Reservation:
                plan = sourced.require_complete()
                document = _hold_document(destination, plan)
                return self.store.reserve(
                    reservation_id, cart, sourced.units, ttl_s, k, document=document
                )

            return self._with_retries(attempt, cart_order)

        return self._keyed(key, hold)

    def reserve_pickup(
        self,
        cart: str,
        lines: Mapping[str, int],
        ttl_s: float,
        pickup: Pickup,
        key: IdempotencyKey | None = None,
    ) -> Done[Reservation]:
        """Hold a cart for click and collect at the pickup store, as a pickup order is
        sourced (`_at_pickup`): the order committed from it is a pickup order."""
        reservation_id = "res_" + uuid.uuid4().hex
        quantities = merge_lines(lines.items())

        def hold(k: IdempotencyKey | None) -> Reservation:
            for attempt in range(self.config.allocate_attempts):
                units, document = self._at_pickup(reservation_id, quantities, pickup)
                try:
                    return self.store.reserve(
                        reservation_id, cart, units, ttl_s, k, document=document
                    )
                except InsufficientStock:
                    if attempt == self.config.allocate_attempts - 1:
                        raise
            raise AssertionError("unreachable")

        return self._keyed(key, hold)

    def get_reservation(self, reservation_id: str) -> Reservation:
        return self.store.get_reservation(reservation_id)

    def release_reservation(
        self, reservation_id: str, key: IdempotencyKey | None = None
    ) -> Done[Reservation]:
        def release(k: IdempotencyKey | None) -> Reservation:
            lifecycle.check_active(self.store.get_reservation(reservation_id), "release")
            return self.store.release_reservation(reservation_id, k)

        return self._keyed(key, release)

    def commit_reservation(
        self,
        reservation_id: str,
        order_id: str,
        destination: Destination | None = None,
        key: IdempotencyKey | None = None,
        references: Mapping[str, str] | None = None,
    ) -> Done[OrderRecord]:
        """Turn an unexpired hold into an allocated order with its units (the store refuses,
        atomically, a hold that expired, was released or committed). Without a destination
        the order goes where the hold was sourced for; a hold made by a promise keeps its
        option (method, nodes, dates) and may only go there. references: the order's
        external and customer references (Order.references), kept with it."""

        def commit(k: IdempotencyKey | None) -> OrderRecord:
            hold = self.store.get_reservation(reservation_id)
            lifecycle.check_active(hold, "commit")
            held = hold.document.get("destination")
            if destination is None and not isinstance(held, dict):
                raise Invalid(f"destination: hold {reservation_id} has none; give one")
            to = destination or Destination.from_data(cast(dict[str, Any], held))
            promised = hold.document.get("promise") or hold.document.get("pickup")
            if promised is not None and to.to_data() != held:
                raise Conflict(
                    f"hold {reservation_id} was promised for its own destination; commit it "
                    "without a destination or with that one",
                    current_state=str(hold.state),
                )
            plan = _held_plan(hold, to) or self._price(to, hold.units)
            kept = ("promise", "backorder", "fulfillment", "pickup")
            extra = {k_: hold.document[k_] for k_ in kept if k_ in hold.document}
            document = _document(
                to, plan, reservation=reservation_id, **extra, **(references or {})
            )
            days = self.node_days({u.node for u in hold.units})
            return self.store.commit_reservation(hold, order_id, document, k, days=days)

        return self._keyed(key, commit)

    def expire_reservations(self) -> int:
        """The reaper's pass: mark holds past their expiry (they already count for nothing)."""
        total = 0
        while True:
            n = self.store.expire_reservations(limit=1000)
            total += n
            if n < 1000:
                return total

    # --- checkout promise ---------------------------------------------------------------

    def promise(
        self,
        lines: Mapping[str, int],
        destination: Destination,
        at: dt.datetime | None = None,
        methods: Collection[Method] = METHODS,
    ) -> Promise:
        """Every delivery option of a cart at a destination, on live stock (no effect)."""
        return self._promise(lines, destination, at, methods, self._cached_positions)

    def _promise(
        self,
        lines: Mapping[str, int],
        destination: Destination,
        at: dt.datetime | None,
        methods: Collection[Method],
        positions: Callable[[Sequence[str], Sequence[str] | None], list[Position]],
    ) -> Promise:
        ref = self._network_reference()
        return promise(
            dict(lines), destination, at or dt.datetime.now(dt.UTC), ref.promise,
            self._cached_items(list(lines)), positions, self.store.list_inbound,
            ref.sourcing.penalties, self.config.promise, methods,
        )  # fmt: skip

    def _cached_positions(
        self, skus: Sequence[str], nodes: Sequence[str] | None = None
    ) -> list[Position]:
        """Every position of these SKUs (nodes None), those not read within
        promise_stock_cache_s read from the store in one call."""
        if nodes is not None or self.config.promise_stock_cache_s <= 0:
            return self.store.positions(skus, nodes)
        now = self._clock()
        out: list[Position] = []
        missing = []
        for sku in skus:
            found = self._stock.get(sku)
            if found is not None and found[1] > now:
                out += found[0]
            else:
                missing.append(sku)
        if missing:
            read = self.store.positions(missing)
            if len(self._stock) + len(missing) > ITEM_CACHE_ENTRIES:
                self._stock.clear()
            until = now + self.config.promise_stock_cache_s
            by_sku: dict[str, list[Position]] = {sku: [] for sku in missing}
            for p in read:
                by_sku[p.sku].append(p)
            for sku, found_now in by_sku.items():
                self._stock[sku] = (found_now, until)
            out += read
        return out

    def promise_and_hold(
        self,
        cart: str,
        lines: Mapping[str, int],
        destination: Destination,
        ttl_s: float,
        option_id: str | None = None,
        at: dt.datetime | None = None,
        methods: Collection[Method] = METHODS,
        key: IdempotencyKey | None = None,
    ) -> tuple[Promise, Done[Reservation]]:
        """The promise, and a hold of one option's units in the same step (the first ranked
        option that holds stock unless `option_id` names one): the hold keeps the option,
        so the order committed from it ships from its nodes on its dates. Stock taken
        between the promise and the hold is promised again (Conflict if the option is no
        longer offered). A replay answers the stored hold with a new promise."""
        reservation_id = "res_" + uuid.uuid4().hex
        made: list[Promise] = []

        def hold(k: IdempotencyKey | None) -> Reservation:
            for attempt in range(self.config.allocate_attempts):
                found = self._promise(lines, destination, at, methods, self.store.positions)
                made[:] = [found]
                option = _chosen(found, option_id)
                plan = Plan("", tuple(Shipment(s.node, s.lines, s.cost) for s in option.shipments),
                            (), option.cost, option.currency)  # fmt: skip
                document = {**_hold_document(destination, plan), "promise": option.to_data()}
                backorder = found.option("backorder")
                if backorder is not None and option.method == "ship":
                    document["backorder"] = backorder.to_data()
                try:
                    return self.store.reserve(
                        reservation_id, cart, merge_units(option.units), ttl_s, k, document=document
                    )
                except InsufficientStock:
                    if attempt == self.config.allocate_attempts - 1:
                        raise
            raise AssertionError("unreachable")

        done = self._keyed(key, hold)
        return (made[0] if made else self.promise(lines, destination, at, methods)), done

    def availability(
        self,
        skus: Sequence[str],
        nodes: Sequence[str] | None = None,
        near: Destination | None = None,
        radius_miles: float | None = None,
    ) -> list[SkuAvailability]:
        """What each SKU can sell now (at these nodes, or within radius_miles of a
        destination, or everywhere) and what is coming, from open purchase orders."""
        ref = self._network_reference()
        if nodes is not None:
            for node in nodes:
                self._check_node(node)
        elif near is not None:
            radius = radius_miles or self.config.promise.pickup_radius_miles
            found = ref.promise.within(near.lat, near.lon, radius)
            nodes = [ref.nodes.ids[i] for i in found.tolist()]
        skus = sorted(set(skus))
        positions = self.store.positions(skus, nodes) if nodes is None or nodes else []
        wanted = None if nodes is None else set(nodes)
        incoming = [b for b in self.store.list_inbound(skus) if wanted is None or b.node in wanted]
        return [
            SkuAvailability(
                sku,
                tuple(p for p in positions if p.sku == sku),
                tuple(b for b in incoming if b.sku == sku),
            )
            for sku in skus
        ]

    def inbound_date(self, inbound: Inbound) -> dt.date:
        """The local date an inbound is expected at its node."""
        return self._local_date(inbound.node, inbound.expected_at)

    def _local_date(self, node: str, at_s: float) -> dt.date:
        """The node's local date at a UNIX time (the UTC date for an unknown node)."""
        ref = self._network_reference()
        at = dt.datetime.fromtimestamp(at_s, dt.UTC)
        n = ref.nodes.index.get(node)
        if n is None:
            return at.date()
        return at.astimezone(ref.promise.days(n, at.year).tz).date()

    def receive_inbound(
        self, inbound_id: str, qty: int, key: IdempotencyKey | None = None
    ) -> Done[Position]:
        """qty units of a purchase order or transfer arrived at its node: on hand rises, the
        inbound's open quantity falls (partial receipts allowed), and, in the same atomic
        step, the orders backordered on it get the units, oldest backorder first (each its
        event `order.backorder_received`), charged to the node's capacity of today."""
        days = self.node_days(self._network_reference().nodes.ids)
        return self._keyed(key, lambda k: self.store.receive_inbound(inbound_id, qty, k, days=days))

    # --- transfers between nodes (lifecycle.py, "transfer orders") ----------------------

    def create_transfer(
        self,
        transfer_id: str,
        source: str,
        destination: str,
        lines: Mapping[str, int],
        expected_at: float | None = None,
        key: IdempotencyKey | None = None,
    ) -> Done[TransferRecord]:
        """Reserve the lines at the source for a transfer to the destination (both known
        nodes): all or nothing, InsufficientStock naming every short line. expected_at:
        the planned arrival (UNIX seconds), if known now."""
        self._check_node(source)
        self._check_node(destination)
        return self._keyed(
            key,
            lambda k: self.store.create_transfer(
                transfer_id, source, destination, dict(lines), k, expected_at=expected_at
            ),
        )

    def get_transfer(self, transfer_id: str) -> TransferRecord:
        return self.store.get_transfer(transfer_id)

    def ship_transfer(
        self,
        transfer_id: str,
        expected_at: float | None = None,
        key: IdempotencyKey | None = None,
        if_version: int | None = None,
    ) -> Done[TransferRecord]:
        """The source shipped the transfer: its units are in transit, incoming at the
        destination from expected_at (given now, or at creation, or else computed as a
        ship-to-store leg is: promise/legs.py)."""

        def prepare(t: TransferRecord) -> lifecycle.TransferStep:
            if expected_at is not None or t.expected_at is not None:
                return lifecycle.TransferStep(expected_at=expected_at)
            return lifecycle.TransferStep(expected_at=self.leg_arrival(t.source, t.destination))

        return self._transfer_step(transfer_id, "ship", prepare, key, if_version)

    def receive_transfer(
        self,
        transfer_id: str,
        lines: Mapping[str, int] | None = None,
        key: IdempotencyKey | None = None,
        if_version: int | None = None,
    ) -> Done[TransferRecord]:
        """Units of the transfer arrived (these lines, or everything still in transit): on
        hand at the destination rises (partial receipts allowed)."""
        step = lifecycle.TransferStep(lines=dict(lines or {}))
        return self._transfer_step(transfer_id, "receive", lambda _: step, key, if_version)

    def cancel_transfer(
        self, transfer_id: str, key: IdempotencyKey | None = None, if_version: int | None = None
    ) -> Done[TransferRecord]:
        """Cancel a transfer not shipped yet: its units are available at the source again."""
        step = lifecycle.TransferStep()
        return self._transfer_step(transfer_id, "cancel", lambda _: step, key, if_version)

    def _transfer_step(
        self,
        transfer_id: str,
        action: lifecycle.TransferAction,
        prepare: Callable[[TransferRecord], lifecycle.TransferStep],
        key: IdempotencyKey | None,
        if_version: int | None,
    ) -> Done[TransferRecord]:
        """One step of the transfer as it is now; if_version (If-Match): only from that
        version, PreconditionFailed otherwise."""

        def run(k: IdempotencyKey | None) -> TransferRecord:
            t = self.store.get_transfer(transfer_id)
            if if_version is not None and t.version != if_version:
                raise PreconditionFailed(
                    f"transfer {transfer_id}: version is {t.version}, not {if_version}; read "
                    "it again (GET /v1/transfers/{id}) and decide on what it is now"
                )
            lifecycle.check_transfer_allowed(t, action)
            return self.store.transfer_step(
                transfer_id, action, prepare(t), k, expected_version=if_version
            )

        return self._keyed(key, run)

    def leg_arrival(self, source: str, destination: str, at: dt.datetime | None = None) -> float:
        """When units handed to `source` now (or at `at`) are received at `destination`,
        as UNIX seconds (promise/legs.py)."""
        ref = self._network_reference()
        index = ref.nodes.index
        for node in (source, destination):
            if node not in index:
                raise UnknownNode(node)
        when = at or dt.datetime.now(dt.UTC)
        return leg_arrival(ref.promise, index[source], index[destination], when).timestamp()

    # --- events, keys, health -----------------------------------------------------------

    def events(self, after: int, limit: int) -> list[Event]:
        return self.store.events(after, limit)

    # --- reads an integrator and customer care need ---------------------------------------

    def search_orders(self, query: OrderQuery) -> OrderPage:
        """Orders by status, node, method, references, postal code and creation time, newest
        first, a page at a time (sourcing_engine/order_search.py)."""
        return self.store.search_orders(query)

    def get_inbound(self, inbound_id: str) -> Inbound:
        """An open purchase order or transfer (NotFound once received in full)."""
        return self.store.get_inbound(inbound_id)

    def feed(
        self, after: int, limit: int, types: Sequence[str] = (), subject: str | None = None
    ) -> tuple[list[Event], int]:
        """The event feed filtered by type patterns and subject, with the next cursor."""
        return events.feed(self.store, after, limit, types, subject)

    @property
    def webhooks(self) -> Webhooks:
        """The store's webhook subscriptions (the deliverer runs in its own process)."""
        return Webhooks(self.store)

    # --- BI export (sourcing_engine/export.py; imported when used: pyarrow is heavy) -------

    def export_request(
        self, kind: str, start: str | None, end: str | None, fmt: str
    ) -> "ExportRequest":
        """The export asked for, checked (Invalid naming the parameter); end defaults to now."""
        from sourcing_engine import export

        return export.request(kind, start, end, fmt, self.store.now())

    def export_stream(self, req: "ExportRequest") -> Iterator[bytes]:
        """The export's bytes, a record batch at a time."""
        from sourcing_engine import export

        return export.stream(self.store, req)

    def export_to(self, req: "ExportRequest", sink: IO[bytes]) -> int:
        """Writes the export to a binary file; the rows written."""
        from sourcing_engine import export

        return export.write(self.store, req, sink)

    def issue_key(
        self, name: str, scopes: Sequence[str], key_id: str | None = None
    ) -> api_keys.IssuedKey:
        return api_keys.issue(self.store, name, scopes, key_id)

    def install_key(self, token: str, name: str, scopes: Sequence[str]) -> ApiKey:
        key = api_keys.install(self.store, token, name, scopes)
        self._verified.clear()  # installing revokes the key installed before under the name
        return key

    def authenticate(self, token: str) -> ApiKey | None:
        """The key a token stands for (None: unknown, wrong secret or revoked). A verified
        key is remembered for `config.key_cache_s`: a revocation through this process takes
        effect at once, one through another process within that time."""
        key = self.cached_key(token)
        if key is not None:
            return key
        key = api_keys.verify(self.store, token)
        if key is not None and self.config.key_cache_s > 0:
            if len(self._verified) >= KEY_CACHE_ENTRIES:
                self._verified.clear()
            until = self._clock() + self.config.key_cache_s
            self._verified[_digest(token)] = (key, until)
        return key

    def cached_key(self, token: str) -> ApiKey | None:
        """The key of a token verified within the last `key_cache_s` (no store call)."""
        found = self._verified.get(_digest(token))
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def list_keys(self) -> list[ApiKey]:
        return self.store.list_api_keys()

    def revoke_key(self, key_id: str) -> ApiKey:
        """Revoke a key; never the last admin key (the store refuses it atomically), nor
        the one the environment installed (restarting with another value rotates it)."""
        found = next((k for k in self.store.list_api_keys() if k.id == key_id), None)
        if found is None:
            raise NotFound(f"API key {key_id}: unknown")
        if found.name == api_keys.ENVIRONMENT_KEY_NAME and not found.revoked:
            raise Conflict(
                f"API key {key_id} is the admin key from SOURCING_ENGINE_ADMIN_KEY: rotate it "
                "by restarting serve with a new value, which revokes this one"
            )
        self.store.revoke_api_key(key_id)
        self._verified.clear()
        return next(k for k in self.store.list_api_keys() if k.id == key_id)

    def ready(self) -> bool:
        try:
            return self.store.ping()
        except Exception:  # readiness answers, it never raises
            log.exception("store ping failed")
            return False
