"""Parcel rate cards: zones, billable weight, rate lookup, surcharges and validation."""

import math
from typing import Any

import numpy as np
import pytest

from sourcing_engine.cost_models import (
    US_ZONE_BANDS_MILES,
    ParcelCost,
    billable_weight_lb,
    default_us_ground,
    zone_for_distance,
)
from sourcing_engine.cost_models.parcel import IT_ZONE_BANDS_MILES, default_it_express

# A small card: zone 2 up to 100 miles, zone 3 beyond; 1, 2 and 3 lb columns.
SMALL_RATES = ((5.0, 6.0, 8.0), (7.0, 9.0, 12.0))


def small_card(**overrides: Any) -> ParcelCost:
    args: dict[str, Any] = {"rates": SMALL_RATES, "zone_bands_miles": (100.0,)}
    return ParcelCost(**(args | overrides))


# --- zones -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("miles", "zone"),
    [
        (0.0, 2),  # 0 <= 150
        (150.0, 2),  # bands are inclusive upper bounds: 150 <= 150
        (150.01, 3),  # 150 < 150.01 <= 300
        (300.0, 3),
        (300.01, 4),
        (600.0, 4),
        (1000.0, 5),
        (1400.0, 6),
        (1800.0, 7),  # last band, inclusive
        (1800.01, 8),  # beyond the last band: 2 + len(bands) = 2 + 6 = 8
        (12437.0, 8),  # half the Earth away
    ],
)
def test_us_zone_at_band_boundaries(miles: float, zone: int) -> None:
    """US ground zones follow the inclusive band bounds 150/300/600/1000/1400/1800."""
    assert int(zone_for_distance(miles)) == zone


def test_zone_is_vectorized() -> None:
    """zone_for_distance maps an array of distances to an int64 array of the same shape."""
    zones = zone_for_distance(np.array([[0.0, 150.0], [150.01, 5000.0]]))
    assert zones.dtype == np.int64
    np.testing.assert_array_equal(zones, [[2, 2], [3, 8]])


@pytest.mark.parametrize(
    ("miles", "zone"),
    [
        (62.0, 1),  # first_zone 1 up to 62 miles
        (62.01, 2),
        (186.0, 2),
        (373.0, 3),
        (373.01, 4),  # 1 + len(bands) = 1 + 3 = 4
    ],
)
def test_custom_bands_and_first_zone(miles: float, zone: int) -> None:
    """Custom bands with first_zone 1 number zones 1..1+len(bands)."""
    assert int(zone_for_distance(miles, IT_ZONE_BANDS_MILES, first_zone=1)) == zone


def test_single_band() -> None:
    """One band gives two zones: first_zone up to it, first_zone + 1 beyond."""
    np.testing.assert_array_equal(zone_for_distance([10.0, 10.5], (10.0,), first_zone=5), [5, 6])


def test_card_zone_uses_its_bands() -> None:
    """ParcelCost.zone applies the card's own bands and first zone."""
    np.testing.assert_array_equal(small_card().zone([100.0, 100.01]), [2, 3])


# --- billable weight -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "volume", "billable"),
    [
        (3.2, 0.0, 4),  # ceil(3.2) = 4
        (3.0, 0.0, 3),  # whole pounds stay
        (1.0, 12 * 12 * 12, 13),  # dimensional: 1728 / 139 = 12.43 -> 13 > 1
        (20.0, 12 * 12 * 12, 20),  # actual 20 > dimensional 12.43
        (0.5, 139 * 3, 3),  # 417 / 139 = 3 exactly -> 3
        (0.5, 139 * 3 + 1, 4),  # 418 / 139 = 3.007 -> 4
        (2.0000000001, 0.0, 2),  # float noise above a whole pound stays at 2
        (sum([0.1] * 20), 0.0, 2),  # 0.1 * 20 summed = 2.0000000000000004 -> 2
        (2.001, 0.0, 3),  # a real thousandth of a pound is billed: ceil(2.001) = 3
        (0.0, 0.0, 1),  # at least 1 lb
        (0.2, 10.0, 1),  # max(0.2, 10 / 139 = 0.07) = 0.2 -> ceil 1
    ],
)
def test_billable_weight(weight: float, volume: float, billable: int) -> None:
    """Billable weight is max(actual, volume / 139) rounded up, at least 1 lb."""
    assert int(billable_weight_lb(weight, volume)) == billable


