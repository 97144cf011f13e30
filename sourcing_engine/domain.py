"""The domain's one set of types: the network (nodes, items), stock, orders and plans.

The batch files (`exchange`), the live service, the stores and the API all speak these
types; each converts at its own edge only. Ids are strings as the rest of the OMS knows
them. A batch's inventory is columnar (numpy) because a network of a thousand stores holds
millions of positions; the live ledger reports positions one by one.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models import (
    US_ZONE_BANDS_MILES,
    OrderPenalties,
    ParcelCost,
    ScaledCost,
    ShipmentCostModel,
    TransitTable,
    zone_for_distance,
)
from sourcing_engine.cost_models.objective import UNLIMITED

NodeKind = Literal["warehouse", "store"]


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday names as the data spells them; index 0 is Monday (datetime.weekday())."""


@dataclass(frozen=True)
class NodeCalendar:
    """When a node works, in its own local time (`sourcing_engine.promise.calendars` does
    the date arithmetic; None takes the default of the node's kind there).

    time_zone: IANA name (None: looked up from the node's coordinates); cutoff: an order
    placed before this local time is processed that day; processing_days: open days
    between that day and the day it ships (0: ships the same day); opens/closes: opening
    hours (a store's, for pickup and receiving); closed_weekdays: 0 Monday .. 6 Sunday;
    country/subdivision: whose public holidays the node closes on (ISO 3166 codes; None:
    the network's country), public_holidays False: it works on them; closed_dates: days
    closed besides; pickup_minutes: to get a cart ready for pickup; receiving_days: open
    days a store takes to put a delivery from a warehouse out for pickup.
    """

    time_zone: str | None = None
    cutoff: dt.time | None = None
    processing_days: int = 0
    opens: dt.time | None = None
    closes: dt.time | None = None
    closed_weekdays: tuple[int, ...] | None = None
    country: str | None = None
    subdivision: str | None = None
    public_holidays: bool = True
    closed_dates: tuple[dt.date, ...] = ()
    pickup_minutes: int | None = None
    receiving_days: int = 1

    def __post_init__(self) -> None:
        if self.processing_days < 0 or self.receiving_days < 0:
            raise ValueError("processing_days and receiving_days must be >= 0")
        if self.pickup_minutes is not None and self.pickup_minutes < 0:
            raise ValueError("pickup_minutes must be >= 0")
        if self.closed_weekdays is not None:
            if any(not 0 <= d <= 6 for d in self.closed_weekdays):
                raise ValueError("closed_weekdays: expected 0 (Monday) to 6 (Sunday)")
            object.__setattr__(self, "closed_weekdays", tuple(sorted(set(self.closed_weekdays))))
        if (self.opens is None) != (self.closes is None):
            raise ValueError("give both opens and closes, or neither")
        if self.opens is not None and self.closes is not None and self.opens >= self.closes:
            raise ValueError("opens must be before closes")
        object.__setattr__(self, "closed_dates", tuple(sorted(set(self.closed_dates))))

    def to_data(self) -> dict[str, Any]:
        """The fields that differ from the defaults, as JSON values ("HH:MM" times, weekday
        names, ISO dates)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            if isinstance(value, dt.time):
                value = value.strftime("%H:%M")
            elif f.name == "closed_weekdays":
                value = [WEEKDAYS[d] for d in value]
            elif f.name == "closed_dates":
                value = [d.isoformat() for d in value]
            out[f.name] = value
        return out

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> "NodeCalendar":
        """A calendar as `to_data` wrote it (ValueError naming a field it cannot read)."""
        known = {f.name for f in fields(NodeCalendar)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"calendar: unknown field {', '.join(unknown)}")
        args: dict[str, Any] = dict(data)
        for name in ("cutoff", "opens", "closes"):
            if args.get(name) is not None:
                args[name] = _time(args[name], name)
        if args.get("closed_weekdays") is not None:
            args["closed_weekdays"] = tuple(_weekday(d) for d in args["closed_weekdays"])
        if "closed_dates" in args:
            args["closed_dates"] = tuple(_date(d, "closed_dates") for d in args["closed_dates"])
        return NodeCalendar(**args)


def _time(value: object, name: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    text = str(value)
    try:
        if len(text) != 5 or text[2] != ":":
            raise ValueError
        return dt.time(int(text[:2]), int(text[3:]))
    except ValueError:
        raise ValueError(f"{name}: expected a local time as HH:MM, got {text!r}") from None


def _weekday(value: object) -> int:
    if isinstance(value, int) and 0 <= value <= 6:
        return value
    text = str(value).lower()[:3]
    if text not in WEEKDAYS:
        raise ValueError(f"closed_weekdays: expected weekday names (mon .. sun), got {value!r}")
    return WEEKDAYS.index(text)


def _date(value: object, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name}: expected dates as YYYY-MM-DD, got {value!r}") from None


@dataclass(frozen=True)
class Node:
    """A location that can ship: a warehouse (distribution centre) or a store.

    ship_capacity / unit_capacity: shipments and units it can ship in one batch, and in the
    live service per day in its time zone (None: no limit). handling_*: its cost to pick
    and pack, per shipment and per unit. calendar: when it works (for promise dates).
    """

    id: str
    kind: NodeKind
    lat: float
    lon: float
    ship_capacity: int | None = None
    unit_capacity: int | None = None
    handling_per_shipment: float = 0.0
    handling_per_unit: float = 0.0
    ship_enabled: bool = True
    calendar: NodeCalendar = field(default_factory=NodeCalendar)

    def to_data(self) -> dict[str, Any]:
        """The node as JSON values (its calendar only where it differs from the defaults)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        calendar = self.calendar.to_data()
        if calendar:
            data["calendar"] = calendar
        else:
            del data["calendar"]
        return data

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> "Node":
        args = dict(data)
        args["calendar"] = NodeCalendar.from_data(args.get("calendar") or {})
        return Node(**args)


