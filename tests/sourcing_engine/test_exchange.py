"""Reading and writing `sourcing-problem/1` documents (docs/exchange-format.md)."""

import contextlib
import copy
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sourcing_engine.cost_models import LinearCost, ParcelCost, default_us_ground
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.cost_models.parcel import default_it_express
from sourcing_engine.domain import Batch, Line
from sourcing_engine.errors import InputError
from sourcing_engine.exchange import problem_from_data, problem_from_json, problem_to_data

Doc = dict[str, Any]


def valid_doc() -> Doc:
    """A small valid problem: a warehouse with every option, a store with none, two orders."""
    return {
        "format": "sourcing-problem/1",
        "name": "unit test",
        "nodes": [
            {"id": "DC-NJ", "kind": "warehouse", "lat": 40.79, "lon": -74.06,
             "capacity": {"shipments": 500, "units": 1200},
             "handling": {"per_shipment": 1.5, "per_unit": 0.35}},
            {"id": "ST-CHI", "kind": "store", "lat": 41.88, "lon": -87.63},
        ],
        "items": [
            {"sku": "SKU-1", "weight_lb": 1.2, "dims_in": [10, 8, 4]},
            {"sku": "SKU-2", "weight_lb": 0.5},
        ],
        "inventory": [
            {"node": "DC-NJ", "sku": "SKU-1", "on_hand": 40, "safety_stock": 2},
            {"node": "ST-CHI", "sku": "SKU-1", "on_hand": 3},
            {"node": "ST-CHI", "sku": "SKU-2", "on_hand": 7},
        ],
        "cost_model": {"type": "parcel", "rate_card": "us-ground"},
        "unfilled_penalty_per_unit": 60.0,
        "split_penalty": 1.0,
        "max_shipments_per_order": 3,
        "orders": [
            {"id": "A-1001", "destination": {"lat": 41.88, "lon": -87.63},
             "lines": [{"sku": "SKU-1", "qty": 2}]},
            {"id": "A-1002", "destination": {"zip": "10001", "residential": False},
             "lines": [{"sku": "SKU-1", "qty": 1}, {"sku": "SKU-2", "qty": 1}]},
        ],
    }  # fmt: skip


def read(doc: Doc) -> Batch:
    """Parse a document the way a client sends it: as JSON text (NaN/Infinity allowed)."""
    return problem_from_json(json.dumps(doc))


def assert_same_content(a: Batch, b: Batch) -> None:
    assert a.name == b.name
    assert a.nodes == b.nodes
    assert a.items == b.items
    assert a.orders == b.orders
    for column in ("node", "item", "on_hand", "safety_stock"):
        np.testing.assert_array_equal(getattr(a.inventory, column), getattr(b.inventory, column))
    assert a.shipping == b.shipping
    assert a.penalties == b.penalties


# --- valid documents -------------------------------------------------------------------


def test_valid_document_builds_the_batch() -> None:
    """Every field of a valid document lands in the domain batch."""
    batch = read(valid_doc())
    assert batch.name == "unit test"
    dc = batch.nodes[0]
    assert (dc.id, dc.kind, dc.lat, dc.lon) == ("DC-NJ", "warehouse", 40.79, -74.06)
    assert (dc.ship_capacity, dc.unit_capacity) == (500, 1200)
    assert (dc.handling_per_shipment, dc.handling_per_unit) == (1.5, 0.35)
    assert batch.items[0].dims_in == (10.0, 8.0, 4.0)
    assert batch.items[0].volume_in3 == 320.0  # 10 * 8 * 4
    np.testing.assert_array_equal(batch.inventory.node, [0, 1, 1])
    np.testing.assert_array_equal(batch.inventory.item, [0, 0, 1])
    np.testing.assert_array_equal(batch.inventory.on_hand, [40, 3, 7])
    np.testing.assert_array_equal(batch.inventory.sourceable, [38, 3, 7])  # 40 - 2, 3, 7
    assert batch.shipping == default_us_ground()
    assert batch.currency == "USD"
    assert batch.penalties.unfilled_per_unit == 60.0
    assert batch.penalties.split == 1.0
    assert batch.penalties.max_shipments == 3
    assert [o.id for o in batch.orders] == ["A-1001", "A-1002"]
    assert batch.orders[0].lines == (Line("SKU-1", 2),)
    assert (batch.orders[0].destination.lat, batch.orders[0].destination.lon) == (41.88, -87.63)