def test_billable_weight_custom_divisor() -> None:
    """The dim divisor is a parameter: 1728 in3 / 166 = 10.41 -> 11 lb."""
    assert int(billable_weight_lb(1.0, 1728.0, dim_divisor=166.0)) == 11


def test_billable_weight_is_vectorized() -> None:
    """Weights and volumes broadcast and the result is int64."""
    b = billable_weight_lb(np.array([1.0, 5.5, 0.1]), np.array([[0.0], [1390.0]]))
    assert b.dtype == np.int64
    # row 0: ceil(1), ceil(5.5), 1 lb minimum; row 1: dimensional 1390 / 139 = 10 each
    np.testing.assert_array_equal(b, [[1, 6, 1], [10, 10, 10]])


@pytest.mark.parametrize(("weight", "volume"), [(math.inf, 0.0), (math.nan, 0.0), (1.0, math.inf)])
def test_billable_weight_rejects_non_finite(weight: float, volume: float) -> None:
    """A weight or volume that is not finite raises instead of casting to a garbage integer."""
    with pytest.raises(ValueError, match="finite"):
        billable_weight_lb(weight, volume)


# --- rates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "lb", "price"),
    [
        (2, 1, 5.0),  # rates[0][0]
        (2, 3, 8.0),  # rates[0][2], the table's last weight
        (3, 2, 9.0),  # rates[1][1]
        (2, 4, 10.0),  # beyond the table: 8 + (4 - 3) * (8 - 6) = 10
        (2, 10, 22.0),  # 8 + (10 - 3) * 2 = 22
        (3, 5, 18.0),  # 12 + (5 - 3) * (12 - 9) = 18
    ],
)
def test_rate_lookup_and_extrapolation(zone: int, lb: int, price: float) -> None:
    """rates[zone][lb - 1], continuing at the last step beyond the table."""
    assert float(small_card().rate(zone, lb)) == pytest.approx(price)


def test_rate_is_vectorized() -> None:
    """Zones and weights broadcast in rate()."""
    prices = small_card().rate(np.array([[2], [3]]), np.array([1, 3, 4]))
    # zone 2: 5, 8, 8 + 2 = 10; zone 3: 7, 12, 12 + 3 = 15
    np.testing.assert_allclose(prices, [[5.0, 8.0, 10.0], [7.0, 12.0, 15.0]])


def test_one_weight_table_is_flat_beyond() -> None:
    """A table with only the 1 lb price charges that price for every weight."""
    card = small_card(rates=((5.0,), (7.0,)))
    np.testing.assert_allclose(card.rate(2, [1, 2, 50]), [5.0, 5.0, 5.0])
    assert card.max_table_weight_lb == 1


@pytest.mark.parametrize(
    ("zone", "lb", "message"),
    [
        (1, 1, "zone must be between 2 and 3, got 1"),
        (4, 1, "zone must be between 2 and 3, got 4"),
        (2, 0, "billable weight must be at least 1 lb, got 0"),
        (2, -3, "billable weight must be at least 1 lb, got -3"),
    ],
)
def test_rate_rejects_zone_or_weight_outside_the_card(zone: int, lb: int, message: str) -> None:
    """A zone the card lacks or a weight below 1 lb raises instead of wrapping to the last row."""
    with pytest.raises(ValueError, match=message):
        small_card().rate(zone, lb)


# --- surcharges ------------------------------------------------------------------------


def test_fuel_and_residential_surcharges() -> None:
    """price = (rate + residential surcharge if residential) * (1 + fuel% / 100)."""
    card = small_card(fuel_surcharge_pct=10.0, residential_surcharge=2.0)
    cost = card.shipment_cost(
        distance_miles=np.array([50.0, 50.0, 150.0, 150.0]),
        weight_lb=np.array([2.5, 2.5, 2.5, 2.5]),
        volume_in3=np.zeros(4),
        units=np.ones(4),
        residential=np.array([True, False, True, False]),
    )
    # 2.5 lb -> 3 lb.  zone 2: (8 + 2) * 1.1 = 11.0, 8 * 1.1 = 8.8
    #                  zone 3: (12 + 2) * 1.1 = 15.4, 12 * 1.1 = 13.2
    np.testing.assert_allclose(cost, [11.0, 8.8, 15.4, 13.2])


