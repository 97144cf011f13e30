"""The demo carriers' service levels and the days each works (promise/carriers.py), and the
rules a carrier and a service level refuse (domain.Carrier, domain.ServiceLevel)."""

import datetime as dt

import numpy as np
import pytest

from sourcing_engine.cost_models import ParcelCost, TransitTable, default_us_ground
from sourcing_engine.cost_models.parcel import IT_ZONE_BANDS_MILES
from sourcing_engine.domain import Carrier, ServiceLevel
from sourcing_engine.promise.carriers import default_carrier, default_levels, level_days

US = default_carrier("US")
IT = default_carrier("IT")


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_us_demo_carrier() -> None:
    """US: ground / two-day / next-day / same-day in USD on the ground rate card, same-day
    only to zone 2 and on Saturdays too; ship-to-store by the first level (ground)."""
    assert [lv.name for lv in US.levels] == ["ground", "two_day", "next_day", "same_day"]
    assert US.currency == "USD"
    assert US.first_zone == 2
    assert US.store_level.name == "ground"
    same_day = US.level("same_day")
    assert (same_day.max_zone, same_day.delivery_weekdays) == (2, (0, 1, 2, 3, 4, 5))
    assert US.level("ground").window_days == 1
    assert [US.level(n).rate_factor for n in ("ground", "two_day", "next_day")] == [1.0, 1.9, 3.2]


@pytest.mark.parametrize(
    ("miles", "zone", "ground", "two_day", "next_day", "same_day"),
    [
        (10.0, 2, 1, 2, 1, 0),
        (150.0, 2, 1, 2, 1, 0),  # a band's upper bound is inclusive
        (150.5, 3, 2, 2, 1, 0),
        (600.0, 4, 3, 2, 1, 0),
        (1000.0, 5, 3, 2, 1, 0),
        (1400.0, 6, 4, 2, 1, 0),
        (1800.0, 7, 4, 2, 1, 0),
        (2445.0, 8, 5, 2, 1, 0),
    ],
)
def test_us_zones_and_transit(
    miles: float, zone: int, ground: int, two_day: int, next_day: int, same_day: int
) -> None:
    """US zones from the ground card's bands (150, 300, 600, 1000, 1400, 1800 mi) and the
    transit days of each level in that zone."""
    found = US.zone(np.array([miles]))
    assert found.tolist() == [zone]
    for name, days in (("ground", ground), ("two_day", two_day), ("next_day", next_day),
                       ("same_day", same_day)):  # fmt: skip
        assert US.transit_days(US.level(name), found).tolist() == [days], name
    assert US.serves(US.level("same_day"), found).tolist() == [zone <= 2]
    assert US.serves(US.level("ground"), found).tolist() == [True]


@pytest.mark.parametrize(
    ("miles", "zone", "standard", "express"),
    [(30.0, 1, 1, 1), (62.0, 1, 1, 1), (100.0, 2, 2, 1), (296.0, 3, 2, 1), (400.0, 4, 3, 2)],
)
def test_italian_zones_and_transit(miles: float, zone: int, standard: int, express: int) -> None:
    """Italy: zones 1-4 at 100 / 300 / 600 km (62 / 186 / 373 mi), in EUR; standard has a
    one-day window, same-day serves zone 1 only."""
    assert IT.currency == "EUR"
    assert IT.zone_bands_miles == IT_ZONE_BANDS_MILES
    found = IT.zone(np.array([miles]))
    assert found.tolist() == [zone]
    assert IT.transit_days(IT.level("standard"), found).tolist() == [standard]
    assert IT.transit_days(IT.level("express"), found).tolist() == [express]
    assert IT.serves(IT.level("same_day"), found).tolist() == [zone == 1]
    assert IT.level("standard").window_days == 1