def test_optional_fields_default_as_the_spec_says() -> None:
    """No capacity -> None, handling 0, ship_enabled true, safety_stock 0, dims 0, etc."""
    batch = read(valid_doc())
    store = batch.nodes[1]
    assert store.ship_capacity is None
    assert store.unit_capacity is None
    assert (store.handling_per_shipment, store.handling_per_unit) == (0.0, 0.0)
    assert store.ship_enabled is True
    assert batch.nodes[0].ship_enabled is True
    assert batch.items[1].dims_in == (0.0, 0.0, 0.0)
    assert batch.inventory.safety_stock.tolist() == [2, 0, 0]
    assert batch.orders[0].destination.residential is True
    assert batch.orders[1].destination.residential is False

    doc = valid_doc()
    for key in ("name", "split_penalty", "max_shipments_per_order"):
        del doc[key]
    doc["nodes"][0]["capacity"] = {"units": 5}  # shipments left out
    batch = read(doc)
    assert batch.name == ""
    assert batch.penalties.split == 0.0
    assert batch.penalties.max_shipments == UNLIMITED
    assert (batch.nodes[0].ship_capacity, batch.nodes[0].unit_capacity) == (None, 5)


def test_ship_enabled_false_is_kept() -> None:
    """ship_enabled: false reaches the node."""
    doc = valid_doc()
    doc["nodes"][1]["ship_enabled"] = False
    assert read(doc).nodes[1].ship_enabled is False


def test_zip_destination_geocodes_offline() -> None:
    """ZIP 10001 (Manhattan) geocodes near 40.75, -74.0; the ZIP is kept on the order."""
    order = read(valid_doc()).orders[1]
    assert order.destination.lat == pytest.approx(40.75, abs=0.05)
    assert order.destination.lon == pytest.approx(-74.0, abs=0.05)
    assert order.destination.zip == "10001"


def test_zip_plus_four_is_accepted() -> None:
    """ZIP+4 10001-1234 geocodes to the centroid of 10001."""
    doc = valid_doc()
    doc["orders"][1]["destination"]["zip"] = "10001-1234"
    order = read(doc).orders[1]
    assert order.destination.lat == pytest.approx(40.75, abs=0.05)
    assert order.destination.lon == pytest.approx(-74.0, abs=0.05)


def test_duplicate_sku_lines_are_summed() -> None:
    """Two lines of one SKU become one line with the summed quantity, in first-seen order."""
    doc = valid_doc()
    doc["orders"][0]["lines"] = [
        {"sku": "SKU-1", "qty": 2},
        {"sku": "SKU-2", "qty": 1},
        {"sku": "SKU-1", "qty": 3},
    ]
    # SKU-1: 2 + 3 = 5
    assert read(doc).orders[0].lines == (Line("SKU-1", 5), Line("SKU-2", 1))


def test_round_trip() -> None:
    """from_data -> to_data -> from_data gives the same content, and to_data is stable."""
    first = problem_from_data(valid_doc())
    data = problem_to_data(first)
    second = problem_from_data(data)
    assert_same_content(first, second)
    assert problem_to_data(second) == data
    third = problem_from_json(json.dumps(data))  # the written document is plain JSON
    assert_same_content(first, third)