# --- carriers --------------------------------------------------------------------------

MON_FRI = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class ServiceLevel:
    """One service of the carrier.

    delivery_weekdays: 0 Monday .. 6 Sunday; holidays: whether it keeps the carrier's
    country's public holidays; closed_dates: days it does not work besides; rate_factor:
    its price per parcel relative to the rate card; window_days: working days the delivery
    may come after the promised day (the window's end); delivery_by: local time at the
    customer by which it delivers; max_zone: the farthest zone it serves (None: all).
    """

    name: str
    delivery_weekdays: tuple[int, ...] = MON_FRI
    holidays: bool = True
    closed_dates: tuple[dt.date, ...] = ()
    rate_factor: float = 1.0
    window_days: int = 0
    delivery_by: dt.time = dt.time(20, 0)
    max_zone: int | None = None

    def __post_init__(self) -> None:
        if not self.delivery_weekdays or any(not 0 <= d <= 6 for d in self.delivery_weekdays):
            raise ValueError(f"service level {self.name}: delivery_weekdays: expected 0..6")
        if not self.rate_factor > 0 or self.window_days < 0:
            raise ValueError(f"service level {self.name}: rate_factor > 0, window_days >= 0")


@dataclass(frozen=True)
class Carrier:
    """The network's carrier: its rate card (the cost model the engine sources with), the
    zone bands transit is counted by (the rate card's), transit days per service level and
    zone, its service levels, the country (and region) whose public holidays nodes and
    carriers keep unless told otherwise, and the level that carries ship-to-store."""

    country: str
    shipping: ShipmentCostModel
    transit: TransitTable
    levels: tuple[ServiceLevel, ...]
    subdivision: str | None = None
    ship_to_store: str | None = None
    zone_bands_miles: tuple[float, ...] = field(default=US_ZONE_BANDS_MILES)

    def __post_init__(self) -> None:
        names = [lv.name for lv in self.levels]
        if not names:
            raise ValueError("a carrier needs at least one service level")
        if len(set(names)) != len(names):
            raise ValueError("service level names must differ")
        missing = [n for n in names if n not in self.transit.days]
        if missing:
            raise ValueError(f"service level {', '.join(missing)}: no transit days")
        if self.ship_to_store is not None and self.ship_to_store not in names:
            raise ValueError(f"ship_to_store: {self.ship_to_store!r} is not a service level")
        if isinstance(self.shipping, ParcelCost):  # transit zones are the rate card's
            object.__setattr__(self, "zone_bands_miles", self.shipping.zone_bands_miles)

    @property
    def currency(self) -> str:
        return self.shipping.currency

    @property
    def first_zone(self) -> int:
        return self.transit.first_zone

    @property
    def store_level(self) -> ServiceLevel:
        """The service that carries ship-to-store deliveries (the first one by default)."""
        return self.level(self.ship_to_store or self.levels[0].name)

    def level(self, name: str) -> ServiceLevel:
        return next(lv for lv in self.levels if lv.name == name)

    def zone(self, distance_miles: NDArray[np.float64]) -> NDArray[np.int64]:
        return zone_for_distance(distance_miles, self.zone_bands_miles, self.first_zone)

    def transit_days(self, level: ServiceLevel, zone: NDArray[np.int64]) -> NDArray[np.int64]:
        return self.transit.transit_days(zone, level.name)

    def serves(self, level: ServiceLevel, zone: NDArray[np.int64]) -> NDArray[np.bool_]:
        if level.max_zone is None:
            return np.ones(np.shape(zone), dtype=bool)
        result: NDArray[np.bool_] = np.asarray(zone) <= level.max_zone
        return result


