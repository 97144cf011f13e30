"""Parcel carrier pricing: zones from distance bands, billable weight, rate tables."""

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sourcing_engine.cost_models.base import FloatArray, Numbers

US_ZONE_BANDS_MILES: tuple[float, ...] = (150.0, 300.0, 600.0, 1000.0, 1400.0, 1800.0)
"""Upper bounds (inclusive) of US ground zones 2..7; zone 8 is everything beyond."""

US_DIM_DIVISOR = 139.0
"""Cubic inches per dimensional pound (US ground; 5,000 cm3/kg is the same ratio)."""


def zone_for_distance(
    distance_miles: ArrayLike,
    bands_miles: tuple[float, ...] = US_ZONE_BANDS_MILES,
    first_zone: int = 2,
) -> NDArray[np.int64]:
    """Zone of each distance: first_zone up to bands[0] miles (inclusive), and so on."""
    index = np.searchsorted(np.asarray(bands_miles), np.asarray(distance_miles), side="left")
    return index.astype(np.int64) + first_zone


def billable_weight_lb(
    weight_lb: ArrayLike, volume_in3: ArrayLike, dim_divisor: float = US_DIM_DIVISOR
) -> NDArray[np.int64]:
    """max(actual weight, volume / divisor) rounded up to a whole pound, at least 1 lb.

    A tiny tolerance keeps 2.0000000001 lb (float noise from summing unit weights) at 2 lb.
    Raises ValueError on a weight or volume that is not finite (it has no whole pound).
    """
    dim_weight = np.asarray(volume_in3, dtype=np.float64) / dim_divisor
    billable = np.maximum(np.asarray(weight_lb, dtype=np.float64), dim_weight)
    if not np.all(np.isfinite(billable)):
        raise ValueError("billable weight: weights and volumes must be finite numbers")
    return np.maximum(np.ceil(billable - 1e-9), 1.0).astype(np.int64)