@pytest.mark.parametrize(
    "cost_model",
    [
        {"type": "linear", "currency": "EUR", "per_shipment": 5.0, "per_unit": 0.5,
         "per_unit_mile": 0.001},
        {"type": "parcel", "rate_card": "it-express"},
        {"type": "parcel", "rate_card": "us-ground", "fuel_surcharge_pct": 0.0},
        {"type": "parcel", "currency": "CAD", "zone_bands_miles": [100], "first_zone": 1,
         "rates": {"1": [5.0, 6.0], "2": [7.0, 9.0]}, "dim_divisor": 166,
         "fuel_surcharge_pct": 10, "residential_surcharge": 2.5},
    ],
    ids=["linear", "it-express", "us-ground-override", "custom"],
)  # fmt: skip
def test_round_trip_of_cost_models(cost_model: Doc) -> None:
    """Linear, built-in, overridden and custom parcel models survive a round trip."""
    doc = valid_doc()
    doc["cost_model"] = cost_model
    first = read(doc)
    second = problem_from_data(problem_to_data(first))
    assert_same_content(first, second)


def test_cost_model_construction() -> None:
    """Cost-model documents build the models they describe."""
    doc = valid_doc()
    doc["cost_model"] = {"type": "linear", "per_shipment": 5.0, "per_unit_mile": 0.001}
    assert read(doc).shipping == LinearCost(per_shipment=5.0, per_unit_mile=0.001)

    doc["cost_model"] = {"type": "parcel", "rate_card": "it-express"}
    batch = read(doc)
    assert batch.shipping == default_it_express()
    assert batch.currency == "EUR"

    doc["cost_model"] = {"type": "parcel", "rate_card": "us-ground", "fuel_surcharge_pct": 0}
    shipping = read(doc).shipping
    assert isinstance(shipping, ParcelCost)
    assert shipping.fuel_surcharge_pct == 0.0  # overridden
    assert shipping.rates == default_us_ground().rates  # the rest from the card

    doc["cost_model"] = {"type": "parcel", "rates": {str(z): [1.0, 2.0] for z in range(2, 9)}}
    shipping = read(doc).shipping
    assert isinstance(shipping, ParcelCost)
    assert shipping.zone_bands_miles == default_us_ground().zone_bands_miles  # default US bands
    assert (shipping.first_zone, shipping.dim_divisor, shipping.currency) == (2, 139.0, "USD")
    assert (shipping.fuel_surcharge_pct, shipping.residential_surcharge) == (0.0, 0.0)


# --- bad documents ---------------------------------------------------------------------

Mutation = Callable[[Doc], Any]


def _set(path: str, value: Any) -> Mutation:
    """A mutation that sets doc[a][b]...[z] = value, path given as 'a.0.b'."""

    def mutate(doc: Doc) -> None:
        *parents, last = (int(p) if p.isdigit() else p for p in path.split("."))
        target: Any = doc
        for p in parents:
            target = target[p]
        target[last] = value

    return mutate


def _del(path: str) -> Mutation:
    """A mutation that deletes doc[a][b]...[z], path given as 'a.0.b'."""

    def mutate(doc: Doc) -> None:
        *parents, last = (int(p) if p.isdigit() else p for p in path.split("."))
        target: Any = doc
        for p in parents:
            target = target[p]
        del target[last]

    return mutate


def _append(path: str, value: Any) -> Mutation:
    def mutate(doc: Doc) -> None:
        target: Any = doc
        for p in (int(p) if p.isdigit() else p for p in path.split(".")):
            target = target[p]
        target.append(copy.deepcopy(value))

    return mutate


ORDER0 = 'orders[0] (id "A-1001")'
ORDER1 = 'orders[1] (id "A-1002")'
LINE0 = f'{ORDER0}.lines[0] (sku "SKU-1").qty'
NODE0 = 'nodes[0] (id "DC-NJ")'

