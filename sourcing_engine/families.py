"""Instance families: batches of different kinds, for benchmarks and the solver cross-checks.

The presets (`presets.py`) all come from one generator; a user brings their own network,
cost model and order mix. Each family here is a generator with its own documented
parameters, built on the presets' geography and catalogue but changing what shapes the
problem: the cost model, how scarce stock is, whether capacity binds, the order mix, the
item mix and the country. Every family takes `n_orders` (100 to 10,000 in the benchmarks,
100 on small networks in the cross-checks) and a seed, and is deterministic in both.

- `sized`: about n/5 nodes, sqrt(nodes)/3 of them warehouses; US parcel card; store
  shelves and capacity bind (the presets' generator).
- `literature`: 10 warehouses; linear cost (per shipment, unit, unit-mile); capacity binds,
  stock 5-20% over demand; mostly one-line orders.
- `scarce`: 10 warehouses and 60 stores; linear cost; stock 5-15% over demand, capacity loose.
- `parcel`: as `sized`, a quarter of the items heavy and a quarter bulky.
- `italy`: 2 warehouses and about n/16 stores; Italian express card, EUR.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sourcing_engine.cost_models import LinearCost
from sourcing_engine.domain import Batch, Inventory, Order
from sourcing_engine.presets import _round_randomly, _spread, generate, sized

LITERATURE_COST = LinearCost(per_shipment=6.0, per_unit=0.75, per_unit_mile=0.004)
"""Per shipment + per unit + per unit-mile, in the range of the split-shipment literature
(a parcel's fixed charge dominates; a unit 1,000 miles away costs 4.75 more than next door)."""

LINES_KEPT = (1, 2, 3)
LINES_KEPT_P = (0.5, 0.35, 0.15)
"""The literature's orders keep this many of the presets' lines (at most those drawn): about
80% of orders have one line, 18% two, 2% three or more."""


STORE_SHARE = 0.2
"""At most this share of a SKU's stock is on store shelves in the literature family."""


def _clip(x: int, low: int, high: int) -> int:
    return max(low, min(high, x))


def sized_family(
    n_orders: int, seed: int = 1, *, n_nodes: int | None = None, n_skus: int | None = None
) -> Batch:
    """The presets' generator at a size (`presets.sized`): US parcel rate card, warehouses
    holding about 1.3x the expected demand, thin store shelves, binding capacity.

    n_nodes: nodes (default n_orders / 5, between 20 and 1,000; about sqrt(n)/3 are
    warehouses); n_skus: catalogue (default 2 x n_orders).
    """
    nodes = n_nodes if n_nodes is not None else _clip(n_orders // 5, 20, 1000)
    skus = n_skus if n_skus is not None else 2 * n_orders
    return generate(sized(n_orders, nodes, skus, name=f"sized-{n_orders}o-{nodes}n"), seed)


def parcel_family(
    n_orders: int,
    seed: int = 1,
    *,
    n_nodes: int | None = None,
    heavy_share: float = 0.25,
    bulky_share: float = 0.25,
) -> Batch:
    """`sized` with a heavy and bulky catalogue: heavy_share of the SKUs weigh about 12 lb
    (to 40 lb), bulky_share bill by dimensional weight, so a shipment's price steps with
    every pound it carries and combining units pays differently than on light items.

    n_nodes as in `sized_family`; catalogue n_orders SKUs.
    """
    nodes = n_nodes if n_nodes is not None else _clip(n_orders // 5, 20, 1000)
    spec = sized(
        n_orders, nodes, n_orders, name=f"parcel-{n_orders}o-{nodes}n",
        heavy_share=heavy_share, bulky_share=bulky_share,
    )  # fmt: skip
    return generate(spec, seed)


def italy_family(n_orders: int, seed: int = 1, *, n_nodes: int | None = None) -> Batch:
    """The Italy network in EUR (the `italy` preset at a size): 2 warehouses (3 from 225
    nodes) and stores in Italian cities, the Italian express rate card, 200 EUR per unfilled unit.

    n_nodes: default n_orders / 16 + 2, between 12 and 400; catalogue n_orders SKUs.
    """
    nodes = n_nodes if n_nodes is not None else _clip(n_orders // 16 + 2, 12, 400)
    warehouses = max(2, round(math.sqrt(nodes) / 6))
    spec = sized(
        n_orders, nodes, n_orders, n_warehouses=warehouses, country="IT",
        name=f"italy-{n_orders}o-{nodes}n",
    )  # fmt: skip
    return generate(spec, seed)


def literature_family(
    n_orders: int,
    seed: int = 1,
    *,
    n_warehouses: int = 10,
    n_stores: int = 0,
    n_skus: int | None = None,
    capacity: str = "binding",
    stock_margin: tuple[float, float] = (0.05, 0.20),
    cost: LinearCost = LITERATURE_COST,
    name: str = "literature",
) -> Batch:
    """The split-shipment literature's setting (e.g. Xu, Allgor and Graves; Acimovic and
    Graves): the linear cost model, a few warehouses, orders mostly of one line.

    n_warehouses: warehouses in big US metros (default 10). n_stores: stores (default 0),
    each with a thin shelf (0-2 sellable units of about 10% of the SKUs) and dearer
    handling (2.50-4.00 per shipment + 0.80-1.20 per unit against 1.00-1.50 + 0.20-0.40).
    n_skus: catalogue (default n_orders / 2, at least 50). capacity: "binding" (warehouses
    together ship 1.1x the batch's orders, split by region with noise, so some regions run
    short; stores about 0.8x their neighbours' orders) or "loose" (no capacity limits).
    stock_margin: each SKU's sourceable stock in the network is its demand in this very batch
    times 1 + a margin drawn uniformly from this range (default 5-20%), the warehouses'
    part spread over those ranging it by region, stores holding at most STORE_SHARE of it.
    Orders keep 1, 2 or 3 of their lines (LINES_KEPT_P): about 80% have one line.
    cost: the linear cost model (LITERATURE_COST).
    """
    if capacity not in ("binding", "loose"):
        raise ValueError(f"capacity: expected 'binding' or 'loose', got {capacity!r}")
    low, high = stock_margin
    if not 0.0 <= low <= high:
        raise ValueError(f"stock_margin: expected 0 <= low <= high, got {stock_margin!r}")
    skus = n_skus if n_skus is not None else max(50, n_orders // 2)
    spec = sized(
        n_orders, n_warehouses + n_stores, skus, n_warehouses=n_warehouses,
        name=f"{name}-{n_orders}o-{n_warehouses + n_stores}n", store_units=(0, 2),
        store_assortment=0.10, warehouse_capacity_share=1.1,
    )  # fmt: skip
    batch = generate(spec, seed)
    rng = np.random.default_rng([seed, 15])  # the family's own draws, after the presets'
    keep = rng.choice(LINES_KEPT, size=len(batch.orders), p=LINES_KEPT_P)
    orders = tuple(
        dataclasses.replace(o, lines=o.lines[:k])
        for o, k in zip(batch.orders, keep.tolist(), strict=True)
    )
    nodes = batch.nodes
    if capacity == "loose":
        nodes = tuple(dataclasses.replace(n, ship_capacity=None, unit_capacity=None) for n in nodes)
    inventory = _restock(rng, batch, orders, n_warehouses, stock_margin)
    return dataclasses.replace(
        batch,
        nodes=nodes,
        orders=orders,
        inventory=inventory,
        shipping=cost,
        metadata={
            **batch.metadata,
            "family": {
                "name": name,
                "capacity": capacity,
                "stock_margin": list(stock_margin),
                "cost": dataclasses.asdict(cost),
            },
        },
    )


def scarce_family(n_orders: int, seed: int = 1, *, n_stores: int = 60) -> Batch:
    """Scarce stock, loose capacity: `literature` over 10 warehouses and n_stores stores
    (default 60), no capacity limits, each SKU's stock 5-15% above its demand. Every order
    could ship from its nearest node, but the batch cannot: the bound is easy to reach in
    the relaxation and hard in integers."""
    return literature_family(
        n_orders, seed, n_stores=n_stores, capacity="loose", stock_margin=(0.05, 0.15),
        name="scarce",
    )  # fmt: skip


def _restock(
    rng: np.random.Generator,
    batch: Batch,
    orders: tuple[Order, ...],
    n_warehouses: int,
    margin: tuple[float, float],
) -> Inventory:
    """Stock re-planned from the batch's own demand: each SKU's total sourceable stock
    becomes its demand plus demand x margin (rounded randomly: never short, the margin right
    on average). Stores' shelves hold up to STORE_SHARE of it (at most what the presets put
    there), the warehouses the rest, spread over their positions in proportion to the
    presets' units."""
    inv = batch.inventory
    sku_index = {item.sku: k for k, item in enumerate(batch.items)}
    n_skus = len(batch.items)
    sku = np.array([sku_index[ln.sku] for o in orders for ln in o.lines], dtype=np.int64)
    qty = np.array([ln.qty for o in orders for ln in o.lines], dtype=np.int64)
    demand = np.bincount(sku, weights=qty, minlength=n_skus)
    extra = demand.astype(np.float64) * rng.uniform(margin[0], margin[1], n_skus)
    target = demand.astype(np.int64) + _round_randomly(rng, extra)  # never short, 5-20% on average
    warehouse = inv.node < n_warehouses
    shelf = np.where(warehouse, 0, inv.sourceable)
    in_stores = np.bincount(inv.item, weights=shelf, minlength=n_skus).astype(np.int64)
    store_part = np.minimum(
        in_stores, _round_randomly(rng, (STORE_SHARE * target).astype(np.float64))
    )
    store_units, _ = _spread(
        rng, store_part, inv.item[~warehouse], shelf[~warehouse].astype(np.float64)
    )
    units, _ = _spread(
        rng,
        target - store_part,
        inv.item[warehouse],
        (inv.on_hand[warehouse] + 1).astype(np.float64),
    )
    on_hand = inv.on_hand.copy()
    on_hand[warehouse] = units
    on_hand[~warehouse] = store_units + inv.safety_stock[~warehouse]
    return Inventory(node=inv.node, item=inv.item, on_hand=on_hand, safety_stock=inv.safety_stock)


FAMILIES: dict[str, Callable[..., Batch]] = {
    "sized": sized_family,
    "literature": literature_family,
    "scarce": scarce_family,
    "parcel": parcel_family,
    "italy": italy_family,
}
"""Every family by name: FAMILIES[name](n_orders, seed, **knobs) -> Batch."""


def family_batch(name: str, n_orders: int, seed: int = 1, **knobs: Any) -> Batch:
    """A batch of the named family (knobs: the family's keyword parameters)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}: expected one of {', '.join(FAMILIES)}")
    return FAMILIES[name](n_orders, seed, **knobs)


__all__ = [
    "FAMILIES",
    "LITERATURE_COST",
    "family_batch",
    "italy_family",
    "literature_family",
    "parcel_family",
    "scarce_family",
    "sized_family",
]
