"""Promise dates against dates computed by hand from the rules of promise/calendars.py.

Every case states its calendar reasoning in a comment. Nodes get explicit IANA zones where
the point is the arithmetic; a few take their zone from their coordinates. The whole-path
cases run `promise.options.promise` on a one-node network, so that the node's calendar, the
carrier's working days and the transit by zone are all the real code's.

Calendar facts used below (2026 unless said): US federal holidays from the `holidays`
package: Mon 05-25 Memorial Day, Fri 06-19 Juneteenth, Fri 07-03 Independence Day observed
(07-04 is a Saturday), Mon 09-07 Labor Day, Fri 12-25 Christmas, Fri 2027-01-01 New Year.
Italy: Mon 04-06 Easter Monday, Fri 12-25 Christmas, Sat 12-26 Saint Stephen, Fri
2027-01-01, Wed 2027-01-06 Epiphany; Milan (MI) adds Mon 12-07 Saint Ambrose, the day
before Tue 12-08 Immaculate Conception. DST: US Sun 03-08 (EST -5 -> EDT -4) and Sun 11-01
(back to -5); Europe Sun 03-29 (CET +1 -> CEST +2) and Sun 10-25 (back to +1).
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sourcing_engine.cost_models import OrderPenalties
from sourcing_engine.domain import (
    Carrier,
    Destination,
    Inbound,
    Item,
    Node,
    NodeCalendar,
    NodeKind,
    Position,
)
from sourcing_engine.promise.calendars import (
    NodeDays,
    WorkDays,
    calendar_checks,
    check_region,
    check_time_zone,
    node_days,
    zone_at,
)
from sourcing_engine.promise.carriers import default_carrier
from sourcing_engine.promise.network import PromiseNetwork
from sourcing_engine.promise.options import Method, Option, promise
from sourcing_engine.sourcing import Network

NEW_YORK, LOS_ANGELES, ROME = "America/New_York", "America/Los_Angeles", "Europe/Rome"
US = default_carrier("US")
IT = default_carrier("IT")
SHIP: tuple[Method, ...] = ("ship",)

# Places (the zone of a shipment is the carrier's band of its great-circle distance):
NJ = (40.79, -74.06)  # a warehouse in New Jersey: 6 mi from NYC_CUSTOMER, US zone 2
LA = (34.05, -118.24)  # Los Angeles: 2,445 mi from NYC_CUSTOMER, US zone 8
NYC_CUSTOMER = Destination(40.71, -74.01)
ROME_DC = (41.90, 12.50)
MILAN_CUSTOMER = Destination(45.46, 9.19)  # 296 mi from ROME_DC: IT zone 3 (186-373 mi)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def local(tz: str, text: str) -> dt.datetime:
    """A wall-clock time ("YYYY-MM-DD HH:MM[:SS]") in a zone, as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def days(
    kind: NodeKind = "warehouse",
    where: tuple[float, float] = NJ,
    country: str = "US",
    year: int = 2026,
    **calendar: Any,
) -> NodeDays:
    """The resolved calendar of a node of this kind at `where`."""
    node = Node("N", kind, where[0], where[1], calendar=NodeCalendar(**calendar))
    return node_days(node, country, year)


def ship_options(
    node: Node, to: Destination, at: dt.datetime, carrier: Carrier = US
) -> dict[str, Option]:
    """The ship options (by service level) of one unit stocked only at `node`."""
    net = PromiseNetwork(Network([node]), carrier)
    stock = [Position(node.id, "A", 10, 0, 0, 0)]

    def positions(skus: Sequence[str], nodes: Sequence[str] | None) -> list[Position]:
        return [p for p in stock if p.sku in skus]

    def inbound(skus: Sequence[str]) -> list[Inbound]:
        return []

    found = promise(
        {"A": 1}, to, at, net, {"A": Item("A", 1.0)}, positions, inbound,
        OrderPenalties(unfilled_per_unit=100.0), methods=SHIP,
    )  # fmt: skip
    return {o.service_level or o.id: o for o in found.options}


def dates(option: Option) -> tuple[dt.date | None, dt.date, dt.date]:
    """(ships on, window's first day, window's last day) of a one-shipment option."""
    assert option.delivery is not None
    (shipment,) = option.shipments
    return shipment.ships_on, option.delivery.earliest, option.delivery.latest


def warehouse(where: tuple[float, float], tz: str | None, **calendar: Any) -> Node:
    cal = NodeCalendar(time_zone=tz, **calendar)
    return Node("DC", "warehouse", where[0], where[1], calendar=cal)


# --- release and ship dates of a warehouse (14:00 cut-off, Monday to Friday) -------------


@pytest.mark.parametrize(
    ("moment", "ships"),
    [
        # Wed 06-10: one minute before the 14:00 cut-off is today, the cut-off itself is not
        ("2026-06-10 13:59", "2026-06-10"),
        ("2026-06-10 13:59:59", "2026-06-10"),
        ("2026-06-10 14:00", "2026-06-11"),
        ("2026-06-10 00:00", "2026-06-10"),
        # Fri 06-12 at the cut-off: Sat and Sun closed, so Monday 06-15
        ("2026-06-12 13:59", "2026-06-12"),
        ("2026-06-12 14:00", "2026-06-15"),
        # a Saturday order waits for Monday whatever the hour
        ("2026-06-13 09:00", "2026-06-15"),
    ],
)
def test_cutoff_edges_to_the_minute(moment: str, ships: str) -> None:
    """Before the local cut-off an order ships that day; at or after it, the next open day."""
    assert days(time_zone=NEW_YORK).ship_date(local(NEW_YORK, moment)) == d(ships)