BAD_INPUTS: list[tuple[str, Mutation, list[str]]] = [
    ("unknown SKU in an order line", _set("orders.0.lines.0.sku", "NOPE"),
     [f"{ORDER0}.lines[0]", ".sku", 'unknown SKU "NOPE"', "not listed in items"]),
    ("unknown node in inventory", _set("inventory.1.node", "NOWHERE"),
     ['inventory[1] (node "NOWHERE", sku "SKU-1").node', 'unknown node "NOWHERE"',
      "not listed in nodes"]),
    ("unknown SKU in inventory", _set("inventory.1.sku", "NOPE"),
     ['inventory[1] (node "ST-CHI", sku "NOPE").sku', 'unknown SKU "NOPE"']),
    ("duplicate node id", _append("nodes", {"id": "ST-CHI", "kind": "store", "lat": 0, "lon": 0}),
     ['nodes[2] (id "ST-CHI").id', "already used by nodes[1]", "expected each id once"]),
    ("duplicate SKU", _append("items", {"sku": "SKU-2", "weight_lb": 1.0}),
     ['items[2] (sku "SKU-2").sku', "already used by items[1]", "expected each sku once"]),
    ("duplicate order id", _set("orders.1.id", "A-1001"),
     ['orders[1] (id "A-1001").id', "already used by orders[0]", "expected each id once"]),
    ("duplicate inventory", _append("inventory", {"node": "ST-CHI", "sku": "SKU-2", "on_hand": 1}),
     ['inventory[3] (node "ST-CHI", sku "SKU-2")', "same node and SKU as inventory[2]",
      "one entry per node and SKU"]),
    ("negative qty", _set("orders.0.lines.0.qty", -1),
     [LINE0, "greater than or equal to 1", "(got -1)"]),
    ("zero qty", _set("orders.0.lines.0.qty", 0), [LINE0, "greater than or equal to 1", "(got 0)"]),
    ("fractional qty", _set("orders.0.lines.0.qty", 2.5), [LINE0, "valid integer", "(got 2.5)"]),
    ("qty as string", _set("orders.0.lines.0.qty", "2"), [LINE0, "valid integer", '(got "2")']),
    ("qty as boolean", _set("orders.0.lines.0.qty", True), [LINE0, "valid integer", "(got true)"]),
    ("qty NaN", _set("orders.0.lines.0.qty", float("nan")), [LINE0, "valid integer", "nan"]),
    ("qty too large", _set("orders.0.lines.0.qty", 10**7),
     [LINE0, "less than or equal to 1000000"]),
    ("negative on_hand", _set("inventory.0.on_hand", -5),
     ['inventory[0] (node "DC-NJ", sku "SKU-1").on_hand', "greater than or equal to 0"]),
    ("fractional safety_stock", _set("inventory.0.safety_stock", 1.5),
     ['inventory[0] (node "DC-NJ", sku "SKU-1").safety_stock', "valid integer"]),
    ("node lat NaN", _set("nodes.0.lat", float("nan")), [f"{NODE0}.lat", "finite number"]),
    ("penalty Infinity", _set("unfilled_penalty_per_unit", float("inf")),
     ["unfilled_penalty_per_unit", "finite number"]),
    ("weight -Infinity", _set("items.1.weight_lb", float("-inf")),
     ['items[1] (sku "SKU-2").weight_lb', "finite number"]),
    ("destination lat missing", _del("orders.0.destination.lat"),
     [f"{ORDER0}.destination", "give both lat and lon"]),
    ("destination lon missing", _del("orders.0.destination.lon"),
     [f"{ORDER0}.destination", "give both lat and lon"]),
    ("node lat missing", _del("nodes.1.lat"), ['nodes[1] (id "ST-CHI").lat', "Field required"]),
    ("zip and lat/lon", _set("orders.1.destination", {"zip": "10001", "lat": 40.7, "lon": -74}),
     [f"{ORDER1}.destination", "either lat and lon, or a US zip code, not both"]),
    ("zip and lat only", _set("orders.1.destination.lat", 40.0),
     [f"{ORDER1}.destination", "not both"]),
    ("empty destination", _set("orders.1.destination", {}),
     [f"{ORDER1}.destination", "either lat and lon, or a US zip code"]),
    ("unknown ZIP", _set("orders.1.destination.zip", "00000"),
     [f"{ORDER1}.destination.zip", 'unknown US ZIP code "00000"', "5-digit ZIP"]),
    ("ZIP too short", _set("orders.1.destination.zip", "1000"),
     [f"{ORDER1}.destination.zip", "at least 5 characters"]),
    ("ZIP as a number", _set("orders.1.destination.zip", 10001),
     [f"{ORDER1}.destination.zip", "valid string", "(got 10001)"]),
    ("lat out of range", _set("orders.0.destination.lat", 91),
     [f"{ORDER0}.destination.lat", "less than or equal to 90", "(got 91)"]),
    ("node lon out of range", _set("nodes.0.lon", -181),
     [f"{NODE0}.lon", "greater than or equal to -180", "(got -181)"]),
    ("wrong kind", _set("nodes.0.kind", "depot"),
     [f"{NODE0}.kind", "'warehouse' or 'store'", '(got "depot")']),
    ("unknown field", _set("inventory.1.safty_stock", 1),
     ['inventory[1] (node "ST-CHI", sku "SKU-1").safty_stock', "unknown field",
      "expected one of: node, sku, on_hand, safety_stock", 'did you mean "safety_stock"']),
    ("unknown top-level field", _set("split_penalti", 1),
     ["split_penalti: unknown field", 'did you mean "split_penalty"']),
    ("unknown capacity field", _set("nodes.0.capacity.unit", 1),
     [f"{NODE0}.capacity.unit", "unknown field", 'did you mean "units"']),
    ("missing unfilled penalty", _del("unfilled_penalty_per_unit"),
     ["unfilled_penalty_per_unit: Field required"]),
    ("missing nodes", _del("nodes"), ["nodes: Field required"]),
    ("no nodes", _set("nodes", []), ["nodes: ", "at least 1 item"]),
    ("order without lines", _set("orders.0.lines", []), [f"{ORDER0}.lines", "at least 1 item"]),
    ("wrong format", _set("format", "sourcing-problem/2"),
     ['format: expected "sourcing-problem/1", got "sourcing-problem/2"']),
    ("missing format", _del("format"), ['format: expected "sourcing-problem/1", got null']),
    ("parcel without rate_card or rates", _set("cost_model", {"type": "parcel"}),
     ["cost_model: ", '"rate_card"', '"rates"']),
    ("rates with missing zones", _set("cost_model", {"type": "parcel", "rates": {"2": [1.0]}}),
     ["cost_model.rates", "one price list per zone 2, 3, 4, 5, 6, 7, 8",
      "missing 3, 4, 5, 6, 7, 8"]),
    ("rates with an unknown zone",
     _set("cost_model", {"type": "parcel", "zone_bands_miles": [100],
                         "rates": {"2": [1.0], "3": [2.0], "9": [3.0]}}),
     ["cost_model.rates", "unknown 9"]),
    ("rates falling with weight",
     _set("cost_model", {"type": "parcel", "zone_bands_miles": [100],
                         "rates": {"2": [5.0, 4.0], "3": [6.0, 7.0]}}),
     ["cost_model: ", "zone 2", "must not fall"]),
    ("bands not increasing", _set("cost_model.zone_bands_miles", [300, 150]),
     ["cost_model: ", "zone_bands_miles", "increasing"]),
    ("negative price", _set("cost_model", {"type": "parcel", "zone_bands_miles": [],
                                           "rates": {"2": [-1.0]}}),
     ["cost_model.rates.2[0]", "greater than or equal to 0"]),
    ("unknown rate card", _set("cost_model.rate_card", "ups"),
     ["cost_model.rate_card", "'us-ground' or 'it-express'", '(got "ups")']),
    ("unknown cost model type", _set("cost_model", {"type": "fedex"}),
     ['cost_model.type: expected "linear" or "parcel" (got "fedex")']),
    ("cost model without type", _set("cost_model", {"rate_card": "us-ground"}),
     ['cost_model.type: missing; expected "linear" or "parcel"']),
    ("negative first_zone", _set("cost_model.first_zone", -1),
     ["cost_model.first_zone", "greater than or equal to 0"]),
    ("negative handling", _set("nodes.0.handling.per_shipment", -1.5),
     [f"{NODE0}.handling.per_shipment", "greater than or equal to 0"]),
    ("ship_enabled as string", _set("nodes.1.ship_enabled", "yes"),
     ['nodes[1] (id "ST-CHI").ship_enabled', "valid boolean"]),
    ("dims with two numbers", _set("items.0.dims_in", [1, 2]),
     ['items[0] (sku "SKU-1").dims_in', "at least 3 items"]),
    ("absurd weight", _set("items.0.weight_lb", 1e9),
     ['items[0] (sku "SKU-1").weight_lb', "less than or equal to 100000"]),
    ("absurd capacity", _set("nodes.0.capacity.units", 10**20),
     [f"{NODE0}.capacity.units", "less than or equal to"]),
    ("zero max shipments", _set("max_shipments_per_order", 0),
     ["max_shipments_per_order", "greater than or equal to 1"]),
    ("capacity not an object", _set("nodes.0.capacity", 5),
     [f"{NODE0}.capacity: expected a JSON object (got 5)"]),
    ("cost model not an object", _set("cost_model", "us-ground"),
     ['cost_model: expected a JSON object (got "us-ground")']),
    ("empty node id", _set("nodes.1.id", ""), ['nodes[1] (id "").id', "at least 1 character"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [pytest.param(m, f, id=name) for name, m, f in BAD_INPUTS],
)
def test_bad_input_names_entry_field_and_expectation(
    mutate: Mutation, fragments: list[str]
) -> None:
    """A bad document raises one InputError naming the entry, the field and what was expected."""
    doc = valid_doc()
    mutate(doc)
    with pytest.raises(InputError) as caught:
        read(doc)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('{"format": "sourcing-problem/1",\n  "nodes": [,]}',
         ["problem: not valid JSON", "line 2, column 13", "Expecting value"]),
        ('{"format": "sourcing-problem/1"', ["problem: not valid JSON", "line 1, column 32"]),
        ("", ["problem: not valid JSON", "line 1, column 1"]),
        (b"\xff\xfe\xfa", ["problem: not valid JSON", "not UTF-8"]),
        ("[" * 100_000, ["problem: not valid JSON", "nested too deeply"]),
        ('{"qty": ' + "9" * 5000 + "}", ["problem: not valid JSON", "digits"]),
        ("[1, 2]", ["problem: expected a JSON object"]),
        ('"sourcing-problem/1"', ["problem: expected a JSON object"]),
        ("null", ["problem: expected a JSON object"]),
    ],
    ids=["syntax", "truncated", "empty", "not-utf8", "too-deep", "huge-int", "array", "string",
         "null"],
)  # fmt: skip
def test_unreadable_json(text: str | bytes, fragments: list[str]) -> None:
    """Unparseable or non-object JSON is an InputError with line and column where known."""
    with pytest.raises(InputError) as caught:
        problem_from_json(text)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_json_errors_name_the_source() -> None:
    """The `what` argument labels JSON errors (e.g. with a file name)."""
    with pytest.raises(InputError, match=r"^upload\.json: not valid JSON"):
        problem_from_json("{", what="upload.json")


