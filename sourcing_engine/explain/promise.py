"""A promise's ship options, term by term: each shipment of an option priced by its
service level's rates (the carrier's card times the level's rate factor, as the promise
priced it), itemized as an order's plan is (explain.itemize)."""

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from sourcing_engine.cost_models import ScaledCost, ShipmentCostModel
from sourcing_engine.domain import Carrier, Destination, Item, Order
from sourcing_engine.explain.itemize import ShipmentItems, itemize
from sourcing_engine.promise.options import Option, Promise, PromisedShipment
from sourcing_engine.solvers import Allocation
from sourcing_engine.sourcing import Network, SourcingConfig, build_problem


def level_shipping(carrier: Carrier, level: str) -> ShipmentCostModel:
    """The rates of a service level: the carrier's card, times the level's rate factor."""
    factor = carrier.level(level).rate_factor
    return carrier.shipping if factor == 1.0 else ScaledCost(carrier.shipping, factor)


def itemize_option(
    option: Option,
    destination: Destination,
    network: Network,
    items: Mapping[str, Item],
    carrier: Carrier,
    config: SourcingConfig,
) -> tuple[ShipmentItems, ...] | None:
    """The shipments of a ship option from stock on hand, itemized (None: not a ship
    option, or one whose shipments come from purchase orders)."""
    if option.method != "ship" or option.service_level is None:
        return None
    shipments = [s for s in option.shipments if s.inbound is None]
    if not shipments or len(shipments) != len(option.shipments):
        return None
    return itemize_shipments(
        destination, shipments, network, items,
        replace(config, shipping=level_shipping(carrier, option.service_level)),
    )  # fmt: skip


def itemize_shipments(
    destination: Destination,
    shipments: Sequence[PromisedShipment],
    network: Network,
    items: Mapping[str, Item],
    config: SourcingConfig,
) -> tuple[ShipmentItems, ...]:
    """Shipments (node, lines) to a destination, itemized under config's rates."""
    units: dict[tuple[str, str], int] = {}
    for s in shipments:
        for ln in s.lines:
            units[(s.node, ln.sku)] = units.get((s.node, ln.sku), 0) + ln.qty
    totals: dict[str, int] = {}
    for (_, sku), q in units.items():
        totals[sku] = totals.get(sku, 0) + q
    skus = sorted(totals)
    sku_index = {s: i for i, s in enumerate(skus)}
    keys = sorted(units)
    stock = (
        np.array([sku_index[s] for _, s in keys], dtype=np.int64),
        np.array([network.index[n] for n, _ in keys], dtype=np.int64),
        np.array([units[k] for k in keys], dtype=np.int64),
    )
    order = Order.of("", destination, sorted(totals.items()))
    problem = build_problem(network, [items[s] for s in skus], stock, [order], config.shipping,
                            config.penalties, capacities=False)  # fmt: skip
    line_of = {ln.sku: k for k, ln in enumerate(order.lines)}
    lines = np.array([line_of[s] for _, s in keys], dtype=np.int64)
    alloc = Allocation(lines, stock[1], stock[2])
    return itemize(problem, alloc, network.ids, skus).shipments


def itemize_promise(
    found: Promise,
    destination: Destination,
    network: Network,
    items: Mapping[str, Item],
    carrier: Carrier,
    config: SourcingConfig,
) -> dict[str, tuple[ShipmentItems, ...]]:
    """Option id -> its shipments itemized, for every ship option from stock on hand."""
    out = {}
    for option in found.options:
        itemized = itemize_option(option, destination, network, items, carrier, config)
        if itemized is not None:
            out[option.id] = itemized
    return out
