"""The order state machine, and the checkout hold's: states, actions, allowed transitions,
and what each step does to the order and to stock.

Defined once, here, and applied by every store: the SQLite store calls `apply` inside its
write transaction; the Redis store calls it on the order it read and has one script write
the result if the order's version is still the one read (tests/sourcing_engine/stores
checks, state by state and action by action, that both stores follow this table).

    allocated --release--> released
    allocated | released | partially_shipped --ship, cancel, reject, reallocate--> ...
    partially_shipped | shipped | picked_up --return--> ...
After ship, cancel or reject: no allocations left -> shipped if anything shipped, else
cancelled; some shipped -> partially_shipped; otherwise the state stays. A shipped (or
picked up) order is returned once every shipped unit came back.

Pickup orders (click and collect, ship-to-store): units allocated at the pickup store stay
there; units allocated elsewhere are shipped to it first (a leg: `ship` at their node).
    allocated | released | partially_shipped | shipped --ready(store)--> ready_for_pickup
(only once every unit still allocated is at that store), then
    ready_for_pickup --pick_up(store)--> picked_up: the store's units leave with the customer;
    ready_for_pickup --not_collected(store)--> not_collected: the store's units are free again
        and the legs' units are restocked on hand at the store (returned), sellable there.

Backorders: an order may also hold units promised against open purchase orders
(`backordered`); they stay promised while the order is open and become allocated at the
purchase order's node when it is received (`fill_backorders`, one step per order and
receipt, in the receipt's atomic step); a cancel gives them back to the purchase order.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from sourcing_engine.domain import Inbound, Unit, merge_units, sku_totals, subtract_units
from sourcing_engine.errors import Conflict, Invalid

MAX_QTY = 10**12
"""Largest quantity a store accepts in one line (keeps sums exact in Lua's doubles)."""


class OrderState(StrEnum):
    ALLOCATED = "allocated"
    RELEASED = "released"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    RETURNED = "returned"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKED_UP = "picked_up"
    NOT_COLLECTED = "not_collected"


OrderAction = Literal[
    "release", "ship", "cancel", "reject", "reallocate", "return", "ready", "pick_up",
    "not_collected",
]  # fmt: skip
ACTIONS: tuple[OrderAction, ...] = (
    "release", "ship", "cancel", "reject", "reallocate", "return", "ready", "pick_up",
    "not_collected",
)  # fmt: skip

_OPEN = frozenset({OrderState.ALLOCATED, OrderState.RELEASED, OrderState.PARTIALLY_SHIPPED})
ALLOWED_FROM: dict[OrderAction, frozenset[OrderState]] = {
    "release": frozenset({OrderState.ALLOCATED}),
    "ship": _OPEN,
    "cancel": _OPEN,
    "reject": _OPEN,
    "reallocate": _OPEN,
    "return": frozenset({OrderState.PARTIALLY_SHIPPED, OrderState.SHIPPED, OrderState.PICKED_UP}),
    "ready": _OPEN | {OrderState.SHIPPED},
    "pick_up": frozenset({OrderState.READY_FOR_PICKUP}),
    "not_collected": frozenset({OrderState.READY_FOR_PICKUP}),
}
"""Each action and the states it is allowed from."""

TAKES: dict[OrderAction, frozenset[str]] = {
    "release": frozenset(),
    "ship": frozenset({"node", "units", "parcel"}),
    "cancel": frozenset({"units", "backorders"}),
    "reject": frozenset({"node", "units", "new_allocations"}),
    "reallocate": frozenset({"units", "new_allocations", "why"}),
    "ready": frozenset({"node"}),
    "pick_up": frozenset({"node"}),
    "not_collected": frozenset({"node"}),
    "return": frozenset({"units", "returns", "at"}),
}
"""The arguments each action takes (an action that takes a node requires it)."""


@dataclass(frozen=True)
class Backorder:
    """qty units of sku promised to an order from open inbound supply (a purchase order)
    arriving at node at expected_at; they become allocated there when it is received."""

    inbound: str
    node: str
    sku: str
    qty: int
    expected_at: float


def merge_backorders(backorders: Iterable[Backorder]) -> tuple[Backorder, ...]:
    """One backorder per (inbound, sku), sorted by (expected_at, inbound)."""
    out: dict[str, Backorder] = {}
    for b in backorders:
        had = out.get(b.inbound)
        out[b.inbound] = b if had is None else replace(had, qty=had.qty + b.qty)
    return tuple(sorted(out.values(), key=lambda b: (b.expected_at, b.inbound)))


def subtract_backorders(have: Iterable[Backorder], take: Iterable[Backorder]
                        ) -> tuple[Backorder, ...]:  # fmt: skip
    """have minus take, per inbound (nothing below zero: callers check first)."""
    taking = {b.inbound: b.qty for b in merge_backorders(take)}
    left = (replace(b, qty=b.qty - taking.get(b.inbound, 0)) for b in merge_backorders(have))
    return tuple(b for b in left if b.qty > 0)


def backorders_data(backorders: Iterable[Backorder]) -> list[dict[str, Any]]:
    """Backorders as event, reply and stored data."""
    return [
        {"inbound": b.inbound, "node": b.node, "sku": b.sku, "qty": b.qty,
         "expected_at": b.expected_at}
        for b in merge_backorders(backorders)
    ]  # fmt: skip


def backorders_of(data: Iterable[Mapping[str, Any]]) -> tuple[Backorder, ...]:
    return merge_backorders(
        Backorder(str(d["inbound"]), str(d["node"]), str(d["sku"]), int(d["qty"]),
                  float(d["expected_at"]))
        for d in data
    )  # fmt: skip


def check_inbound_upsert(inbound: Inbound, node: str, sku: str, promised: int) -> None:
    """Invalid if an upsert of an inbound that orders wait for (`promised` units of sku at
    node) would leave them fewer open units, or move them to another node or SKU."""
    if (inbound.node, inbound.sku) != (node, sku) or inbound.qty < promised:
        raise Invalid(
            f"inbound {inbound.id}: orders are backordered on {promised} of {sku} at {node}; "
            f"expected the same node and SKU and at least {promised} open units (cancel "
            "their backorders first)"
        )


@dataclass(frozen=True)
class OrderRecord:
    """An order as the ledger knows it.

    lines: what the customer ordered (sku -> qty, after cancellations); always allocated +
        shipped + backordered per SKU (returned units stay in shipped and in lines);
    allocations: units still allocated (not yet shipped), per node and SKU;
    shipped / returned: units shipped and returned, per node and SKU;
    released_nodes: the nodes the order was released to (sorted);
    version: 1 at creation, +1 per transition;
    document: the service's own data (destination, plan with costs), stored as given;
    backordered: units promised from open purchase orders, by arrival.
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
    backordered: tuple[Backorder, ...] = ()


def pickup_of(order: OrderRecord) -> dict[str, Any] | None:
    """Where and when a pickup order is collected: {"node", "legs", "allow_transfer",
    "ready_at"}, as it was created (or held), or from the pickup or ship-to-store option a
    promise held; None for an order shipped to its customer."""
    doc = order.document
    if isinstance(pickup := doc.get("pickup"), dict):
        return pickup
    promised = doc.get("promise")
    if (
        isinstance(promised, dict)
        and promised.get("method") in ("pickup", "ship_to_store")
        and isinstance(store := promised.get("store"), str)
    ):
        legs = sorted({s["node"] for s in promised.get("shipments", []) if s["node"] != store})
        return {"node": store, "legs": legs, "ready_at": promised.get("ready_at"),
                "allow_transfer": promised["method"] == "ship_to_store"}  # fmt: skip
    return None


def pickup_node_of(order: OrderRecord) -> str | None:
    """The store a pickup order is collected at (None for a shipment)."""
    pickup = pickup_of(order)
    return None if pickup is None else str(pickup["node"])


Disposition = Literal["restock", "quarantine", "write_off"]
DISPOSITIONS: tuple[Disposition, ...] = ("restock", "quarantine", "write_off")
"""What becomes of a returned unit: back to sellable stock at the node receiving it, held
apart for inspection (not sellable), or written off (not sellable)."""


@dataclass(frozen=True)
class ReturnLine:
    """qty units of sku shipped from node came back, with their disposition."""

    node: str
    sku: str
    qty: int
    disposition: Disposition = "restock"


@dataclass(frozen=True)
class Step:
    """The arguments of one transition (docs/service.md, "Orders"):
    - release: none; released_nodes = the nodes holding allocations;
    - ship: node: ships every unit allocated there, or the `units` given (a part of them),
      in one parcel whose (carrier, tracking number) the event records if given;
    - cancel: units and backorders to cancel (both empty: every unshipped unit and every
      backorder);
    - reject: node, units at that node (empty: all of them), new_allocations at other nodes,
      at most the rejected units per SKU; rejected units not re-allocated leave the order;
    - reallocate: units to give back and new_allocations, equal per SKU (lines stay); `why`,
      recorded in its event (what the move saves, the re-optimization run that made it);
    - return: units shipped and not yet returned (empty: all of them), restock or not; or
      `returns`, each line with its disposition, received at node `at` (None: each at the
      node that shipped it): only restocked lines add stock there;
    - ready, pick_up, not_collected: node, the pickup store.
    """

    node: str | None = None
    units: tuple[Unit, ...] = ()
    new_allocations: tuple[Unit, ...] = ()
    restock: bool = True
    parcel: tuple[str, str] | None = None
    backorders: tuple[Backorder, ...] = ()
    returns: tuple[ReturnLine, ...] = ()
    at: str | None = None
    why: dict[str, Any] = field(default_factory=dict)


Event = tuple[str, dict[str, Any]]
"""An event's type and data, as a step emits it (the store gives it its seq and time)."""


@dataclass(frozen=True)
class Effects:
    """What a step does to stock, per (node, sku), and the events it emits.

    allocate: new allocations (the store checks them against available stock, counting the
        units `free` gives back at the same nodes); free: allocations given back;
    ship: units that leave (allocated and on hand go down; on hand never below zero, in
        case a count came in below them); restock: returned units back on hand;
    backorder: units newly promised from purchase orders (the store checks each one's open
        quantity against what is promised from it already); unbackorder: promises given
        back; fill: backordered units received, allocated unchecked (they arrived for the
        order in the same step).
    """

    allocate: tuple[Unit, ...] = ()
    free: tuple[Unit, ...] = ()
    ship: tuple[Unit, ...] = ()
    restock: tuple[Unit, ...] = ()
    events: tuple[Event, ...] = ()
    backorder: tuple[Backorder, ...] = ()
    unbackorder: tuple[Backorder, ...] = ()
    fill: tuple[Unit, ...] = ()


def check_qty(qty: object, what: str) -> None:
    """Invalid unless qty is a whole number from 1 to MAX_QTY."""
    if not (isinstance(qty, int) and not isinstance(qty, bool) and 1 <= qty <= MAX_QTY):
        raise Invalid(f"{what}: {qty!r}; expected a whole quantity from 1 to {MAX_QTY}")


def check_units(units: Iterable[Unit], what: str) -> None:
    """Invalid unless every unit names a node and a SKU and has a whole qty >= 1."""
    for u in units:
        ok_qty = isinstance(u.qty, int) and not isinstance(u.qty, bool) and 1 <= u.qty <= MAX_QTY
        if not (ok_qty and isinstance(u.node, str) and u.node and isinstance(u.sku, str) and u.sku):
            raise Invalid(
                f"{what}: {u.qty!r} of {u.sku!r} at {u.node!r}; expected a node, a SKU and a "
                f"whole quantity from 1 to {MAX_QTY}"
            )


def units_data(units: Iterable[Unit]) -> list[dict[str, Any]]:
    """Units as event and reply data: [{"node", "sku", "qty"}], by (node, sku)."""
    return [{"node": u.node, "sku": u.sku, "qty": u.qty} for u in merge_units(units)]


def node_units(order: OrderRecord) -> dict[str, int]:
    """The units an order takes of each node's capacity: allocated and shipped there (a
    shipment used its day's capacity; a return gives none back), by node. A node holding
    any counts one shipment. The stores charge each node's day with the change of this
    from before a step to after it (a node charged keeps the day it was first charged)."""
    return node_units_of((*order.allocations, *order.shipped))


def node_units_of(units: Iterable[Unit]) -> dict[str, int]:
    """Units by node."""
    out: dict[str, int] = {}
    for u in units:
        out[u.node] = out.get(u.node, 0) + u.qty
    return out


def check_allowed(order: OrderRecord, action: OrderAction) -> None:
    """Conflict (with the current state) when the action is not allowed now."""
    if action not in ALLOWED_FROM:
        raise Invalid(f"order {order.id}: unknown action {action!r}")
    if order.state not in ALLOWED_FROM[action]:
        allowed = ", ".join(sorted(ALLOWED_FROM[action]))
        raise Conflict(
            f"order {order.id} is {order.state}: {action} is allowed only when {allowed}",
            current_state=str(order.state),
        )


def check_version(order: OrderRecord, expected: int | None) -> None:
    """Conflict (with the current state) when the caller expected another version."""
    if expected is not None and expected != order.version:
        raise Conflict(
            f"order {order.id}: version is {order.version}, not {expected}",
            current_state=str(order.state),
        )


def create(
    order_id: str,
    lines: Mapping[str, int],
    allocations: Iterable[Unit],
    document: dict[str, Any],
    now: float,
    reservation_id: str | None = None,
    backorders: Iterable[Backorder] = (),
) -> tuple[OrderRecord, Effects]:
    """A new order, allocated whole: its lines must be its allocations (and backorders)
    per SKU (Invalid otherwise), so that no order is ever allocated in part."""
    allocations = tuple(allocations)  # read twice below: an iterator would be spent once
    check_units(allocations, f"order {order_id}")
    backordered = merge_backorders(backorders)
    check_units((Unit(b.node, b.sku, b.qty) for b in backordered), f"order {order_id} backorders")
    for b in backordered:
        if b.inbound.startswith(TRANSFER_INBOUND):  # its receipt is a transfer step, which
            raise Invalid(  # fills no backorder: the order would wait forever
                f"order {order_id} backorders: {b.inbound} is a transfer in transit; orders "
                "are backordered on purchase orders only"
            )
    units = merge_units(allocations)
    covered = sku_totals([*units, *(Unit(b.node, b.sku, b.qty) for b in backordered)])
    if not covered or dict(sorted(lines.items())) != dict(sorted(covered.items())):
        raise Invalid(
            f"order {order_id}: lines {dict(lines)} must be the allocated and backordered "
            f"units per SKU {covered}, and not empty"
        )
    order = OrderRecord(
        id=order_id,
        state=OrderState.ALLOCATED,
        lines=dict(sorted(lines.items())),
        allocations=units,
        shipped=(),
        returned=(),
        released_nodes=(),
        version=1,
        created_at=now,
        updated_at=now,
        document=document,
        backordered=backordered,
    )
    made: list[Event] = [
        ("order.created", {"lines": dict(lines), "reservation_id": reservation_id}),
        ("order.allocated", {"units": units_data(units)}),
    ]
    if backordered:
        made.append(("order.backordered", {"backorders": backorders_data(backordered)}))
    # a hold's units are held already: they move from reserved to allocated unchecked
    return order, Effects(allocate=units, events=_stamped(order, made), backorder=backordered)


def apply(order: OrderRecord, action: OrderAction, step: Step) -> tuple[OrderRecord, Effects]:
    """The order after one step, with version + 1 (times are the store's to set), and the
    step's effects on stock. Conflict (with the current state) if the state does not allow
    the action or the order does not hold the units named; Invalid for arguments the action
    does not take."""
    check_allowed(order, action)
    check_units(step.units, f"order {order.id} {action}")
    check_units(step.new_allocations, f"order {order.id} {action} new allocations")
    given = {"node"} if step.node is not None else set()
    given |= {"parcel"} if step.parcel is not None else set()
    given |= {n for n, v in (("units", step.units), ("new_allocations", step.new_allocations),
                             ("backorders", step.backorders), ("returns", step.returns),
                             ("at", step.at), ("why", step.why)) if v}  # fmt: skip
    takes = TAKES[action]
    if extra := given - takes:
        raise Invalid(f"order {order.id} {action}: takes no {', '.join(sorted(extra))}")
    if "node" in takes and not step.node:
        raise Invalid(f"order {order.id} {action}: a node is required")
    after, effects, events = _STEPS[action](order, step)
    after = replace(after, version=order.version + 1)
    return after, replace(effects, events=_stamped(after, events))


def _stamped(order: OrderRecord, events: Sequence[Event]) -> tuple[Event, ...]:
    """order.* events carry the order's state and version after the step."""
    return tuple(
        (t, {**data, "state": str(order.state), "version": order.version}) for t, data in events
    )


def _take(order: OrderRecord, have: Sequence[Unit], take: Sequence[Unit], what: str) -> None:
    """Conflict naming a unit of `take` that `have` does not hold."""
    held = {(u.node, u.sku): u.qty for u in merge_units(have)}
    for u in merge_units(take):
        if held.get((u.node, u.sku), 0) < u.qty:
            raise Conflict(
                f"order {order.id}: {what} {u.qty} of {u.sku} at {u.node} but the order has "
                f"{held.get((u.node, u.sku), 0)}",
                current_state=str(order.state),
            )


def _settled(order: OrderRecord) -> OrderState:
    """The state once units left the order or shipped."""
    if not order.allocations and not order.backordered:
        return OrderState.SHIPPED if order.shipped else OrderState.CANCELLED
    if order.shipped:
        return OrderState.PARTIALLY_SHIPPED
    return order.state


def _less_lines(lines: Mapping[str, int], leaving: Mapping[str, int]) -> dict[str, int]:
    out = {s: q - leaving.get(s, 0) for s, q in lines.items()}
    return {s: q for s, q in sorted(out.items()) if q > 0}


StepResult = tuple[OrderRecord, Effects, list[Event]]


def _release(order: OrderRecord, step: Step) -> StepResult:
    nodes = tuple(sorted({u.node for u in order.allocations}))
    after = replace(order, state=OrderState.RELEASED, released_nodes=nodes)
    return after, Effects(), [("order.released", {"nodes": list(nodes)})]


def _ship(order: OrderRecord, step: Step) -> StepResult:
    shipping = tuple(u for u in order.allocations if u.node == step.node)
    if not shipping:
        raise Conflict(
            f"order {order.id}: nothing allocated at {step.node} to ship",
            current_state=str(order.state),
        )
    if step.units:
        if any(u.node != step.node for u in step.units):
            raise Invalid(f"order {order.id} ship at {step.node}: units must be at that node")
        _take(order, shipping, step.units, "ship")
        shipping = merge_units(step.units)
    after = replace(
        order,
        allocations=subtract_units(order.allocations, shipping),
        shipped=merge_units([*order.shipped, *shipping]),
    )
    after = replace(after, state=_settled(after))
    data: dict[str, Any] = {"node": step.node, "units": units_data(shipping)}
    if step.parcel is not None:
        data["carrier"], data["tracking"] = step.parcel
    events = [("order.shipped", data)]
    return after, Effects(free=shipping, ship=shipping), events


def _cancel(order: OrderRecord, step: Step) -> StepResult:
    whole = not step.units and not step.backorders
    cancelling = merge_units(order.allocations if whole else step.units)
    dropping = merge_backorders(order.backordered if whole else step.backorders)
    _take(order, order.allocations, cancelling, "cancel")
    promised = {b.inbound: b.qty for b in order.backordered}
    for b in dropping:
        if promised.get(b.inbound, 0) < b.qty:
            raise Conflict(
                f"order {order.id}: cancel {b.qty} backordered on {b.inbound} but the order "
                f"has {promised.get(b.inbound, 0)}",
                current_state=str(order.state),
            )
    leaving = sku_totals([*cancelling, *(Unit(b.node, b.sku, b.qty) for b in dropping)])
    after = replace(
        order,
        allocations=subtract_units(order.allocations, cancelling),
        backordered=subtract_backorders(order.backordered, dropping),
        lines=_less_lines(order.lines, leaving),
    )
    after = replace(after, state=_settled(after))
    data: dict[str, Any] = {"units": units_data(cancelling)}
    if dropping:
        data["backorders"] = backorders_data(dropping)
    effects = Effects(free=cancelling, unbackorder=dropping)
    return after, effects, [("order.cancelled", data)]


def _reject(order: OrderRecord, step: Step) -> StepResult:
    node = step.node
    rejected = merge_units(step.units or [u for u in order.allocations if u.node == node])
    new = merge_units(step.new_allocations)
    if any(u.node != node for u in rejected) or any(u.node == node for u in new):
        raise Invalid(
            f"order {order.id} reject at {node}: rejected units must be at that node and new "
            "allocations elsewhere"
        )
    if not rejected:
        raise Conflict(
            f"order {order.id}: nothing allocated at {node} to reject",
            current_state=str(order.state),
        )
    unfillable = sku_totals(rejected)
    for sku, qty in sku_totals(new).items():
        if qty > unfillable.get(sku, 0):
            raise Invalid(
                f"order {order.id} reject: {qty} of {sku} re-allocated but only "
                f"{unfillable.get(sku, 0)} rejected"
            )
        unfillable[sku] -= qty
    _take(order, order.allocations, rejected, "reject")
    after = replace(
        order,
        allocations=merge_units([*subtract_units(order.allocations, rejected), *new]),
        lines=_less_lines(order.lines, unfillable),
        released_nodes=_released_with(order, new),
    )
    after = replace(after, state=_settled(after))
    events: list[Event] = [("order.rejected", {"node": node, "units": units_data(rejected)})]
    if new:
        events.append(
            ("order.reallocated", {"released": units_data(rejected), "units": units_data(new)})
        )
    if left := {s: q for s, q in sorted(unfillable.items()) if q}:
        events.append(("order.lines_unfillable", {"lines": left}))
    return after, Effects(allocate=new, free=rejected), events


def _reallocate(order: OrderRecord, step: Step) -> StepResult:
    giving, new = merge_units(step.units), merge_units(step.new_allocations)
    if not giving or sku_totals(giving) != sku_totals(new):
        raise Invalid(
            f"order {order.id} reallocate: new allocations {sku_totals(new)} must move exactly "
            f"the released units {sku_totals(giving)} per SKU"
        )
    _take(order, order.allocations, giving, "reallocate")
    after = replace(
        order,
        allocations=merge_units([*subtract_units(order.allocations, giving), *new]),
        released_nodes=_released_with(order, new),
    )
    data = {**step.why, "released": units_data(giving), "units": units_data(new)}
    return after, Effects(allocate=new, free=giving), [("order.reallocated", data)]


def _released_with(order: OrderRecord, new: Sequence[Unit]) -> tuple[str, ...]:
    """A released order is released at once to the nodes it is newly allocated at."""
    if order.state != OrderState.RELEASED:
        return order.released_nodes
    return tuple(sorted({*order.released_nodes, *(u.node for u in new)}))


def _return(order: OrderRecord, step: Step) -> StepResult:
    outstanding = subtract_units(order.shipped, order.returned)
    if step.units and step.returns:
        raise Invalid(f"order {order.id} return: give units or returns, not both")
    for r in step.returns:
        if r.disposition not in DISPOSITIONS:
            raise Invalid(
                f"order {order.id} return: disposition {r.disposition!r} of {r.sku}; expected "
                f"one of {', '.join(DISPOSITIONS)}"
            )
    lines = step.returns or tuple(
        ReturnLine(u.node, u.sku, u.qty, "restock" if step.restock else "write_off")
        for u in (step.units or outstanding)
    )
    check_units((Unit(r.node, r.sku, r.qty) for r in lines), f"order {order.id} return")
    returning = merge_units(Unit(r.node, r.sku, r.qty) for r in lines)
    if not returning:
        raise Conflict(
            f"order {order.id}: nothing shipped is left to return", current_state=str(order.state)
        )
    _take(order, outstanding, returning, "return")
    after = replace(order, returned=merge_units([*order.returned, *returning]))
    done = order.state in (OrderState.SHIPPED, OrderState.PICKED_UP)
    if done and not subtract_units(outstanding, returning):
        after = replace(after, state=OrderState.RETURNED)
    restocked = merge_units(
        Unit(step.at or r.node, r.sku, r.qty) for r in lines if r.disposition == "restock"
    )
    data: dict[str, Any] = {"units": units_data(returning), "restock": bool(restocked)}
    if step.returns or step.at:
        data["received_at"] = step.at
        data["lines"] = [
            {"node": r.node, "sku": r.sku, "qty": r.qty, "disposition": r.disposition}
            for r in lines
        ]
    return after, Effects(restock=restocked), [("order.returned", data)]


def fill_backorders(order: OrderRecord, inbound: str, qty: int) -> tuple[OrderRecord, Effects, int]:
    """Up to qty units received on `inbound` go to the order's backorders on it: they are
    allocated at the inbound's node (version + 1, event `order.backorder_received`; a
    released order is released there too). Returns the order after, the effects and how
    many units it took (0: nothing backordered there, the order unchanged)."""
    mine = [b for b in order.backordered if b.inbound == inbound]
    if not mine or qty < 1 or order.state not in _OPEN:
        return order, Effects(), 0
    b = mine[0]
    n = min(qty, b.qty)
    took = replace(b, qty=n)
    unit = Unit(b.node, b.sku, n)
    after = replace(
        order,
        allocations=merge_units([*order.allocations, unit]),
        backordered=subtract_backorders(order.backordered, [took]),
        released_nodes=_released_with(order, [unit]),
        version=order.version + 1,
    )
    data = {"inbound": inbound, "units": units_data([unit]),
            "backordered": backorders_data(after.backordered)}  # fmt: skip
    events = _stamped(after, [("order.backorder_received", data)])
    return after, Effects(fill=(unit,), unbackorder=(took,), events=events), n


def fill_in_turn(
    waiting: Iterable[str], load: Callable[[str], OrderRecord], inbound: str, qty: int
) -> list[tuple[OrderRecord, OrderRecord, Effects]]:
    """A receipt of qty units on `inbound` given to the orders waiting for it, in turn
    (`waiting`: their ids, oldest backorder first; `load` reads one): (before, after,
    effects) per order that took units, until the receipt is used up."""
    out = []
    left = qty
    for order_id in waiting:
        if left == 0:
            break
        before = load(order_id)
        after, effects, took = fill_backorders(before, inbound, left)
        if took:
            left -= took
            out.append((before, after, effects))
    return out


def _ready(order: OrderRecord, step: Step) -> StepResult:
    elsewhere = sorted({u.node for u in order.allocations if u.node != step.node})
    if order.backordered:  # units still waiting for a purchase order are not at the store
        raise Conflict(
            f"order {order.id}: not ready for pickup at {step.node}: units are still "
            f"backordered on {', '.join(sorted({b.inbound for b in order.backordered}))}",
            current_state=str(order.state),
        )
    if elsewhere:
        raise Conflict(
            f"order {order.id}: not ready for pickup at {step.node}: units are still allocated "
            f"at {', '.join(elsewhere)} (ship them to {step.node} first)",
            current_state=str(order.state),
        )
    after = replace(order, state=OrderState.READY_FOR_PICKUP)
    return after, Effects(), [("order.ready_for_pickup", {"node": step.node})]


def _pick_up(order: OrderRecord, step: Step) -> StepResult:
    """The customer collected everything: the store's units leave (as a shipment does)."""
    leaving = merge_units(order.allocations)
    after = replace(
        order,
        state=OrderState.PICKED_UP,
        allocations=(),
        shipped=merge_units([*order.shipped, *leaving]),
    )
    handed = sku_totals([*subtract_units(order.shipped, order.returned), *leaving])
    data = {"node": step.node, "lines": dict(sorted(handed.items()))}
    return after, Effects(free=leaving, ship=leaving), [("order.picked_up", data)]


def _not_collected(order: OrderRecord, step: Step) -> StepResult:
    """Nobody came: the store's allocated units are free again (they leave the order's
    lines, as a cancel's do), and the units shipped to the store by legs are restocked on
    hand there (recorded as returned)."""
    freed = merge_units(order.allocations)
    legs = subtract_units(order.shipped, order.returned)
    after = replace(
        order,
        state=OrderState.NOT_COLLECTED,
        allocations=(),
        lines=_less_lines(order.lines, sku_totals(freed)),
        returned=merge_units([*order.returned, *legs]),
    )
    assert step.node is not None  # apply requires it
    restock = tuple(Unit(step.node, u.sku, u.qty) for u in legs)
    restocked = merge_units(restock)
    data = {"node": step.node, "freed": units_data(freed), "restocked": units_data(restocked)}
    return after, Effects(free=freed, restock=restocked), [("order.not_collected", data)]


_STEPS = {
    "release": _release,
    "ship": _ship,
    "cancel": _cancel,
    "reject": _reject,
    "reallocate": _reallocate,
    "return": _return,
    "ready": _ready,
    "pick_up": _pick_up,
    "not_collected": _not_collected,
}


# --- picking units for a step (the service's side) ---------------------------------------


def pick_units(
    have: Sequence[Unit],
    want: Mapping[str, int],
    order: OrderRecord,
    what: str,
    prefer: Sequence[str] = (),
) -> tuple[Unit, ...]:
    """Units for `want` (SKU -> qty) taken from `have`, nodes in `prefer` last, then by id.

    Conflict naming every SKU that has fewer units than wanted.
    """
    short = []
    picked: list[Unit] = []
    last = set(prefer)
    for sku, qty in want.items():
        pool = sorted((u for u in have if u.sku == sku), key=lambda u: (u.node in last, u.node))
        there = sum(u.qty for u in pool)
        if there < qty:
            short.append(f"{sku}: {qty} requested, {there} {what}")
            continue
        left = qty
        for u in pool:
            if left == 0:
                break
            n = min(left, u.qty)
            picked.append(Unit(u.node, sku, n))
            left -= n
    if short:
        raise Conflict(
            f"order {order.id} does not have the units: {'; '.join(short)}",
            current_state=str(order.state),
        )
    return merge_units(picked)


# --- checkout holds ----------------------------------------------------------------------


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
    document: dict[str, Any] = field(default_factory=dict)
    """The service's own data (destination, plan with costs), stored as given."""


PAST = {"commit": "committed", "release": "released"}


def check_active(hold: Reservation, action: str) -> None:
    """Conflict (with its state) unless the hold is active: only an active hold can be
    committed or released."""
    if hold.state != HoldState.ACTIVE:
        raise Conflict(
            f"reservation {hold.id} is {hold.state}: only an active hold can be "
            f"{PAST.get(action, action + 'd')}",
            current_state=str(hold.state),
        )


# --- transfer orders ---------------------------------------------------------------------
#
#    requested --ship--> in_transit --receive--> partially_received --receive--> received
#    requested --cancel--> cancelled
# Units are conserved: created, the lines are allocated at the source (reserved for the
# transfer: no order or hold can take them); shipped, they leave the source's on hand and
# become open inbound supply at the destination (one inbound per SKU, id
# `transfer_inbound_id`), which the promise reads as incoming from `expected_at`; received,
# they move from that inbound to the destination's on hand.


class TransferState(StrEnum):
    REQUESTED = "requested"
    IN_TRANSIT = "in_transit"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


TransferAction = Literal["ship", "receive", "cancel"]
TRANSFER_ACTIONS: tuple[TransferAction, ...] = ("ship", "receive", "cancel")
TRANSFER_ALLOWED_FROM: dict[TransferAction, frozenset[TransferState]] = {
    "ship": frozenset({TransferState.REQUESTED}),
    "receive": frozenset({TransferState.IN_TRANSIT, TransferState.PARTIALLY_RECEIVED}),
    "cancel": frozenset({TransferState.REQUESTED}),
}
"""Each transfer action and the states it is allowed from (units in transit cannot be
cancelled: they are received, in part or in full)."""

TRANSFER_INBOUND = "transfer:"
"""Prefix of the inbound ids a shipped transfer opens (no other inbound may use it)."""


def transfer_inbound_id(transfer_id: str, sku: str) -> str:
    """The id of the inbound supply a shipped transfer opens at its destination for a SKU."""
    return f"{TRANSFER_INBOUND}{transfer_id}:{sku}"


@dataclass(frozen=True)
class TransferRecord:
    """A transfer order as the ledger knows it.

    lines: units sent, per SKU; received: units received so far, per SKU (only SKUs with
    some); expected_at: arrival at the destination, UNIX seconds (set by ship at the
    latest); version: 1 at creation, +1 per step; document: the caller's, stored as given.
    """

    id: str
    source: str
    destination: str
    lines: dict[str, int]
    received: dict[str, int]
    state: TransferState
    expected_at: float | None
    version: int
    created_at: float
    updated_at: float
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def in_transit(self) -> dict[str, int]:
        """Units shipped and not yet received, per SKU."""
        if self.state not in (TransferState.IN_TRANSIT, TransferState.PARTIALLY_RECEIVED):
            return {}
        out = {s: q - self.received.get(s, 0) for s, q in self.lines.items()}
        return {s: q for s, q in out.items() if q > 0}

    def units(self, node: str, lines: Mapping[str, int]) -> tuple[Unit, ...]:
        return tuple(Unit(node, s, q) for s, q in sorted(lines.items()))


@dataclass(frozen=True)
class TransferEffects:
    """What a transfer step does to stock, and its events.

    reserve: allocated up at the source (checked against available); free: allocated down
    at the source; ship: on hand down at the source; in_transit: open inbound up at the
    destination (inbound `transfer_inbound_id`, arriving at the record's expected_at);
    receive: that inbound down and on hand up at the destination."""

    reserve: tuple[Unit, ...] = ()
    free: tuple[Unit, ...] = ()
    ship: tuple[Unit, ...] = ()
    in_transit: tuple[Unit, ...] = ()
    receive: tuple[Unit, ...] = ()
    events: tuple[Event, ...] = ()


def _transfer_stamped(t: TransferRecord, events: Sequence[Event]) -> tuple[Event, ...]:
    """transfer.* events carry the transfer's state and version after the step."""
    return tuple((e, {**d, "state": str(t.state), "version": t.version}) for e, d in events)


def _check_lines(lines: Mapping[str, int], what: str) -> None:
    for sku, qty in lines.items():
        if not (isinstance(sku, str) and sku):
            raise Invalid(f"{what}: SKU {sku!r}; expected a non-empty SKU")
        check_qty(qty, f"{what}, SKU {sku}")


def create_transfer(
    transfer_id: str,
    source: str,
    destination: str,
    lines: Mapping[str, int],
    expected_at: float | None,
    document: dict[str, Any],
    now: float,
) -> tuple[TransferRecord, TransferEffects]:
    """A new transfer, its lines reserved at the source. Invalid without lines, with a bad
    quantity, or from a node to itself."""
    what = f"transfer {transfer_id}"
    if not lines:
        raise Invalid(f"{what}: expected at least one line")
    _check_lines(lines, what)
    if not (source and destination) or source == destination:
        raise Invalid(f"{what}: source {source!r} and destination {destination!r} must differ")
    t = TransferRecord(
        id=transfer_id, source=source, destination=destination,
        lines=dict(sorted(lines.items())), received={}, state=TransferState.REQUESTED,
        expected_at=expected_at, version=1, created_at=now, updated_at=now, document=document,
    )  # fmt: skip
    units = t.units(source, t.lines)
    data = {"source": source, "destination": destination, "lines": t.lines,
            "expected_at": expected_at}  # fmt: skip
    return t, TransferEffects(
        reserve=units, events=_transfer_stamped(t, [("transfer.created", data)])
    )


@dataclass(frozen=True)
class TransferStep:
    """ship: expected_at (arrival, UNIX seconds; the record's if None, required then);
    receive: lines arrived, SKU -> qty (empty: everything in transit)."""

    lines: Mapping[str, int] = field(default_factory=dict)
    expected_at: float | None = None


def check_transfer_allowed(t: TransferRecord, action: TransferAction) -> None:
    """Conflict (with the current state) when the action is not allowed now."""
    if action not in TRANSFER_ALLOWED_FROM:
        raise Invalid(f"transfer {t.id}: unknown action {action!r}")
    if t.state not in TRANSFER_ALLOWED_FROM[action]:
        allowed = ", ".join(sorted(TRANSFER_ALLOWED_FROM[action]))
        raise Conflict(
            f"transfer {t.id} is {t.state}: {action} is allowed only when {allowed}",
            current_state=str(t.state),
        )


def apply_transfer(
    t: TransferRecord, action: TransferAction, step: TransferStep
) -> tuple[TransferRecord, TransferEffects]:
    """The transfer after one step, version + 1 (times are the store's to set), and the
    step's effects on stock. Conflict if the state does not allow the action; Invalid for a
    receipt of more than is in transit or a ship without an arrival time."""
    check_transfer_allowed(t, action)
    events: list[Event]
    if action == "cancel":
        after = replace(t, state=TransferState.CANCELLED)
        effects = TransferEffects(free=t.units(t.source, t.lines))
        events = [("transfer.cancelled", {"lines": t.lines})]
    elif action == "ship":
        arrives = t.expected_at if step.expected_at is None else step.expected_at
        if arrives is None:
            raise Invalid(f"transfer {t.id} ship: expected_at (arrival time) is required")
        after = replace(t, state=TransferState.IN_TRANSIT, expected_at=arrives)
        leaving = t.units(t.source, t.lines)
        effects = TransferEffects(
            free=leaving, ship=leaving, in_transit=t.units(t.destination, t.lines)
        )
        events = [("transfer.shipped", {"lines": t.lines, "expected_at": arrives})]
    else:
        open_ = t.in_transit
        arrived = dict(step.lines) or open_
        _check_lines(arrived, f"transfer {t.id} receipt")
        for sku, qty in sorted(arrived.items()):
            if qty > open_.get(sku, 0):
                raise Invalid(
                    f"transfer {t.id} receipt of {sku}: {qty} units, but "
                    f"{open_.get(sku, 0)} are in transit"
                )
        received = {s: t.received.get(s, 0) + arrived.get(s, 0) for s in t.lines}
        received = {s: q for s, q in received.items() if q}
        done = received == t.lines
        state = TransferState.RECEIVED if done else TransferState.PARTIALLY_RECEIVED
        after = replace(t, state=state, received=received)
        effects = TransferEffects(receive=t.units(t.destination, arrived))
        events = [("transfer.received", {"lines": dict(sorted(arrived.items()))})]
    after = replace(after, version=t.version + 1)
    return after, replace(effects, events=_transfer_stamped(after, events))


def check_inbound_not_transfer(inbound_id: str, action: str) -> None:
    """A transfer's inbound is received and written through its transfer only: Conflict
    for a receipt, Invalid for an upsert, naming the transfer's route."""
    if inbound_id.startswith(TRANSFER_INBOUND):
        transfer_id = inbound_id[len(TRANSFER_INBOUND) :].rsplit(":", 1)[0]
        message = (
            f"inbound {inbound_id} is transfer {transfer_id} in transit: {action} it through "
            f"the transfer (POST /v1/transfers/{transfer_id}/receive)"
        )
        if action == "receive":
            raise Conflict(message, current_state="in_transit")
        raise Invalid(
            f"inbound {inbound_id}: ids starting with {TRANSFER_INBOUND!r} are the transfers' own"
        )