def test_every_reference_problem_is_reported() -> None:
    """Unknown references, duplicates and an unknown ZIP in one document are all listed."""
    doc = valid_doc()
    _set("orders.0.lines.0.sku", "NOPE")(doc)
    _set("inventory.1.node", "NOWHERE")(doc)
    _set("orders.1.destination.zip", "00000")(doc)
    _append("nodes", doc["nodes"][1])(doc)
    _append("inventory", doc["inventory"][2])(doc)
    _set("cost_model", {"type": "parcel", "rates": {"2": [1.0]}})(doc)
    with pytest.raises(InputError) as caught:
        read(doc)
    assert len(caught.value.problems) == 6
    message = str(caught.value)
    assert message.startswith("6 problems in the input:\n  - ")
    for fragment in ('unknown SKU "NOPE"', 'unknown node "NOWHERE"', '"00000"',
                     'nodes[2] (id "ST-CHI").id', "same node and SKU as inventory[2]",
                     "cost_model.rates"):  # fmt: skip
        assert fragment in message


def test_every_field_problem_is_reported() -> None:
    """Field-level problems in several entries are all listed, each with its location."""
    doc = valid_doc()
    _set("orders.0.lines.0.qty", 0)(doc)
    _set("nodes.0.kind", "depot")(doc)
    _del("orders.1.destination.zip")(doc)
    _set("inventory.0.safty_stock", 1)(doc)
    _del("unfilled_penalty_per_unit")(doc)
    with pytest.raises(InputError) as caught:
        read(doc)
    problems = caught.value.problems
    assert len(problems) == 5
    assert any(p.startswith(LINE0) for p in problems)
    assert any(p.startswith(f"{NODE0}.kind") for p in problems)
    assert any(p.startswith(f"{ORDER1}.destination") for p in problems)
    typo = 'inventory[0] (node "DC-NJ", sku "SKU-1").safty_stock'
    assert any(p.startswith(typo) for p in problems)
    assert any(p.startswith("unfilled_penalty_per_unit") for p in problems)


