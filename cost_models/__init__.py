"""Cost models: what a shipment, a unit left unfilled and a split cost.

Numbers in, numbers out: every function works on numpy arrays and never imports the
domain (`sourcing_engine`) or the solvers.
"""

from sourcing_engine.cost_models.base import ShipmentCostModel
from sourcing_engine.cost_models.geo import EARTH_RADIUS_MILES, haversine_miles
from sourcing_engine.cost_models.handling import handling_cost
from sourcing_engine.cost_models.linear import LinearCost, ScaledCost
from sourcing_engine.cost_models.objective import OrderPenalties
from sourcing_engine.cost_models.parcel import (
    US_ZONE_BANDS_MILES,
    ParcelCost,
    billable_weight_lb,
    default_us_ground,
    zone_for_distance,
)
from sourcing_engine.cost_models.transit import TransitTable, default_us_transit

__all__ = [
    "EARTH_RADIUS_MILES",
    "US_ZONE_BANDS_MILES",
    "LinearCost",
    "OrderPenalties",
    "ParcelCost",
    "ScaledCost",
    "ShipmentCostModel",
    "TransitTable",
    "billable_weight_lb",
    "default_us_ground",
    "default_us_transit",
    "handling_cost",
    "haversine_miles",
    "zone_for_distance",
]