DEFAULT_UNFILLED_PENALTY = 1_000_000.0
"""Per unfilled unit in the live service: far above any parcel charge, so units go unfilled
only without stock (and the order is then refused with every short line)."""


DEFAULT_PICKUP_DAYS = 7
MAX_PICKUP_DAYS = 90
MAX_HOLD_MINUTES = 7 * 24 * 60
DEFAULT_MOVE_THRESHOLD = 1.0
DEFAULT_REOPTIMIZE_MINUTES = 30
"""Days an order ready for pickup waits at the store by default, and at most."""


@dataclass(frozen=True)
class NetworkSettings:
    """How the live service sources and promises on its network: one versioned document.

    carrier: rate card (and so the currency), country, service levels; penalties per unit
    left unfilled and per shipment beyond an order's first; the cap on shipments per order
    (None: no cap); default_service_level: the level an order ships by unless a promise
    chose another (None: the carrier's first), its rate factor scales the rate card the
    orders are sourced on; postal_country: the country of a postal code given without one
    (None: the carrier's); pickup_days: how many days an order ready for pickup waits at
    the store before it is not collected and its units are sellable again. Re-optimization
    (sourcing_engine/reoptimization.py): hold_minutes, the hold window (None: off): orders
    still allocated, never released nor shipped, placed within it are sourced again jointly
    every reoptimize_every_minutes, and each moves when its new plan costs more than
    move_threshold less. version: the store's, +1 per change (0: never stored).
    """

    carrier: Carrier
    unfilled_penalty_per_unit: float = DEFAULT_UNFILLED_PENALTY
    split_penalty: float = 0.0
    max_shipments_per_order: int | None = None
    default_service_level: str | None = None
    postal_country: str | None = None
    version: int = 0
    pickup_days: int = DEFAULT_PICKUP_DAYS
    hold_minutes: int | None = None
    move_threshold: float = DEFAULT_MOVE_THRESHOLD
    reoptimize_every_minutes: int = DEFAULT_REOPTIMIZE_MINUTES

    def __post_init__(self) -> None:
        names = [lv.name for lv in self.carrier.levels]
        if self.default_service_level is not None and self.default_service_level not in names:
            raise ValueError(
                f"default_service_level: {self.default_service_level!r} is not a service level "
                f"of the carrier (expected one of {', '.join(names)})"
            )
        if self.max_shipments_per_order is not None and self.max_shipments_per_order < 1:
            raise ValueError("max_shipments_per_order: expected at least 1 (or none: no cap)")
        if min(self.unfilled_penalty_per_unit, self.split_penalty) < 0:
            raise ValueError("penalties: expected amounts >= 0")
        if not 1 <= self.pickup_days <= MAX_PICKUP_DAYS:
            raise ValueError(f"pickup_days: expected 1 to {MAX_PICKUP_DAYS} days")
        if self.hold_minutes is not None and not 1 <= self.hold_minutes <= MAX_HOLD_MINUTES:
            raise ValueError(f"hold_minutes: expected 1 to {MAX_HOLD_MINUTES} (or none: off)")
        if not self.move_threshold >= 0:
            raise ValueError("move_threshold: expected an amount >= 0")
        if not 1 <= self.reoptimize_every_minutes <= 24 * 60:
            raise ValueError("reoptimize_every_minutes: expected 1 to 1440")

    @property
    def currency(self) -> str:
        return self.carrier.currency

    @property
    def service_level(self) -> ServiceLevel:
        return self.carrier.level(self.default_service_level or self.carrier.levels[0].name)

    @property
    def postal(self) -> str:
        """The country of a postal code given without one."""
        return self.postal_country or self.carrier.country

    @property
    def shipping(self) -> ShipmentCostModel:
        """The rate card orders are sourced on: the carrier's, at the default level's price."""
        factor = self.service_level.rate_factor
        return self.carrier.shipping if factor == 1.0 else ScaledCost(self.carrier.shipping, factor)

    @property
    def penalties(self) -> OrderPenalties:
        return OrderPenalties(
            unfilled_per_unit=self.unfilled_penalty_per_unit,
            split=self.split_penalty,
            max_shipments=self.max_shipments_per_order or UNLIMITED,
        )