def test_shipment_cost_uses_dimensional_weight() -> None:
    """A light bulky parcel is priced at its dimensional weight."""
    cost = small_card().shipment_cost(
        np.array(10.0), np.array(0.5), np.array(139.0 * 4), np.array(1), np.array(False)
    )
    # billable max(0.5, 556 / 139 = 4) = 4 lb, zone 2: 8 + (4 - 3) * 2 = 10
    assert float(cost) == pytest.approx(10.0)


def test_shipment_cost_broadcasts() -> None:
    """Scalar surcharge flags broadcast against arrays of distances."""
    cost = small_card(residential_surcharge=1.0).shipment_cost(
        np.array([10.0, 200.0]), np.array(1.0), np.array(0.0), np.array(1), np.array(True)
    )
    # zone 2: 5 + 1 = 6; zone 3: 7 + 1 = 8 (no fuel surcharge)
    np.testing.assert_allclose(cost, [6.0, 8.0])


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"zone_bands_miles": (300.0, 150.0)}, "increasing"),
        ({"zone_bands_miles": (150.0, 150.0)}, "increasing"),
        ({"zone_bands_miles": (-1.0,)}, "increasing positive"),
        ({"zone_bands_miles": (0.0,)}, "increasing positive"),
        ({"zone_bands_miles": (math.nan,)}, "increasing positive"),
        ({"zone_bands_miles": (math.inf,)}, "increasing positive"),
        ({"rates": ((5.0, 6.0),)}, r"one row per zone: 2 zones \(2..3\), got 1 rows"),
        ({"rates": ((5.0,), (6.0,), (7.0,))}, "one row per zone: 2 zones"),
        ({"rates": ((), ())}, "zone 2: expected at least one price"),
        ({"rates": ((5.0, 4.0), (7.0, 8.0))}, "zone 2: prices must not fall"),
        ({"rates": ((5.0, 6.0), (7.0, 6.5))}, "zone 3: prices must not fall"),
        ({"rates": ((-1.0, 6.0), (7.0, 8.0))}, "zone 2: prices must be finite and >= 0"),
        ({"rates": ((5.0, math.nan), (7.0, 8.0))}, "zone 2: prices must be finite"),
        ({"rates": ((5.0, 6.0), (7.0,))}, "same number of weights"),
        ({"dim_divisor": 0.0}, "dim_divisor must be a positive number"),
        ({"dim_divisor": -139.0}, "dim_divisor must be a positive number"),
        ({"dim_divisor": math.nan}, "dim_divisor must be a positive number"),
        ({"fuel_surcharge_pct": -1.0}, "fuel_surcharge_pct must be a finite number >= 0"),
        ({"fuel_surcharge_pct": math.inf}, "fuel_surcharge_pct must be a finite number"),
        ({"residential_surcharge": -0.5}, "residential_surcharge must be a finite number >= 0"),
    ],
)
def test_parcel_cost_validation(overrides: dict[str, Any], message: str) -> None:
    """A malformed rate card raises ValueError naming what is wrong."""
    with pytest.raises(ValueError, match=message):
        small_card(**overrides)


def test_first_zone_shifts_the_row_count_message() -> None:
    """The row-count message lists the zones by the card's own numbering."""
    with pytest.raises(ValueError, match=r"2 zones \(1..2\), got 1 rows"):
        small_card(rates=((5.0,),), first_zone=1)


def test_no_bands_means_one_zone() -> None:
    """With no bands every distance is in first_zone and one rate row suffices."""
    card = ParcelCost(rates=((4.0, 5.0),), zone_bands_miles=(), first_zone=1)
    np.testing.assert_array_equal(card.zone([0.0, 10_000.0]), [1, 1])


# --- built-in cards --------------------------------------------------------------------