@pytest.mark.parametrize(
    ("moment", "ships"),
    [
        # Fri 05-22 after the cut-off: Sat, Sun closed, Mon 05-25 Memorial Day: Tue 05-26
        ("2026-05-22 15:00", "2026-05-26"),
        ("2026-05-25 09:00", "2026-05-26"),  # on the holiday itself, before the cut-off
        # Fri 09-04 after the cut-off: Sat, Sun, Mon 09-07 Labor Day: Tue 09-08
        ("2026-09-04 14:00", "2026-09-08"),
        # Thu 07-02 before the cut-off ships that day; after it, Fri 07-03 is Independence
        # Day observed (07-04 is a Saturday), then the weekend: Mon 07-06
        ("2026-07-02 10:00", "2026-07-02"),
        ("2026-07-02 14:30", "2026-07-06"),
        # Thu 12-24 after the cut-off: Fri 12-25 Christmas, weekend: Mon 12-28
        ("2026-12-24 15:00", "2026-12-28"),
        # Thu 12-31 after the cut-off: Fri 2027-01-01 New Year, weekend: Mon 2027-01-04
        ("2026-12-31 14:00", "2027-01-04"),
    ],
)
def test_us_holidays_close_a_warehouse(moment: str, ships: str) -> None:
    """US federal holidays (observed days included) are closed days of a US warehouse."""
    assert days(time_zone=NEW_YORK).ship_date(local(NEW_YORK, moment)) == d(ships)


@pytest.mark.parametrize(
    ("moment", "ships"),
    [
        # Thu 12-24 11:00 Rome, before the 14:00 cut-off: the 24th
        ("2026-12-24 11:00", "2026-12-24"),
        # 14:00: Fri 25th Christmas, Sat 26th Saint Stephen, Sun 27th: Mon 12-28
        ("2026-12-24 14:00", "2026-12-28"),
        # Thu 12-31 after the cut-off: Fri 2027-01-01 New Year, weekend: Mon 2027-01-04
        ("2026-12-31 14:30", "2027-01-04"),
        # Tue 2027-01-05 after the cut-off: Wed 01-06 Epiphany: Thu 2027-01-07
        ("2027-01-05 15:00", "2027-01-07"),
        # Fri 04-03 after the cut-off: Sat, Sun 04-05 Easter, Mon 04-06 Easter Monday: Tue
        ("2026-04-03 15:00", "2026-04-07"),
    ],
)
def test_italian_holidays_close_an_italian_warehouse(moment: str, ships: str) -> None:
    """A warehouse of an Italian network keeps Italy's holidays, in Rome's time."""
    at = local(ROME, moment)
    found = days(where=ROME_DC, country="IT", year=at.year, time_zone=ROME)
    assert found.ship_date(at) == d(ships)


def test_us_dst_spring_forward() -> None:
    """After Sun 2026-03-08 New York is UTC-4: 18:30 UTC on Monday is 14:30, past the
    cut-off (a fixed UTC-5 would read 13:30 and ship that day)."""
    nj = days(time_zone=NEW_YORK)
    assert nj.ship_date(utc("2026-03-09 17:59")) == d("2026-03-09")  # 13:59 EDT
    assert nj.ship_date(utc("2026-03-09 18:30")) == d("2026-03-10")  # 14:30 EDT
    # Fri 03-06 18:30 UTC is still winter time, 13:30 EST: that Friday
    assert nj.ship_date(utc("2026-03-06 18:30")) == d("2026-03-06")


def test_us_dst_fall_back() -> None:
    """After Sun 2026-11-01 New York is UTC-5 again: 18:30 UTC on Monday is 13:30, before
    the cut-off (the summer offset would read 14:30 and ship on Tuesday)."""
    nj = days(time_zone=NEW_YORK)
    assert nj.ship_date(utc("2026-11-02 18:30")) == d("2026-11-02")  # 13:30 EST
    assert nj.ship_date(utc("2026-11-02 19:00")) == d("2026-11-03")  # 14:00 EST
    # Fri 10-30 18:30 UTC is still summer time, 14:30 EDT: Monday 11-02
    assert nj.ship_date(utc("2026-10-30 18:30")) == d("2026-11-02")


def test_us_dst_sunday_at_a_store() -> None:
    """A store open on Sundays, noon cut-off, on both DST Sundays: 16:30 UTC is 12:30 EDT on
    03-08 (past noon: Monday) and 11:30 EST on 11-01 (before noon: that Sunday)."""
    store = days("store", time_zone=NEW_YORK)
    assert store.ship_date(utc("2026-03-08 16:30")) == d("2026-03-09")
    assert store.ship_date(utc("2026-03-08 15:59")) == d("2026-03-08")  # 11:59 EDT
    assert store.ship_date(utc("2026-11-01 16:30")) == d("2026-11-01")
    assert store.ship_date(utc("2026-11-01 17:00")) == d("2026-11-02")  # 12:00 EST


