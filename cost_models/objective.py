"""Order-level terms of the objective: unfilled units and split shipments."""

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

UNLIMITED = 2**62
"""Sentinel for "no limit" on integer counts (capacities, shipments per order)."""


@dataclass(frozen=True)
class OrderPenalties:
    """Penalties charged per order on top of its shipment costs.

    unfilled_per_unit: cost of each ordered unit that no node ships (lost sale, backorder).
    split: cost of each shipment beyond an order's first (customer experience, packaging).
    max_shipments: hard cap on the number of shipments of one order (UNLIMITED: none).
    """

    unfilled_per_unit: float
    split: float = 0.0
    max_shipments: int = UNLIMITED

    def __post_init__(self) -> None:
        for name in ("unfilled_per_unit", "split"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.max_shipments < 1:
            raise ValueError(f"max_shipments must be >= 1, got {self.max_shipments!r}")

    def order_penalty(self, shipments: ArrayLike, unfilled_units: ArrayLike) -> NDArray[np.float64]:
        """Split and unfilled penalties of orders with these shipment and unfilled counts."""
        extra = np.maximum(np.asarray(shipments, dtype=np.float64) - 1.0, 0.0)
        result: NDArray[np.float64] = self.split * extra + self.unfilled_per_unit * np.asarray(
            unfilled_units, dtype=np.float64
        )
        return result
