"""SourcingProblem: read-only arrays, validation with actionable messages, stock lookups."""

from dataclasses import fields
from typing import Any

import numpy as np
import pytest

from sourcing_engine.cost_models import EARTH_RADIUS_MILES, LinearCost, OrderPenalties
from sourcing_engine.solvers.problem import UNLIMITED, SourcingProblem
from tests.solvers.problems import MILES_PER_DEGREE, make_problem, north

ARRAYS = [f.name for f in fields(SourcingProblem) if f.name not in ("shipping", "penalties")]


def _problem() -> SourcingProblem:
    """Two nodes, three SKUs (SKU 2 stocked nowhere), two orders."""
    return make_problem(
        [north(1.0), north(2.0)],
        {(0, 0): 3, (1, 0): 1, (1, 1): 4},
        [[(0, 2), (1, 1)], [(2, 1)]],
        n_skus=3,
    )


def _arrays(problem: SourcingProblem) -> dict[str, Any]:
    """The constructor arguments of a problem, as writable copies."""
    out: dict[str, Any] = {
        name: np.array(getattr(problem, name)) for name in ARRAYS if not name.startswith("_")
    }
    out["shipping"] = problem.shipping
    out["penalties"] = problem.penalties
    return out


@pytest.mark.parametrize("name", ARRAYS)
def test_arrays_are_read_only(name: str) -> None:
    """Writing into any array of the problem raises instead of changing it."""
    problem = _problem()
    array = getattr(problem, name)
    assert not array.flags.writeable
    if len(array):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = array[0]


def test_derived_arrays_are_read_only() -> None:
    """line_order and stock_sku_of_entry cannot be written either."""
    problem = _problem()
    for array in (problem.line_order, problem.stock_sku_of_entry):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 7


def test_inputs_are_copied() -> None:
    """Changing an array after building the problem does not change the problem."""
    args = _arrays(_problem())
    qty = args["line_qty"]
    problem = SourcingProblem(**args)
    qty[0] = 99
    assert problem.line_qty[0] == 2


def test_dtypes_are_converted() -> None:
    """Integer-valued floats and int lists come out as int64 / float64 / bool arrays."""
    args = _arrays(_problem())
    args["line_qty"] = [2.0, 1.0, 1.0]
    args["node_ship_enabled"] = [1, 1]
    problem = SourcingProblem(**args)
    assert problem.line_qty.dtype == np.int64
    assert problem.node_ship_enabled.dtype == np.bool_
    assert problem.node_lat.dtype == np.float64


def test_sizes_and_derived_arrays() -> None:
    """Sizes count nodes, SKUs, orders and lines; line_order and stock_sku_of_entry map back."""
    problem = _problem()
    assert (problem.n_nodes, problem.n_skus, problem.n_orders, problem.n_lines) == (2, 3, 2, 3)
    assert problem.line_order.tolist() == [0, 0, 1]
    assert problem.stock_sku_of_entry.tolist() == [0, 0, 1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"node_lon": [1.0]}, "node_lon must have one entry per node"),
        ({"node_unit_capacity": [1, 2, 3]}, "node_unit_capacity must have one entry per node"),
        ({"sku_volume_in3": [0.0]}, "sku_volume_in3 must have one entry per sku"),
        ({"order_residential": [True]}, "order_residential must have one entry per order"),
        ({"stock_sku_ptr": [0, 2, 3]}, "one entry more than SKUs"),
        ({"order_line_ptr": [0, 2, 2, 3]}, "one entry more than SKUs / orders"),
        ({"stock_sku_ptr": [1, 2, 3, 3]}, "stock_sku_ptr must rise from 0 to 3"),
        ({"stock_sku_ptr": [0, 2, 1, 3]}, "stock_sku_ptr must rise from 0 to 3"),
        ({"order_line_ptr": [0, 2, 2]}, "order_line_ptr must rise from 0 to 3"),
        ({"stock_qty": [3, 1]}, "stock and line arrays must have matching lengths"),
        ({"line_qty": [2, 1]}, "stock and line arrays must have matching lengths"),
        ({"stock_qty": [3, 0, 4]}, "quantities must be positive"),
        ({"line_qty": [2, -1, 1]}, "quantities must be positive"),
        ({"stock_node": [0, 2, 1]}, "stock_node out of range"),
        ({"stock_node": [-1, 1, 1]}, "stock_node out of range"),
        ({"line_sku": [0, 3, 2]}, "line_sku out of range"),
        ({"node_ship_capacity": [1, -1]}, "node_ship_capacity must be >= 0"),
        ({"node_unit_capacity": [-5, 1]}, "node_unit_capacity must be >= 0"),
        ({"node_lat": [np.nan, 42.0]}, "node_lat must be finite"),
        ({"order_lon": [np.inf, -90.0]}, "order_lon must be finite"),
        ({"node_handling_per_unit": [0.0, -0.5]}, "node_handling_per_unit must be >= 0"),
        ({"sku_weight_lb": [1.0, -1.0, 1.0]}, "sku_weight_lb must be >= 0"),
        ({"line_sku": [0, 0, 2]}, "same SKU twice"),
        ({"stock_node": [1, 0, 1]}, "grouped by SKU with increasing, distinct nodes"),
        ({"stock_node": [0, 0, 1]}, "grouped by SKU with increasing, distinct nodes"),
    ],
)
def test_validation_names_the_problem(change: dict[str, Any], message: str) -> None:
    """Every malformed input is refused with a message naming the array and the rule."""
    args = _arrays(_problem()) | change
    with pytest.raises(ValueError, match=message):
        SourcingProblem(**args)