def test_europe_dst() -> None:
    """Rome is UTC+2 after Sun 2026-03-29 and UTC+1 after Sun 2026-10-25: 12:30 UTC on the
    Monday after is 14:30 (next day) in spring and 13:30 (same day) in autumn; a fixed
    offset from before the change would answer the other way round."""
    rome = days(where=ROME_DC, country="IT", time_zone=ROME)
    assert rome.ship_date(utc("2026-03-30 12:30")) == d("2026-03-31")  # 14:30 CEST
    assert rome.ship_date(utc("2026-03-30 11:59")) == d("2026-03-30")  # 13:59 CEST
    assert rome.ship_date(utc("2026-10-26 12:30")) == d("2026-10-26")  # 13:30 CET
    assert rome.ship_date(utc("2026-10-26 13:00")) == d("2026-10-27")  # 14:00 CET
    # Fri 03-27 12:30 UTC is still winter time, 13:30 CET: that Friday
    assert rome.ship_date(utc("2026-03-27 12:30")) == d("2026-03-27")


def test_a_node_in_another_zone_than_the_customer() -> None:
    """A Los Angeles warehouse's cut-off is 14:00 Pacific: at 16:30 in New York (13:30 in
    LA) it still ships today; at 17:00 New York time (14:00 in LA) tomorrow."""
    la = days(where=LA, time_zone=LOS_ANGELES)
    assert la.ship_date(local(NEW_YORK, "2026-06-10 16:30")) == d("2026-06-10")
    assert la.ship_date(local(NEW_YORK, "2026-06-10 17:00")) == d("2026-06-11")
    # New Year's Eve 23:30 in New York is 20:30 in LA on 12-31, a Thursday after the
    # cut-off: Fri 01-01 closed, weekend: Mon 2027-01-04
    assert la.ship_date(local(NEW_YORK, "2026-12-31 23:30")) == d("2027-01-04")


def test_processing_days() -> None:
    """processing_days counts open days after the release day."""
    two = days(time_zone=NEW_YORK, processing_days=2)
    # Wed 06-10 10:00 released Wed; +2 open days: Thu 11, Fri 12
    assert two.ship_date(local(NEW_YORK, "2026-06-10 10:00")) == d("2026-06-12")
    # Thu 06-11 10:00 released Thu; +2: Fri 12, (weekend) Mon 15
    assert two.ship_date(local(NEW_YORK, "2026-06-11 10:00")) == d("2026-06-15")
    # Thu 06-11 15:00 released Fri 12; +2: Mon 15, Tue 16
    assert two.ship_date(local(NEW_YORK, "2026-06-11 15:00")) == d("2026-06-16")
    # Fri 05-22 10:00 released Fri; +1: Sat, Sun, Memorial Day Mon: Tue 05-26
    one = days(time_zone=NEW_YORK, processing_days=1)
    assert one.ship_date(local(NEW_YORK, "2026-05-22 10:00")) == d("2026-05-26")
    assert two.release_date(local(NEW_YORK, "2026-06-11 15:00")) == d("2026-06-12")


def test_closed_weekdays() -> None:
    """closed_weekdays replaces the kind's: a warehouse open every day ships on Saturday; a
    store closed on Sundays and Mondays waits for Tuesday."""
    daily = days(time_zone=NEW_YORK, closed_weekdays=())
    assert daily.ship_date(local(NEW_YORK, "2026-06-13 10:00")) == d("2026-06-13")  # Sat
    assert daily.ship_date(local(NEW_YORK, "2026-06-13 14:00")) == d("2026-06-14")  # Sun
    store = days("store", time_zone=NEW_YORK, closed_weekdays=(6, 0))
    # Sat 06-13 12:30, after the store's noon cut-off: Sun and Mon closed: Tue 06-16
    assert store.ship_date(local(NEW_YORK, "2026-06-13 12:30")) == d("2026-06-16")
    assert store.ship_date(local(NEW_YORK, "2026-06-13 11:59")) == d("2026-06-13")


def test_closed_dates() -> None:
    """A closed date (a stocktake on Thu 06-11) is skipped like a holiday."""
    nj = days(time_zone=NEW_YORK, closed_dates=(d("2026-06-11"),))
    # Wed 06-10 after the cut-off: Thu 11 closed: Fri 12
    assert nj.ship_date(local(NEW_YORK, "2026-06-10 15:00")) == d("2026-06-12")
    # on the closed day itself, before the cut-off: Fri 12
    assert nj.ship_date(local(NEW_YORK, "2026-06-11 09:00")) == d("2026-06-12")


def test_public_holidays_off() -> None:
    """public_holidays=False: the node works on Memorial Day (but keeps its weekends)."""
    nj = days(time_zone=NEW_YORK, public_holidays=False)
    assert nj.ship_date(local(NEW_YORK, "2026-05-22 15:00")) == d("2026-05-25")
    assert nj.ship_date(local(NEW_YORK, "2026-12-24 15:00")) == d("2026-12-25")


