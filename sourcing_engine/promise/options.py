"""Delivery options for a cart and a destination: what checkout offers, with dates and our
cost, before an order exists.

One pass, on the stock available now (on hand minus safety stock, holds and allocations):
1. the cart is split into units on hand can cover (shipped), units open purchase orders
   can cover (backordered, dated from their arrival) and units nothing covers (each line
   with its reason);
2. the shipped units get their cheapest plan on the rate card over every node stocking
   them, exactly as the engine sources one order (the exact pricing keeps, per shipment
   content, only the nodes that can matter); every service level prices and dates that
   plan, or, if it does not serve a node of it, is sourced again on the nodes it serves and
   is not offered when those cannot cover the units;
3. pickup: stores near the customer that hold the whole cart on their own shelf;
4. ship-to-store: the whole cart from warehouses to a store near the customer;
5. options are ranked by cost, then by when the customer has the goods; each says why its
   nodes were chosen and what the next-best plan (without the node shipping most) costs.
"""

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models import (
    OrderPenalties,
    ScaledCost,
    ShipmentCostModel,
    haversine_miles,
)
from sourcing_engine.cost_models import handling_cost as handling
from sourcing_engine.domain import (
    Destination,
    Inbound,
    Item,
    Line,
    Order,
    Position,
    ServiceLevel,
    Shipment,
    Unit,
    merge_lines,
)
from sourcing_engine.promise.calendars import UTC, zone, zone_at
from sourcing_engine.promise.carriers import level_days
from sourcing_engine.promise.network import PromiseNetwork, year_of
from sourcing_engine.solvers import Allocation, SourcingProblem
from sourcing_engine.solvers.baselines import cheapest_alone
from sourcing_engine.solvers.evaluate import evaluate
from sourcing_engine.sourcing import build_problem, check_items, read_plans

IntArray = NDArray[np.int64]
Method = Literal["ship", "pickup", "ship_to_store", "backorder"]
METHODS: tuple[Method, ...] = ("ship", "pickup", "ship_to_store", "backorder")
Reason = Literal["no_stock", "safety_stock", "held", "ship_disabled", "left_unfilled"]


@dataclass(frozen=True)
class PromiseConfig:
    """pickup_radius_miles / pickup_stores: how far and how many stores pickup and
    ship-to-store offer (the nearest first)."""

    pickup_radius_miles: float = 25.0
    pickup_stores: int = 3

    def __post_init__(self) -> None:
        if self.pickup_stores < 0 or self.pickup_radius_miles < 0:
            raise ValueError("pickup_stores and pickup_radius_miles must be >= 0")


@dataclass(frozen=True)
class PromisedShipment:
    """One parcel of an option: from where, what, our cost, and its dates (local dates of
    the node and of the customer). arrives: a purchase order's expected arrival at the node
    (backorders)."""

    node: str
    lines: tuple[Line, ...]
    cost: float
    distance_miles: float
    zone: int | None
    ships_on: dt.date | None
    delivered_on: dt.date | None
    arrives: dt.datetime | None = None
    inbound: str | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "node": self.node,
            "lines": _lines(self.lines),
            "cost": self.cost,
            "distance_miles": self.distance_miles,
            "zone": self.zone,
            "ships_on": _iso(self.ships_on),
            "delivered_on": _iso(self.delivered_on),
        }
        if self.inbound is not None:
            data["inbound"] = self.inbound
            data["arrives"] = _iso(self.arrives)
        return data


@dataclass(frozen=True)
class DeliveryWindow:
    """Delivered between two local dates, by a local time, in the customer's time zone."""

    earliest: dt.date
    latest: dt.date
    by: dt.time
    time_zone: str

    def to_data(self) -> dict[str, Any]:
        return {
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "by": self.by.strftime("%H:%M"),
            "time_zone": self.time_zone,
        }

    @property
    def moment(self) -> dt.datetime:
        """The latest moment of the window's first day (what "fastest" compares)."""
        return dt.datetime.combine(self.earliest, self.by, tzinfo=zone(self.time_zone))


