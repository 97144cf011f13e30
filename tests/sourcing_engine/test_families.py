"""The instance families generate what their docstrings say."""

import numpy as np
import pytest

from sourcing_engine.cost_models import LinearCost, ParcelCost
from sourcing_engine.domain import Batch
from sourcing_engine.families import FAMILIES, LITERATURE_COST, family_batch
from sourcing_engine.presets import PRESETS, generate


def _demand_and_stock(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    index = {item.sku: k for k, item in enumerate(batch.items)}
    demand = np.zeros(len(batch.items))
    for order in batch.orders:
        for line in order.lines:
            demand[index[line.sku]] += line.qty
    inv = batch.inventory
    stock = np.bincount(inv.item, weights=inv.sourceable, minlength=len(batch.items))
    return demand, stock


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_is_deterministic_and_sized(name: str) -> None:
    """Same seed, same batch; the orders asked for; another seed, other orders."""
    a, b = family_batch(name, 200, 4), family_batch(name, 200, 4)
    assert len(a.orders) == 200
    assert a.orders == b.orders
    assert a.nodes == b.nodes
    assert np.array_equal(a.inventory.on_hand, b.inventory.on_hand)
    assert family_batch(name, 200, 5).orders != a.orders


def test_literature_stock_margin_capacity_and_order_mix() -> None:
    """Linear costs; every demanded SKU stocked at least to its demand, 5-20% more in all;
    about 80% one-line orders; binding capacity set, loose capacity none."""
    batch = family_batch("literature", 2000, 1)
    assert batch.shipping == LITERATURE_COST
    assert isinstance(batch.shipping, LinearCost)
    assert len(batch.nodes) == 10
    assert all(n.ship_capacity is not None for n in batch.nodes)
    demand, stock = _demand_and_stock(batch)
    wanted = demand > 0
    assert np.all(stock[wanted] >= demand[wanted])
    assert 1.05 <= stock[wanted].sum() / demand.sum() <= 1.20
    one_line = np.mean([len(o.lines) == 1 for o in batch.orders])
    assert 0.75 <= one_line <= 0.85
    assert max(len(o.lines) for o in batch.orders) <= 3

    scarce = family_batch("scarce", 2000, 1)
    assert len(scarce.nodes) == 70
    assert all(n.ship_capacity is None and n.unit_capacity is None for n in scarce.nodes)
    demand, stock = _demand_and_stock(scarce)
    assert 1.05 <= stock[demand > 0].sum() / demand.sum() <= 1.15
    stores = np.array([n.kind == "store" for n in scarce.nodes])
    on_shelves = scarce.inventory.sourceable[stores[scarce.inventory.node]].sum()
    assert on_shelves <= 0.2 * stock[demand > 0].sum() + 1


def test_parcel_family_is_heavier_and_italy_in_eur() -> None:
    """The parcel catalogue has many more heavy items than the presets'; italy bills EUR."""
    heavy = np.mean([i.weight_lb > 6.0 for i in family_batch("parcel", 1000, 1).items])
    usual = np.mean([i.weight_lb > 6.0 for i in generate(PRESETS["italy"], 1).items])
    assert heavy > usual + 0.1
    italy = family_batch("italy", 1000, 1)
    assert isinstance(italy.shipping, ParcelCost)
    assert italy.currency == "EUR"


def test_unknown_family_and_bad_knobs_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        family_batch("nope", 100)
    with pytest.raises(ValueError, match="capacity"):
        family_batch("literature", 100, capacity="tight")
