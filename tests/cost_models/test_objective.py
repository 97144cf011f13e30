"""Order-level penalties: split shipments and unfilled units; handling cost."""

import math

import numpy as np
import pytest

from sourcing_engine.cost_models import OrderPenalties, handling_cost
from sourcing_engine.cost_models.objective import UNLIMITED


@pytest.mark.parametrize(
    ("shipments", "unfilled", "penalty"),
    [
        (0, 0, 0.0),  # nothing shipped, nothing missing
        (1, 0, 0.0),  # the first shipment is never a split
        (2, 0, 1.5),  # 1.5 * (2 - 1)
        (4, 0, 4.5),  # 1.5 * (4 - 1)
        (0, 3, 180.0),  # no shipment: no split penalty; 60 * 3
        (3, 2, 123.0),  # 1.5 * 2 + 60 * 2 = 3 + 120
    ],
)
def test_order_penalty(shipments: int, unfilled: int, penalty: float) -> None:
    """split * (shipments - 1) beyond the first shipment, plus unfilled_per_unit * units."""
    p = OrderPenalties(unfilled_per_unit=60.0, split=1.5)
    assert p.order_penalty(shipments, unfilled) == pytest.approx(penalty)


def test_defaults() -> None:
    """Split defaults to 0 and the shipment cap to UNLIMITED."""
    p = OrderPenalties(unfilled_per_unit=10.0)
    assert p.split == 0.0
    assert p.max_shipments == UNLIMITED
    assert p.order_penalty(5, 1) == 10.0  # 0 * 4 + 10 * 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unfilled_per_unit": -1.0}, "unfilled_per_unit must be a finite number >= 0"),
        ({"unfilled_per_unit": math.nan}, "unfilled_per_unit must be a finite number"),
        ({"unfilled_per_unit": math.inf}, "unfilled_per_unit must be a finite number"),
        ({"unfilled_per_unit": 1.0, "split": -0.5}, "split must be a finite number >= 0"),
        ({"unfilled_per_unit": 1.0, "split": math.nan}, "split must be a finite number"),
        ({"unfilled_per_unit": 1.0, "max_shipments": 0}, "max_shipments must be >= 1"),
        ({"unfilled_per_unit": 1.0, "max_shipments": -2}, "max_shipments must be >= 1"),
    ],
)
def test_validation(kwargs: dict[str, float], message: str) -> None:
    """Negative, non-finite or zero-cap penalties raise ValueError naming the field."""
    with pytest.raises(ValueError, match=message):
        OrderPenalties(**kwargs)  # type: ignore[arg-type]


def test_max_shipments_of_one_is_allowed() -> None:
    """A cap of one shipment (no splits at all) is valid."""
    assert OrderPenalties(unfilled_per_unit=1.0, max_shipments=1).max_shipments == 1


def test_handling_cost_broadcasts() -> None:
    """Handling is per_shipment + per_unit * units, per node and shipment size."""
    cost = handling_cost(np.array([[1.5], [0.0]]), np.array([[0.35], [1.0]]), np.array([1, 4]))
    # node 0: 1.5 + 0.35 * 1 = 1.85, 1.5 + 0.35 * 4 = 2.9; node 1: 1, 4
    np.testing.assert_allclose(cost, [[1.85, 2.9], [1.0, 4.0]])
