"""Re-optimization of the hold window (issue 12, part 3): orders allocated but not yet
released are sourced again jointly, and each one the joint plan makes cheaper by more than
the network's `move_threshold` moves to it in one atomic reallocate step.

The hold window: an order is held, and may still move, while it is `allocated` (never
released to a node, nothing shipped) and was placed less than the network's `hold_minutes`
ago. Held orders are sourced again together in one `optimal` solve within a short time
limit, their own units counted free as stock and the capacity they take today given back,
on the stock and capacity left. Each order then moves through `Service.reallocate_to`, the
one home of a move (the same step as POST /v1/orders/{id}/reallocate): it re-reads the
order and applies only if it is still at the version the solve read, saves more than the
threshold priced alone, and the store still has the new nodes' stock and capacity; an order
that changed meanwhile (released, shipped, cancelled, its stock taken) is kept, with why.
Orders whose new plan saves more than the threshold move first, the largest savings first;
one refused for stock is tried again after the others (a move may free what another
needs). The joint plan may also have an order give up units at a loss so that another
saves more: such donors move (then the refused orders once more) when the group saves more
than the threshold per order moved, as the what-if replay's re-optimization decides. A
cycle (two orders each needing the other's units) cannot move: each move is its own atomic
step, and the store has no step moving several orders at once; they are kept
(`stock_taken`). Each move is an `order.reallocated` event in the order's history, with its
saving, the run's id and, for a donor, the orders it freed units for (`frees_for`).

Orders kept out of the solve: pickup orders (their store is the customer's choice),
orders a node rejected (their excluded nodes are per order; POST .../reallocate sources
them alone), orders promised a delivery date (a move could break it) and orders with
nothing allocated. One run at a time per store: runs hold the store lease `LEASE`.
"""

import hashlib
import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sourcing_engine import lifecycle
from sourcing_engine.domain import Order, Unit, sku_totals, subtract_units
from sourcing_engine.errors import (
    Conflict,
    IdempotencyMismatch,
    InsufficientCapacity,
    InsufficientStock,
    NotFound,
    StoreUnavailable,
)
from sourcing_engine.lifecycle import OrderRecord, OrderState
from sourcing_engine.order_search import OrderQuery, term
from sourcing_engine.service import Done, Service, destination_of, movable_units
from sourcing_engine.stores.base import IdempotencyKey

log = logging.getLogger(__name__)

LEASE = "reoptimization"
TICK = "reoptimization-tick"
"""The schedule's lease: taken for reoptimize_every_minutes and never released, so that the
API processes of a store start one run per period between them."""
MAX_ORDERS = 2000
"""Held orders one run sources at most (the newest): a joint solve's size within seconds."""
LEASE_MARGIN_S = 120.0
"""How long past its time limit a run's lease lasts (its moves); renewed before each move."""
JOB_PREFIX = "ro_"


class RunInProgress(Conflict):
    """Another process (or thread) holds the re-optimization lease."""


@dataclass(frozen=True)
class Terms:
    """An order's plan cost by term: shipments (carrier charges and handling), the split
    penalty (and any other penalty: the rest of the cost), the number of shipments."""

    shipping: float
    penalties: float
    shipments: int

    @staticmethod
    def of(document: dict[str, Any]) -> "Terms":
        plan = document.get("plan", {})
        shipping = sum(float(s["cost"]) for s in plan.get("shipments", []))
        cost = float(plan.get("cost", 0.0))
        return Terms(round(shipping, 6), round(cost - shipping, 6), len(plan.get("shipments", [])))


@dataclass(frozen=True)
class Move:
    """An order moved: its saving (total and by term), the units it gave up and took."""

    order_id: str
    saving: float
    shipping_saving: float
    penalty_saving: float
    shipments_before: int
    shipments_after: int
    released: list[dict[str, Any]]
    units: list[dict[str, Any]]
    version: int