def test_custom_cutoff() -> None:
    """A 09:30 cut-off: 09:29 is today, 09:30 tomorrow."""
    early = days(time_zone=NEW_YORK, cutoff=dt.time(9, 30))
    assert early.ship_date(local(NEW_YORK, "2026-06-10 09:29")) == d("2026-06-10")
    assert early.ship_date(local(NEW_YORK, "2026-06-10 09:30")) == d("2026-06-11")


def test_subdivision_holiday() -> None:
    """Milan (subdivision MI) closes on Saint Ambrose, Mon 2026-12-07; Rome does not."""
    milan = days(where=(45.46, 9.19), country="IT", time_zone=ROME, subdivision="MI")
    rome = days(where=ROME_DC, country="IT", time_zone=ROME)
    friday_late = local(ROME, "2026-12-04 15:00")
    # Milan: Sat, Sun, Mon 07 Saint Ambrose, Tue 08 Immaculate Conception: Wed 12-09
    assert milan.ship_date(friday_late) == d("2026-12-09")
    # Rome: Sat, Sun, then Mon 12-07 is a working day
    assert rome.ship_date(friday_late) == d("2026-12-07")


def test_a_node_keeps_its_own_countrys_holidays() -> None:
    """A node with country IT in a US network keeps Italy's holidays, not the US's: open on
    Memorial Day, closed on Saint Stephen."""
    node = Node("N", "warehouse", *ROME_DC, calendar=NodeCalendar(time_zone=ROME, country="IT"))
    it = node_days(node, "US", 2026)
    # Fri 05-22 15:00: weekend, Mon 05-25 is no Italian holiday
    assert it.ship_date(local(ROME, "2026-05-22 15:00")) == d("2026-05-25")
    # Thu 12-24 15:00: Fri 25 Christmas, Sat 26, Sun 27: Mon 28
    assert it.ship_date(local(ROME, "2026-12-24 15:00")) == d("2026-12-28")


# --- time zones from coordinates ---------------------------------------------------------


def test_time_zone_from_coordinates() -> None:
    """Without a time_zone a node's zone is the one its coordinates lie in; Phoenix keeps
    UTC-7 in March, so 20:59 UTC on Mon 2026-03-09 is 13:59 there (Denver, on daylight
    time, would read 14:59 and ship on Tuesday)."""
    assert str(days(where=LA).tz) == LOS_ANGELES
    assert str(days(where=ROME_DC, country="IT").tz) == ROME
    phoenix = days(where=(33.45, -112.07))
    assert str(phoenix.tz) == "America/Phoenix"
    assert phoenix.ship_date(utc("2026-03-09 20:59")) == d("2026-03-09")
    assert phoenix.ship_date(utc("2026-03-09 21:00")) == d("2026-03-10")
    assert str(zone_at(NYC_CUSTOMER.lat, NYC_CUSTOMER.lon)) == NEW_YORK


def test_kind_defaults() -> None:
    """A warehouse: 14:00 cut-off, Monday to Friday, no opening hours; a store: noon cut-off,
    every day 10:00-20:00, 60 minutes to a pickup, one receiving day."""
    wh = days(time_zone=NEW_YORK)
    assert (wh.cutoff, wh.opens, wh.closes) == (dt.time(14), None, None)
    assert wh.days.weekdays == (0, 1, 2, 3, 4)
    st = days("store", time_zone=NEW_YORK)
    assert (st.cutoff, st.opens, st.closes) == (dt.time(12), dt.time(10), dt.time(20))
    assert (st.pickup_minutes, st.receiving_days) == (60, 1)
    assert st.days.weekdays == (0, 1, 2, 3, 4, 5, 6)


# --- pickup: ready within opening hours ----------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "ready"),
    [
        ("2026-06-10 08:00", "2026-06-10 11:00"),  # before opening: opening 10:00 + 60 min
        ("2026-06-10 14:20", "2026-06-10 15:20"),  # during hours: + 60 min
        ("2026-06-10 19:00", "2026-06-10 20:00"),  # ready exactly at closing: still today
        ("2026-06-10 19:01", "2026-06-11 11:00"),  # 20:01 is past closing: tomorrow 11:00
        ("2026-06-10 21:00", "2026-06-11 11:00"),  # after closing
        # Thu 12-24 19:30: Christmas closed, Sat 12-26 at opening + 60 min
        ("2026-12-24 19:30", "2026-12-26 11:00"),
    ],
)
def test_pickup_ready_times(moment: str, ready: str) -> None:
    """A store hands a cart over 60 minutes after the later of the request and its opening,
    if that is by closing; else 60 minutes after its next opening."""
    store = days("store", time_zone=NEW_YORK)
    assert store.ready_for_pickup(local(NEW_YORK, moment)) == local(NEW_YORK, ready)


def test_pickup_on_closed_days_and_custom_hours() -> None:
    """Closed weekdays are skipped; hours and pickup minutes are the node's own."""
    store = days(
        "store", time_zone=NEW_YORK, closed_weekdays=(6,), opens=dt.time(9), closes=dt.time(17),
        pickup_minutes=30,
    )  # fmt: skip
    # Sat 06-13 16:45: 17:15 is past closing; Sun closed: Mon 06-15 09:30
    assert store.ready_for_pickup(local(NEW_YORK, "2026-06-13 16:45")) == local(
        NEW_YORK, "2026-06-15 09:30"
    )
    # Sun 06-14 12:00 (closed): Mon 09:30
    assert store.ready_for_pickup(local(NEW_YORK, "2026-06-14 12:00")) == local(
        NEW_YORK, "2026-06-15 09:30"
    )
    instant = days("store", time_zone=NEW_YORK, pickup_minutes=0)
    assert instant.ready_for_pickup(local(NEW_YORK, "2026-06-10 07:00")) == local(
        NEW_YORK, "2026-06-10 10:00"
    )
    assert days(time_zone=NEW_YORK).ready_for_pickup(local(NEW_YORK, "2026-06-10 12:00")) is None


