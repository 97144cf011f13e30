"""The linear cost model: per_shipment + per_unit * u + per_unit_mile * u * d."""

import math

import numpy as np
import pytest

from sourcing_engine.cost_models import LinearCost


def test_formula_on_scalars() -> None:
    """5 + 0.5 * 3 + 0.001 * 3 * 1000 = 5 + 1.5 + 3 = 9.5."""
    cost = LinearCost(per_shipment=5.0, per_unit=0.5, per_unit_mile=0.001).shipment_cost(
        np.array(1000.0), np.array(7.0), np.array(100.0), np.array(3), np.array(True)
    )
    assert float(cost) == pytest.approx(9.5)


def test_weight_volume_and_residential_do_not_matter() -> None:
    """Only units and distance enter the linear model."""
    model = LinearCost(per_shipment=2.0, per_unit=1.0, per_unit_mile=0.01)
    a = model.shipment_cost(
        np.array(100.0), np.array(1.0), np.array(0.0), np.array(2), np.array(False)
    )
    b = model.shipment_cost(
        np.array(100.0), np.array(50.0), np.array(9999.0), np.array(2), np.array(True)
    )
    # 2 + 1 * 2 + 0.01 * 2 * 100 = 2 + 2 + 2 = 6
    assert float(a) == float(b) == pytest.approx(6.0)


def test_broadcasts_to_the_common_shape() -> None:
    """Distances by row and units by column give a rows x columns matrix."""
    model = LinearCost(per_shipment=1.0, per_unit=2.0, per_unit_mile=0.5)
    cost = model.shipment_cost(
        np.array([[0.0], [10.0]]), np.array(1.0), np.array(0.0), np.array([1, 2, 3]), np.array(True)
    )
    # d = 0:  1 + 2u          -> 3, 5, 7
    # d = 10: 1 + u (2 + 5)   -> 8, 15, 22
    assert cost.shape == (2, 3)
    np.testing.assert_allclose(cost, [[3.0, 5.0, 7.0], [8.0, 15.0, 22.0]])


def test_defaults() -> None:
    """Only per_shipment is required; the rest default to 0 and USD."""
    model = LinearCost(per_shipment=4.0)
    assert (model.per_unit, model.per_unit_mile, model.currency) == (0.0, 0.0, "USD")
    cost = model.shipment_cost(
        np.array(500.0), np.array(1.0), np.array(0.0), np.array(10), np.array(True)
    )
    assert float(cost) == pytest.approx(4.0)  # 4 + 0 * 10 + 0 * 10 * 500


def test_zero_cost_is_allowed() -> None:
    """An all-zero model is valid and free."""
    cost = LinearCost(per_shipment=0.0).shipment_cost(
        np.array(1.0), np.array(1.0), np.array(1.0), np.array(1), np.array(True)
    )
    assert float(cost) == 0.0


@pytest.mark.parametrize("field", ["per_shipment", "per_unit", "per_unit_mile"])
@pytest.mark.parametrize("value", [-0.01, math.nan, math.inf])
def test_rejects_negative_or_non_finite(field: str, value: float) -> None:
    """Each coefficient must be a finite number >= 0, and the message names it."""
    args: dict[str, float] = {"per_shipment": 1.0, field: value}
    with pytest.raises(ValueError, match=f"{field} must be a finite number >= 0"):
        LinearCost(**args)  # type: ignore[arg-type]