def test_long_problem_lists_are_truncated_in_the_message() -> None:
    """More than 20 problems show the first 20 and a count of the rest; all stay in .problems."""
    doc = valid_doc()
    doc["orders"][0]["lines"] = [{"sku": f"NOPE-{k}", "qty": 1} for k in range(25)]
    with pytest.raises(InputError) as caught:
        read(doc)
    assert len(caught.value.problems) == 25
    message = str(caught.value)
    assert message.startswith("25 problems in the input:")
    assert "NOPE-19" in message
    assert "NOPE-20" not in message
    assert message.endswith("  ... and 5 more")


def test_input_error_is_a_value_error() -> None:
    """InputError subclasses ValueError and keeps a single problem as its whole message."""
    err = InputError("nodes[0].lat: expected a number")
    assert isinstance(err, ValueError)
    assert err.problems == ["nodes[0].lat: expected a number"]
    assert str(err) == "nodes[0].lat: expected a number"


# --- robustness ------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a JSON document, containers and leaves alike."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            out += _paths(v, (*prefix, k))
    return out


VALID_PATHS = _paths(valid_doc())

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # includes NaN and +-Infinity
    | st.text(max_size=8)
    | st.sampled_from(["SKU-1", "DC-NJ", "A-1001", "10001", "warehouse", "parcel", "linear"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["id", "sku", "qty", "type", "x"]), children, max_size=3)
    ),
    max_leaves=6,
)