@dataclass(frozen=True)
class Option:
    """One way to get (part of) the cart to the customer."""

    id: str
    method: Method
    lines: tuple[Line, ...]
    complete: bool
    shipments: tuple[PromisedShipment, ...]
    cost: float
    currency: str
    reason: str
    service_level: str | None = None
    delivery: DeliveryWindow | None = None
    ready_at: dt.datetime | None = None
    store: str | None = None
    next_best_cost: float | None = None
    cheapest: bool = False
    fastest: bool = False

    @property
    def moment(self) -> dt.datetime:
        """When the customer has the goods (a delivery's first day, or ready at a store)."""
        if self.delivery is not None:
            return self.delivery.moment
        assert self.ready_at is not None
        return self.ready_at

    def to_data(self) -> dict[str, Any]:
        """The option as JSON values (as the API answers it and a hold keeps it)."""
        return {
            "id": self.id,
            "method": self.method,
            "service_level": self.service_level,
            "store": self.store,
            "lines": _lines(self.lines),
            "complete": self.complete,
            "cost": self.cost,
            "currency": self.currency,
            "delivery": None if self.delivery is None else self.delivery.to_data(),
            "ready_at": _iso(self.ready_at),
            "shipments": [s.to_data() for s in self.shipments],
            "reason": self.reason,
            "next_best_cost": self.next_best_cost,
            "cheapest": self.cheapest,
            "fastest": self.fastest,
        }

    @property
    def units(self) -> tuple[Unit, ...]:
        """The units on hand the option takes (none for a backorder)."""
        if self.method == "backorder":
            return ()
        return tuple(Unit(s.node, ln.sku, ln.qty) for s in self.shipments for ln in s.lines)


@dataclass(frozen=True)
class Unpromisable:
    """Units of a line that no option covers, and why."""

    sku: str
    qty: int
    reason: Reason
    detail: str


@dataclass(frozen=True)
class NotOffered:
    """An option the cart cannot have, and why (e.g. same-day when the stock is far)."""

    id: str
    reason: str
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Promise:
    at: dt.datetime
    destination: Destination
    currency: str
    options: tuple[Option, ...]
    unpromisable: tuple[Unpromisable, ...] = ()
    not_offered: tuple[NotOffered, ...] = ()
    candidates: int = 0

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def to_data(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "destination": self.destination.to_data(),
            "currency": self.currency,
            "options": [o.to_data() for o in self.options],
            "unpromisable": [
                {"sku": u.sku, "qty": u.qty, "reason": u.reason, "detail": u.detail}
                for u in self.unpromisable
            ],
            "not_offered": [
                {"id": n.id, "reason": n.reason, "lines": _lines(n.lines)} for n in self.not_offered
            ],
            "candidate_nodes": self.candidates,
        }


def _lines(lines: Sequence[Line]) -> list[dict[str, Any]]:
    return [{"sku": ln.sku, "qty": ln.qty} for ln in lines]


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


PositionsReader = Callable[[Sequence[str], Sequence[str] | None], list[Position]]
InboundReader = Callable[[Sequence[str]], list[Inbound]]


@dataclass
class _Stock:
    """Available units per (node index, sku) read for this promise, the positions read,
    and the units per SKU at nodes that ship."""

    available: dict[tuple[int, str], int] = field(default_factory=dict)
    positions: list[Position] = field(default_factory=list)
    shippable: dict[str, int] = field(default_factory=dict)

    def add(self, net: PromiseNetwork, found: Sequence[Position]) -> None:
        index, ok = net.network.index, net.network.ship_enabled.tolist()
        available, shippable = self.available, self.shippable
        for p in found:  # the hot loop of a promise: a 5-line cart reads ~1,500 positions
            n = index.get(p.node)
            if n is None:
                continue
            q = p.on_hand - p.safety_stock - p.allocated - p.reserved  # Position.available
            if q > 0:
                available[(n, p.sku)] = q
                if ok[n]:
                    shippable[p.sku] = shippable.get(p.sku, 0) + q
        self.positions += found


