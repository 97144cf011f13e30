"""What a promise reads of the network, precomputed once per node list: a spatial index
of the nodes, which are warehouses and stores, and each node's resolved calendar."""

import datetime as dt

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from sourcing_engine.cost_models import EARTH_RADIUS_MILES
from sourcing_engine.domain import Carrier
from sourcing_engine.promise.calendars import NodeDays, node_days
from sourcing_engine.sourcing import Network

IntArray = NDArray[np.int64]


def unit_vectors(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on the unit sphere: straight-line (chord) distance grows with great-circle
    distance, so a k-d tree over them finds the nearest nodes on the globe."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


class PromiseNetwork:
    """The network's nodes as a promise needs them, with its carrier."""

    def __init__(self, network: Network, carrier: Carrier) -> None:
        self.network = network
        self.carrier = carrier
        kinds = np.array([n.kind for n in network.nodes])
        self.is_warehouse = kinds == "warehouse"
        self.is_store = kinds == "store"
        self.warehouses: IntArray = np.nonzero(self.is_warehouse)[0]
        self.stores: IntArray = np.nonzero(self.is_store)[0]
        points = unit_vectors(network.lat, network.lon)
        self._points = points
        self._tree = cKDTree(points) if len(points) else None
        self._store_tree = cKDTree(points[self.stores]) if len(self.stores) else None
        self._days: dict[tuple[int, int], NodeDays] = {}

    def days(self, node: int, year: int) -> NodeDays:
        """A node's calendar for promises made in `year`."""
        found = self._days.get((node, year))
        if found is None:
            found = node_days(self.network.nodes[node], self.carrier.country, year)
            self._days[(node, year)] = found
        return found

    def within(self, lat: float, lon: float, miles: float) -> IntArray:
        """Every node within `miles` of a point, nearest first."""
        if self._tree is None:
            return np.zeros(0, dtype=np.int64)
        point = unit_vectors(np.array(lat), np.array(lon))
        found = np.array(self._tree.query_ball_point(point, _chord(miles)), dtype=np.int64)
        order = np.argsort(np.linalg.norm(self._points[found] - point, axis=1), kind="stable")
        result: IntArray = found[order]
        return result

    def stores_within(self, lat: float, lon: float, miles: float, k: int) -> IntArray:
        """At most k stores within `miles` of a point, nearest first."""
        if self._store_tree is None or k <= 0:
            return np.zeros(0, dtype=np.int64)
        dist, idx = self._store_tree.query(
            unit_vectors(np.array(lat), np.array(lon)),
            k=min(k, len(self.stores)),
            distance_upper_bound=_chord(miles),
        )
        found = np.atleast_1d(np.asarray(idx))[np.isfinite(np.atleast_1d(dist))]
        result: IntArray = self.stores[found.astype(np.int64)]
        return result


def _chord(miles: float) -> float:
    """The straight-line distance on the unit sphere of a great-circle distance."""
    return float(2.0 * np.sin(min(miles / EARTH_RADIUS_MILES, np.pi) / 2.0))


def year_of(at: dt.datetime) -> int:
    return at.astimezone(dt.UTC).year
