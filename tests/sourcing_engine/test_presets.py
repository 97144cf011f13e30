"""The scenario generator: deterministic, well-formed, realistic and tight."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from sourcing_engine import exchange
from sourcing_engine.cost_models import haversine_miles
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.cost_models.parcel import default_it_express, default_us_ground
from sourcing_engine.domain import Batch
from sourcing_engine.presets import (
    PRESETS,
    ScenarioSpec,
    binding_stats,
    generate,
    sized,
    write_scenario,
)

REPO = Path(__file__).resolve().parents[2]
SIZED = sized(2_000, 40, 400, name="sweep")
# batches checked in full: cheap to build, cover both countries and a sized spec
FULL: dict[str, ScenarioSpec | str] = {"small": "small", "italy": "italy", "sized": SIZED}

# (lat_min, lat_max, lon_min, lon_max) that hold the country, islands included
CONTINENTAL_US = (24.0, 50.0, -125.5, -66.0)
ITALY = (35.4, 47.2, 6.5, 18.6)


@pytest.fixture(scope="module", params=list(FULL))
def batch(request: pytest.FixtureRequest) -> Batch:
    return generate(FULL[request.param], seed=1)


def assert_same_batch(a: Batch, b: Batch) -> None:
    assert a.name == b.name
    assert a.nodes == b.nodes
    assert a.items == b.items
    assert a.orders == b.orders
    assert a.shipping == b.shipping
    assert a.penalties == b.penalties
    for column in ("node", "item", "on_hand", "safety_stock"):
        np.testing.assert_array_equal(getattr(a.inventory, column), getattr(b.inventory, column))


def order_lines(b: Batch) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """(order index, item index, qty) of every order line."""
    sku_index = {it.sku: k for k, it in enumerate(b.items)}
    rows = [(k, sku_index[ln.sku], ln.qty) for k, o in enumerate(b.orders) for ln in o.lines]
    order, item, qty = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return order, item, qty


def nearest_by_brute_force(b: Batch) -> NDArray[np.int64]:
    """Nearest node of each order, from the full distance matrix."""
    node_lat = np.array([n.lat for n in b.nodes])
    node_lon = np.array([n.lon for n in b.nodes])
    lat = np.array([o.destination.lat for o in b.orders])[:, None]
    lon = np.array([o.destination.lon for o in b.orders])[:, None]
    miles = haversine_miles(lat, lon, node_lat[None, :], node_lon[None, :])
    nearest: NDArray[np.int64] = np.argmin(miles, axis=1).astype(np.int64)
    return nearest


# --- determinism and sizes ------------------------------------------------------------


@pytest.mark.parametrize("spec", [*list(FULL.values()), "medium"])
def test_same_seed_gives_the_same_batch(spec: ScenarioSpec | str) -> None:
    """Two runs with one seed build identical batches."""
    assert_same_batch(generate(spec, seed=5), generate(spec, seed=5))


def test_different_seeds_give_different_batches() -> None:
    """Another seed changes the stores, the stock and the orders."""
    a, b = generate("small", seed=1), generate("small", seed=2)
    assert [n.id for n in a.nodes] != [n.id for n in b.nodes]
    assert a.orders != b.orders
    assert not np.array_equal(a.inventory.on_hand, b.inventory.on_hand)


@pytest.mark.parametrize("preset", ["small", "medium", "italy"])
def test_presets_have_their_sizes(preset: str) -> None:
    """Each preset has the warehouses, stores, SKUs and orders its spec names."""
    spec = PRESETS[preset]
    b = generate(preset, seed=3)
    kinds = Counter(n.kind for n in b.nodes)
    assert kinds == {"warehouse": spec.n_warehouses, "store": spec.n_stores}
    assert (len(b.items), len(b.orders)) == (spec.n_skus, spec.n_orders)
    assert b.name == f"{preset}-seed3"


def test_presets_match_the_brief() -> None:
    """The preset sizes are the ones the benchmarks and docs rely on."""
    sizes = {
        name: (s.country, s.n_warehouses, s.n_stores, s.n_skus, s.n_orders)
        for name, s in PRESETS.items()
    }
    assert sizes == {
        "small": ("US", 2, 20, 200, 300),
        "medium": ("US", 5, 200, 5_000, 5_000),
        "large": ("US", 10, 1_000, 20_000, 50_000),
        "italy": ("IT", 2, 60, 1_000, 1_000),
    }


def test_sized_builds_a_spec_of_the_asked_size() -> None:
    """sized() splits the nodes into warehouses and stores and passes knobs through."""
    spec = sized(500, 22, 100, stock_ratio=1.2, country="IT")
    assert (spec.n_warehouses, spec.n_stores, spec.n_skus, spec.n_orders) == (2, 20, 100, 500)
    assert (spec.stock_ratio, spec.country) == (1.2, "IT")
    assert sized(500, 22, 100, n_warehouses=5).n_stores == 17
    assert sized(10, 1, 1).n_warehouses == 1


# --- well-formed ----------------------------------------------------------------------


def test_ids_are_unique_and_references_valid(batch: Batch) -> None:
    """Node ids, SKUs, order ids and (node, SKU) positions are unique; lines name real SKUs."""
    node_ids = [n.id for n in batch.nodes]
    skus = [i.sku for i in batch.items]
    assert len(set(node_ids)) == len(node_ids)
    assert len(set(skus)) == len(skus)
    assert len({o.id for o in batch.orders}) == len(batch.orders)
    inv = batch.inventory
    assert inv.node.min() >= 0
    assert inv.node.max() < len(node_ids)
    assert inv.item.min() >= 0
    assert inv.item.max() < len(skus)
    assert len(set(zip(inv.node.tolist(), inv.item.tolist(), strict=True))) == len(inv)
    assert (inv.on_hand >= inv.safety_stock).all()
    assert (inv.safety_stock >= 0).all()
    known = set(skus)
    for o in batch.orders:
        line_skus = [ln.sku for ln in o.lines]
        assert 1 <= len(line_skus) == len(set(line_skus)) <= 5, o.id
        assert set(line_skus) <= known, o.id
        assert all(ln.qty >= 1 for ln in o.lines), o.id


def test_round_trip_through_the_exchange_format(batch: Batch) -> None:
    """problem_to_data -> problem_from_data gives back an equal batch."""
    assert_same_batch(exchange.problem_from_data(exchange.problem_to_data(batch)), batch)


def test_write_scenario_writes_a_loadable_problem(tmp_path: Path) -> None:
    """write_scenario creates the folder and a problem.json that reads back as the batch."""
    b = generate("small", seed=4)
    path = write_scenario(b, tmp_path / "new" / "dir")
    assert path == tmp_path / "new" / "dir" / "problem.json"
    assert_same_batch(exchange.problem_from_json(path.read_bytes()), b)


def test_committed_small_scenario_is_the_generated_one() -> None:
    """tests/fixtures/small-seed1/problem.json loads and is exactly generate("small", 1)."""
    text = (REPO / "tests" / "fixtures" / "small-seed1" / "problem.json").read_bytes()
    assert_same_batch(exchange.problem_from_json(text), generate("small", seed=1))


# --- realism --------------------------------------------------------------------------


def test_order_sizes_follow_the_intended_mix() -> None:
    """About 60/25/10/5% of orders have 1/2/3/4-5 lines, and 80/15/5% of lines 1/2/3-4 units."""
    b = generate(sized(20_000, 30, 2_000), seed=2)
    lines = Counter(min(len(o.lines), 4) for o in b.orders)
    share = {k: v / len(b.orders) for k, v in lines.items()}
    assert share == pytest.approx({1: 0.60, 2: 0.25, 3: 0.10, 4: 0.05}, abs=0.015)
    qty = Counter(min(ln.qty, 3) for o in b.orders for ln in o.lines)
    total = sum(qty.values())
    assert {k: v / total for k, v in qty.items()} == pytest.approx(
        {1: 0.80, 2: 0.15, 3: 0.05}, abs=0.015
    )


def test_sku_popularity_is_skewed() -> None:
    """A tenth of the SKUs draws half or more of the lines; the best seller a few percent."""
    b = generate("medium", seed=1)
    _, item, _ = order_lines(b)
    counts = np.sort(np.bincount(item, minlength=len(b.items)))[::-1]
    assert 0.4 < counts[: len(counts) // 10].sum() / counts.sum() < 0.85
    assert 0.01 < counts[0] / counts.sum() < 0.08


def test_items_weigh_like_parcels(batch: Batch) -> None:
    """Median weight near 1.5 lb, a heavy tail up to 40 lb, and bulky light items."""
    weight = np.array([i.weight_lb for i in batch.items])
    dim_weight = np.array([i.volume_in3 for i in batch.items]) / 139.0
    assert 1.0 < np.median(weight) < 2.2
    assert weight.min() > 0
    assert weight.max() <= 40.0
    assert np.quantile(weight, 0.99) > 8.0
    assert 0.3 < np.mean(dim_weight > weight) < 0.8  # dimensional weight often bills
    assert np.mean(dim_weight > 3 * weight) > 0.03  # some bulky, light items
    assert all(i.dims_in[0] >= i.dims_in[1] >= i.dims_in[2] > 0 for i in batch.items)


def test_us_scenario_is_continental_with_spread_warehouses() -> None:
    """US nodes and destinations stay in the lower 48; warehouses sit far apart."""
    b = generate("medium", seed=1)
    lat_min, lat_max, lon_min, lon_max = CONTINENTAL_US
    points = [(n.lat, n.lon) for n in b.nodes] + [
        (o.destination.lat, o.destination.lon) for o in b.orders
    ]
    assert all(lat_min < la < lat_max and lon_min < lo < lon_max for la, lo in points)
    wh = [n for n in b.nodes if n.kind == "warehouse"]
    assert all(n.id.startswith("DC-") for n in wh)
    lat, lon = np.array([n.lat for n in wh]), np.array([n.lon for n in wh])
    miles = haversine_miles(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert miles[~np.eye(len(wh), dtype=bool)].min() > 350  # 400 apart, less a little jitter
    assert b.shipping == default_us_ground()
    assert b.currency == "USD"
    assert b.penalties.unfilled_per_unit == 250.0


def test_italy_scenario_is_in_italy_and_in_euros() -> None:
    """The italy preset uses Italian cities, the Italian courier card, EUR and a EUR penalty."""
    b = generate("italy", seed=1)
    lat_min, lat_max, lon_min, lon_max = ITALY
    points = [(n.lat, n.lon) for n in b.nodes] + [
        (o.destination.lat, o.destination.lon) for o in b.orders
    ]
    assert all(lat_min < la < lat_max and lon_min < lo < lon_max for la, lo in points)
    assert b.shipping == default_it_express()
    assert b.currency == "EUR"
    assert b.penalties.unfilled_per_unit == 200.0
    assert {n.id for n in b.nodes if n.kind == "warehouse"} == {"DC-Rome", "DC-Milan"}


def test_handling_makes_stores_dearer_than_warehouses(batch: Batch) -> None:
    """Warehouses pick for $1.0-1.5 + $0.2-0.4/unit, stores for $2.5-4 + $0.8-1.2/unit."""
    for n in batch.nodes:
        low, high = ((1.0, 1.5), (0.2, 0.4)) if n.kind == "warehouse" else ((2.5, 4.0), (0.8, 1.2))
        assert low[0] <= n.handling_per_shipment <= low[1], n.id
        assert high[0] <= n.handling_per_unit <= high[1], n.id


def test_penalty_knobs_reach_the_batch() -> None:
    """Defaults: split 1.0 and no shipment cap; the knobs override them."""
    assert generate("small").penalties.max_shipments == UNLIMITED
    spec = sized(50, 5, 20, max_shipments_per_order=2, split_penalty=3.0, unfilled_penalty=9.0)
    penalties = generate(spec).penalties
    assert (penalties.max_shipments, penalties.split, penalties.unfilled_per_unit) == (2, 3.0, 9.0)


def test_warehouses_range_most_and_stores_a_popular_subset(batch: Batch) -> None:
    """Warehouses list most SKUs; stores 5-20% of them, the popular ones more often."""
    inv = batch.inventory
    n_wh = sum(n.kind == "warehouse" for n in batch.nodes)
    n_skus = len(batch.items)
    at_wh = inv.node < n_wh
    assert np.sum(at_wh) / (n_wh * n_skus) > 0.8
    assert set(inv.item[at_wh].tolist()) == set(range(n_skus))  # every SKU has a home
    store_share = np.sum(~at_wh) / ((len(batch.nodes) - n_wh) * n_skus)
    assert 0.05 <= store_share <= 0.2
    _, item, qty = order_lines(batch)
    demand = np.bincount(item, weights=qty, minlength=n_skus)
    ranged = np.bincount(inv.item[~at_wh], minlength=n_skus)
    top = demand >= np.quantile(demand, 0.9)
    assert ranged[top].mean() > 2 * ranged[~top].mean()
    assert inv.safety_stock[at_wh].max() == 0
    assert inv.safety_stock[~at_wh].max() <= 1


# --- tightness ------------------------------------------------------------------------


def test_stock_binds(batch: Batch) -> None:
    """Warehouses hold a little more than the batch needs, stores thin shelves: the nearest
    node often lacks a line's stock, yet every demanded SKU is sourceable somewhere."""
    _, item, qty = order_lines(batch)
    inv = batch.inventory
    demand = np.bincount(item, weights=qty, minlength=len(batch.items))
    stock = np.bincount(inv.item, weights=inv.sourceable, minlength=len(batch.items))
    warehouses = np.array([n.kind == "warehouse" for n in batch.nodes])
    in_warehouses = np.bincount(
        inv.item, weights=inv.sourceable * warehouses[inv.node], minlength=len(batch.items)
    )
    assert 1.0 <= in_warehouses[demand > 0].sum() / demand.sum() <= 2.0
    assert (stock[demand > 0] > 0).all()
    stats = binding_stats(batch)
    assert stats.stock_ratio == pytest.approx(stock[demand > 0].sum() / demand.sum())
    assert stats.nearest_lacks_stock > 0.4