def promise(
    cart: Mapping[str, int],
    destination: Destination,
    at: dt.datetime,
    net: PromiseNetwork,
    items: Mapping[str, Item],
    read_positions: PositionsReader,
    read_inbound: InboundReader,
    penalties: OrderPenalties,
    config: PromiseConfig | None = None,
    methods: Collection[Method] = METHODS,
) -> Promise:
    """Every option the cart can have at this destination now (see the module docstring)."""
    config = config or PromiseConfig()
    skus = sorted(cart)
    check_items(skus, items)
    at = at.astimezone(UTC)
    near_stores = net.stores_within(
        destination.lat, destination.lon, config.pickup_radius_miles, config.pickup_stores
    )
    stock = _Stock()
    stock.add(net, read_positions(skus, None))  # every node: the exact plan may need any
    now = {s: min(cart[s], stock.shippable.get(s, 0)) for s in skus}

    backordered: list[tuple[Inbound, int]] = []
    unpromisable: list[Unpromisable] = []
    rest = {s: cart[s] - now[s] for s in skus if cart[s] > now[s]}
    if rest and ("ship" in methods or "backorder" in methods):
        if "backorder" in methods:
            backordered, rest = from_inbound(rest, read_inbound(sorted(rest)), net)
        unpromisable = [_why(s, cart[s], q, stock, net) for s, q in sorted(rest.items())]

    ctx = _Context(net, items, skus, at, destination, penalties)
    ship_lines = [(s, now[s]) for s in skus if now[s] > 0] if "ship" in methods else []
    to_store = near_stores.tolist() if "ship_to_store" in methods else []
    plans = ctx.source(stock, ship_lines, backordered, to_store, cart)

    options: list[Option] = []
    not_offered: list[NotOffered] = []
    if ship_lines:
        # units the cheapest plan leaves unfilled (dearer to ship than their penalty, or
        # past the cap on shipments) are not promised either
        left = _short(ship_lines, plans.get(ctx.carrier.levels[0], "ship")[0])
        unpromisable += [Unpromisable(ln.sku, ln.qty, "left_unfilled", LEFT) for ln in left]
        gone = {ln.sku: ln.qty for ln in left}
        shipped = [(s, q - gone.get(s, 0)) for s, q in ship_lines if q > gone.get(s, 0)]
        complete = not left and all(now[s] == cart[s] for s in skus)
        if shipped:
            found, missing = ctx.ship_options(plans, shipped, complete)
            options += found
            not_offered += missing
        else:
            not_offered.append(NotOffered("ship", LEFT, tuple(left)))
    if backordered:
        options.append(ctx.backorder(plans, backordered))
    if to_store:
        found, missing = ctx.ship_to_store(plans, to_store, cart)
        options += found
        not_offered += missing
    if "pickup" in methods:
        found, missing = ctx.pickups(near_stores, cart, stock)
        options += found
        not_offered += missing
    if len(near_stores) == 0:
        radius = f"{config.pickup_radius_miles:g} miles"
        not_offered += [
            NotOffered(m, f"no store within {radius}")
            for m in ("pickup", "ship_to_store")
            if m in methods
        ]
    return Promise(
        at=at,
        destination=destination,
        currency=net.carrier.currency,
        options=_ranked(options),
        unpromisable=tuple(unpromisable),
        not_offered=tuple(not_offered),
        candidates=plans.candidates,
    )


def from_inbound(
    rest: Mapping[str, int], inbound: Sequence[Inbound], net: PromiseNetwork
) -> tuple[list[tuple[Inbound, int]], dict[str, int]]:
    """Take the short units from open purchase orders at nodes that ship, earliest first,
    each at most its units no order is backordered on yet; what they cannot cover stays
    short."""
    left = dict(rest)
    taken: list[tuple[Inbound, int]] = []
    ok = net.network.ship_enabled
    for b in sorted(inbound, key=lambda b: (b.expected_at, b.id)):
        n = net.network.index.get(b.node)
        if n is None or not ok[n] or left.get(b.sku, 0) <= 0 or b.free <= 0:
            continue
        q = min(b.free, left[b.sku])
        taken.append((b, q))
        left[b.sku] -= q
    return taken, {s: q for s, q in left.items() if q > 0}


