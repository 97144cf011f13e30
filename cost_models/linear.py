"""The linear shipping cost of the research literature."""

import math
from dataclasses import dataclass

import numpy as np

from sourcing_engine.cost_models.base import FloatArray, Numbers


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
