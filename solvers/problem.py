"""The solver-facing problem: one immutable, validated bundle of read-only arrays."""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models import OrderPenalties, ShipmentCostModel, haversine_miles
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.solvers.arrays import unique

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["UNLIMITED", "SourcingProblem"]


def _frozen(a: NDArray[np.generic], dtype: type) -> NDArray[np.generic]:
    """A read-only copy; an array that is read-only, owns its data and has the dtype
    already is taken as it is (nothing can change it: the arrays of a network are shared
    by every problem built on it)."""
    if (
        isinstance(a, np.ndarray)
        and a.dtype == dtype
        and not a.flags.writeable
        and a.flags.owndata
        and a.flags.c_contiguous
    ):
        return a
    out: NDArray[np.generic] = np.ascontiguousarray(a, dtype=dtype).copy()
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class SourcingProblem:
    """A batch of orders to source over a network, as plain arrays (indices, not ids).

    Nodes 0..N-1, SKUs 0..S-1, orders 0..O-1 and lines 0..L-1; order o owns lines
    order_line_ptr[o]:order_line_ptr[o+1], each with a distinct SKU and a positive quantity.
    Stock is sparse, grouped by SKU: stock_sku_ptr[s]:stock_sku_ptr[s+1] index stock_node
    (increasing) and stock_qty (sourceable units: on hand minus safety stock, > 0).
    Capacities use UNLIMITED for "no limit". Every array is read-only.
    """

    node_lat: FloatArray
    node_lon: FloatArray
    node_ship_capacity: IntArray
    node_unit_capacity: IntArray
    node_handling_per_shipment: FloatArray
    node_handling_per_unit: FloatArray
    node_ship_enabled: BoolArray
    sku_weight_lb: FloatArray
    sku_volume_in3: FloatArray
    stock_sku_ptr: IntArray
    stock_node: IntArray
    stock_qty: IntArray
    order_lat: FloatArray
    order_lon: FloatArray
    order_residential: BoolArray
    order_line_ptr: IntArray
    line_sku: IntArray
    line_qty: IntArray
    shipping: ShipmentCostModel
    penalties: OrderPenalties
    _stock_key: IntArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        conversions: dict[str, type] = {
            "node_lat": np.float64, "node_lon": np.float64,
            "node_ship_capacity": np.int64, "node_unit_capacity": np.int64,
            "node_handling_per_shipment": np.float64, "node_handling_per_unit": np.float64,
            "node_ship_enabled": np.bool_, "sku_weight_lb": np.float64,
            "sku_volume_in3": np.float64, "stock_sku_ptr": np.int64, "stock_node": np.int64,
            "stock_qty": np.int64, "order_lat": np.float64, "order_lon": np.float64,
            "order_residential": np.bool_, "order_line_ptr": np.int64, "line_sku": np.int64,
            "line_qty": np.int64,
        }  # fmt: skip
        for name, dtype in conversions.items():
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        self._check()
        key = self.stock_sku_of_entry * self.n_nodes + self.stock_node
        if np.any(np.diff(key) <= 0):
            raise ValueError("stock entries must be grouped by SKU with increasing, distinct nodes")
        object.__setattr__(self, "_stock_key", _frozen(key, np.int64))

    def _check(self) -> None:
        n, s, o = len(self.node_lat), len(self.sku_weight_lb), len(self.order_lat)
        same = {
            "node": (n, ["node_lon", "node_ship_capacity", "node_unit_capacity",
                         "node_handling_per_shipment", "node_handling_per_unit",
                         "node_ship_enabled"]),
            "sku": (s, ["sku_volume_in3"]),
            "order": (o, ["order_lon", "order_residential"]),
        }  # fmt: skip
        for what, (size, names) in same.items():
            for name in names:
                if len(getattr(self, name)) != size:
                    raise ValueError(f"{name} must have one entry per {what} ({size})")
        if len(self.stock_sku_ptr) != s + 1 or len(self.order_line_ptr) != o + 1:
            raise ValueError(
                "stock_sku_ptr / order_line_ptr need one entry more than SKUs / orders"
            )
        for ptr_name, total in (("stock_sku_ptr", len(self.stock_node)),
                                ("order_line_ptr", len(self.line_sku))):  # fmt: skip
            ptr = getattr(self, ptr_name)
            if ptr[0] != 0 or ptr[-1] != total or np.any(np.diff(ptr) < 0):
                raise ValueError(f"{ptr_name} must rise from 0 to {total}")
        if len(self.stock_qty) != len(self.stock_node) or len(self.line_qty) != len(self.line_sku):
            raise ValueError("stock and line arrays must have matching lengths")
        if np.any(self.stock_qty <= 0) or np.any(self.line_qty <= 0):
            raise ValueError("stock and line quantities must be positive")
        if len(self.stock_node) and (self.stock_node.min() < 0 or self.stock_node.max() >= n):
            raise ValueError("stock_node out of range")
        if len(self.line_sku) and (self.line_sku.min() < 0 or self.line_sku.max() >= s):
            raise ValueError("line_sku out of range")
        for name in ("node_ship_capacity", "node_unit_capacity"):
            if np.any(getattr(self, name) < 0):
                raise ValueError(f"{name} must be >= 0")
        numeric = ["node_lat", "node_lon", "node_handling_per_shipment", "node_handling_per_unit",
                   "sku_weight_lb", "sku_volume_in3", "order_lat", "order_lon"]  # fmt: skip
        for name in numeric:
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"{name} must be finite")
        for name in ("node_handling_per_shipment", "node_handling_per_unit", "sku_weight_lb",
                     "sku_volume_in3"):  # fmt: skip
            if np.any(getattr(self, name) < 0):
                raise ValueError(f"{name} must be >= 0")
        line_order = np.repeat(np.arange(o), np.diff(self.order_line_ptr))
        pair = line_order * max(s, 1) + self.line_sku
        if len(unique(pair)) != len(pair):
            raise ValueError("an order lists the same SKU twice; merge its lines first")

    # sizes -------------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.node_lat)

    @property
    def n_skus(self) -> int:
        return len(self.sku_weight_lb)

    @property
    def n_orders(self) -> int:
        return len(self.order_lat)

    @property
    def n_lines(self) -> int:
        return len(self.line_sku)

    # derived arrays (computed once) ------------------------------------------------------
    @cached_property
    def line_order(self) -> IntArray:
        """Order index of each line."""
        out = np.repeat(np.arange(self.n_orders, dtype=np.int64), np.diff(self.order_line_ptr))
        out.setflags(write=False)
        return out

    @cached_property
    def stock_sku_of_entry(self) -> IntArray:
        out = np.repeat(np.arange(self.n_skus, dtype=np.int64), np.diff(self.stock_sku_ptr))
        out.setflags(write=False)
        return out

    def stock_entry(self, node: IntArray, sku: IntArray) -> IntArray:
        """Index of the stock entry of each (node, sku) pair, -1 where there is none."""
        key = np.asarray(sku, dtype=np.int64) * self.n_nodes + np.asarray(node, dtype=np.int64)
        pos = np.searchsorted(self._stock_key, key)
        if not len(self._stock_key):
            return np.full(key.shape, -1, dtype=np.int64)
        pos_c = np.minimum(pos, len(self._stock_key) - 1)
        return np.where(self._stock_key[pos_c] == key, pos_c, -1)

    def available(self, node: IntArray, sku: IntArray) -> IntArray:
        """Sourceable stock at (node, sku) pairs, 0 where the node does not stock the SKU."""
        entry = self.stock_entry(node, sku)
        if not len(self.stock_qty):
            return np.zeros(entry.shape, dtype=np.int64)
        return np.where(entry >= 0, self.stock_qty[np.maximum(entry, 0)], 0)

    def restricted(
        self, orders: IntArray, used_entry: IntArray, used_ships: IntArray, used_units: IntArray
    ) -> tuple["SourcingProblem", IntArray]:
        """The problem of some orders on what is left once stock (units per stock entry)
        and capacity (shipments and units per node) were used elsewhere, and the original
        line of each of its lines."""
        orders = np.asarray(orders, dtype=np.int64)
        lo, hi = self.order_line_ptr[orders], self.order_line_ptr[orders + 1]
        counts = hi - lo
        line_ptr = np.zeros(len(orders) + 1, dtype=np.int64)
        np.cumsum(counts, out=line_ptr[1:])
        lines = np.repeat(lo - line_ptr[:-1], counts) + np.arange(int(line_ptr[-1]))
        left = self.stock_qty - used_entry
        keep = left > 0
        stock_ptr = np.zeros(self.n_skus + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.stock_sku_of_entry[keep], minlength=self.n_skus),
                  out=stock_ptr[1:])  # fmt: skip
        sub = SourcingProblem(
            node_lat=self.node_lat, node_lon=self.node_lon,
            node_ship_capacity=np.maximum(self.node_ship_capacity - used_ships, 0),
            node_unit_capacity=np.maximum(self.node_unit_capacity - used_units, 0),
            node_handling_per_shipment=self.node_handling_per_shipment,
            node_handling_per_unit=self.node_handling_per_unit,
            node_ship_enabled=self.node_ship_enabled, sku_weight_lb=self.sku_weight_lb,
            sku_volume_in3=self.sku_volume_in3, stock_sku_ptr=stock_ptr,
            stock_node=self.stock_node[keep], stock_qty=left[keep],
            order_lat=self.order_lat[orders], order_lon=self.order_lon[orders],
            order_residential=self.order_residential[orders], order_line_ptr=line_ptr,
            line_sku=self.line_sku[lines], line_qty=self.line_qty[lines],
            shipping=self.shipping, penalties=self.penalties,
        )  # fmt: skip
        lines.setflags(write=False)
        return sub, lines

    def distance_miles(self, order: IntArray, node: IntArray) -> FloatArray:
        """Great-circle miles from each node to each order's destination (broadcasting)."""
        return haversine_miles(
            self.node_lat[node], self.node_lon[node], self.order_lat[order], self.order_lon[order]
        )
