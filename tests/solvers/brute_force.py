"""Every plan of one order, tried one by one: the single-order optimum without `solvers`.

A plan gives each node at most one shipment (a content: units per line, within the node's
stock) and leaves the rest unfilled. Shipments are priced by the independent pricer
(tests/independent_pricer.py: distance, carrier price and handling from the documents), not
by `solvers.evaluate` nor `cost_models`; prices and what is left are applied exactly as
their docstrings in `solvers.pricing` describe them.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from sourcing_engine.solvers.pricing import Availability, Prices
from sourcing_engine.solvers.problem import SourcingProblem
from tests.independent_pricer import (
    CarrierTerms,
    carrier_price,
    carrier_terms,
    great_circle_miles,
    handling,
)

Shipment = tuple[int, tuple[tuple[int, int], ...]]
"""(node, ((line, qty), ...)) with positive quantities."""


@dataclass(frozen=True)
class BrutePlan:
    """One plan of one order: its priced value, its true cost and its shipments."""

    value: float
    cost: float
    shipments: tuple[Shipment, ...]


def stock_entries(problem: SourcingProblem) -> dict[tuple[int, int], int]:
    """{(node, sku): stock entry}, read off the sparse stock arrays by a plain loop."""
    out: dict[tuple[int, int], int] = {}
    for sku in range(problem.n_skus):
        for e in range(int(problem.stock_sku_ptr[sku]), int(problem.stock_sku_ptr[sku + 1])):
            out[(int(problem.stock_node[e]), sku)] = e
    return out


def shipment_cost(
    problem: SourcingProblem,
    order: int,
    node: int,
    items: dict[int, int],
    terms: CarrierTerms | None = None,
) -> float:
    """Carrier charge of the parcel plus the node's handling, by the independent pricer
    (terms: the problem's carrier terms, when the caller has read them already)."""
    miles = great_circle_miles(
        float(problem.node_lat[node]), float(problem.node_lon[node]),
        float(problem.order_lat[order]), float(problem.order_lon[order]),
    )  # fmt: skip
    sku = {ln: int(problem.line_sku[ln]) for ln in items}
    weight = sum(q * float(problem.sku_weight_lb[sku[ln]]) for ln, q in items.items())
    volume = sum(q * float(problem.sku_volume_in3[sku[ln]]) for ln, q in items.items())
    units = sum(items.values())
    carrier = carrier_price(
        terms or carrier_terms(problem.shipping), miles, weight, volume, units,
        bool(problem.order_residential[order]),
    )  # fmt: skip
    return carrier + handling(
        float(problem.node_handling_per_shipment[node]),
        float(problem.node_handling_per_unit[node]),
        units,
    )


def _options(
    problem: SourcingProblem,
    order: int,
    node: int,
    entries: dict[tuple[int, int], int],
    prices: Prices | None,
    avail: Availability | None,
) -> list[tuple[dict[int, int], float, float]]:
    """Every content this node could ship the order alone: (items, true cost, price)."""
    lines = range(int(problem.order_line_ptr[order]), int(problem.order_line_ptr[order + 1]))
    if not problem.node_ship_enabled[node] or problem.node_ship_capacity[node] < 1:
        return []
    if avail is not None and avail.ships[node] < 1:
        return []
    ranges = []
    for ln in lines:
        e = entries.get((node, int(problem.line_sku[ln])))
        have = 0 if e is None else int(problem.stock_qty[e])
        if e is not None and avail is not None:
            have = min(have, int(avail.stock[e]))
        ranges.append(range(min(int(problem.line_qty[ln]), have) + 1))
    out = []
    terms = carrier_terms(problem.shipping)
    for qtys in itertools.product(*ranges):
        units = sum(qtys)
        if units == 0 or units > problem.node_unit_capacity[node]:
            continue
        if avail is not None and units > avail.units[node]:
            continue
        items = {ln: q for ln, q in zip(lines, qtys, strict=True) if q}
        price = 0.0
        if prices is not None:
            price += float(prices.node_ship[node]) + units * float(prices.node_unit[node])
            for ln, q in items.items():
                price += q * float(prices.entry[entries[(node, int(problem.line_sku[ln]))]])
        out.append((items, shipment_cost(problem, order, node, items, terms), price))
    return out


def every_plan(
    problem: SourcingProblem,
    order: int,
    prices: Prices | None = None,
    avail: Availability | None = None,
) -> Iterator[BrutePlan]:
    """Every plan of the order within stock, capacities and the cap on shipments."""
    pen = problem.penalties
    entries = stock_entries(problem)
    lines = range(int(problem.order_line_ptr[order]), int(problem.order_line_ptr[order + 1]))
    ordered = {ln: int(problem.line_qty[ln]) for ln in lines}
    per_node = [_options(problem, order, n, entries, prices, avail) for n in range(problem.n_nodes)]

    def walk(
        n: int, left: dict[int, int], chosen: list[tuple[int, dict[int, int], float, float]]
    ) -> Iterator[BrutePlan]:
        if n == problem.n_nodes:
            k = len(chosen)
            fixed = pen.split * max(k - 1, 0) + pen.unfilled_per_unit * sum(left.values())
            cost = sum(c for _, _, c, _ in chosen) + fixed
            shipments = tuple((node, tuple(sorted(items.items()))) for node, items, _, _ in chosen)
            yield BrutePlan(cost + sum(p for _, _, _, p in chosen), cost, shipments)
            return
        yield from walk(n + 1, left, chosen)  # no shipment from node n
        if len(chosen) >= pen.max_shipments:
            return
        for items, cost, price in per_node[n]:
            if all(q <= left[ln] for ln, q in items.items()):
                rest = {ln: q - items.get(ln, 0) for ln, q in left.items()}
                yield from walk(n + 1, rest, [*chosen, (n, items, cost, price)])

    yield from walk(0, ordered, [])


def cheapest_plan(
    problem: SourcingProblem,
    order: int,
    prices: Prices | None = None,
    avail: Availability | None = None,
) -> BrutePlan:
    """The plan of least priced value among every plan of the order."""
    return min(every_plan(problem, order, prices, avail), key=lambda p: p.value)