def test_capacity_binds(batch: Batch) -> None:
    """With every order at its nearest node, a fair share of nodes is over capacity,
    while the network as a whole can ship every order."""
    order, _, qty = order_lines(batch)
    near = nearest_by_brute_force(batch)
    n = len(batch.nodes)
    shipments = np.bincount(near, minlength=n)
    units = np.bincount(near[order], weights=qty, minlength=n)
    ship_cap = np.array([node.ship_capacity for node in batch.nodes])
    unit_cap = np.array([node.unit_capacity for node in batch.nodes])
    over = (shipments > ship_cap) | (units > unit_cap)
    assert 0.2 <= over.mean() <= 0.85
    assert ship_cap.sum() >= len(batch.orders)
    assert unit_cap.sum() >= qty.sum()
    assert (unit_cap > ship_cap).all()
    stores = np.array([node.kind == "store" for node in batch.nodes])
    assert ship_cap[stores].max() <= 60
    assert ship_cap[stores].min() >= 2
    assert binding_stats(batch).over_capacity == pytest.approx(over.mean())


# --- errors ---------------------------------------------------------------------------


def test_unknown_preset_lists_the_presets() -> None:
    """An unknown preset name raises ValueError naming every preset."""
    with pytest.raises(ValueError, match=r"'huge'.*small, medium, large, italy"):
        generate("huge")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"country": "FR"}, "country"),
        ({"n_warehouses": 0}, "n_warehouses"),
        ({"n_orders": 2.5}, "n_orders"),
        ({"stock_ratio": float("nan")}, "stock_ratio"),
        ({"store_assortment": 1.5}, "store_assortment"),
        ({"max_shipments_per_order": 0}, "max_shipments_per_order"),
        ({"store_capacity_range": (5, 2)}, "store_capacity_range"),
    ],
)
def test_bad_spec_names_the_field(change: dict[str, object], field: str) -> None:
    """A spec with a bad value raises ValueError that names the field."""
    base: dict[str, object] = {
        "name": "x",
        "country": "US",
        "n_warehouses": 1,
        "n_stores": 1,
        "n_skus": 1,
        "n_orders": 1,
    }
    with pytest.raises(ValueError, match=rf"ScenarioSpec\.{field}"):
        ScenarioSpec(**(base | change))  # type: ignore[arg-type]