@dataclass(frozen=True)
class Kept:
    """An order left as it is, and why: `same_plan` (the joint plan gives it what it has),
    `saving_below_threshold` (saving given), `changed` (released, shipped, cancelled or
    otherwise changed since the solve read it), `stock_taken`, `capacity_taken`,
    `short` (the joint plan could not cover it), `pickup`, `rejected_before`, `promised`,
    `nothing_allocated`."""

    order_id: str
    reason: str
    saving: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Run:
    """One re-optimization: when, on what window, the joint solve's status, cost (of the
    held orders' joint plan), bound and gap, what moved (with the savings by term, and in
    total) and what was kept and why."""

    id: str
    started_at: float
    finished_at: float
    hold_minutes: int
    move_threshold: float
    policy: str
    time_limit_s: float
    status: str | None
    runtime_s: float
    currency: str
    held: int
    moved: list[Move] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    joint_cost: float | None = None
    bound: float | None = None
    gap: float | None = None
    request_hash: str = ""

    @property
    def saving(self) -> dict[str, float]:
        return {
            "total": round(sum(m.saving for m in self.moved), 6),
            "shipping": round(sum(m.shipping_saving for m in self.moved), 6),
            "penalties": round(sum(m.penalty_saving for m in self.moved), 6),
            "shipments": sum(m.shipments_before - m.shipments_after for m in self.moved),
        }

    def to_data(self) -> dict[str, Any]:
        return {**asdict(self), "saving": self.saving}

    @staticmethod
    def from_data(data: dict[str, Any]) -> "Run":
        fields = {k: v for k, v in data.items() if k != "saving"}
        fields["moved"] = [Move(**m) for m in data["moved"]]
        fields["kept"] = [Kept(**k) for k in data["kept"]]
        return Run(**fields)


def _why_not(order: OrderRecord) -> str | None:
    """Why a held order stays out of the joint solve (None: it goes in)."""
    if lifecycle.pickup_of(order) is not None:
        return "pickup"
    doc = order.document
    if doc.get("excluded_nodes") or any(doc.get("excluded_lines", {}).values()):
        return "rejected_before"
    if doc.get("promise") is not None:
        return "promised"
    if not movable_units(order):
        return "nothing_allocated"
    return None


def held_orders(service: Service, hold_minutes: int, limit: int = MAX_ORDERS) -> list[OrderRecord]:
    """The orders in the hold window: allocated (never released, nothing shipped), placed
    within hold_minutes of the store's now, newest first, at most limit."""
    since = service.store.now() - 60.0 * hold_minutes
    found: list[OrderRecord] = []
    cursor = None
    while len(found) < limit:
        page = service.search_orders(
            OrderQuery(
                terms=(term("status", OrderState.ALLOCATED),), created_from=since,
                cursor=cursor, limit=min(1000, limit - len(found)),
            )
        )  # fmt: skip
        found += [o for o in page.orders if o.state == OrderState.ALLOCATED]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return found[:limit]


def reoptimize(
    service: Service,
    *,
    hold_minutes: int | None = None,
    move_threshold: float | None = None,
    time_limit_s: float | None = None,
    run_id: str | None = None,
    holder: str | None = None,
    request_hash: str = "",
) -> Run:
    """One re-optimization of the hold window (the network's hold_minutes and move_threshold
    unless given; time_limit_s: the service's reoptimize_time_limit_s), under the store
    lease: RunInProgress while another run holds it, Conflict when no hold window is set.
    The run's report is kept in the store (`get_run`)."""
    settings = service.network_settings()
    hold = hold_minutes if hold_minutes is not None else settings.hold_minutes
    if hold is None:
        raise Conflict(
            "re-optimization is off: no hold window; set hold_minutes in PUT /v1/settings "
            "(or give hold_minutes in the request)"
        )
    threshold = settings.move_threshold if move_threshold is None else move_threshold
    time_limit_s = time_limit_s or service.config.reoptimize_time_limit_s
    run_id = run_id or JOB_PREFIX + uuid.uuid4().hex
    holder = holder or run_id
    lease_s = time_limit_s + LEASE_MARGIN_S
    if not service.store.acquire_lease(LEASE, holder, lease_s):
        raise RunInProgress(
            "a re-optimization is running (another API process or request); retry when it "
            "has finished"
        )
    try:
        run = _run(service, run_id, hold, threshold, time_limit_s, holder, lease_s)
        run = replace(run, request_hash=request_hash)
        service.store.save_job(run.id, run.to_data())
        return run
    finally:
        service.store.release_lease(LEASE, holder)