LEFT = (
    "the cheapest plan leaves them unfilled: shipping them costs more than the unfilled "
    "penalty, or takes more shipments than an order may have"
)


def _why(sku: str, asked: int, short: int, stock: _Stock, net: PromiseNetwork) -> Unpromisable:
    """Why `short` of the `asked` units of a SKU cannot be promised: what the network's
    positions fall short of first (on hand, then safety stock, then holds and allocations,
    then nodes that do not ship)."""
    index, ok = net.network.index, net.network.ship_enabled
    mine = [(index[p.node], p) for p in stock.positions if p.sku == sku and p.node in index]
    on_hand = sum(p.on_hand for _, p in mine)
    sellable = sum(max(0, p.on_hand - p.safety_stock) for _, p in mine)
    free = sum(p.available for _, p in mine)
    if on_hand < asked:
        return Unpromisable(
            sku, short, "no_stock", f"{on_hand} on hand in the network, {asked} asked"
        )
    if sellable < asked:
        detail = f"{on_hand} on hand, {on_hand - sellable} of it safety stock"
        return Unpromisable(sku, short, "safety_stock", detail)
    if free < asked:
        detail = f"{sellable} sellable, {sellable - free} of it held or allocated"
        return Unpromisable(sku, short, "held", detail)
    only = sorted(net.network.ids[n] for n, p in mine if p.available > 0 and not ok[n])
    detail = f"the rest is available only at nodes that do not ship: {', '.join(only)}"
    return Unpromisable(sku, short, "ship_disabled", detail)


@dataclass(frozen=True)
class _Plans:
    """Every plan of one promise, priced by each service level: plans[level][order id] is
    (shipments, units left unfilled); `main` is the node the ship plan ships most from."""

    by_level: dict[str, dict[str, tuple[tuple[Shipment, ...], int]]]
    main: str | None
    candidates: int

    def get(self, level: ServiceLevel, order_id: str) -> tuple[tuple[Shipment, ...], int]:
        return self.by_level[level.name][order_id]


