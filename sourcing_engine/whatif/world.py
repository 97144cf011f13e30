"""The network a what-if replays demand through, and the demand itself.

A `World` is the base of a scenario with its variant's changes applied: nodes (their
capacity is per local day), items, stock positions (on hand and safety stock per node and
SKU, as columns), the rate card and penalties, the carrier (promise dates), and the
purchase orders and transfers that arrive during the period. An `OrderStream` is the
demand: orders with the moment each was placed. Both are built once per scenario and are
never changed in place: a variant's changes make a new world (`changes.apply`).
"""

import csv
import datetime as dt
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models import OrderPenalties, ShipmentCostModel
from sourcing_engine.domain import Batch, Carrier, Destination, Item, Node, Order
from sourcing_engine.exchange import problem_from_json
from sourcing_engine.presets import PRESETS, generate
from sourcing_engine.promise.calendars import zone, zone_at
from sourcing_engine.promise.carriers import default_carrier

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# Share of a day's orders placed in each local hour (0..23): online shopping, low at night,
# peaking in the evening.
HOURLY_PROFILE = np.array(
    [1.2, 0.8, 0.5, 0.4, 0.4, 0.6, 1.2, 2.2, 3.4, 4.4, 5.0, 5.4,
     5.6, 5.6, 5.4, 5.2, 5.2, 5.4, 5.8, 6.2, 6.4, 6.0, 4.6, 2.6],
    dtype=np.float64,
)  # fmt: skip
HOURLY_PROFILE /= HOURLY_PROFILE.sum()


@dataclass(frozen=True)
class Arrival:
    """Supply arriving during the period: a purchase order or a transfer (from_node set:
    the units leave that node when it is sent, `sent_at`)."""

    node: str
    sku: str
    qty: int
    at: float
    from_node: str | None = None
    sent_at: float | None = None


@dataclass(frozen=True, eq=False)
class World:
    """A network ready to replay demand through (see the module's docstring).

    stock_node / stock_sku / on_hand / safety_stock: one entry per node and SKU, by index
    into nodes and items. A node's ship_capacity and unit_capacity are per local day.
    """

    nodes: tuple[Node, ...]
    items: tuple[Item, ...]
    stock_node: IntArray
    stock_sku: IntArray
    on_hand: IntArray
    safety_stock: IntArray
    shipping: ShipmentCostModel
    penalties: OrderPenalties
    carrier: Carrier
    arrivals: tuple[Arrival, ...] = ()

    @property
    def currency(self) -> str:
        return self.shipping.currency

    def node_index(self) -> dict[str, int]:
        return {n.id: i for i, n in enumerate(self.nodes)}

    def sku_index(self) -> dict[str, int]:
        return {it.sku: i for i, it in enumerate(self.items)}


@dataclass(frozen=True, eq=False)
class OrderStream:
    """Orders in the order they were placed, with when (UTC seconds since the epoch)."""

    orders: tuple[Order, ...]
    placed_at: FloatArray

    def __post_init__(self) -> None:
        if len(self.orders) != len(self.placed_at):
            raise ValueError("one placed_at per order")
        if len(self.placed_at) and np.any(np.diff(self.placed_at) < 0):
            raise ValueError("orders must be in the order they were placed")

    def __len__(self) -> int:
        return len(self.orders)


@dataclass(frozen=True)
class Period:
    """The simulated days: from local midnight of `start` in `time_zone`, `days` days."""

    start: dt.date
    days: int
    time_zone: str

    @property
    def begin(self) -> float:
        return dt.datetime.combine(self.start, dt.time(0), tzinfo=zone(self.time_zone)).timestamp()

    @property
    def end(self) -> float:
        last = self.start + dt.timedelta(days=self.days)
        return dt.datetime.combine(last, dt.time(0), tzinfo=zone(self.time_zone)).timestamp()

    def day_begin(self, day: int) -> float:
        d = self.start + dt.timedelta(days=day)
        return dt.datetime.combine(d, dt.time(0), tzinfo=zone(self.time_zone)).timestamp()


def network_time_zone(nodes: tuple[Node, ...]) -> str:
    """The zone of the network's first warehouse (its first node if none): the zone the
    simulated days and the order profile are counted in unless the scenario names one."""
    first = next((n for n in nodes if n.kind == "warehouse"), nodes[0])
    if first.calendar.time_zone:
        return first.calendar.time_zone
    return zone_at(first.lat, first.lon).key


def world_of_batch(batch: Batch, days: int) -> World:
    """A batch's network as a world whose daily capacity is the batch's spread over `days`
    (a generated batch plans capacity and stock for all its orders)."""
    nodes = tuple(
        replace(
            n,
            ship_capacity=_per_day(n.ship_capacity, days),
            unit_capacity=_per_day(n.unit_capacity, days),
        )
        for n in batch.nodes
    )
    inv = batch.inventory
    carrier = batch.carrier or default_carrier("US", batch.shipping)
    return World(
        nodes=nodes,
        items=batch.items,
        stock_node=np.asarray(inv.node, dtype=np.int64).copy(),
        stock_sku=np.asarray(inv.item, dtype=np.int64).copy(),
        on_hand=np.asarray(inv.on_hand, dtype=np.int64).copy(),
        safety_stock=np.asarray(inv.safety_stock, dtype=np.int64).copy(),
        shipping=batch.shipping,
        penalties=batch.penalties,
        carrier=carrier,
    )


