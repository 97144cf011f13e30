"""The promise's parts of the exchange format: node calendars (CalendarSpec), the carrier
(CarrierSpec, service levels), a destination's country (DestinationSpec.country), and the
carrier as the live service stores it (network_carrier_to_data / _from_data)."""

import datetime as dt
from typing import Any

import numpy as np
import pytest

from sourcing_engine.cost_models import LinearCost
from sourcing_engine.cost_models.parcel import IT_ZONE_BANDS_MILES, default_it_express
from sourcing_engine.domain import NodeCalendar
from sourcing_engine.errors import InputError
from sourcing_engine.exchange import (
    network_carrier_from_data,
    network_carrier_to_data,
    problem_from_data,
    problem_to_data,
)
from sourcing_engine.promise.carriers import default_carrier
from tests.sourcing_engine.test_exchange import Doc, read, valid_doc


def problems_of(doc: Doc) -> list[str]:
    with pytest.raises(InputError) as err:
        read(doc)
    return err.value.problems


def test_a_node_calendar_is_read_and_written_back() -> None:
    """Every calendar field reaches the node; writing the batch gives the same calendar
    (only the fields that differ from the defaults)."""
    doc = valid_doc()
    calendar = {
        "time_zone": "America/New_York", "cutoff": "13:30", "processing_days": 1,
        "opens": "09:00", "closes": "18:00", "closed_weekdays": ["sat", "sun"],
        "country": "US", "subdivision": "NJ", "closed_dates": ["2026-11-27"],
        "pickup_minutes": 30, "receiving_days": 2,
    }  # fmt: skip
    doc["nodes"][0]["calendar"] = calendar
    batch = read(doc)
    assert batch.nodes[0].calendar == NodeCalendar(
        time_zone="America/New_York", cutoff=dt.time(13, 30), processing_days=1,
        opens=dt.time(9), closes=dt.time(18), closed_weekdays=(5, 6), country="US",
        subdivision="NJ", closed_dates=(dt.date(2026, 11, 27),), pickup_minutes=30,
        receiving_days=2,
    )  # fmt: skip
    assert batch.nodes[1].calendar == NodeCalendar()
    written = problem_to_data(batch)
    assert written["nodes"][0]["calendar"] == calendar
    assert "calendar" not in written["nodes"][1]
    assert problem_from_data(written).nodes == batch.nodes