def test_pickup_minutes_are_elapsed_time_across_dst() -> None:
    """A night store (01:00-05:00, 120 minutes): at 01:00 EST on Sun 2026-03-08 the cart is
    ready two elapsed hours later, 04:00 EDT (clocks jump 02:00 -> 03:00); at 00:30 EDT on
    Sun 2026-11-01 it is ready at 01:30 EST (clocks go back 02:00 -> 01:00)."""
    night = days(
        "store", time_zone=NEW_YORK, opens=dt.time(0, 30), closes=dt.time(5),
        pickup_minutes=120,
    )  # fmt: skip
    ready = night.ready_for_pickup(local(NEW_YORK, "2026-03-08 01:00"))
    assert ready is not None
    assert ready == utc("2026-03-08 08:00")  # 01:00 EST is 06:00 UTC, + 2 h
    assert (ready.time(), ready.utcoffset()) == (dt.time(4), dt.timedelta(hours=-4))
    ready = night.ready_for_pickup(local(NEW_YORK, "2026-11-01 00:30"))
    assert ready is not None
    # 00:30 EDT is 04:30 UTC, + 2 h (an ambiguous local time never equals another zone's
    # datetime under Python's comparison rules, so compare in UTC)
    assert ready.astimezone(dt.UTC) == utc("2026-11-01 06:30")
    assert (ready.time(), ready.utcoffset()) == (dt.time(1, 30), dt.timedelta(hours=-5))


# --- ship-to-store: out for pickup after the delivery ---------------------------------------


def test_ready_after_delivery() -> None:
    """A delivery is out for pickup `receiving_days` open days later at opening (with none,
    by closing that day, or the next open day's)."""
    one = days("store", time_zone=NEW_YORK)
    assert one.ready_after_delivery(d("2026-06-10")) == local(NEW_YORK, "2026-06-11 10:00")
    # delivered Thu 12-24: Fri 25 Christmas closed, so Sat 26 at opening
    assert one.ready_after_delivery(d("2026-12-24")) == local(NEW_YORK, "2026-12-26 10:00")
    same = days("store", time_zone=NEW_YORK, receiving_days=0)
    assert same.ready_after_delivery(d("2026-06-10")) == local(NEW_YORK, "2026-06-10 20:00")
    assert same.ready_after_delivery(d("2026-12-25")) == local(NEW_YORK, "2026-12-26 20:00")
    # two receiving days from Thu 12-24: Sat 26 (1), Sun 27 (2): Sun 27 10:00
    two = days("store", time_zone=NEW_YORK, receiving_days=2)
    assert two.ready_after_delivery(d("2026-12-24")) == local(NEW_YORK, "2026-12-27 10:00")
    # closed on Sundays, no receiving day, delivered on Sunday 06-14: Monday by closing
    sundays = days("store", time_zone=NEW_YORK, receiving_days=0, closed_weekdays=(6,))
    assert sundays.ready_after_delivery(d("2026-06-14")) == local(NEW_YORK, "2026-06-15 20:00")


# --- the whole path: node calendar, carrier days, transit by zone ---------------------------


def test_whole_path_before_and_after_cutoff() -> None:
    """New Jersey to New York (zone 2: ground 1, two-day 2, next-day 1, same-day 0 days) on
    Wed 2026-06-10, one minute either side of the cut-off."""
    nj = warehouse(NJ, NEW_YORK)
    before = ship_options(nj, NYC_CUSTOMER, local(NEW_YORK, "2026-06-10 13:59"))
    # ships Wed 10; ground Thu 11, window to Fri 12; two-day Fri 12; next-day Thu 11;
    # same-day Wed 10 (the courier works Monday to Saturday)
    assert dates(before["ground"]) == (d("2026-06-10"), d("2026-06-11"), d("2026-06-12"))
    assert dates(before["two_day"]) == (d("2026-06-10"), d("2026-06-12"), d("2026-06-12"))
    assert dates(before["next_day"]) == (d("2026-06-10"), d("2026-06-11"), d("2026-06-11"))
    assert dates(before["same_day"]) == (d("2026-06-10"), d("2026-06-10"), d("2026-06-10"))
    after = ship_options(nj, NYC_CUSTOMER, local(NEW_YORK, "2026-06-10 14:00"))
    # ships Thu 11; ground Fri 12, window to Mon 15; two-day Mon 15; same-day Thu 11
    assert dates(after["ground"]) == (d("2026-06-11"), d("2026-06-12"), d("2026-06-15"))
    assert dates(after["two_day"]) == (d("2026-06-11"), d("2026-06-15"), d("2026-06-15"))
    assert dates(after["same_day"]) == (d("2026-06-11"), d("2026-06-11"), d("2026-06-11"))
    window = before["ground"].delivery
    assert window is not None
    assert (window.by, window.time_zone) == (dt.time(20), NEW_YORK)


