"""A node's cost of picking and packing a shipment."""

import numpy as np
from numpy.typing import ArrayLike, NDArray


def handling_cost(
    per_shipment: ArrayLike, per_unit: ArrayLike, units: ArrayLike
) -> NDArray[np.float64]:
    """Handling at the shipping node: a fixed cost per shipment plus a cost per unit picked.

    Stores usually cost more per unit than warehouses (pickers walk a sales floor).
    """
    result: NDArray[np.float64] = np.asarray(per_shipment, dtype=np.float64) + np.asarray(
        per_unit, dtype=np.float64
    ) * np.asarray(units, dtype=np.float64)
    return result
