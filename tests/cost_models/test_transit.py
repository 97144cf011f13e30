"""Transit days by zone and service level."""

import numpy as np
import pytest

from sourcing_engine.cost_models import TransitTable, default_us_transit


def test_default_us_transit_lookups() -> None:
    """Ground days grow with zone: 1 day in zone 2, 5 days in zone 8."""
    table = default_us_transit()
    assert table.service_levels == ("ground", "two_day", "next_day")
    assert table.first_zone == 2
    # ground row (1, 2, 3, 3, 4, 4, 5) for zones 2..8
    np.testing.assert_array_equal(table.transit_days([2, 3, 4, 5, 6, 7, 8], "ground"),
                                  [1, 2, 3, 3, 4, 4, 5])  # fmt: skip
    assert int(table.transit_days(8, "two_day")) == 2
    assert int(table.transit_days(5, "next_day")) == 1


def test_zones_beyond_the_table_use_its_last_entry() -> None:
    """Zone 9 and beyond get the last zone's days (zone 8: 5 ground days)."""
    table = default_us_transit()
    np.testing.assert_array_equal(table.transit_days([9, 44], "ground"), [5, 5])


def test_lookup_is_vectorized() -> None:
    """Zones of any shape map to an int64 array of the same shape."""
    table = TransitTable(days={"std": (2, 3, 4)}, first_zone=1)
    days = table.transit_days(np.array([[1, 2], [3, 3]]), "std")
    assert days.dtype == np.int64
    np.testing.assert_array_equal(days, [[2, 3], [4, 4]])  # zone 1 -> row[0], 2 -> row[1], ...


def test_unknown_service_level() -> None:
    """An unknown service level raises KeyError listing the known ones."""
    with pytest.raises(KeyError, match="unknown service level 'overnight'; known: ground"):
        default_us_transit().transit_days(2, "overnight")


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ({}, "at least one service level"),
        ({"a": (1, 2), "b": (1,)}, "same zones"),
        ({"a": (1, -1)}, "'a' must be >= 0"),
        ({"a": ()}, "'a': expected at least one zone"),
    ],
)
def test_validation(days: dict[str, tuple[int, ...]], message: str) -> None:
    """Empty tables, ragged rows, negative days and empty rows raise ValueError."""
    with pytest.raises(ValueError, match=message):
        TransitTable(days=days)