def test_whole_path_friday_after_cutoff() -> None:
    """Fri 2026-06-12 15:00: ships Mon 06-15; ground (1 day) Tue 16, window to Wed 17;
    two-day Wed 17."""
    found = ship_options(warehouse(NJ, NEW_YORK), NYC_CUSTOMER, local(NEW_YORK, "2026-06-12 15:00"))
    assert dates(found["ground"]) == (d("2026-06-15"), d("2026-06-16"), d("2026-06-17"))
    assert dates(found["two_day"]) == (d("2026-06-15"), d("2026-06-17"), d("2026-06-17"))


def test_whole_path_us_christmas_and_new_year() -> None:
    """The carrier keeps US holidays too: a parcel shipped Thu 12-24 is not delivered on
    Christmas, one shipped Thu 12-31 not on New Year's Day."""
    nj = warehouse(NJ, NEW_YORK)
    eve = ship_options(nj, NYC_CUSTOMER, local(NEW_YORK, "2026-12-24 10:00"))
    # ships Thu 24; ground 1 day: Fri 25 Christmas, weekend: Mon 28, window to Tue 29;
    # two-day: Mon 28 (1), Tue 29 (2)
    assert dates(eve["ground"]) == (d("2026-12-24"), d("2026-12-28"), d("2026-12-29"))
    assert dates(eve["two_day"]) == (d("2026-12-24"), d("2026-12-29"), d("2026-12-29"))
    # same-day works Saturdays but not on Christmas: the 24th itself
    assert dates(eve["same_day"]) == (d("2026-12-24"), d("2026-12-24"), d("2026-12-24"))
    late = ship_options(nj, NYC_CUSTOMER, local(NEW_YORK, "2026-12-24 15:00"))
    # ships Mon 28; ground Tue 29, window to Wed 30
    assert dates(late["ground"]) == (d("2026-12-28"), d("2026-12-29"), d("2026-12-30"))
    nye = ship_options(nj, NYC_CUSTOMER, local(NEW_YORK, "2026-12-31 10:00"))
    # ships Thu 31; ground: Fri 01-01 New Year, weekend: Mon 2027-01-04, window to Tue 05
    assert dates(nye["ground"]) == (d("2026-12-31"), d("2027-01-04"), d("2027-01-05"))
    # same-day courier: the 31st; next-day: Mon 01-04
    assert dates(nye["next_day"]) == (d("2026-12-31"), d("2027-01-04"), d("2027-01-04"))


def test_whole_path_independence_day_observed() -> None:
    """Thu 2026-07-02 10:00 ships that day; ground's 1 day skips Fri 07-03 (observed) and
    the weekend: Mon 07-06. The same-day courier works Saturdays, but not Sat 07-04."""
    found = ship_options(warehouse(NJ, NEW_YORK), NYC_CUSTOMER, local(NEW_YORK, "2026-07-02 10:00"))
    assert dates(found["ground"]) == (d("2026-07-02"), d("2026-07-06"), d("2026-07-07"))
    daily = Node("ST", "store", *NJ, calendar=NodeCalendar(time_zone=NEW_YORK))
    # a store open every day ships Sat 07-04 (11:00, before its noon cut-off; stores keep
    # holidays too: 07-03 and 07-04 are closed, so Sun 07-05); same-day: Mon 07-06
    sat = ship_options(daily, NYC_CUSTOMER, local(NEW_YORK, "2026-07-04 11:00"))
    assert dates(sat["same_day"]) == (d("2026-07-05"), d("2026-07-06"), d("2026-07-06"))


def test_whole_path_memorial_day_with_a_node_working_holidays() -> None:
    """A warehouse that works public holidays ships on Memorial Day, but the carrier picks
    up on Tue 05-26 and delivers ground (1 day) on Wed 05-27."""
    found = ship_options(
        warehouse(NJ, NEW_YORK, public_holidays=False), NYC_CUSTOMER,
        local(NEW_YORK, "2026-05-22 15:00"),
    )  # fmt: skip
    assert dates(found["ground"]) == (d("2026-05-25"), d("2026-05-27"), d("2026-05-28"))
    keeps = ship_options(warehouse(NJ, NEW_YORK), NYC_CUSTOMER, local(NEW_YORK, "2026-05-22 15:00"))
    # keeping Memorial Day: ships Tue 05-26, ground Wed 27
    assert dates(keeps["ground"]) == (d("2026-05-26"), d("2026-05-27"), d("2026-05-28"))