class _Context:
    """One promise's fixed inputs, shared by the option builders."""

    def __init__(
        self,
        net: PromiseNetwork,
        items: Mapping[str, Item],
        skus: Sequence[str],
        at: dt.datetime,
        destination: Destination,
        penalties: OrderPenalties,
    ) -> None:
        self.net = net
        self.carrier = net.carrier
        self.items = [items[s] for s in skus]
        self.skus = list(skus)
        self.at = at
        self.year = year_of(at)
        self.destination = destination
        self.penalties = penalties
        self.customer_tz = zone_at(destination.lat, destination.lon)
        self.currency = net.carrier.currency

    # --- sourcing ------------------------------------------------------------------------

    def source(
        self,
        stock: _Stock,
        ship_lines: Sequence[tuple[str, int]],
        backordered: Sequence[tuple[Inbound, int]],
        stores: Sequence[int],
        cart: Mapping[str, int],
    ) -> _Plans:
        """Every plan of the promise, each the exact cheapest over the stock it may use:
        the shipped units over every node stocking them, then again without the node that
        ships most of them (the next best); for a service level serving near zones only,
        over the nodes in those zones; the whole cart to each store near the customer, over
        the warehouses. The backordered units are placed at their purchase orders' nodes.
        Each plan is priced by the levels that may carry it."""
        network = self.net.network
        by_level: dict[str, dict[str, tuple[tuple[Shipment, ...], int]]] = {
            lv.name: {} for lv in self.carrier.levels
        }
        main, candidates = None, 0
        back = back_lines(backordered)
        orders = [Order.of(i, self.destination, ship_lines) for i in ("ship", "ship_alt")]
        orders = orders if ship_lines else []
        if back:
            orders.append(Order.of("backorder", self.destination, back))
        if orders:
            problem = self._problem(orders, stock.available)
            candidates = len(np.unique(problem.stock_node))
            parts = []
            if ship_lines:
                parts.append(self._alone(problem, 0, problem.stock_qty))
                main = _main_node(problem, parts[0])
                others = problem.stock_qty * (problem.stock_node != main)
                parts.append(self._alone(problem, 1, others))
            if back:
                parts.append(self._at_inbound(problem, len(orders) - 1, backordered))
            alloc = _concat(parts)
            for level in self.carrier.levels:
                by_level[level.name] |= self._priced(problem, orders, alloc, level)
        for level in self.carrier.levels if ship_lines else ():
            if level.max_zone is None:
                continue
            near = self._nodes_within_zone(stock, level.max_zone)
            served = {k: q for k, q in stock.available.items() if k[0] in near}
            mine = [
                Order.of(f"ship{suffix}:{level.name}", self.destination, ship_lines)
                for suffix in ("", "_alt")
            ]
            problem = self._problem(mine, served)
            plan = self._alone(problem, 0, problem.stock_qty)
            others = problem.stock_qty * (problem.stock_node != _main_node(problem, plan))
            alloc = _concat([plan, self._alone(problem, 1, others)])
            by_level[level.name] |= self._priced(problem, mine, alloc, level)
        if stores:
            to_stores = [
                Order.of(f"store:{st}", self._store_point(st), sorted(cart.items()))
                for st in stores
            ]
            warehouses = {k: q for k, q in stock.available.items() if self.net.is_warehouse[k[0]]}
            problem = self._problem(to_stores, warehouses)
            alloc = cheapest_alone(problem, np.arange(len(to_stores)), problem.stock_qty)
            level = self.carrier.store_level
            by_level[level.name] |= self._priced(problem, to_stores, alloc, level)
        return _Plans(by_level, None if main is None else network.ids[main], candidates)

    def _store_point(self, store: int) -> Destination:
        n = self.net.network
        return Destination(float(n.lat[store]), float(n.lon[store]), residential=False)

    def _alone(self, problem: SourcingProblem, o: int, stock: IntArray) -> Allocation:
        return cheapest_alone(problem, np.array([o], dtype=np.int64), stock)

    def _priced(
        self,
        problem: SourcingProblem,
        orders: Sequence[Order],
        alloc: Allocation,
        level: ServiceLevel,
    ) -> dict[str, tuple[tuple[Shipment, ...], int]]:
        """Each order's shipments priced by the level, and the units it leaves unfilled."""
        costs = evaluate(problem, alloc, self._shipping(level))
        ids = [o.id for o in orders]
        found = read_plans(
            problem, alloc, costs, ids, self.net.network.ids, self.skus, self.currency
        )
        return {p.order_id: (p.shipments, sum(ln.qty for ln in p.unfilled)) for p in found}

    def _nodes_within_zone(self, stock: _Stock, max_zone: int) -> set[int]:
        """The nodes holding stock whose zone to the customer is at most max_zone."""
        nodes = np.unique(np.fromiter((n for n, _ in stock.available), dtype=np.int64))
        n, d = self.net.network, self.destination
        zone = self.carrier.zone(haversine_miles(n.lat[nodes], n.lon[nodes], d.lat, d.lon))
        return set(nodes[zone <= max_zone].tolist())

    def _problem(
        self, orders: Sequence[Order], available: Mapping[tuple[int, str], int]
    ) -> SourcingProblem:
        sku_index = {s: i for i, s in enumerate(self.skus)}
        keys = [k for k, q in available.items() if q > 0]
        columns = (
            np.fromiter((sku_index[s] for _, s in keys), dtype=np.int64, count=len(keys)),
            np.fromiter((n for n, _ in keys), dtype=np.int64, count=len(keys)),
            np.fromiter((available[k] for k in keys), dtype=np.int64, count=len(keys)),
        )
        return build_problem(
            self.net.network, self.items, columns, orders, self.carrier.shipping,
            self.penalties, capacities=False,
        )  # fmt: skip

    def _at_inbound(
        self, problem: SourcingProblem, o: int, taken: Sequence[tuple[Inbound, int]]
    ) -> Allocation:
        """The backordered units at their purchase orders' nodes."""
        index = self.net.network.index
        line_of = {
            self.skus[int(problem.line_sku[ln])]: ln
            for ln in range(int(problem.order_line_ptr[o]), int(problem.order_line_ptr[o + 1]))
        }
        units: dict[tuple[int, int], int] = {}
        for b, q in taken:
            key = (line_of[b.sku], index[b.node])
            units[key] = units.get(key, 0) + q
        keys = sorted(units)
        return Allocation(
            np.array([ln for ln, _ in keys], dtype=np.int64),
            np.array([n for _, n in keys], dtype=np.int64),
            np.array([units[k] for k in keys], dtype=np.int64),
        )

    def _shipping(self, level: ServiceLevel) -> ShipmentCostModel:
        base = self.carrier.shipping
        return base if level.rate_factor == 1.0 else ScaledCost(base, level.rate_factor)

    # --- options -------------------------------------------------------------------------

    def ship_options(
        self, plans: _Plans, lines: Sequence[tuple[str, int]], complete: bool
    ) -> tuple[list[Option], list[NotOffered]]:
        """One option per service level for the units on hand can cover (the whole cart
        if `complete`)."""
        options, missing = [], []
        cart_lines = tuple(Line(s, q) for s, q in lines)
        assert plans.main is not None
        for level in self.carrier.levels:
            shipments, _ = plans.get(level, "ship")
            if level.max_zone is not None:
                served, _ = plans.get(level, f"ship:{level.name}")
                if _short(lines, served):
                    missing.append(
                        NotOffered(
                            f"ship:{level.name}",
                            f"too_late: {level.name} serves zones up to {level.max_zone} "
                            "only, and the stock for some units is farther",
                            _short(lines, served),
                        )
                    )
                    continue
                shipments = served
            dated = self._dated(shipments, level, self.destination)
            if level.max_zone is None:
                alt, alt_short = plans.get(level, "ship_alt")
                main, over = plans.main, f"{plans.candidates} stocking nodes"
            else:  # sourced on the nodes the level serves, and so is its next best
                alt, alt_short = plans.get(level, f"ship_alt:{level.name}")
                main = _main_of(shipments)
                over = f"the nodes {level.name} serves (zones up to {level.max_zone})"
            next_best = None if alt_short else _total(alt)
            reason = _ship_reason(dated, over, main, next_best, self.currency)
            options.append(
                Option(
                    id=f"ship:{level.name}",
                    method="ship",
                    lines=cart_lines,
                    complete=complete,
                    shipments=dated,
                    cost=_total(shipments),
                    currency=self.currency,
                    reason=reason,
                    service_level=level.name,
                    delivery=self._window(dated, level),
                    next_best_cost=next_best,
                )
            )
        return options, missing

    def backorder(self, plans: _Plans, taken: Sequence[tuple[Inbound, int]]) -> Option:
        """The units purchase orders cover, shipped from their nodes after they arrive, by
        the carrier's first service level."""
        level = self.carrier.levels[0]
        shipments, _ = plans.get(level, "backorder")
        arrivals: dict[str, Inbound] = {}
        for b, _ in sorted(taken, key=lambda t: t[0].expected_at):
            arrivals[b.node] = b  # a node's parcel waits for its latest arrival
        dated = tuple(
            self._date_shipment(s, level, self.destination, arrivals[s.node]) for s in shipments
        )
        last = max((b for b, _ in taken), key=lambda b: b.expected_at)
        arrival = dt.datetime.fromtimestamp(last.expected_at, UTC)
        local = arrival.astimezone(self.net.days(self.net.network.index[last.node], self.year).tz)
        return Option(
            id="backorder",
            method="backorder",
            lines=tuple(Line(s, q) for s, q in back_lines(taken)),
            complete=False,
            shipments=dated,
            cost=_total(shipments),
            currency=self.currency,
            reason=(
                f"not on hand: on order, the last to arrive is {last.id} at {last.node} on "
                f"{local.strftime('%Y-%m-%d %H:%M %Z')}"
            ),
            service_level=level.name,
            delivery=self._window(dated, level),
        )

    def ship_to_store(
        self, plans: _Plans, stores: Sequence[int], cart: Mapping[str, int]
    ) -> tuple[list[Option], list[NotOffered]]:
        """The whole cart from warehouses to each store near the customer."""
        level = self.carrier.store_level
        options, missing = [], []
        cart_lines = tuple(Line(s, q) for s, q in sorted(cart.items()))
        network = self.net.network
        for st in stores:
            store_id = network.ids[st]
            shipments, short = plans.get(level, f"store:{st}")
            if short:
                missing.append(
                    NotOffered(f"ship_to_store:{store_id}", "no warehouse stock for the whole cart")
                )
                continue
            point = Destination(float(network.lat[st]), float(network.lon[st]), False)
            dated = self._dated(shipments, level, point)
            store_days = self.net.days(st, self.year)
            delivered = max(s.delivered_on for s in dated if s.delivered_on is not None)
            options.append(
                Option(
                    id=f"ship_to_store:{store_id}",
                    method="ship_to_store",
                    lines=cart_lines,
                    complete=True,
                    shipments=dated,
                    cost=_total(shipments),
                    currency=self.currency,
                    reason=(
                        f"{_nodes_text(dated)} to {store_id} ({self._miles(st):.1f} mi from "
                        f"the customer) by {level.name}, delivered {delivered.isoformat()}, "
                        f"out for pickup {store_days.receiving_days} open day(s) later"
                    ),
                    service_level=level.name,
                    ready_at=store_days.ready_after_delivery(delivered),
                    store=store_id,
                )
            )
        return options, missing

    def pickups(
        self, stores: IntArray, cart: Mapping[str, int], stock: _Stock
    ) -> tuple[list[Option], list[NotOffered]]:
        """Stores near the customer that hold the whole cart on their shelf."""
        options, missing = [], []
        network = self.net.network
        units = sum(cart.values())
        lines = tuple(Line(s, q) for s, q in sorted(cart.items()))
        for st in stores.tolist():
            store_id = network.ids[st]
            have = {s: stock.available.get((st, s), 0) for s in cart}
            short = tuple(Line(s, cart[s] - have[s]) for s in sorted(cart) if have[s] < cart[s])
            if short:
                missing.append(
                    NotOffered(f"pickup:{store_id}", "not the whole cart on its shelf", short)
                )
                continue
            days = self.net.days(st, self.year)
            ready = days.ready_for_pickup(self.at)
            if ready is None:
                missing.append(NotOffered(f"pickup:{store_id}", "no opening hours in sight"))
                continue
            cost = round(float(handling(network.handling_per_shipment[st],
                                        network.handling_per_unit[st], units)), 6)  # fmt: skip
            miles = self._miles(st)
            shipment = PromisedShipment(store_id, lines, cost, round(miles, 1), None, None, None)
            options.append(
                Option(
                    id=f"pickup:{store_id}",
                    method="pickup",
                    lines=lines,
                    complete=True,
                    shipments=(shipment,),
                    cost=cost,
                    currency=self.currency,
                    reason=(
                        f"{store_id} holds the whole cart, {miles:.1f} mi from the customer; "
                        f"ready {days.pickup_minutes} min after the request or its opening"
                    ),
                    ready_at=ready,
                    store=store_id,
                )
            )
        return options, missing

    # --- dates ---------------------------------------------------------------------------

    def _miles(self, node: int) -> float:
        n = self.net.network
        return float(
            haversine_miles(n.lat[node], n.lon[node], self.destination.lat, self.destination.lon)
        )

    def _dated(
        self, shipments: Sequence[Shipment], level: ServiceLevel, to: Destination
    ) -> tuple[PromisedShipment, ...]:
        return tuple(self._date_shipment(s, level, to) for s in shipments)

    def _date_shipment(
        self, s: Shipment, level: ServiceLevel, to: Destination, inbound: Inbound | None = None
    ) -> PromisedShipment:
        """A shipment's ship and delivery dates: processed from the request (or from its
        purchase order's arrival), carried by the level on its working days."""
        network = self.net.network
        n = network.index[s.node]
        miles = float(haversine_miles(network.lat[n], network.lon[n], to.lat, to.lon))
        zone_ = int(self.carrier.zone(np.array([miles]))[0])
        days = self.net.days(n, self.year)
        start, arrives = self.at, None
        if inbound is not None:
            arrives = dt.datetime.fromtimestamp(inbound.expected_at, UTC)
            start = max(start, arrives)
        ships = days.ship_date(start)
        transit = int(self.carrier.transit_days(level, np.array([zone_]))[0])
        return PromisedShipment(
            node=s.node,
            lines=s.lines,
            cost=s.cost,
            distance_miles=round(miles, 1),
            zone=zone_,
            ships_on=ships,
            delivered_on=level_days(self.carrier, level, self.year).add(ships, transit),
            arrives=None if arrives is None else arrives.astimezone(days.tz),
            inbound=None if inbound is None else inbound.id,
        )

    def _window(self, dated: Sequence[PromisedShipment], level: ServiceLevel) -> DeliveryWindow:
        earliest = max(s.delivered_on for s in dated if s.delivered_on is not None)
        latest = level_days(self.carrier, level, self.year).add(earliest, level.window_days)
        return DeliveryWindow(earliest, latest, level.delivery_by, str(self.customer_tz))