def _per_day(capacity: int | None, days: int) -> int | None:
    return None if capacity is None else max(1, math.ceil(capacity / days))


def preset_base(
    preset: str, seed: int, n_orders: int, days: int
) -> tuple[World, tuple[Order, ...]]:
    """The preset's network planned for n_orders over the period, and those orders."""
    spec = replace(PRESETS[preset], n_orders=n_orders)
    batch = generate(spec, seed)
    return world_of_batch(batch, days), batch.orders


def file_base(path: Path, days: int) -> tuple[World, tuple[Order, ...]]:
    """A `sourcing-problem/1` file's network (its capacities are per day) and orders."""
    batch = problem_from_json(path.read_bytes(), str(path))
    return world_of_batch(batch, 1), batch.orders


def spread_over(
    orders: tuple[Order, ...], period: Period, seed: int, day_weights: FloatArray | None = None
) -> OrderStream:
    """Orders placed over the period's days (weights: share of orders per day, even by
    default) and hours (HOURLY_PROFILE, local to the period's zone), deterministic by seed."""
    rng = np.random.default_rng(seed)
    n = len(orders)
    weights = np.ones(period.days) if day_weights is None else np.asarray(day_weights, float)
    day = rng.choice(period.days, size=n, p=weights / weights.sum())
    hour = rng.choice(24, size=n, p=HOURLY_PROFILE)
    seconds = hour * 3600.0 + rng.random(n) * 3600.0
    begins = np.array([period.day_begin(d) for d in range(period.days + 1)])
    # a local day of 23 or 25 hours (DST) still takes its orders within it
    length = np.diff(begins)
    at = begins[day] + np.minimum(seconds, length[day] - 1.0)
    by_time = np.argsort(at, kind="stable")
    return OrderStream(tuple(orders[i] for i in by_time.tolist()), at[by_time])


def read_orders(path: Path) -> tuple[tuple[Order, ...], FloatArray]:
    """Orders of a CSV file (one line per row: order_id, placed_at, lat, lon, sku, qty,
    optional residential and zip; rows of one order_id merged) or a JSON-lines file (one
    order per line: id, placed_at, destination {lat, lon, residential}, lines [{sku, qty}]).
    placed_at: ISO 8601 with its UTC offset. ValueError naming the file's line."""
    text = path.read_text(encoding="utf-8")
    rows: list[tuple[str, float, Destination, list[tuple[str, int]]]] = []
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        for k, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            where = f"{path}, line {k}"
            try:
                data = json.loads(raw)
                dest = data["destination"]
                lines = [(str(ln["sku"]), _qty(ln["qty"], where)) for ln in data["lines"]]
                rows.append(
                    (str(data["id"]), _moment(data["placed_at"], where),
                     Destination(float(dest["lat"]), float(dest["lon"]),
                                 bool(dest.get("residential", True))), lines)
                )  # fmt: skip
            except (KeyError, TypeError, json.JSONDecodeError) as exc:
                raise ValueError(
                    f"{where}: expected an order (id, placed_at, destination "
                    f"{{lat, lon}}, lines [{{sku, qty}}]): {exc}"
                ) from None
    else:
        reader = csv.DictReader(text.splitlines())
        need = {"order_id", "placed_at", "lat", "lon", "sku", "qty"}
        missing = need - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}, line 1: missing column(s) {', '.join(sorted(missing))}")
        by_id: dict[str, int] = {}
        for k, row in enumerate(reader, start=2):
            where = f"{path}, line {k}"
            try:
                line = (row["sku"], _qty(row["qty"], where))
                oid = row["order_id"]
                if oid in by_id:
                    rows[by_id[oid]][3].append(line)
                    continue
                res = (row.get("residential") or "true").strip().lower() not in {"0", "false", "no"}
                dest = Destination(float(row["lat"]), float(row["lon"]), res)
                by_id[oid] = len(rows)
                rows.append((oid, _moment(row["placed_at"], where), dest, [line]))
            except ValueError as exc:  # qty and placed_at name the line already
                text = str(exc)
                raise ValueError(text if text.startswith(where) else f"{where}: {text}") from None
    rows.sort(key=lambda r: r[1])
    orders = tuple(Order.of(oid, dest, lines) for oid, _, dest, lines in rows)
    return orders, np.array([r[1] for r in rows], dtype=np.float64)


def _qty(value: object, where: str) -> int:
    try:
        qty = int(str(value))
    except ValueError:
        qty = 0
    if qty < 1:
        raise ValueError(f"{where}: qty: expected a whole number >= 1, got {value!r}")
    return qty


def _moment(value: object, where: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(
            f"{where}: placed_at: expected an ISO time with its UTC offset, got {value!r}"
        )
    return moment.timestamp()