def test_whole_path_los_angeles_to_new_york() -> None:
    """LA to New York is zone 8 (ground 5 days). At 16:30 New York time on Wed 06-10 (13:30
    in LA) it ships Wed: Thu 11 (1), Fri 12 (2), Mon 15 (3), Tue 16 (4), Wed 17 (5), window
    to Thu 18, in the customer's zone. At 17:00 (14:00 in LA): ships Thu, delivered Thu 18,
    window to Mon 22 (Fri 06-19 is Juneteenth)."""
    la = warehouse(LA, LOS_ANGELES)
    found = ship_options(la, NYC_CUSTOMER, local(NEW_YORK, "2026-06-10 16:30"))
    assert dates(found["ground"]) == (d("2026-06-10"), d("2026-06-17"), d("2026-06-18"))
    window = found["ground"].delivery
    assert window is not None
    assert window.time_zone == NEW_YORK
    assert found["ground"].shipments[0].zone == 8
    late = ship_options(la, NYC_CUSTOMER, local(NEW_YORK, "2026-06-10 17:00"))
    assert dates(late["ground"]) == (d("2026-06-11"), d("2026-06-18"), d("2026-06-22"))
    assert "same_day" not in late  # zone 8 is beyond the courier's zone 2


def test_whole_path_zone_from_coordinates() -> None:
    """An LA warehouse without a time zone takes Pacific time from its coordinates: the same
    answers as with the zone given."""
    found = ship_options(warehouse(LA, None), NYC_CUSTOMER, local(NEW_YORK, "2026-06-10 16:30"))
    assert dates(found["ground"]) == (d("2026-06-10"), d("2026-06-17"), d("2026-06-18"))
    late = ship_options(warehouse(LA, None), NYC_CUSTOMER, local(NEW_YORK, "2026-06-10 17:00"))
    assert dates(late["ground"])[0] == d("2026-06-11")


def test_whole_path_us_dst() -> None:
    """Mon 2026-03-09 18:30 UTC is 14:30 EDT: ships Tue 03-10, ground Wed 03-11; Mon
    2026-11-02 18:30 UTC is 13:30 EST: ships that Monday, ground Tue 11-03."""
    nj = warehouse(NJ, NEW_YORK)
    spring = ship_options(nj, NYC_CUSTOMER, utc("2026-03-09 18:30"))
    assert dates(spring["ground"]) == (d("2026-03-10"), d("2026-03-11"), d("2026-03-12"))
    autumn = ship_options(nj, NYC_CUSTOMER, utc("2026-11-02 18:30"))
    assert dates(autumn["ground"]) == (d("2026-11-02"), d("2026-11-03"), d("2026-11-04"))


def test_whole_path_italy_christmas() -> None:
    """Rome to Milan is IT zone 3 (standard 2 days, window 1; express 1). Thu 12-24 11:00
    Rome, before the cut-off: ships the 24th; standard: 25th Christmas, 26th Saint Stephen
    (Sat), 27th Sun, so Mon 28th and Tue 29th, window to Wed 30; express Mon 28."""
    rome = warehouse(ROME_DC, ROME)
    found = ship_options(rome, MILAN_CUSTOMER, local(ROME, "2026-12-24 11:00"), IT)
    assert found["standard"].shipments[0].zone == 3
    assert dates(found["standard"]) == (d("2026-12-24"), d("2026-12-29"), d("2026-12-30"))
    assert dates(found["express"]) == (d("2026-12-24"), d("2026-12-28"), d("2026-12-28"))
    window = found["standard"].delivery
    assert window is not None
    assert window.time_zone == ROME
    late = ship_options(rome, MILAN_CUSTOMER, local(ROME, "2026-12-24 14:00"), IT)
    # ships Mon 28; standard Tue 29 (1), Wed 30 (2), window to Thu 31; express Tue 29
    assert dates(late["standard"]) == (d("2026-12-28"), d("2026-12-30"), d("2026-12-31"))
    assert dates(late["express"]) == (d("2026-12-28"), d("2026-12-29"), d("2026-12-29"))


def test_whole_path_italy_new_year() -> None:
    """Thu 12-31 13:00 Rome ships that day; standard (2 days): Fri 01-01, weekend, Mon 04
    (1), Tue 05 (2); window: Wed 06 Epiphany, so Thu 2027-01-07."""
    found = ship_options(
        warehouse(ROME_DC, ROME), MILAN_CUSTOMER, local(ROME, "2026-12-31 13:00"), IT
    )
    assert dates(found["standard"]) == (d("2026-12-31"), d("2027-01-05"), d("2027-01-07"))
    assert dates(found["express"]) == (d("2026-12-31"), d("2027-01-04"), d("2027-01-04"))


def test_whole_path_europe_dst() -> None:
    """Mon 2026-03-30 12:30 UTC is 14:30 in Rome: ships Tue 03-31, standard Wed 04-01 (1),
    Thu 04-02 (2); Mon 2026-10-26 12:30 UTC is 13:30: ships Mon, standard Wed 10-28."""
    rome = warehouse(ROME_DC, ROME)
    spring = ship_options(rome, MILAN_CUSTOMER, utc("2026-03-30 12:30"), IT)
    assert dates(spring["standard"])[:2] == (d("2026-03-31"), d("2026-04-02"))
    autumn = ship_options(rome, MILAN_CUSTOMER, utc("2026-10-26 12:30"), IT)
    assert dates(autumn["standard"])[:2] == (d("2026-10-26"), d("2026-10-28"))


