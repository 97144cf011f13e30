"""The working days and hours of nodes and carriers, and the dates of a promise.

Every date is computed in the local time of whoever works on it: a node's cut-off and
opening hours in the node's time zone (an IANA name, or the zone its coordinates lie in),
a delivery date in the customer's. Open days are numpy business-day calendars (weekmask
plus holidays), so stepping over closed days is one array lookup; public holidays come
from the `holidays` package by country and region, never from a hand-written list.

The rules (docs/service.md, "Promise dates"):
- an order reaches a node at a moment; it is *released* that local day if the day is open
  and the local time is before the cut-off, else on the next open day;
- it ships `processing_days` open days after its release day (0: the same day);
- the carrier picks up on its first working day on or after the ship date and delivers
  `transit` working days later (0: that day);
- a store hands a cart over `pickup_minutes` after the later of the request and its
  opening, if that is before closing, else that long after its next opening.
"""

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays
import numpy as np
from timezonefinder import TimezoneFinder

from sourcing_engine.domain import WEEKDAYS, Node, NodeCalendar

UTC = dt.UTC
HOLIDAY_YEARS_BEFORE = 1
HOLIDAY_YEARS_AFTER = 2
"""Holidays are loaded for the request's year, one year before and two after (a promise
never reaches further)."""


@dataclass(frozen=True)
class KindDefaults:
    """What a node's calendar leaves out, by kind."""

    cutoff: dt.time
    closed_weekdays: tuple[int, ...]
    opens: dt.time | None
    closes: dt.time | None
    pickup_minutes: int


KIND_DEFAULTS = {
    "warehouse": KindDefaults(dt.time(14, 0), (5, 6), None, None, 0),
    "store": KindDefaults(dt.time(12, 0), (), dt.time(10, 0), dt.time(20, 0), 60),
}
"""Warehouses ship Monday to Friday, orders before 14:00 the same day; stores open daily
10:00-20:00, ship orders placed before noon the same day and hand a cart over in an hour."""


class WorkDays:
    """The days someone works: weekdays minus public holidays and closed dates."""

    def __init__(self, weekdays: Sequence[int], closed: Sequence[dt.date]) -> None:
        mask = [1 if d in weekdays else 0 for d in range(7)]
        if not any(mask):
            raise ValueError("a calendar needs at least one working weekday")
        self.weekdays = tuple(sorted(set(weekdays)))
        self._cal = np.busdaycalendar(weekmask=mask, holidays=np.array(closed, "datetime64[D]"))

    def is_open(self, day: dt.date) -> bool:
        return bool(np.is_busday(np.datetime64(day, "D"), busdaycal=self._cal))

    def next_open(self, day: dt.date) -> dt.date:
        """The day itself if open, else the first open day after it."""
        return _date(np.busday_offset(np.datetime64(day, "D"), 0, "forward", busdaycal=self._cal))

    def add(self, day: dt.date, n: int) -> dt.date:
        """The n-th open day after `day` (rolled forward to an open day first)."""
        return _date(np.busday_offset(np.datetime64(day, "D"), n, "forward", busdaycal=self._cal))


def _date(value: np.datetime64) -> dt.date:
    result: dt.date = value.astype("datetime64[D]").item()
    return result


@lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str | None, first_year: int) -> tuple[dt.date, ...]:
    """Public holidays (observed days included) of a country or region over the years a
    promise made in `first_year` + HOLIDAY_YEARS_BEFORE can reach."""
    years = range(first_year - HOLIDAY_YEARS_BEFORE, first_year + HOLIDAY_YEARS_AFTER + 1)
    return tuple(sorted(holidays.country_holidays(country, subdiv=subdivision, years=years)))


def check_region(country: str, subdivision: str | None) -> str | None:
    """Why a country / subdivision pair has no holiday calendar (None: it has one)."""
    supported = holidays.list_supported_countries()
    if country not in supported:
        return f"country {country!r}: expected an ISO 3166 code with a holiday calendar"
    if subdivision is not None and subdivision not in supported[country]:
        some = ", ".join(supported[country][:8])
        return f"subdivision {subdivision!r}: not a region of {country} (e.g. {some})"
    return None


def check_time_zone(name: str) -> str | None:
    """Why a time zone name is not usable (None: it is an IANA name)."""
    if name not in _zone_names():
        return f"time_zone {name!r}: expected an IANA name such as Europe/Rome"
    return None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


_finder: TimezoneFinder | None = None
_finder_lock = threading.Lock()


def zone_at(lat: float, lon: float) -> ZoneInfo:
    """The time zone a point lies in (offline: timezonefinder's polygons; at sea, the
    nautical zone of its longitude)."""
    global _finder
    with _finder_lock:  # the finder reads its polygon files through shared buffers
        if _finder is None:
            _finder = TimezoneFinder()
        name = _finder.timezone_at(lat=lat, lng=lon)
    return zone(name or "UTC")


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time_zone {name!r}: expected an IANA name such as Europe/Rome") from None


