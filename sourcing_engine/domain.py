"""The domain: nodes, items, stock, orders and the batch they form.

Ids are strings as the rest of the OMS knows them. Inventory is columnar (numpy) because a
network of a thousand stores holds millions of positions.
"""

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from cost_models import OrderPenalties, ShipmentCostModel

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
    sku: str
    qty: int


@dataclass(frozen=True)
class Order:
    """A customer order: where it goes and what it holds."""

    id: str
    lat: float
    lon: float
    lines: tuple[Line, ...]
    residential: bool = True
    zip: str | None = None


@dataclass(frozen=True, eq=False)
class Inventory:
    """Stock positions as columns: node and item indices, on hand and safety stock."""

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
