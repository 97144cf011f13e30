"""The demo carriers' service levels, and the days each level works.

A network ships with one carrier (`domain.Carrier`): its rate card, the zone bands transit
is counted by, its service levels and the country whose holidays nodes and carriers keep
unless told otherwise. A service level has its transit days by zone
(`cost_models.TransitTable`), the weekdays and holidays it picks up and delivers on, a
price relative to the rate card, and the zones it serves (a same-day courier serves only
the nearest band).

The ship-from plan is chosen once on the rate card; each service level prices that plan
at its own rate and dates it with its own transit, as an OMS sources first and then picks
the carrier's service. A level that cannot reach some units from the nodes it serves is
not offered, with the reason.
"""

from functools import lru_cache

from sourcing_engine.cost_models import (
    US_ZONE_BANDS_MILES,
    ParcelCost,
    ShipmentCostModel,
    TransitTable,
    default_us_ground,
)
from sourcing_engine.cost_models.parcel import IT_ZONE_BANDS_MILES, default_it_express
from sourcing_engine.domain import Carrier, ServiceLevel
from sourcing_engine.promise.calendars import WorkDays, public_holidays

MON_SAT = (0, 1, 2, 3, 4, 5)


def level_days(carrier: Carrier, level: ServiceLevel, year: int) -> WorkDays:
    """The days a service level picks up and delivers on, for promises made in `year`."""
    return _level_days(level, carrier.country, carrier.subdivision, year)


@lru_cache(maxsize=256)
def _level_days(level: ServiceLevel, country: str, subdivision: str | None, year: int) -> WorkDays:
    closed = list(level.closed_dates)
    if level.holidays:
        closed += public_holidays(country, subdivision, year)
    return WorkDays(level.delivery_weekdays, closed)


def default_levels(country: str) -> tuple[TransitTable, tuple[ServiceLevel, ...]]:
    """Service levels of the country's demo carrier: US ground / two-day / next-day and a
    same-day courier for the nearest zone; in Italy standard / express and same-day."""
    if country == "IT":
        # zones 1-4: 100 km, 300 km, 600 km, beyond (islands)
        transit = TransitTable(
            {"standard": (1, 2, 2, 3), "express": (1, 1, 1, 2), "same_day": (0, 0, 0, 0)},
            first_zone=1,
        )
        return transit, (
            ServiceLevel("standard", window_days=1),
            ServiceLevel("express", rate_factor=1.6),
            ServiceLevel("same_day", rate_factor=2.5, max_zone=1, delivery_weekdays=MON_SAT),
        )
    transit = TransitTable(
        {
            "ground": (1, 2, 3, 3, 4, 4, 5),
            "two_day": (2, 2, 2, 2, 2, 2, 2),
            "next_day": (1, 1, 1, 1, 1, 1, 1),
            "same_day": (0, 0, 0, 0, 0, 0, 0),
        },
        first_zone=2,
    )
    return transit, (
        ServiceLevel("ground", window_days=1),
        ServiceLevel("two_day", rate_factor=1.9),
        ServiceLevel("next_day", rate_factor=3.2),
        ServiceLevel("same_day", rate_factor=2.5, max_zone=2, delivery_weekdays=MON_SAT),
    )


def zones_of(country: str, shipping: ShipmentCostModel) -> tuple[tuple[float, ...], int]:
    """The zone bands (miles) and first zone transit is counted by: the rate card's, or for
    a model without zones (linear) the country's parcel bands."""
    if isinstance(shipping, ParcelCost):
        return shipping.zone_bands_miles, shipping.first_zone
    return (IT_ZONE_BANDS_MILES, 1) if country == "IT" else (US_ZONE_BANDS_MILES, 2)


def default_carrier(country: str = "US", shipping: ShipmentCostModel | None = None) -> Carrier:
    """The demo carrier of a country (US or IT), on a given rate card or the country's."""
    if shipping is None:
        shipping = default_it_express() if country == "IT" else default_us_ground()
    transit, levels = default_levels(country)
    bands, first_zone = zones_of(country, shipping)
    transit = TransitTable(transit.days, first_zone=first_zone)
    return Carrier(country, shipping, transit, levels, zone_bands_miles=bands)
