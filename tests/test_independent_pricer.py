"""The independent pricer: hand-computed prices, and agreement with `cost_models` at random.

The pricer (tests/independent_pricer.py) is what the plan checker's tests and the reference
MIP price with; these tests hold it to hand-worked figures, then hold `cost_models` to it on
thousands of seeded random shipments (both rate cards, a short custom table, the linear
model; light, heavy, bulky and multi-unit parcels; residential or not; band edges).
"""

import ast
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sourcing_engine.cost_models import (
    LinearCost,
    OrderPenalties,
    ParcelCost,
    ShipmentCostModel,
    default_us_ground,
    handling_cost,
    haversine_miles,
)
from sourcing_engine.cost_models.parcel import default_it_express
from sourcing_engine.domain import Batch, Destination, Inventory, Item, Line, Node, Order
from tests.independent_pricer import (
    EARTH_RADIUS_MILES,
    BatchPricer,
    LinearTerms,
    RateCard,
    billable_pounds,
    carrier_price,
    carrier_terms,
    great_circle_miles,
    handling,
    order_penalties,
    table_rate,
    zone,
)


def _card(model: ShipmentCostModel) -> RateCard:
    terms = carrier_terms(model)
    assert isinstance(terms, RateCard)
    return terms


US = _card(default_us_ground())
IT = _card(default_it_express())
MILES_PER_DEGREE = EARTH_RADIUS_MILES * math.pi / 180

# a card of three weights with uneven steps, two bands, zones from 5, no fuel or residential
SHORT_RATES = ((4.0, 5.5, 8.0), (6.0, 7.0, 11.0), (9.0, 9.0, 9.5))


def _short_card() -> ParcelCost:
    return ParcelCost(
        rates=SHORT_RATES, zone_bands_miles=(40.0, 90.0), first_zone=5, dim_divisor=166.0
    )


# --- hand-computed ----------------------------------------------------------------------------


def test_great_circle_by_hand() -> None:
    """One degree along a meridian is 3958.8 * pi / 180 miles; pole to equator a quarter turn."""
    assert great_circle_miles(40.0, -75.0, 41.0, -75.0) == pytest.approx(MILES_PER_DEGREE)
    assert great_circle_miles(90.0, 0.0, 0.0, 17.0) == pytest.approx(3958.8 * math.pi / 2)
    assert great_circle_miles(10.0, 179.5, 10.0, -179.5) == pytest.approx(
        great_circle_miles(10.0, 0.0, 10.0, 1.0)
    )


@pytest.mark.parametrize(
    ("miles", "expected"),
    [(0.0, 2), (150.0, 2), (150.001, 3), (600.0, 4), (1800.0, 7), (1800.001, 8), (9000.0, 8)],
)
def test_us_zone_by_hand(miles: float, expected: int) -> None:
    """US ground: a band's upper bound is inclusive; beyond 1,800 miles is zone 8."""
    assert zone(US, miles) == expected


def test_italy_zone_by_hand() -> None:
    """Italy: zone 1 up to 62 miles, 2 to 186, 3 to 373, 4 beyond."""
    assert [zone(IT, m) for m in (62.0, 62.5, 186.0, 373.0, 373.5)] == [1, 2, 2, 3, 4]


@pytest.mark.parametrize(
    ("weight", "volume", "expected"),
    [
        (2.5, 320.0, 3),  # actual 2.5 lb beats 320 / 139 = 2.3 lb; rounded up
        (1.0, 1390.0, 10),  # dimensional: 1,390 / 139 = 10 lb exactly
        (1.0, 1391.0, 11),  # a hair over 10 lb is 11
        (0.2, 0.0, 1),  # at least 1 lb
        (0.0, 0.0, 1),
        (2.0000000001, 0.0, 2),  # float noise from summing unit weights is not a pound
    ],
)
def test_billable_pounds_by_hand(weight: float, volume: float, expected: int) -> None:
    """Billable weight: max(actual, volume / 139) up to a whole pound, at least 1 lb."""
    assert billable_pounds(US, weight, volume) == expected


