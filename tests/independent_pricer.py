"""Shipment prices recomputed from the documents alone, to check the code that prices.

Written from docs/exchange-format.md ("A parcel's price", "Cost of a plan") and the
docstrings of the cost models (parcel, linear, handling), not from their code: nothing here
is imported from `sourcing_engine.cost_models`, `sourcing_engine.solvers` or
`sourcing_engine.plan_check`, so a mistake there shows up as a disagreement with this module.
Plain Python, one shipment at a time, no numpy.

The carrier's terms are read off a cost model object by the field names the exchange format
uses (`carrier_terms`): those are numbers the caller chose, not logic.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sourcing_engine.domain import Batch, Item, Node, Order

EARTH_RADIUS_MILES = 3958.8
"""The radius the exchange format names for the great-circle distance."""

WHOLE_POUND_TOLERANCE = 1e-9
"""A billable weight at most this far above a whole pound counts as that pound (documented:
float noise from summing unit weights must not add a pound)."""


@dataclass(frozen=True)
class LinearTerms:
    """`linear`: per_shipment + per_unit * units + per_unit_mile * units * miles."""

    per_shipment: float
    per_unit: float
    per_unit_mile: float


@dataclass(frozen=True)
class RateCard:
    """`parcel`: rates[k][w - 1] is the price of w billable lb in zone first_zone + k."""

    rates: tuple[tuple[float, ...], ...]
    zone_bands_miles: tuple[float, ...]
    first_zone: int
    dim_divisor: float
    fuel_surcharge_pct: float
    residential_surcharge: float


CarrierTerms = LinearTerms | RateCard


def carrier_terms(model: Any) -> CarrierTerms:
    """The documented parameters of a cost model, read by their exchange-format names."""
    if hasattr(model, "rates"):
        return RateCard(
            rates=tuple(tuple(float(p) for p in row) for row in model.rates),
            zone_bands_miles=tuple(float(b) for b in model.zone_bands_miles),
            first_zone=int(model.first_zone),
            dim_divisor=float(model.dim_divisor),
            fuel_surcharge_pct=float(model.fuel_surcharge_pct),
            residential_surcharge=float(model.residential_surcharge),
        )
    if hasattr(model, "per_unit_mile"):
        return LinearTerms(
            float(model.per_shipment), float(model.per_unit), float(model.per_unit_mile)
        )
    raise TypeError(f"no documented terms for cost model {type(model).__name__}")


# --- the steps of a parcel's price, in the document's order ---------------------------------


def great_circle_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Step 1: haversine distance in miles between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def zone(card: RateCard, miles: float) -> int:
    """Step 2: first_zone up to the first band (inclusive), one more per band passed."""
    for k, upper in enumerate(card.zone_bands_miles):
        if miles <= upper:
            return card.first_zone + k
    return card.first_zone + len(card.zone_bands_miles)


def billable_pounds(card: RateCard, weight_lb: float, volume_in3: float) -> int:
    """Step 3: max(weight, volume / dim_divisor) rounded up to a whole pound, at least 1."""
    pounds = max(weight_lb, volume_in3 / card.dim_divisor)
    whole = math.ceil(pounds)
    if whole - 1 >= pounds - WHOLE_POUND_TOLERANCE:  # within the tolerance above a pound
        whole -= 1
    return max(whole, 1)


def table_rate(card: RateCard, zone_number: int, pounds: int) -> float:
    """Step 4: the table's price; past its last weight W, rates[W-1] plus the last step."""
    row = card.rates[zone_number - card.first_zone]
    last = len(row)
    if pounds <= last:
        return row[pounds - 1]
    step = row[last - 1] - row[last - 2] if last >= 2 else 0.0
    return row[last - 1] + (pounds - last) * step


def parcel_price(
    card: RateCard, miles: float, weight_lb: float, volume_in3: float, residential: bool
) -> float:
    """Step 5: (rate + residential surcharge if residential) * (1 + fuel percent / 100)."""
    rate = table_rate(card, zone(card, miles), billable_pounds(card, weight_lb, volume_in3))
    if residential:
        rate += card.residential_surcharge
    return rate * (1 + card.fuel_surcharge_pct / 100)


def linear_price(terms: LinearTerms, miles: float, units: int) -> float:
    """The literature's model: a fixed charge, then per unit and per unit-mile."""
    return terms.per_shipment + terms.per_unit * units + terms.per_unit_mile * units * miles


def carrier_price(
    terms: CarrierTerms,
    miles: float,
    weight_lb: float,
    volume_in3: float,
    units: int,
    residential: bool,
) -> float:
    """The carrier's charge for one shipment (handling not included)."""
    if isinstance(terms, RateCard):
        return parcel_price(terms, miles, weight_lb, volume_in3, residential)
    return linear_price(terms, miles, units)


def handling(per_shipment: float, per_unit: float, units: int) -> float:
    """The node's pick and pack: a fixed cost per shipment plus a cost per unit."""
    return per_shipment + per_unit * units


def order_penalties(
    split: float, unfilled_per_unit: float, shipments: int, unfilled_units: int
) -> float:
    """split per shipment beyond an order's first, unfilled_per_unit per unit left unfilled."""
    return split * max(shipments - 1, 0) + unfilled_per_unit * unfilled_units


# --- domain objects -------------------------------------------------------------------------


def unit_volume_in3(item: Item) -> float:
    """Length x width x height of one unit."""
    length, width, height = item.dims_in
    return length * width * height


class BatchPricer:
    """Prices of shipments and orders of one batch (its carrier terms read once)."""

    def __init__(self, batch: Batch) -> None:
        self.terms = carrier_terms(batch.shipping)
        self.items = {item.sku: item for item in batch.items}
        self.nodes = {node.id: node for node in batch.nodes}
        self.split = batch.penalties.split
        self.unfilled_per_unit = batch.penalties.unfilled_per_unit

    def shipment(self, order: Order, node: Node, content: Mapping[str, int]) -> float:
        """Carrier price plus handling of `content` (units per SKU) sent from `node`."""
        weight = sum(qty * self.items[sku].weight_lb for sku, qty in content.items())
        volume = sum(qty * unit_volume_in3(self.items[sku]) for sku, qty in content.items())
        units = sum(content.values())
        dest = order.destination
        miles = great_circle_miles(node.lat, node.lon, dest.lat, dest.lon)
        carrier = carrier_price(self.terms, miles, weight, volume, units, dest.residential)
        return carrier + handling(node.handling_per_shipment, node.handling_per_unit, units)

    def order(self, order: Order, shipments: Mapping[str, Mapping[str, int]]) -> float:
        """An order's cost: its shipments (node id -> units per SKU) and its penalties."""
        ordered = sum(line.qty for line in order.lines)
        shipped = sum(sum(content.values()) for content in shipments.values())
        return sum(
            self.shipment(order, self.nodes[node_id], content)
            for node_id, content in shipments.items()
        ) + order_penalties(self.split, self.unfilled_per_unit, len(shipments), ordered - shipped)


def shipment_prices(
    batch: Batch, shipments: Sequence[tuple[Order, Node, Mapping[str, int]]]
) -> list[float]:
    """Carrier price plus handling of each (order, node, units per SKU) shipment."""
    pricer = BatchPricer(batch)
    return [pricer.shipment(order, node, content) for order, node, content in shipments]