def test_whole_path_same_day_level() -> None:
    """Same-day (transit 0, Monday to Saturday): a Rome store ships a Rome order (zone 1)
    placed Sat 2026-06-13 at 11:00 that day; at 12:00, after the store's noon cut-off, it
    ships Sun 06-14 and the courier delivers Mon 06-15."""
    store = Node("ST", "store", *ROME_DC, calendar=NodeCalendar(time_zone=ROME))
    near = Destination(41.89, 12.48)
    found = ship_options(store, near, local(ROME, "2026-06-13 11:00"), IT)
    assert found["same_day"].shipments[0].zone == 1
    assert dates(found["same_day"]) == (d("2026-06-13"), d("2026-06-13"), d("2026-06-13"))
    late = ship_options(store, near, local(ROME, "2026-06-13 12:00"), IT)
    assert dates(late["same_day"]) == (d("2026-06-14"), d("2026-06-15"), d("2026-06-15"))
    # standard (1 day in zone 1): picked up Mon 15, delivered Tue 16, window to Wed 17
    assert dates(late["standard"]) == (d("2026-06-14"), d("2026-06-16"), d("2026-06-17"))


def test_whole_path_processing_days_and_milan_holiday() -> None:
    """A Milan warehouse (MI) with one processing day, Fri 2026-12-04 10:00: released Fri,
    +1 open day: weekend, Mon 07 Saint Ambrose, Tue 08 Immaculate Conception: ships Wed 09.
    To a Milan customer (zone 1, standard 1 day): Thu 12-10."""
    milan = warehouse((45.48, 9.20), ROME, subdivision="MI", processing_days=1)
    found = ship_options(milan, MILAN_CUSTOMER, local(ROME, "2026-12-04 10:00"), IT)
    assert dates(found["standard"])[:2] == (d("2026-12-09"), d("2026-12-10"))


# --- small pieces --------------------------------------------------------------------------


def test_workdays_arithmetic() -> None:
    """next_open rolls forward to an open day; add(n) counts n open days after it."""
    week = WorkDays((0, 1, 2, 3, 4), [d("2026-06-15")])
    assert week.next_open(d("2026-06-13")) == d("2026-06-16")  # Sat -> (Mon closed) Tue
    assert week.next_open(d("2026-06-12")) == d("2026-06-12")
    assert week.add(d("2026-06-12"), 1) == d("2026-06-16")
    assert week.add(d("2026-06-13"), 0) == d("2026-06-16")
    assert not week.is_open(d("2026-06-15"))
    with pytest.raises(ValueError, match="at least one working weekday"):
        WorkDays((), [])


def test_calendar_checks_name_what_cannot_be_used() -> None:
    """An unknown zone, a region without holidays and a week with no open day are named."""
    assert check_time_zone("Europe/Rome") is None
    assert "Mars/Olympus" in str(check_time_zone("Mars/Olympus"))
    assert check_region("IT", "MI") is None
    assert "XX" in str(check_region("XX", None))
    assert "ZZ" in str(check_region("IT", "ZZ"))
    found = calendar_checks(
        NodeCalendar(time_zone="Nowhere/Place", subdivision="ZZ", closed_weekdays=tuple(range(7))),
        "store", "IT",
    )  # fmt: skip
    assert len(found) == 3
    assert "time_zone 'Nowhere/Place'" in found[0]
    assert "subdivision 'ZZ'" in found[1]
    assert "closed_weekdays" in found[2]
    # public_holidays off: no region is needed
    unchecked = NodeCalendar(country="XX", public_holidays=False)
    assert calendar_checks(unchecked, "warehouse", "US") == []


def test_node_calendar_data_round_trip() -> None:
    """to_data writes only what differs from the defaults; from_data reads it back."""
    cal = NodeCalendar(
        time_zone=ROME, cutoff=dt.time(13, 30), processing_days=1, opens=dt.time(9),
        closes=dt.time(19, 30), closed_weekdays=(6, 0, 6), country="IT", subdivision="MI",
        closed_dates=(d("2026-08-14"), d("2026-08-13")), pickup_minutes=45, receiving_days=2,
    )  # fmt: skip
    data = cal.to_data()
    assert data == {
        "time_zone": ROME, "cutoff": "13:30", "processing_days": 1, "opens": "09:00",
        "closes": "19:30", "closed_weekdays": ["mon", "sun"], "country": "IT",
        "subdivision": "MI", "closed_dates": ["2026-08-13", "2026-08-14"],
        "pickup_minutes": 45, "receiving_days": 2,
    }  # fmt: skip
    assert NodeCalendar.from_data(data) == cal
    assert NodeCalendar().to_data() == {}
    assert NodeCalendar(public_holidays=False).to_data() == {"public_holidays": False}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cutoff": "2pm"}, "cutoff: expected a local time as HH:MM"),
        ({"closed_weekdays": ["funday"]}, "closed_weekdays: expected weekday names"),
        ({"closed_dates": ["2026-13-01"]}, "closed_dates: expected dates as YYYY-MM-DD"),
        ({"opens": "10:00"}, "give both opens and closes"),
        ({"opens": "18:00", "closes": "09:00"}, "opens must be before closes"),
        ({"processing_days": -1}, "processing_days and receiving_days must be >= 0"),
        ({"colour": "red"}, "unknown field colour"),
    ],
)
def test_node_calendar_refuses_bad_data(data: dict[str, object], message: str) -> None:
    """A calendar that cannot be read is a ValueError naming the field."""
    with pytest.raises(ValueError, match=message):
        NodeCalendar.from_data(data)
