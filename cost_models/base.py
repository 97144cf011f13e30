"""The protocol every shipping cost model implements."""

from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Numbers = NDArray[Any]
"""An array of numbers (or booleans) of any dtype."""


class ShipmentCostModel(Protocol):
    """Carrier charge of one shipment (parcel), excluding the node's handling cost.

    All arguments broadcast against each other; the result has their broadcast shape.
    A model must be monotone (more weight, volume, units or distance never costs less),
    which lets solvers prune candidates without losing optimality.
    """

    @property
    def currency(self) -> str:
        """ISO code of the currency every amount is in."""
        ...

    def shipment_cost(
        self,
        distance_miles: Numbers,
        weight_lb: Numbers,
        volume_in3: Numbers,
        units: Numbers,
        residential: Numbers,
    ) -> FloatArray: ...
