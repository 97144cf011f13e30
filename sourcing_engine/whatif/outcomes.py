"""The numbers of a variant's replay, and its saving against the base variant.

Costs are split as `compare` splits them: shipping (carrier charges), handling (the nodes'
pick and pack), split penalties (per shipment beyond an order's first) and unfilled
penalties (per unit left unfilled); per-order figures divide by every order of the stream.
Utilisation is shipments over daily shipment capacity, per node and local day, over the
nodes that may ship and have a finite capacity.
"""

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from sourcing_engine.whatif.simulate import Replay

COST_TERMS = ("shipping", "handling", "split", "unfilled")
FLOW_CELL_DEGREES = 2.0
"""Destinations are grouped into cells of this many degrees for the map's flows."""
MAX_FLOWS = 150


@dataclass(frozen=True)
class Outcome:
    """One variant's figures (see the module's docstring); saving_* against the base."""

    variant: str
    policy: str
    batching: str
    currency: str
    orders: int
    total_cost: float
    shipping: float
    handling: float
    split: float
    unfilled: float
    cost_per_order: float | None
    units_ordered: int
    units_shipped: int
    unfilled_units: int
    fill_rate: float | None
    shipments: int
    shipments_per_order: float | None
    split_order_share: float | None
    miles: float
    miles_per_shipment: float | None
    zone_mix: dict[str, float]
    store_shipment_share: float | None
    utilisation_mean: list[float]
    utilisation_peak: list[float]
    on_time_share: float | None
    promised_days_mean: float | None
    runtime_s: float
    runs: int
    checked: bool
    node_ids: list[str] = field(repr=False, default_factory=list)
    node_lat: list[float] = field(repr=False, default_factory=list)
    node_lon: list[float] = field(repr=False, default_factory=list)
    node_is_store: list[bool] = field(repr=False, default_factory=list)
    node_shipments: list[int] = field(repr=False, default_factory=list)
    node_utilisation: list[list[float]] = field(repr=False, default_factory=list)
    flows: list[dict[str, Any]] = field(repr=False, default_factory=list)
    saving: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The figures without the per-node detail (for JSON, CSV and the API)."""
        data = asdict(self)
        for k in ("node_ids", "node_lat", "node_lon", "node_is_store", "node_shipments",
                  "node_utilisation", "flows"):  # fmt: skip
            data.pop(k)
        return data


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def outcome(r: Replay) -> Outcome:
    """The figures of one replay."""
    n_orders = len(r.order_cost)
    n_ship = len(r.ship_order)
    shipping = math.fsum(r.ship_carrier.tolist())
    handling = math.fsum(r.ship_handling.tolist())
    total = math.fsum(r.order_cost.tolist())
    ordered = int(r.order_units.sum())
    unfilled = int(r.order_unfilled.sum())
    shipping_orders = int(np.count_nonzero(r.order_shipments))
    zones, counts = np.unique(r.ship_zone, return_counts=True)
    cap = r.day_ship_capacity
    counted = r.node_enabled & (cap > 0)
    util = np.zeros_like(r.used_ships, dtype=np.float64)
    util[counted] = r.used_ships[counted] / cap[counted, None]
    mean = util[counted].mean(axis=0) if counted.any() else np.zeros(util.shape[1])
    peak = util[counted].max(axis=0) if counted.any() else np.zeros(util.shape[1])
    on_time = None
    promised = None
    if r.on_time is not None and r.promised_days is not None:
        shipped = r.order_shipments > 0
        on_time = _ratio(float(r.on_time[shipped].sum()), float(shipped.sum()))
        days = r.promised_days[shipped]
        promised = float(np.nanmean(days)) if len(days) else None
    return Outcome(
        variant=r.variant.name,
        policy=r.variant.policy,
        batching=r.variant.batching,
        currency=r.currency,
        orders=n_orders,
        total_cost=total,
        shipping=shipping,
        handling=handling,
        split=r.split_penalty,
        unfilled=r.unfilled_penalty,
        cost_per_order=_ratio(total, n_orders),
        units_ordered=ordered,
        units_shipped=int(r.ship_units.sum()),
        unfilled_units=unfilled,
        fill_rate=_ratio(float(r.ship_units.sum()), ordered),
        shipments=n_ship,
        shipments_per_order=_ratio(n_ship, n_orders),
        split_order_share=_ratio(int(np.count_nonzero(r.order_shipments >= 2)), shipping_orders),
        miles=math.fsum(r.ship_miles.tolist()),
        miles_per_shipment=float(r.ship_miles.mean()) if n_ship else None,
        zone_mix={str(z): c / n_ship for z, c in zip(zones.tolist(), counts.tolist(), strict=True)},
        store_shipment_share=_ratio(int(r.node_is_store[r.ship_node].sum()), n_ship),
        utilisation_mean=[round(x, 6) for x in mean.tolist()],
        utilisation_peak=[round(x, 6) for x in peak.tolist()],
        on_time_share=on_time,
        promised_days_mean=promised,
        runtime_s=r.runtime_s,
        runs=r.runs,
        checked=r.checked,
        node_ids=list(r.node_ids),
        node_lat=r.node_lat.tolist(),
        node_lon=r.node_lon.tolist(),
        node_is_store=r.node_is_store.tolist(),
        node_shipments=np.bincount(r.ship_node, minlength=len(r.node_ids)).tolist(),
        node_utilisation=np.round(util, 4).tolist(),
        flows=_flows(r),
    )


def _flows(r: Replay) -> list[dict[str, Any]]:
    """The largest flows: shipments from a node to a cell of destinations (its centre)."""
    if len(r.ship_order) == 0:
        return []
    lat = r.order_lat[r.ship_order]
    lon = r.order_lon[r.ship_order]
    cell_lat = np.floor(lat / FLOW_CELL_DEGREES).astype(np.int64)
    cell_lon = np.floor(lon / FLOW_CELL_DEGREES).astype(np.int64)
    key = np.stack([r.ship_node, cell_lat, cell_lon], axis=1)
    uniq, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    mean_lat = np.bincount(inverse, weights=lat) / counts
    mean_lon = np.bincount(inverse, weights=lon) / counts
    top = np.argsort(-counts, kind="stable")[:MAX_FLOWS]
    return [
        {
            "node": r.node_ids[int(uniq[k, 0])],
            "from_lat": float(r.node_lat[uniq[k, 0]]),
            "from_lon": float(r.node_lon[uniq[k, 0]]),
            "to_lat": round(float(mean_lat[k]), 4),
            "to_lon": round(float(mean_lon[k]), 4),
            "shipments": int(counts[k]),
        }
        for k in top.tolist()
    ]


def with_savings(outcomes: list[Outcome]) -> list[Outcome]:
    """Each outcome with its saving against the first (the base): per cost term and in
    total, in money (positive: cheaper than the base) and in percent of the base's total."""
    if not outcomes:
        return []
    base = outcomes[0]
    out = []
    for o in outcomes:
        saving = {t: getattr(base, t) - getattr(o, t) for t in COST_TERMS}
        saving["total"] = base.total_cost - o.total_cost
        saving["total_pct"] = 100.0 * saving["total"] / base.total_cost if base.total_cost else 0.0
        out.append(_replace_saving(o, saving))
    return out


def _replace_saving(o: Outcome, saving: dict[str, float]) -> Outcome:
    return replace(o, saving=saving)
