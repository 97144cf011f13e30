"""Great-circle distance (haversine, Earth radius 3958.8 miles)."""

import math

import numpy as np
import pytest

from sourcing_engine.cost_models import EARTH_RADIUS_MILES, haversine_miles

R = 3958.8


def test_radius_is_the_spec_value() -> None:
    """The Earth radius is the 3958.8 miles the exchange format specifies."""
    assert EARTH_RADIUS_MILES == 3958.8


def test_nyc_to_la() -> None:
    """New York (40.7128, -74.0060) to Los Angeles (34.0522, -118.2437) is about 2,445.6 mi."""
    # sin^2(dlat/2) = sin^2(-6.6606deg / 2) = 0.0033747
    # cos(40.7128deg) * cos(34.0522deg) = 0.75799 * 0.82853 = 0.62801
    # sin^2(dlon/2) = sin^2(-44.2377deg / 2) = 0.14177
    # a = 0.0033747 + 0.62801 * 0.14177 = 0.092411
    # d = 2 * 3958.8 * asin(sqrt(0.092411)) = 7917.6 * asin(0.30399) = 7917.6 * 0.30888 = 2445.6
    d = haversine_miles(40.7128, -74.0060, 34.0522, -118.2437)
    assert float(d) == pytest.approx(2445.6, abs=0.1)


def test_distance_is_symmetric() -> None:
    """Swapping the two points gives the same distance."""
    a = haversine_miles(40.7128, -74.0060, 34.0522, -118.2437)
    b = haversine_miles(34.0522, -118.2437, 40.7128, -74.0060)
    assert float(a) == pytest.approx(float(b), rel=1e-12)


def test_zero_distance() -> None:
    """A point is 0 miles from itself."""
    assert float(haversine_miles(41.88, -87.63, 41.88, -87.63)) == 0.0


def test_antipodes_are_half_the_circumference_apart() -> None:
    """Antipodal points are pi * R apart (no NaN from rounding a just above 1)."""
    # pi * 3958.8 = 12436.937; asin near 1 is ill-conditioned, so allow 1e-3 mi (1.6 m)
    for lat, lon in ((0.0, 0.0), (40.0, -74.0), (90.0, 0.0), (12.345, 67.89)):
        d = float(haversine_miles(lat, lon, -lat, lon + 180.0))
        assert not math.isnan(d)
        assert d == pytest.approx(math.pi * R, abs=1e-3)


def test_pole_to_equator_is_a_quarter_circumference() -> None:
    """North pole to any point on the equator is pi/2 * R."""
    # pi / 2 * 3958.8 = 6218.468
    assert float(haversine_miles(90.0, 0.0, 0.0, 123.0)) == pytest.approx(6218.468, abs=1e-3)


def test_one_degree_along_the_equator() -> None:
    """One degree of longitude on the equator is R * pi / 180 miles."""
    # 3958.8 * 3.14159265 / 180 = 69.0941
    assert float(haversine_miles(0.0, 10.0, 0.0, 11.0)) == pytest.approx(69.0941, abs=1e-4)


def test_date_line_is_crossed_the_short_way() -> None:
    """179E to 179W on the equator is 2 degrees (138.19 mi), not 358 degrees."""
    # 2 * 69.0941 = 138.188
    assert float(haversine_miles(0.0, 179.0, 0.0, -179.0)) == pytest.approx(138.188, abs=1e-3)


def test_broadcasts_nodes_against_orders() -> None:
    """A column of nodes against a row of destinations gives a nodes x destinations matrix."""
    node_lat = np.array([[0.0], [90.0]])
    node_lon = np.array([[0.0], [0.0]])
    dest_lat = np.array([0.0, 0.0, -90.0])
    dest_lon = np.array([0.0, 1.0, 0.0])
    d = haversine_miles(node_lat, node_lon, dest_lat, dest_lon)
    assert d.shape == (2, 3)
    assert d.dtype == np.float64
    # row 0 (equator, lon 0): same point 0; 1 deg of longitude 69.0941; south pole pi/2 R
    # row 1 (north pole): equator pi/2 R twice; south pole pi R
    expected = np.array(
        [[0.0, R * math.pi / 180, R * math.pi / 2], [R * math.pi / 2, R * math.pi / 2, R * math.pi]]
    )
    np.testing.assert_allclose(d, expected, atol=1e-6)


def test_accepts_lists_and_scalars() -> None:
    """Plain Python lists broadcast against scalars like arrays do."""
    d = haversine_miles([0.0, 0.0], [0.0, 2.0], 0.0, 0.0)
    # 0 and 2 * 69.0941 = 138.188
    np.testing.assert_allclose(d, [0.0, 138.188], atol=1e-3)
