"""The linear shipping cost of the research literature, and a model scaled by a factor."""

import math
from dataclasses import dataclass

import numpy as np

from sourcing_engine.cost_models.base import FloatArray, Numbers, ShipmentCostModel


@dataclass(frozen=True)
class LinearCost:
    """per_shipment + per_unit * units + per_unit_mile * units * miles.

    The model of the split-shipment literature (e.g. Xu, Allgor and Graves; Acimovic and
    Graves): a fixed charge per parcel plus a variable charge per unit and unit-mile.
    """

    per_shipment: float
    per_unit: float = 0.0
    per_unit_mile: float = 0.0
    currency: str = "USD"

    def __post_init__(self) -> None:
        for name in ("per_shipment", "per_unit", "per_unit_mile"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")

    def shipment_cost(
        self,
        distance_miles: Numbers,
        weight_lb: Numbers,
        volume_in3: Numbers,
        units: Numbers,
        residential: Numbers,
    ) -> FloatArray:
        d, _, _, u, _ = np.broadcast_arrays(
            distance_miles, weight_lb, volume_in3, units, residential
        )
        result: FloatArray = self.per_shipment + u * (self.per_unit + self.per_unit_mile * d)
        return result


@dataclass(frozen=True)
class ScaledCost:
    """Another model's charges times a factor: a faster service of the same carrier, priced
    as a multiple of its base rate card."""

    base: ShipmentCostModel
    factor: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.factor) or self.factor <= 0:
            raise ValueError(f"factor must be a finite number > 0, got {self.factor!r}")

    @property
    def currency(self) -> str:
        return self.base.currency

    def shipment_cost(
        self,
        distance_miles: Numbers,
        weight_lb: Numbers,
        volume_in3: Numbers,
        units: Numbers,
        residential: Numbers,
    ) -> FloatArray:
        base = self.base.shipment_cost(distance_miles, weight_lb, volume_in3, units, residential)
        result: FloatArray = base * self.factor
        return result