mutations = st.tuples(
    st.sampled_from(VALID_PATHS), st.sampled_from(["replace", "delete", "add"]), json_values
)


def _apply(doc: Doc, path: tuple[Any, ...], action: str, value: Any) -> None:
    parent: Any = doc
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    if action == "replace":
        parent[key] = value
    elif action == "delete":
        del parent[key]
    elif isinstance(parent, list):
        parent.insert(key, value)
    else:
        parent[f"{key}_x"] = value


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.lists(mutations, min_size=1, max_size=3))
def test_mutated_documents_give_input_error_or_a_batch(
    changes: list[tuple[tuple[Any, ...], str, Any]],
) -> None:
    """problem_from_json never raises anything but InputError on a mutated document."""
    doc = valid_doc()
    for path, action, value in changes:
        try:
            _apply(doc, path, action, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this location
    try:
        result: Batch | InputError = problem_from_json(json.dumps(doc))
    except InputError as exc:
        result = exc
    if isinstance(result, InputError):
        assert result.problems
        assert all(isinstance(p, str) and p for p in result.problems)
    else:
        assert isinstance(result, Batch)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupted_text_gives_input_error_or_a_batch(data: st.DataObject) -> None:
    """Deleting or inserting characters in the JSON text never raises anything but InputError."""
    text = json.dumps(valid_doc())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + data.draw(st.sampled_from(list('{}[],:"0-.eNa \\x'))) + text[at:]
    with contextlib.suppress(InputError):
        problem_from_json(text)