def back_lines(taken: Sequence[tuple[Inbound, int]]) -> list[tuple[str, int]]:
    """The backordered units per SKU, sorted."""
    return sorted(merge_lines((b.sku, q) for b, q in taken).items())


def _total(shipments: Sequence[Shipment | PromisedShipment]) -> float:
    return round(sum(s.cost for s in shipments), 6)


def _main_node(problem: SourcingProblem, alloc: Allocation) -> int:
    """The node shipping the most units of a plan (the first such on a tie)."""
    units = np.bincount(alloc.node, alloc.qty, minlength=problem.n_nodes)
    return int(np.argmax(units))


def _main_of(shipments: Sequence[Shipment]) -> str:
    """The node shipping the most units (the first such on a tie, as `_main_node`)."""
    return max(shipments, key=lambda s: s.units).node


def _concat(parts: Sequence[Allocation]) -> Allocation:
    return Allocation(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in ("line", "node", "qty"))
    )


def _short(lines: Sequence[tuple[str, int]], shipments: Sequence[Shipment]) -> tuple[Line, ...]:
    shipped = merge_lines((ln.sku, ln.qty) for s in shipments for ln in s.lines)
    return tuple(Line(s, q - shipped.get(s, 0)) for s, q in lines if q > shipped.get(s, 0))