def test_default_us_ground_properties() -> None:
    """us-ground: USD, zones 2-8 on the US bands, 1-150 lb, divisor 139, 15% fuel, $4.45 resi."""
    card = default_us_ground()
    assert card.currency == "USD"
    assert card.first_zone == 2
    assert card.zone_bands_miles == US_ZONE_BANDS_MILES
    assert len(card.rates) == 7  # zones 2, 3, ..., 8
    assert card.max_table_weight_lb == 150
    assert card.dim_divisor == 139.0
    assert card.fuel_surcharge_pct == 15.0
    assert card.residential_surcharge == 4.45


@pytest.mark.parametrize(
    ("zone", "lb", "price"),
    [
        (2, 1, 10.20),  # base of zone 2
        (8, 1, 13.15),  # base of zone 8
        (2, 150, 99.60),  # 10.20 + 0.60 * 149 = 10.20 + 89.40
        (8, 150, 326.05),  # 13.15 + 2.10 * 149 = 13.15 + 312.90
        (2, 151, 100.20),  # beyond the table: 99.60 + (151 - 150) * 0.60
        (8, 160, 347.05),  # 326.05 + (160 - 150) * 2.10 = 326.05 + 21.00
    ],
)
def test_default_us_ground_rates(zone: int, lb: int, price: float) -> None:
    """us-ground table prices, including one extrapolated beyond 150 lb."""
    assert float(default_us_ground().rate(zone, lb)) == pytest.approx(price, abs=1e-9)


def test_default_us_ground_shipment_price() -> None:
    """A 1 lb residential parcel next door costs (10.20 + 4.45) * 1.15 = 16.8475."""
    cost = default_us_ground().shipment_cost(
        np.array([0.0, 0.0]), np.array(1.0), np.array(0.0), np.array(1), np.array([True, False])
    )
    # residential: 14.65 * 1.15 = 16.8475; commercial: 10.20 * 1.15 = 11.73
    np.testing.assert_allclose(cost, [16.8475, 11.73])


def test_default_it_express_properties() -> None:
    """it-express: EUR, zones 1-4 on the Italian bands, 1-70 lb, 8% fuel, no resi surcharge."""
    card = default_it_express()
    assert card.currency == "EUR"
    assert card.first_zone == 1
    assert card.zone_bands_miles == IT_ZONE_BANDS_MILES
    assert len(card.rates) == 4
    assert card.max_table_weight_lb == 70
    assert card.fuel_surcharge_pct == 8.0
    assert card.residential_surcharge == 0.0
    # zone 1, 1 lb: 6.90; zone 4, 70 lb: 9.20 + 0.45 * 69 = 9.20 + 31.05 = 40.25
    assert float(card.rate(1, 1)) == pytest.approx(6.90)
    assert float(card.rate(4, 70)) == pytest.approx(40.25)
    # 1 lb, 0 miles, residential: 6.90 * 1.08 = 7.452
    cost = card.shipment_cost(
        np.array(0.0), np.array(1.0), np.array(0.0), np.array(1), np.array(True)
    )
    assert float(cost) == pytest.approx(7.452)


@pytest.mark.parametrize("card", [default_us_ground(), default_it_express()], ids=["us", "it"])
def test_default_cards_are_monotone(card: ParcelCost) -> None:
    """Built-in cards never charge less for more weight or a farther zone, also past the table."""
    zones = np.arange(card.first_zone, card.first_zone + len(card.rates))
    weights = np.arange(1, 2 * card.max_table_weight_lb + 1)
    prices = card.rate(zones[:, None], weights[None, :])
    assert np.all(np.diff(prices, axis=1) >= 0)  # heavier never cheaper
    assert np.all(np.diff(prices, axis=0) >= 0)  # farther never cheaper
    distances = np.linspace(0.0, 3000.0, 301)
    by_distance = card.shipment_cost(
        distances, np.array(5.0), np.array(0.0), np.array(1), np.array(True)
    )
    assert np.all(np.diff(by_distance) >= 0)


def test_default_cards_compare_equal() -> None:
    """Two calls build equal cards (the exchange format relies on it to name a built-in card)."""
    assert default_us_ground() == default_us_ground()
    assert default_it_express() == default_it_express()
    assert default_us_ground() != default_it_express()