@pytest.mark.parametrize(
    ("calendar", "problem"),
    [
        ({"time_zone": "Mars/Olympus"},
         "nodes[0] (id \"DC-NJ\").calendar: time_zone 'Mars/Olympus': expected an IANA name"),
        ({"subdivision": "ZZ"}, "nodes[0] (id \"DC-NJ\").calendar: subdivision 'ZZ': not a region"),
        ({"country": "XX"}, "nodes[0] (id \"DC-NJ\").calendar: country 'XX'"),
        ({"closed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
         "nodes[0] (id \"DC-NJ\").calendar: closed_weekdays: mon, tue"),
        ({"opens": "10:00"}, "nodes[0] (id \"DC-NJ\").calendar: give both opens and closes"),
        ({"opens": "18:00", "closes": "09:00"},
         "nodes[0] (id \"DC-NJ\").calendar: opens must be before closes"),
        ({"cutoff": "24:00"}, "nodes[0] (id \"DC-NJ\").calendar.cutoff"),
        ({"closed_weekdays": ["funday"]}, "nodes[0] (id \"DC-NJ\").calendar.closed_weekdays[0]"),
        ({"processing_days": -1}, "nodes[0] (id \"DC-NJ\").calendar.processing_days"),
        ({"colour": "red"}, "nodes[0] (id \"DC-NJ\").calendar.colour"),
    ],
)  # fmt: skip
def test_a_bad_calendar_is_named(calendar: dict[str, Any], problem: str) -> None:
    """A calendar that cannot be used is one problem naming the node and the field."""
    doc = valid_doc()
    doc["nodes"][0]["calendar"] = calendar
    found = problems_of(doc)
    assert any(p.startswith(problem) for p in found), found


def test_the_carrier_of_a_problem() -> None:
    """carrier {"country": "IT"} on the Italian card is the Italian demo carrier; left out,
    the batch has none (the US demo carrier's levels apply); it is written back."""
    doc = valid_doc()
    doc["cost_model"] = {"type": "parcel", "rate_card": "it-express"}
    doc["carrier"] = {"country": "IT"}
    for order in doc["orders"]:
        order["destination"] = {"lat": 45.46, "lon": 9.19}
    batch = read(doc)
    assert batch.carrier == default_carrier("IT", default_it_express())
    assert problem_to_data(batch)["carrier"] == {"country": "IT"}
    assert read(valid_doc()).carrier is None


def test_custom_service_levels() -> None:
    """Service levels given in full: transit by zone, weekdays, holidays, rate, window,
    delivery time, zones served, the ship-to-store level; written back as given."""
    doc = valid_doc()
    levels = [
        {"name": "eco", "transit_days": [2, 3, 4, 5, 6, 7, 8], "delivery_weekdays": ["tue", "thu"],
         "holidays": False, "closed_dates": ["2026-12-24"], "rate_factor": 0.8,
         "window_days": 2, "delivery_by": "18:00", "max_zone": None},
        {"name": "courier", "transit_days": [0, 0, 0, 0, 0, 0, 0],
         "delivery_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
         "holidays": True, "closed_dates": [], "rate_factor": 4.0, "window_days": 0,
         "delivery_by": "22:00", "max_zone": 3},
    ]  # fmt: skip
    doc["carrier"] = {"country": "US", "subdivision": "NY", "service_levels": levels,
                      "ship_to_store": "eco"}  # fmt: skip
    carrier = read(doc).carrier
    assert carrier is not None
    eco = carrier.level("eco")
    assert (eco.delivery_weekdays, eco.holidays, eco.closed_dates) == (
        (1, 3), False, (dt.date(2026, 12, 24),),
    )  # fmt: skip
    assert (eco.rate_factor, eco.window_days, eco.delivery_by) == (0.8, 2, dt.time(18))
    assert carrier.level("courier").max_zone == 3
    assert carrier.transit.days["eco"] == (2, 3, 4, 5, 6, 7, 8)
    assert (carrier.store_level.name, carrier.subdivision) == ("eco", "NY")
    assert problem_to_data(read(doc))["carrier"] == doc["carrier"]


@pytest.mark.parametrize(
    ("carrier", "problem"),
    [
        ({"country": "XX"}, "country 'XX'"),
        ({"country": "IT", "subdivision": "ZZ"}, "subdivision 'ZZ'"),
        ({"service_levels": [{"name": "a", "transit_days": [1, 2]},
                             {"name": "b", "transit_days": [1]}]},
         "carrier.service_levels[*].transit_days: expected the same number of zones"),
        ({"service_levels": [{"name": "a", "transit_days": [1]}], "ship_to_store": "b"},
         "carrier: ship_to_store: 'b' is not a service level"),
        ({"service_levels": [{"name": "a", "transit_days": [1]},
                             {"name": "a", "transit_days": [2]}]},
         "carrier: service level names must differ"),
        ({"service_levels": []}, "carrier.service_levels"),
    ],
)  # fmt: skip
def test_a_bad_carrier_is_named(carrier: dict[str, Any], problem: str) -> None:
    """A carrier that cannot be used is a problem saying what is wrong with it."""
    doc = valid_doc()
    doc["carrier"] = carrier
    found = problems_of(doc)
    assert any(problem in p for p in found), found


def test_a_postal_code_is_read_with_its_country() -> None:
    """A postal code of another country than the US is refused, naming the order and
    asking for coordinates; without a country it is the carrier's country's (a US network
    reads 20121 as a Virginia ZIP, an Italian one refuses it)."""
    doc = valid_doc()
    doc["orders"][1]["destination"] = {"lat": 40.75, "lon": -73.99}
    doc["orders"][0]["destination"] = {"zip": "20121", "country": "IT"}
    (problem,) = problems_of(doc)
    assert problem.startswith("orders[0] (id \"A-1001\").destination.zip: '20121' is a postal")
    assert "give the destination's lat and lon instead" in problem
    doc["orders"][0]["destination"] = {"zip": "20121"}
    assert read(doc).orders[0].destination.zip == "20121"  # Virginia, on a US network
    doc["carrier"] = {"country": "IT"}
    (problem,) = problems_of(doc)
    assert "'20121' is a postal code of IT" in problem
    doc["orders"][0]["destination"] = {"zip": "20121", "country": "US"}
    assert read(doc).orders[0].destination.zip == "20121"


@pytest.mark.parametrize("country", ["US", "IT"])
def test_the_stored_carrier_round_trips(country: str) -> None:
    """The carrier as the service stores it (with its rate card) reads back equal."""
    carrier = default_carrier(country)
    assert network_carrier_from_data(network_carrier_to_data(carrier)) == carrier


def test_a_broken_stored_carrier_is_an_input_error() -> None:
    """A stored carrier that cannot be read says so."""
    with pytest.raises(InputError, match="stored carrier"):
        network_carrier_from_data({"country": "US"})


def test_an_italian_carrier_on_the_linear_model_keeps_italian_zones() -> None:
    """IT over a linear model zones by Italy's bands from zone 1 (100 mi: zone 2, standard
    2 days), from the demo carrier, a stored carrier and a problem file alike."""
    lin = LinearCost(per_shipment=5.0, per_unit=1.0, per_unit_mile=0.001, currency="EUR")
    carrier = default_carrier("IT", lin)
    assert network_carrier_from_data(network_carrier_to_data(carrier)) == carrier
    doc = valid_doc()
    doc["cost_model"] = {"type": "linear", "per_shipment": 5.0, "per_unit": 1.0,
                         "per_unit_mile": 0.001, "currency": "EUR"}  # fmt: skip
    doc["carrier"] = {"country": "IT"}
    for order in doc["orders"]:
        order["destination"] = {"lat": 45.46, "lon": 9.19}
    back = read(doc).carrier
    assert back is not None
    assert back.zone_bands_miles == IT_ZONE_BANDS_MILES
    zone = back.zone(np.array([100.0]))
    assert zone.tolist() == [2]
    assert back.transit_days(back.level("standard"), zone).tolist() == [2]