def _nodes_text(dated: Sequence[PromisedShipment]) -> str:
    parts = [f"{s.node} (zone {s.zone}, {s.distance_miles:.0f} mi)" for s in dated]
    return "from " + " and ".join(parts)


def _ship_reason(
    dated: Sequence[PromisedShipment],
    over: str,
    main: str | None,
    next_best: float | None,
    currency: str,
) -> str:
    text = f"{_nodes_text(dated)}: the cheapest plan over {over}"
    if next_best is None:
        return text + f"; without {main} the cart cannot be covered"
    extra = next_best - _total(dated)
    return text + f"; without {main} the next best costs {next_best:.2f} {currency} (+{extra:.2f})"


def _ranked(options: Sequence[Option]) -> tuple[Option, ...]:
    """Complete options by cost, then by when the customer has the goods (stores nearest
    first on a tie); partial ship options after them; the backorder (the rest of a partial
    cart) last. The cheapest and the fastest of the complete options are marked (of all
    but the backorder if none is complete)."""
    order = sorted(
        options, key=lambda o: (o.method == "backorder", not o.complete, o.cost, o.moment)
    )
    pool = [o for o in order if o.complete] or [o for o in order if o.method != "backorder"]
    if not pool:
        return tuple(order)
    cheapest = min(pool, key=lambda o: (o.cost, o.moment)).id
    fastest = min(pool, key=lambda o: (o.moment, o.cost)).id
    return tuple(replace(o, cheapest=o.id == cheapest, fastest=o.id == fastest) for o in order)