@dataclass(frozen=True)
class ParcelCost:
    """A carrier's rate card: price by zone and billable pound, plus surcharges.

    rates[z][w - 1] is the price of a parcel of billable weight w lb in zone first_zone + z.
    Parcels heavier than the table continue at the table's last per-pound step.
    The fuel surcharge is a percentage applied to the rate and the residential surcharge,
    as carriers do; the residential surcharge applies to shipments to residential addresses.
    Several units in one shipment are priced as one parcel whose volume is the sum of the
    units' volumes (no carton selection).
    """

    rates: tuple[tuple[float, ...], ...]
    zone_bands_miles: tuple[float, ...] = US_ZONE_BANDS_MILES
    first_zone: int = 2
    dim_divisor: float = US_DIM_DIVISOR
    fuel_surcharge_pct: float = 0.0
    residential_surcharge: float = 0.0
    currency: str = "USD"
    _table: NDArray[np.float64] = field(init=False, repr=False, compare=False)
    _slope: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bands = self.zone_bands_miles
        if any(not math.isfinite(b) or b <= 0 for b in bands) or list(bands) != sorted(set(bands)):
            raise ValueError(f"zone_bands_miles must be increasing positive numbers, got {bands!r}")
        if len(self.rates) != len(bands) + 1:
            raise ValueError(
                f"rates must have one row per zone: {len(bands) + 1} zones "
                f"({self.first_zone}..{self.first_zone + len(bands)}), got {len(self.rates)} rows"
            )
        for z, row in enumerate(self.rates):
            zone = self.first_zone + z
            if len(row) == 0:
                raise ValueError(f"rates for zone {zone}: expected at least one price (1 lb)")
            if any(not math.isfinite(p) or p < 0 for p in row):
                raise ValueError(f"rates for zone {zone}: prices must be finite and >= 0")
            if any(b < a for a, b in itertools.pairwise(row)):
                raise ValueError(f"rates for zone {zone}: prices must not fall as weight rises")
        if len({len(row) for row in self.rates}) != 1:
            raise ValueError("rates: every zone must list the same number of weights")
        for name in ("dim_divisor",):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number")
        for name in ("fuel_surcharge_pct", "residential_surcharge"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        table = np.array(self.rates, dtype=np.float64)
        table.setflags(write=False)
        slope = table[:, -1] - table[:, -2] if table.shape[1] > 1 else np.zeros(len(table))
        slope.setflags(write=False)
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_slope", slope)

    @property
    def max_table_weight_lb(self) -> int:
        return int(self._table.shape[1])

    def zone(self, distance_miles: ArrayLike) -> NDArray[np.int64]:
        return zone_for_distance(distance_miles, self.zone_bands_miles, self.first_zone)

    def rate(self, zone: ArrayLike, billable_lb: ArrayLike) -> FloatArray:
        """Table price of a parcel (before surcharges).

        Raises ValueError for a zone outside the card or a billable weight below 1 lb (numpy
        would otherwise wrap the negative index round to the table's last row or column).
        """
        z = np.asarray(zone, dtype=np.int64) - self.first_zone
        w = np.asarray(billable_lb, dtype=np.int64)
        top = self._table.shape[1]
        if np.any((z < 0) | (z >= len(self._table))):
            raise ValueError(
                f"zone must be between {self.first_zone} and "
                f"{self.first_zone + len(self._table) - 1}, got {zone!r}"
            )
        if np.any(w < 1):
            raise ValueError(f"billable weight must be at least 1 lb, got {billable_lb!r}")
        price: FloatArray = self._table[z, np.minimum(w, top) - 1] + self._slope[z] * np.maximum(
            w - top, 0
        )
        return price

    def shipment_cost(
        self,
        distance_miles: Numbers,
        weight_lb: Numbers,
        volume_in3: Numbers,
        units: Numbers,
        residential: Numbers,
    ) -> FloatArray:
        billable = billable_weight_lb(weight_lb, volume_in3, self.dim_divisor)
        price = self.rate(self.zone(distance_miles), billable)
        price = price + self.residential_surcharge * np.asarray(residential, dtype=np.float64)
        result: FloatArray = price * (1.0 + self.fuel_surcharge_pct / 100.0)
        return result


def _linear_rate_table(
    base: tuple[float, ...], per_lb: tuple[float, ...], max_lb: int
) -> tuple[tuple[float, ...], ...]:
    return tuple(
        tuple(round(b + s * (w - 1), 2) for w in range(1, max_lb + 1))
        for b, s in zip(base, per_lb, strict=True)
    )


def default_us_ground() -> ParcelCost:
    """An illustrative US ground rate card (zones 2-8, 1-150 lb).

    Shaped like published 2024-2025 ground rates (about $10 for 1 lb in zone 2, $13 in
    zone 8, steeper per pound in far zones), not any carrier's actual prices.
    """
    return ParcelCost(
        rates=_linear_rate_table(
            base=(10.20, 10.65, 11.10, 11.55, 12.10, 12.55, 13.15),
            per_lb=(0.60, 0.80, 1.05, 1.30, 1.55, 1.80, 2.10),
            max_lb=150,
        ),
        fuel_surcharge_pct=15.0,
        residential_surcharge=4.45,
        currency="USD",
    )


IT_ZONE_BANDS_MILES: tuple[float, ...] = (62.0, 186.0, 373.0)
"""Italian domestic bands: 100 km, 300 km, 600 km (zone 4 beyond, e.g. to the islands)."""


def default_it_express() -> ParcelCost:
    """An illustrative Italian domestic courier card in EUR (zones 1-4, 1-70 lb)."""
    return ParcelCost(
        rates=_linear_rate_table(
            base=(6.90, 7.40, 8.10, 9.20), per_lb=(0.25, 0.30, 0.38, 0.45), max_lb=70
        ),
        zone_bands_miles=IT_ZONE_BANDS_MILES,
        first_zone=1,
        fuel_surcharge_pct=8.0,
        residential_surcharge=0.0,
        currency="EUR",
    )