@dataclass(frozen=True)
class NodeDays:
    """A node's calendar resolved: its kind's defaults filled in, its zone and open days."""

    node: str
    tz: ZoneInfo
    cutoff: dt.time
    processing_days: int
    opens: dt.time | None
    closes: dt.time | None
    pickup_minutes: int
    receiving_days: int
    days: WorkDays

    def local(self, at: dt.datetime) -> dt.datetime:
        return at.astimezone(self.tz)

    def release_date(self, at: dt.datetime) -> dt.date:
        """The local day an order reaching the node at `at` is released for processing."""
        local = self.local(at)
        today = local.date()
        if self.days.is_open(today) and local.time() < self.cutoff:
            return today
        return self.days.next_open(today + dt.timedelta(days=1))

    def ship_date(self, at: dt.datetime) -> dt.date:
        """The local day the node hands the order to the carrier."""
        return self.days.add(self.release_date(at), self.processing_days)

    def at_time(self, day: dt.date, time: dt.time) -> dt.datetime:
        """A local wall-clock time on a day, as an aware datetime."""
        return dt.datetime.combine(day, time, tzinfo=self.tz)

    def ready_for_pickup(self, at: dt.datetime, horizon_days: int = 60) -> dt.datetime | None:
        """When a cart asked for at `at` is ready at the counter (within opening hours),
        in the node's time; None for a node without opening hours."""
        if self.opens is None or self.closes is None:
            return None
        prep = dt.timedelta(minutes=self.pickup_minutes)
        start = self.local(at)
        day = start.date()
        for _ in range(horizon_days):
            if self.days.is_open(day):
                opening = self.at_time(day, self.opens)
                closing = self.at_time(day, self.closes)
                begin = max(start, opening)
                ready = (begin.astimezone(UTC) + prep).astimezone(self.tz)  # elapsed time
                if begin < closing and ready <= closing:
                    return ready
            day = self.days.next_open(day + dt.timedelta(days=1))
            start = self.at_time(day, self.opens)
        return None

    def ready_after_delivery(self, delivered: dt.date) -> dt.datetime:
        """When a delivery from a warehouse is out for pickup: `receiving_days` open days
        after the delivery day, from opening (with no receiving days, by closing that day)."""
        assert self.opens is not None
        assert self.closes is not None
        if self.receiving_days == 0:
            day = self.days.next_open(delivered)
            return self.at_time(day, self.closes)
        return self.at_time(self.days.add(delivered, self.receiving_days), self.opens)


def node_days(node: Node, default_country: str, year: int) -> NodeDays:
    """A node's resolved calendar for promises made in `year` (ValueError naming the field
    that cannot be used)."""
    return _node_days(node.id, node.kind, node.lat, node.lon, node.calendar, default_country, year)


@lru_cache(maxsize=65536)
def _node_days(
    node_id: str,
    kind: str,
    lat: float,
    lon: float,
    cal: NodeCalendar,
    default_country: str,
    year: int,
) -> NodeDays:
    d = KIND_DEFAULTS[kind]
    tz = zone(cal.time_zone) if cal.time_zone else zone_at(lat, lon)
    closed_weekdays = d.closed_weekdays if cal.closed_weekdays is None else cal.closed_weekdays
    closed = list(cal.closed_dates)
    if cal.public_holidays:
        closed += public_holidays(cal.country or default_country, cal.subdivision, year)
    opens = cal.opens if cal.opens is not None else d.opens
    closes = cal.closes if cal.closes is not None else d.closes
    return NodeDays(
        node=node_id,
        tz=tz,
        cutoff=cal.cutoff or d.cutoff,
        processing_days=cal.processing_days,
        opens=opens,
        closes=closes,
        pickup_minutes=d.pickup_minutes if cal.pickup_minutes is None else cal.pickup_minutes,
        receiving_days=cal.receiving_days,
        days=WorkDays([w for w in range(7) if w not in closed_weekdays], closed),
    )


def calendar_problems(node: Node, default_country: str) -> list[str]:
    """What in a node's calendar cannot be used (empty when all of it can)."""
    return calendar_checks(node.calendar, node.kind, default_country)


def calendar_checks(cal: NodeCalendar, kind: str, default_country: str) -> list[str]:
    """What in a calendar of a node of this kind cannot be used: a time zone or a region
    without data, or no open weekday."""
    found = []
    if cal.time_zone is not None and (why := check_time_zone(cal.time_zone)):
        found.append(why)
    if cal.public_holidays and (why := check_region(cal.country or default_country,
                                                    cal.subdivision)):  # fmt: skip
        found.append(why)
    closed = KIND_DEFAULTS[kind].closed_weekdays
    if len(cal.closed_weekdays if cal.closed_weekdays is not None else closed) == 7:
        found.append(f"closed_weekdays: {', '.join(WEEKDAYS)} leaves no day open")
    return found