def test_rate_beyond_the_table_continues_at_the_last_step() -> None:
    """Past the last pound the price rises by the table's last step (flat for one column)."""
    short = _card(_short_card())
    assert table_rate(short, 5, 3) == 8.0
    assert table_rate(short, 5, 5) == 8.0 + 2 * 2.5
    assert table_rate(short, 7, 4) == 9.5 + 0.5
    assert table_rate(US, 2, 151) == pytest.approx(10.20 + 0.60 * 149 + 0.60)
    flat = RateCard(((3.0,),), (), 1, 139.0, 0.0, 0.0)
    assert table_rate(flat, 1, 7) == 3.0


def test_parcel_prices_by_hand() -> None:
    """Fuel applies to rate and residential surcharge; Italy has no residential surcharge."""
    # US, 35 miles (zone 2), 3 billable lb, residential: (10.20 + 2 * 0.60 + 4.45) * 1.15
    assert carrier_price(US, 35.0, 2.5, 320.0, 1, True) == pytest.approx(
        (10.20 + 1.20 + 4.45) * 1.15
    )
    assert carrier_price(US, 35.0, 2.5, 320.0, 1, False) == pytest.approx((10.20 + 1.20) * 1.15)
    # US, 2,000 miles (zone 8), 160 lb (10 beyond the table): 13.15 + 159 * 2.10, + 15%
    assert carrier_price(US, 2000.0, 160.0, 0.0, 4, True) == pytest.approx(
        (13.15 + 159 * 2.10 + 4.45) * 1.15
    )
    # Italy, 100 miles (zone 2), 4 lb: (7.40 + 3 * 0.30) * 1.08, residential or not
    for residential in (True, False):
        assert carrier_price(IT, 100.0, 3.2, 0.0, 2, residential) == pytest.approx(
            (7.40 + 0.90) * 1.08
        )


def test_linear_handling_and_penalties_by_hand() -> None:
    """Linear: 5 + 0.5 * 3 + 0.01 * 3 * 100; handling 1.5 + 0.25 * 3; split and unfilled."""
    terms = LinearTerms(5.0, 0.5, 0.01)
    assert carrier_price(terms, 100.0, 99.0, 5000.0, 3, True) == pytest.approx(9.5)
    assert handling(1.5, 0.25, 3) == 2.25
    assert order_penalties(2.0, 40.0, 3, 2) == 2 * 2.0 + 2 * 40.0
    assert order_penalties(2.0, 40.0, 0, 3) == 120.0  # no shipment: no split penalty


def test_order_cost_by_hand() -> None:
    """An order split over two nodes of a linear batch costs what the formulas give by hand."""
    batch = Batch(
        nodes=(
            Node("DC", "warehouse", 40.0, -75.0, handling_per_shipment=1.5, handling_per_unit=0.25),
            Node("ST", "store", 41.0, -75.0, handling_per_unit=0.5),
        ),
        items=(Item("A", 1.0, (10.0, 8.0, 4.0)), Item("B", 2.0)),
        inventory=Inventory(np.array([0]), np.array([0]), np.array([9]), np.array([0])),
        shipping=LinearCost(5.0, 0.5, 0.01),
        penalties=OrderPenalties(unfilled_per_unit=50.0, split=2.0),
        orders=(Order("O", Destination(40.0, -75.0), (Line("A", 3), Line("B", 2))),),
    )
    pricer = BatchPricer(batch)
    cost = pricer.order(batch.orders[0], {"DC": {"A": 2}, "ST": {"B": 1}})
    dc = (5.0 + 0.5 * 2) + (1.5 + 0.25 * 2)  # 0 miles
    st = (5.0 + 0.5 + 0.01 * MILES_PER_DEGREE) + 0.5
    assert cost == pytest.approx(dc + st + 2.0 + 2 * 50.0)


def test_pricer_imports_nothing_that_prices() -> None:
    """The pricer imports no module that prices or checks plans (cost_models, solvers,
    plan_check, sourcing), nor numpy: its arithmetic is its own."""
    source = (Path(__file__).parent / "independent_pricer.py").read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported == {
        "math",
        "collections.abc",
        "dataclasses",
        "typing",
        "sourcing_engine.domain",
    }


def test_terms_of_an_unknown_model_are_refused() -> None:
    """A cost model without documented terms is a TypeError, not a silent price."""
    with pytest.raises(TypeError, match="no documented terms"):
        carrier_terms(object())


# --- agreement with cost_models at random -----------------------------------------------------


@dataclass(frozen=True)
class _Shipments:
    miles: list[float]
    weight: list[float]
    volume: list[float]
    units: list[int]
    residential: list[bool]