def reoptimize_keyed(
    service: Service,
    key: IdempotencyKey | None,
    *,
    hold_minutes: int | None = None,
    move_threshold: float | None = None,
    time_limit_s: float | None = None,
) -> Done[Run]:
    """`reoptimize` at most once per idempotency key: the run's id is derived from the key,
    so a retry with the same request finds the run's report and replays it (nothing runs
    again), IdempotencyMismatch for another request, IdempotencyInFlight while it runs.
    The key keeps no result of its own (the report is the run's)."""
    limit = time_limit_s or service.config.reoptimize_time_limit_s
    if key is None:
        return Done(reoptimize(service, hold_minutes=hold_minutes,
                               move_threshold=move_threshold, time_limit_s=limit))  # fmt: skip
    run_id = JOB_PREFIX + hashlib.sha256(key.key.encode()).hexdigest()[:32]
    service.store.claim_idempotency_key(key.key, key.request_hash, limit + LEASE_MARGIN_S)
    try:
        found = service.store.get_job(run_id)
        if found is not None:
            if found.get("request_hash") != key.request_hash:
                raise IdempotencyMismatch(
                    f"idempotency key {key.key!r} was used before with another request; use a "
                    "new key for a new request"
                )
            return Done(Run.from_data(found), replayed=True)
        run = reoptimize(
            service, hold_minutes=hold_minutes, move_threshold=move_threshold,
            time_limit_s=limit, run_id=run_id, request_hash=key.request_hash,
        )  # fmt: skip
        return Done(run)
    finally:
        service.release_idempotency(key.key)


def get_run(service: Service, run_id: str) -> Run:
    """A run's report as kept in the store (NotFound if unknown)."""
    found = service.store.get_job(run_id) if run_id.startswith(JOB_PREFIX) else None
    if found is None:
        raise NotFound(f"re-optimization {run_id} not found")
    return Run.from_data(found)


def _run(
    service: Service,
    run_id: str,
    hold: int,
    threshold: float,
    time_limit_s: float,
    holder: str,
    lease_s: float,
) -> Run:
    started = service.store.now()
    currency = service.network_settings().currency
    kept: list[Kept] = []
    held: list[tuple[OrderRecord, Order, tuple[Unit, ...]]] = []
    for order in held_orders(service, hold):
        why = _why_not(order)
        if why is not None:
            kept.append(Kept(order.id, why))
            continue
        units = movable_units(order)
        lines = sorted(sku_totals(units).items())
        held.append((order, Order.of(order.id, destination_of(order), lines), units))
    base = Run(
        run_id, started, started, hold, threshold, "optimal", time_limit_s, None, 0.0,
        currency, len(held) + len(kept),
    )  # fmt: skip
    if not held:
        return replace(base, finished_at=service.store.now(), kept=kept)
    sourced, result = service.source_again_jointly([(o, u) for _, o, u in held], time_limit_s)
    proposals: list[_Proposal] = []
    for (order, _, _), s in zip(held, sourced, strict=True):
        saving = None if s.shortages else service.move_saving(order, s.units)
        if s.shortages:
            kept.append(Kept(order.id, "short"))
        elif saving is None:
            kept.append(Kept(order.id, "same_plan", 0.0))
        else:
            proposals.append(_Proposal(order, s.units, saving))
    mover = _Mover(service, run_id, threshold, holder, lease_s)
    # orders the joint plan saves more than the threshold, the largest savings first (they
    # get contested stock); one failed for stock is tried again after the others
    gainers = sorted((p for p in proposals if p.saving > threshold), key=lambda p: -p.saving)
    failed = mover.attempt(mover.attempt(gainers))
    # a failed gainer may need units another held order gives up in the joint plan at a
    # loss (a swap): those donors move first when the group saves more than the threshold
    # per order moved, then the gainers once more
    others = [p for p in proposals if p.saving <= threshold]
    need = {(u.node, u.sku) for p in failed for u in p.gains()}
    donors = [p for p in others if any((u.node, u.sku) in need for u in p.frees())]
    group = donors + failed
    if donors and sum(p.saving for p in group) > threshold * len(group):
        frees_for = sorted(p.order.id for p in failed)
        mover.attempt(donors, -math.inf, {"frees_for": frees_for}, last=True)
        mover.attempt(failed, last=True)
    else:
        mover.attempt(failed, last=True)
    chosen = {p.order.id for p in (*gainers, *donors)} if donors else {p.order.id for p in gainers}
    kept += [Kept(p.order.id, "saving_below_threshold", p.saving) for p in others
             if p.order.id not in chosen]  # fmt: skip
    kept += mover.kept
    moved = mover.moved
    return replace(
        base, finished_at=service.store.now(), status=str(result.status),
        runtime_s=round(result.runtime_s, 4), moved=moved,
        kept=sorted(kept, key=lambda k: k.order_id), joint_cost=round(result.objective, 6),
        bound=None if result.bound is None else round(result.bound, 6), gap=result.gap,
    )  # fmt: skip


@dataclass(frozen=True)
class _Proposal:
    """A held order's plan in the joint solve, and what moving to it saves (priced alone)."""

    order: OrderRecord
    new: tuple[Unit, ...]
    saving: float

    def gains(self) -> list[Unit]:
        """Units the new plan takes where the order has none of them now."""
        return [u for u in subtract_units(self.new, movable_units(self.order)) if u.qty > 0]

    def frees(self) -> list[Unit]:
        """Units the order gives up in the new plan."""
        return [u for u in subtract_units(movable_units(self.order), self.new) if u.qty > 0]


