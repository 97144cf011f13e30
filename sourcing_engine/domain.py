"""The domain's one set of types: the network (nodes, items), stock, orders and plans.

The batch files (`exchange`), the live service, the stores and the API all speak these
types; each converts at its own edge only. Ids are strings as the rest of the OMS knows
them. A batch's inventory is columnar (numpy) because a network of a thousand stores holds
millions of positions; the live ledger reports positions one by one.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models import OrderPenalties, ShipmentCostModel

NodeKind = Literal["warehouse", "store"]


@dataclass(frozen=True)
class Node:
    """A location that can ship: a warehouse (distribution centre) or a store.

    ship_capacity / unit_capacity: shipments and units it can ship in one batch (None: no
    limit). handling_*: its cost to pick and pack, per shipment and per unit.
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
    """A customer order (or a cart): where it goes and what it holds, one line per SKU."""

    id: str
    destination: Destination
    lines: tuple[Line, ...]

    @staticmethod
    def of(id: str, destination: Destination, lines: Iterable[tuple[str, int]]) -> "Order":
        """The order of (sku, qty) lines, two lines of one SKU merged into one."""
        merged = merge_lines(lines)
        return Order(id, destination, tuple(Line(s, q) for s, q in merged.items()))

    @property
    def quantities(self) -> dict[str, int]:
        """SKU -> units ordered."""
        return {ln.sku: ln.qty for ln in self.lines}


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
    """Expected supply: a purchase order or transfer arriving at a node."""

    id: str
    node: str
    sku: str
    qty: int
    expected_at: float


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
    """Everything one sourcing decision needs: the network, its stock, costs and the orders."""

    nodes: tuple[Node, ...]
    items: tuple[Item, ...]
    inventory: Inventory
    shipping: ShipmentCostModel
    penalties: OrderPenalties
    orders: tuple[Order, ...]
    name: str = ""
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.shipping.currency