def _edges(model: ShipmentCostModel) -> list[float]:
    bands = list(getattr(model, "zone_bands_miles", (150.0, 300.0, 600.0)))
    return [e + d for e in bands for d in (0.0, -1e-7, 1e-7, -0.5, 0.5)] + [0.0]


def _random_shipments(model: ShipmentCostModel, rng: random.Random, count: int) -> _Shipments:
    """Light, heavy (past the table), bulky and multi-unit parcels; a fifth at band edges."""
    edges = _edges(model)
    out = _Shipments([], [], [], [], [])
    for _ in range(count):
        units = rng.choice((1, 1, 1, 2, 3, 5, 12))
        kind = rng.choice(("light", "heavy", "bulky", "mixed"))
        weights = {"light": (0.05, 4.0), "heavy": (20.0, 90.0), "bulky": (0.1, 3.0),
                   "mixed": (0.1, 15.0)}  # fmt: skip
        volumes = {"light": (0.0, 200.0), "heavy": (0.0, 3000.0), "bulky": (2000.0, 20000.0),
                   "mixed": (0.0, rng.choice((0.0, 5000.0)))}  # fmt: skip
        unit_weight, unit_volume = rng.uniform(*weights[kind]), rng.uniform(*volumes[kind])
        out.miles.append(rng.choice(edges) if rng.random() < 0.2 else rng.uniform(0.0, 3000.0))
        out.weight.append(sum(unit_weight for _ in range(units)))  # summed as a plan sums them
        out.volume.append(sum(unit_volume for _ in range(units)))
        out.units.append(units)
        out.residential.append(rng.random() < 0.6)
    return out


MODELS: dict[str, Callable[[], ShipmentCostModel]] = {
    "us-ground": default_us_ground,
    "it-express": default_it_express,
    "short custom card": _short_card,
    "linear": lambda: LinearCost(per_shipment=4.25, per_unit=0.65, per_unit_mile=0.0031),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_cost_models_agree_with_independent_pricer(name: str) -> None:
    """cost_models prices 3,000 random shipments exactly as the independent pricer does."""
    model = MODELS[name]()
    rng = random.Random(f"agree-{name}")
    s = _random_shipments(model, rng, 3000)
    priced = model.shipment_cost(
        np.array(s.miles), np.array(s.weight), np.array(s.volume), np.array(s.units),
        np.array(s.residential),
    )  # fmt: skip
    terms = carrier_terms(model)
    for k, code_price in enumerate(priced.tolist()):
        args = (s.miles[k], s.weight[k], s.volume[k], s.units[k], s.residential[k])
        expected = carrier_price(terms, *args)
        assert code_price == pytest.approx(expected, rel=1e-12, abs=1e-12), (
            f"{name}: (miles, weight, volume, units, residential) = {args}: "
            f"cost_models {code_price!r}, independent {expected!r}"
        )


def test_distance_and_handling_agree_with_cost_models() -> None:
    """haversine_miles and handling_cost agree with the pricer on random places and nodes."""
    rng = random.Random(7)
    for _ in range(2000):
        lat1, lat2 = rng.uniform(-89.0, 89.0), rng.uniform(-89.0, 89.0)
        lon1, lon2 = rng.uniform(-180.0, 180.0), rng.uniform(-180.0, 180.0)
        code = float(haversine_miles(lat1, lon1, lat2, lon2))
        assert code == pytest.approx(great_circle_miles(lat1, lon1, lat2, lon2), rel=1e-9, abs=1e-9)
        per_shipment, per_unit, units = rng.uniform(0, 5), rng.uniform(0, 2), rng.randint(1, 20)
        assert float(handling_cost(per_shipment, per_unit, units)) == pytest.approx(
            handling(per_shipment, per_unit, units), rel=1e-12
        )


def test_order_penalties_agree_with_cost_models() -> None:
    """OrderPenalties.order_penalty agrees with the pricer's split and unfilled penalties."""
    rng = random.Random(11)
    for _ in range(500):
        split, unfilled = rng.choice((0.0, 0.75, 4.0)), rng.uniform(0.0, 300.0)
        shipments, left = rng.randint(0, 6), rng.randint(0, 9)
        code = float(OrderPenalties(unfilled, split).order_penalty(shipments, left))
        assert code == pytest.approx(order_penalties(split, unfilled, shipments, left), rel=1e-12)