class _Mover:
    """Moves proposals through `_move`, keeping what moved and what was kept."""

    def __init__(
        self, service: Service, run_id: str, threshold: float, holder: str, lease_s: float
    ) -> None:
        self.service, self.run_id, self.threshold = service, run_id, threshold
        self.holder, self.lease_s = holder, lease_s
        self.moved: list[Move] = []
        self.kept: list[Kept] = []

    def attempt(
        self,
        proposals: list[_Proposal],
        min_saving: float | None = None,
        why: dict[str, Any] | None = None,
        last: bool = False,
    ) -> list[_Proposal]:
        """Move each (saving more than min_saving, default the threshold); the ones refused
        for stock or capacity are answered to be tried again (kept, if `last`)."""
        again = []
        for p in proposals:
            self.service.store.acquire_lease(LEASE, self.holder, self.lease_s)  # still ours
            floor = self.threshold if min_saving is None else min_saving
            outcome = _move(self.service, self.run_id, p.order, p.new, floor, why)
            if isinstance(outcome, Move):
                self.moved.append(outcome)
            elif outcome.reason in ("stock_taken", "capacity_taken") and not last:
                again.append(p)
            else:
                self.kept.append(outcome)
        return again


def _move(
    service: Service,
    run_id: str,
    order: OrderRecord,
    new: tuple[Unit, ...],
    min_saving: float,
    why: dict[str, Any] | None = None,
) -> Move | Kept:
    try:
        done = service.reallocate_to(
            order.id, new, min_saving, order.version, {"reoptimization": run_id, **(why or {})}
        )
    except (Conflict, NotFound) as exc:  # PreconditionFailed: moved on since the solve
        return Kept(order.id, "changed", detail=str(exc))
    except InsufficientStock as exc:
        return Kept(order.id, "stock_taken", detail=str(exc))
    except InsufficientCapacity as exc:
        return Kept(order.id, "capacity_taken", detail=str(exc))
    if not done.moved:
        return Kept(order.id, "saving_below_threshold", done.saving)
    before, after = Terms.of(order.document), Terms.of(done.order.document)
    return Move(
        order.id, round(done.saving or 0.0, 6), round(before.shipping - after.shipping, 6),
        round(before.penalties - after.penalties, 6), before.shipments, after.shipments,
        lifecycle.units_data(order.allocations), lifecycle.units_data(done.order.allocations),
        done.order.version,
    )  # fmt: skip


class Schedule:
    """Runs a re-optimization every `reoptimize_every_minutes` of the network settings while
    their hold_minutes is set, from a background thread of each API process. The store
    elects: a process checking every check_every_s starts a run only if it takes the store
    lease `TICK` (held for the period, never released: one run per period for all the
    processes of the store), and the run itself holds `LEASE` (never two at once, also with
    POST /v1/reoptimizations). A run never blocks sourcing: its moves are ordinary atomic
    steps, and orders keep being allocated while it solves."""

    def __init__(
        self,
        service: Service,
        check_every_s: float = 30.0,
        on_run: Callable[[Run], None] | None = None,
    ) -> None:
        self.service = service
        self.check_every_s = check_every_s
        self.on_run = on_run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reoptimization", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.service.config.reoptimize_time_limit_s + 30)

    def run_if_due(self) -> Run | None:
        """One check: the run this process started (None: no window set, or this period's
        run was another process's)."""
        settings = self.service.network_settings()
        if settings.hold_minutes is None:
            return None
        period_s = 60.0 * settings.reoptimize_every_minutes
        if not self.service.store.acquire_lease(TICK, uuid.uuid4().hex, period_s):
            return None
        try:
            run = reoptimize(self.service)
        except RunInProgress:
            return None  # a run asked for over the API holds it: this period is served
        log.info("re-optimization %s: %d held, %d moved, saving %s", run.id, run.held,
                 len(run.moved), run.saving["total"])  # fmt: skip
        if self.on_run is not None:
            self.on_run(run)
        return run

    def _loop(self) -> None:
        while not self._stop.wait(self.check_every_s):
            try:
                self.run_if_due()
            except StoreUnavailable as exc:  # the next check tries again
                log.warning("re-optimization: %s", exc)
            except Exception:  # the next check tries again; a crash would stop the schedule
                log.exception("re-optimization pass failed")