def test_same_sku_in_two_orders_is_fine() -> None:
    """Two orders may each order the same SKU; only one order listing it twice is refused."""
    problem = make_problem([north(1.0)], {(0, 0): 1}, [[(0, 1)], [(0, 1)]])
    assert problem.n_lines == 2


def test_stock_entry_and_available() -> None:
    """Lookups give the entry and units of stocked pairs, -1 and 0 for pairs not stocked."""
    problem = _problem()
    node = np.array([0, 1, 1, 0, 0, 1])
    sku = np.array([0, 0, 1, 1, 2, 2])
    assert problem.stock_entry(node, sku).tolist() == [0, 1, 2, -1, -1, -1]
    assert problem.available(node, sku).tolist() == [3, 1, 4, 0, 0, 0]


def test_lookups_beyond_the_last_entry() -> None:
    """A key after the last stock entry is reported missing (no out-of-bounds read)."""
    problem = make_problem([north(1.0), north(2.0)], {(0, 0): 2}, [[(1, 1)]], n_skus=2)
    assert problem.stock_entry(np.array([1, 0, 1]), np.array([1, 1, 0])).tolist() == [-1, -1, -1]
    assert problem.available(np.array([0]), np.array([0])).tolist() == [2]


def test_lookups_on_empty_stock() -> None:
    """With no stock at all every lookup is -1 / 0, in the shape of the query."""
    problem = make_problem([north(1.0), north(2.0)], {}, [[(0, 1), (1, 2)]], n_skus=2)
    node = np.array([[0, 1], [1, 0]])
    sku = np.array([[0, 0], [1, 1]])
    assert problem.stock_entry(node, sku).tolist() == [[-1, -1], [-1, -1]]
    assert problem.available(node, sku).tolist() == [[0, 0], [0, 0]]
    assert problem.stock_entry(np.zeros(0, np.int64), np.zeros(0, np.int64)).shape == (0,)


def test_distance_miles_broadcasts() -> None:
    """Distances are great-circle miles, broadcast over orders and nodes."""
    problem = make_problem([north(1.0), north(3.0)], {}, [[(0, 1)], [(0, 1)]])
    d = problem.distance_miles(np.array([[0], [1]]), np.array([[0, 1]]))
    assert d.shape == (2, 2)
    assert d[0].tolist() == pytest.approx([MILES_PER_DEGREE, 3 * MILES_PER_DEGREE])
    assert pytest.approx(EARTH_RADIUS_MILES * 0.0174532925199) == MILES_PER_DEGREE


def test_cost_model_objects_are_kept() -> None:
    """The shipping model and penalties are stored as given; UNLIMITED is re-exported."""
    shipping = LinearCost(per_shipment=3.0)
    penalties = OrderPenalties(unfilled_per_unit=7.0, max_shipments=UNLIMITED)
    problem = make_problem([north(1.0)], {}, [[(0, 1)]], shipping=shipping, penalties=penalties)
    assert problem.shipping is shipping
    assert problem.penalties is penalties
    assert UNLIMITED == 2**62