@dataclass(frozen=True)
class Item:
    """A SKU's physical shape: weight in pounds, dimensions (length, width, height) in inches."""

    sku: str
    weight_lb: float
    dims_in: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def volume_in3(self) -> float:
        length, width, height = self.dims_in
        return length * width * height


@dataclass(frozen=True)
class Line:
    """qty units of a SKU (an order's line, a shipment's content, an unfilled remainder)."""

    sku: str
    qty: int


@dataclass(frozen=True)
class Destination:
    """Where an order ships: a point, whether it is a home, and the US ZIP it came from."""

    lat: float
    lon: float
    residential: bool = True
    zip: str | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"lat": self.lat, "lon": self.lon, "residential": self.residential}
        if self.zip is not None:
            data["zip"] = self.zip
        return data

    @staticmethod
    def from_data(data: Mapping[str, Any]) -> "Destination":
        zip_ = data.get("zip")
        return Destination(
            lat=float(data["lat"]),
            lon=float(data["lon"]),
            residential=bool(data.get("residential", True)),
            zip=zip_ if isinstance(zip_, str) else None,
        )


def merge_lines(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """SKU -> units, two lines of one SKU summed (one demand, as a warehouse picks it), in
    the order each SKU first appears."""
    merged: dict[str, int] = {}
    for sku, qty in lines:
        merged[sku] = merged.get(sku, 0) + qty
    return merged


@dataclass(frozen=True)
class Order:
    """A customer order (or a cart): where it goes and what it holds, one line per SKU;
    backorder: whether the customer accepts waiting for open purchase orders for what
    stock on hand cannot cover."""

    id: str
    destination: Destination
    lines: tuple[Line, ...]
    external_reference: str | None = None
    """The order's id in the system that sent it (a web shop, a marketplace)."""
    customer_reference: str | None = None
    """The customer's id or account there (customer care finds orders by either)."""
    backorder: bool = False

    @property
    def references(self) -> dict[str, str]:
        """The references given, by name (as the order's document keeps them)."""
        found = {"external_reference": self.external_reference,
                 "customer_reference": self.customer_reference}  # fmt: skip
        return {k: v for k, v in found.items() if v is not None}

    @staticmethod
    def of(
        id: str, destination: Destination, lines: Iterable[tuple[str, int]], backorder: bool = False
    ) -> "Order":
        """The order of (sku, qty) lines, two lines of one SKU merged into one."""
        merged = merge_lines(lines)
        lines_ = tuple(Line(s, q) for s, q in merged.items())
        return Order(id, destination, lines_, backorder=backorder)

    @property
    def quantities(self) -> dict[str, int]:
        """SKU -> units ordered."""
        return {ln.sku: ln.qty for ln in self.lines}


@dataclass(frozen=True)
class Pickup:
    """Click and collect: the store an order (or a hold) is collected at, and whether other
    nodes may send it the units its shelf lacks (a leg to the store, then pickup)."""

    node: str
    allow_transfer: bool = False


# --- units at nodes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """qty units of sku at node (a line of a hold, an allocation, a shipment)."""

    node: str
    sku: str
    qty: int


def merge_units(units: Iterable[Unit]) -> tuple[Unit, ...]:
    """Units summed per node and SKU, sorted by (node, sku), without empty entries."""
    total: dict[tuple[str, str], int] = {}
    for u in units:
        total[(u.node, u.sku)] = total.get((u.node, u.sku), 0) + u.qty
    return tuple(Unit(n, s, q) for (n, s), q in sorted(total.items()) if q != 0)


def subtract_units(have: Iterable[Unit], take: Iterable[Unit]) -> tuple[Unit, ...]:
    return merge_units([*have, *(Unit(u.node, u.sku, -u.qty) for u in take)])


def sku_totals(units: Iterable[Unit]) -> dict[str, int]:
    """SKU -> units, over every node."""
    return merge_lines((u.sku, u.qty) for u in units)


# --- stock -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Stock of one SKU at one node: on hand, safety stock, held for carts, allocated."""

    node: str
    sku: str
    on_hand: int
    safety_stock: int
    reserved: int
    allocated: int

    @property
    def available(self) -> int:
        """What may still be promised: on hand minus safety stock, holds and allocations."""
        return max(0, self.on_hand - self.safety_stock - self.allocated - self.reserved)

    @property
    def oversold(self) -> bool:
        """A count came in below what is promised (holds and allocations stay)."""
        return self.on_hand - self.safety_stock < self.allocated + self.reserved


@dataclass(frozen=True)
class Inbound:
    """Expected supply: a purchase order or transfer arriving at a node. qty: units still
    open (not received); backordered: how many of them orders are waiting for."""

    id: str
    node: str
    sku: str
    qty: int
    expected_at: float
    backordered: int = 0

    @property
    def free(self) -> int:
        """Open units no order waits for yet."""
        return max(0, self.qty - self.backordered)


@dataclass(frozen=True, eq=False)
class Inventory:
    """Stock positions of a batch as columns: node and item indices, on hand, safety stock."""

    node: NDArray[np.int64]
    item: NDArray[np.int64]
    on_hand: NDArray[np.int64]
    safety_stock: NDArray[np.int64]

    def __post_init__(self) -> None:
        for name in ("node", "item", "on_hand", "safety_stock"):
            a = np.ascontiguousarray(getattr(self, name), dtype=np.int64).copy()
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        if not (len(self.node) == len(self.item) == len(self.on_hand) == len(self.safety_stock)):
            raise ValueError("inventory columns must have the same length")

    @property
    def sourceable(self) -> NDArray[np.int64]:
        """What may be sourced: on hand minus safety stock, never below zero."""
        result: NDArray[np.int64] = np.maximum(self.on_hand - self.safety_stock, 0)
        return result

    def __len__(self) -> int:
        return len(self.node)


# --- plans -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shipment:
    """One parcel: the units one node ships to an order, and its cost (carrier charge and
    the node's handling)."""

    node: str
    lines: tuple[Line, ...]
    cost: float

    @property
    def units(self) -> int:
        return sum(ln.qty for ln in self.lines)


@dataclass(frozen=True)
class Plan:
    """How one order is sourced: its shipments, what stays unfilled, and the order's cost
    (shipments, split and unfilled penalties), in `currency`."""

    order_id: str
    shipments: tuple[Shipment, ...]
    unfilled: tuple[Line, ...]
    cost: float
    currency: str

    def to_data(self) -> dict[str, Any]:
        """The plan as stored with a live order (its unfilled lines are never stored: a
        live order is allocated whole or refused)."""
        return {
            "cost": self.cost,
            "currency": self.currency,
            "shipments": [
                {"node": s.node, "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in s.lines],
                 "cost": s.cost}
                for s in self.shipments
            ],
        }  # fmt: skip

    @staticmethod
    def from_data(data: Mapping[str, Any], order_id: str = "") -> "Plan":
        """A plan as `to_data` stored it."""
        shipments = tuple(
            Shipment(s["node"], tuple(Line(ln["sku"], ln["qty"]) for ln in s["lines"]), s["cost"])
            for s in data["shipments"]
        )
        return Plan(order_id, shipments, (), data["cost"], data["currency"])


@dataclass(frozen=True, eq=False)
class Batch:
    """Everything one sourcing decision needs: the network, its stock, costs and the orders
    (and the carrier's service levels, for promises; None: the US demo carrier's)."""

    nodes: tuple[Node, ...]
    items: tuple[Item, ...]
    inventory: Inventory
    shipping: ShipmentCostModel
    penalties: OrderPenalties
    orders: tuple[Order, ...]
    name: str = ""
    metadata: dict[str, object] = field(default_factory=dict)
    carrier: Carrier | None = None

    @property
    def currency(self) -> str:
        return self.shipping.currency
