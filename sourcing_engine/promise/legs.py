"""Dates of a leg between two nodes: a transfer order, or a pickup order's shipment to its
pickup store. The leg is dated as a ship-to-store promise dates its shipments: processed
from `at` on the source's calendar (cut-off, processing days, open days), carried at the
carrier's store level over the distance's zone on that level's working days, then received
at the destination."""

import datetime as dt

import numpy as np

from sourcing_engine.cost_models import haversine_miles
from sourcing_engine.promise.carriers import level_days
from sourcing_engine.promise.network import PromiseNetwork, year_of

END_OF_DAY = dt.time(23, 59, 59)


def leg_delivered(net: PromiseNetwork, source: int, destination: int, at: dt.datetime) -> dt.date:
    """The local date a leg handed to the source at `at` is delivered at the destination."""
    n, carrier, year = net.network, net.carrier, year_of(at)
    miles = haversine_miles(n.lat[source], n.lon[source], n.lat[destination], n.lon[destination])
    zone = carrier.zone(np.array([float(miles)]))
    level = carrier.store_level
    ships = net.days(source, year).ship_date(at)
    return level_days(carrier, level, year).add(ships, int(carrier.transit_days(level, zone)[0]))


def leg_arrival(net: PromiseNetwork, source: int, destination: int, at: dt.datetime) -> dt.datetime:
    """When a leg's units are received at the destination, in its time: a store with
    opening hours has them out `receiving_days` after the delivery (as ship-to-store
    promises them); a node without opening hours at the end of the delivery day."""
    delivered = leg_delivered(net, source, destination, at)
    days = net.days(destination, delivered.year)
    if days.opens is None or days.closes is None:
        return days.at_time(delivered, END_OF_DAY)
    return days.ready_after_delivery(delivered)