def test_level_days_keep_weekdays_and_holidays() -> None:
    """Ground works Monday to Friday without US holidays; same-day works Saturdays but not
    on a holiday Saturday (Sat 2026-07-04)."""
    ground = level_days(US, US.level("ground"), 2026)
    same_day = level_days(US, US.level("same_day"), 2026)
    assert ground.is_open(d("2026-06-12"))  # Fri
    assert not ground.is_open(d("2026-06-13"))  # Sat
    assert same_day.is_open(d("2026-06-13"))  # Sat
    assert not same_day.is_open(d("2026-06-14"))  # Sun
    assert not ground.is_open(d("2026-05-25"))  # Memorial Day
    assert not same_day.is_open(d("2026-07-04"))  # Independence Day, a Saturday
    assert not same_day.is_open(d("2026-07-03"))  # observed on the Friday
    # ground from Thu 12-24 + 1 day: Fri 25 Christmas, weekend: Mon 28
    assert ground.add(d("2026-12-24"), 1) == d("2026-12-28")
    # the year after is loaded too: Fri 2027-12-24 is Christmas observed
    assert not ground.is_open(d("2027-12-24"))


def test_level_without_holidays_and_with_closed_dates() -> None:
    """holidays=False: the level works on Christmas; its closed_dates are skipped."""
    level = ServiceLevel("peak", holidays=False, closed_dates=(d("2026-06-11"),))
    carrier = Carrier("US", default_us_ground(), TransitTable({"peak": (1,)}), (level,))
    days = level_days(carrier, level, 2026)
    assert days.is_open(d("2026-12-25"))
    assert days.add(d("2026-06-10"), 1) == d("2026-06-12")


def test_carrier_subdivision_holidays() -> None:
    """A carrier of a region keeps that region's holidays: Milan's on Mon 2026-12-07."""
    transit, levels = default_levels("IT")
    milan = Carrier("IT", IT.shipping, transit, levels, subdivision="MI")
    assert not level_days(milan, milan.level("standard"), 2026).is_open(d("2026-12-07"))
    assert level_days(IT, IT.level("standard"), 2026).is_open(d("2026-12-07"))


def test_transit_rebased_on_a_cards_first_zone() -> None:
    """A rate card whose zones start at 1 moves the transit table with it."""
    base = default_us_ground()
    card = ParcelCost(base.rates, base.zone_bands_miles, first_zone=1)
    carrier = default_carrier("US", card)
    assert carrier.first_zone == 1
    assert carrier.zone(np.array([10.0])).tolist() == [1]
    assert carrier.transit_days(carrier.level("ground"), np.array([1])).tolist() == [1]


def test_ship_to_store_level() -> None:
    """ship_to_store names the level that carries deliveries to stores."""
    transit, levels = default_levels("US")
    carrier = Carrier("US", default_us_ground(), transit, levels, ship_to_store="two_day")
    assert carrier.store_level.name == "two_day"


@pytest.mark.parametrize(
    ("levels", "transit", "store", "message"),
    [
        ((), {"a": (1,)}, None, "at least one service level"),
        ((ServiceLevel("a"), ServiceLevel("a")), {"a": (1,)}, None, "names must differ"),
        ((ServiceLevel("b"),), {"a": (1,)}, None, "service level b: no transit days"),
        ((ServiceLevel("a"),), {"a": (1,)}, "x", "ship_to_store: 'x' is not a service level"),
    ],
)
def test_carrier_refuses(
    levels: tuple[ServiceLevel, ...], transit: dict[str, tuple[int, ...]], store: str | None,
    message: str,
) -> None:  # fmt: skip
    """A carrier without levels, with two of one name, without transit for a level, or with
    an unknown ship-to-store level is a ValueError saying so."""
    with pytest.raises(ValueError, match=message):
        Carrier("US", default_us_ground(), TransitTable(transit), levels, ship_to_store=store)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"delivery_weekdays": ()},
        {"delivery_weekdays": (7,)},
        {"rate_factor": 0.0},
        {"window_days": -1},
    ],
)
def test_service_level_refuses(kwargs: dict[str, object]) -> None:
    """A level with no or bad weekdays, a rate factor not above 0 or a negative window is a
    ValueError naming the level."""
    with pytest.raises(ValueError, match="service level x"):
        ServiceLevel("x", **kwargs)  # type: ignore[arg-type]
