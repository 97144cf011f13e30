"""Demand per region and SKU over a horizon, from the order history.

Regions are cells of a latitude/longitude grid (REGION_DEGREES on a side, about 140 by
100 miles in the US, 220 by 160 km in Italy): they need no postal data, so they work in
any country the engine ships in, and they are coarse enough that the transportation LP
over them stays small (tens of regions rather than one per destination) while the
distance from a node to a region's demand is still known to within a zone.

The default estimator, `TrailingRate`, is the rate over a trailing window, pooled: a
SKU's rate over the whole network times each region's share of all units. With thousands
of SKUs most (region, SKU) cells see no order in a week, so a per-cell rate would be
noise; the pooled one assumes a SKU sells in the same regions as everything else, which
is what a generator or a retailer without regional assortments looks like. A user with
a better forecast implements `Forecast`.
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

REGION_DEGREES = 3.0
DAY_S = 86_400.0


@dataclass(frozen=True, eq=False)
class Regions:
    """Grid cells with demand: a key per cell, and its demand-weighted centre."""

    key: IntArray  # sorted cell keys
    lat: FloatArray
    lon: FloatArray

    def __len__(self) -> int:
        return len(self.key)

    def of(self, lat: FloatArray, lon: FloatArray) -> IntArray:
        """Region index of each point, -1 outside every region."""
        k = cell_key(lat, lon)
        pos = np.minimum(np.searchsorted(self.key, k), max(len(self.key) - 1, 0))
        if not len(self.key):
            return np.full(len(k), -1, dtype=np.int64)
        return np.where(self.key[pos] == k, pos, -1).astype(np.int64)


def cell_key(lat: FloatArray, lon: FloatArray) -> IntArray:
    row = np.floor((np.asarray(lat) + 90.0) / REGION_DEGREES).astype(np.int64)
    col = np.floor((np.asarray(lon) + 180.0) / REGION_DEGREES).astype(np.int64)
    return row * 1000 + col


def regions_of(lat: FloatArray, lon: FloatArray, units: FloatArray) -> Regions:
    """The cells of these destinations, each centred on its destinations' units."""
    k = cell_key(lat, lon)
    key, inv = np.unique(k, return_inverse=True)
    w = np.bincount(inv, weights=units, minlength=len(key))
    w = np.where(w > 0, w, 1.0)
    return Regions(
        key,
        np.bincount(inv, weights=units * lat, minlength=len(key)) / w,
        np.bincount(inv, weights=units * lon, minlength=len(key)) / w,
    )


@dataclass(frozen=True, eq=False)
class DemandHistory:
    """Order lines seen so far, as columns: when placed, region, SKU index and units."""

    placed_at: FloatArray
    region: IntArray
    sku: IntArray
    qty: IntArray
    n_regions: int
    n_skus: int
    since: float
    """When the history starts (the rate's window never reaches before it)."""


class Forecast(Protocol):
    """Expected units per (region, SKU) over the horizon from `now`: (regions, SKUs)."""

    def demand(self, history: DemandHistory, now: float, horizon_s: float) -> FloatArray: ...


@dataclass(frozen=True)
class TrailingRate:
    """Units per second over the trailing window, pooled as a SKU's network rate times the
    region's share of all units (see the module's docstring), times the horizon."""

    window_days: float = 7.0

    def demand(self, history: DemandHistory, now: float, horizon_s: float) -> FloatArray:
        start = max(history.since, now - self.window_days * DAY_S)
        seen = (history.placed_at >= start) & (history.placed_at < now)
        span = now - start
        out = np.zeros((history.n_regions, history.n_skus))
        qty = history.qty[seen].astype(np.float64)
        if span <= 0 or qty.sum() == 0:
            return out
        sku_rate = np.bincount(history.sku[seen], weights=qty, minlength=history.n_skus) / span
        units = np.bincount(history.region[seen], weights=qty, minlength=history.n_regions)
        share = units.astype(np.float64) / units.sum()
        return np.outer(share, sku_rate) * horizon_s
