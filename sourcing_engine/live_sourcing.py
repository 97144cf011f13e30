"""Sourcing on live stock: orders and holds sourced with the engine against the ledger.

The ledger's positions are turned into a `SourcingProblem` whose stock is each position's
*available* quantity (on hand minus safety stock, allocations and unexpired holds), so the
engine only ever proposes units the store can still give; the store re-checks them
atomically when they are allocated. One order is solved with `greedy-cost`, which on one
order is the exact single-order pricing; a batch with the joint `optimal` policy.

Costs come from the service's configuration (cost model and penalties): the unfilled
penalty is set high so that units are left unfilled only when no stock can ship them, and
an order is then refused with every short line rather than allocated in part.
"""

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cost_models import OrderPenalties, ShipmentCostModel, default_us_ground
from cost_models.objective import UNLIMITED
from solvers import SourcingProblem, solve
from solvers.evaluate import evaluate
from solvers.result import Allocation, Result
from solvers.shapes import MAX_CONTENTS, MAX_SPLITS_PER_SHAPE, supported
from sourcing_engine.compile import build_problem
from sourcing_engine.domain import Line, Order
from sourcing_engine.ledger import (
    InsufficientStock,
    Invalid,
    ItemRecord,
    NodeRecord,
    Position,
    Shortage,
    Unit,
)

DEFAULT_UNFILLED_PENALTY = 1_000_000.0
"""Per unfilled unit: far above any parcel charge, so units go unfilled only without stock."""


@dataclass(frozen=True)
class Destination:
    """Where an order ships: a point, whether it is a home, and the ZIP it came from."""

    lat: float
    lon: float
    residential: bool = True
    zip: str | None = None

    def to_data(self) -> dict[str, object]:
        data: dict[str, object] = {
            "lat": self.lat,
            "lon": self.lon,
            "residential": self.residential,
        }
        if self.zip is not None:
            data["zip"] = self.zip
        return data

    @staticmethod
    def from_data(data: Mapping[str, object]) -> "Destination":
        zip_ = data.get("zip")
        return Destination(
            lat=float(data["lat"]),  # type: ignore[arg-type]
            lon=float(data["lon"]),  # type: ignore[arg-type]
            residential=bool(data.get("residential", True)),
            zip=zip_ if isinstance(zip_, str) else None,
        )


@dataclass(frozen=True)
class Demand:
    """What to source: an order's (or a hold's) lines, SKU -> units, for a destination."""

    id: str
    destination: Destination
    lines: Mapping[str, int]

    def order(self) -> Order:
        """The demand as a domain order, its lines in the same order."""
        d = self.destination
        lines = tuple(Line(sku, qty) for sku, qty in self.lines.items())
        return Order(self.id, d.lat, d.lon, lines, d.residential, d.zip)


@dataclass(frozen=True)
class SourcingConfig:
    """The service's cost model and penalties (service configuration, not per request)."""

    shipping: ShipmentCostModel = field(default_factory=default_us_ground)
    unfilled_penalty_per_unit: float = DEFAULT_UNFILLED_PENALTY
    split_penalty: float = 0.0
    max_shipments_per_order: int | None = None

    @property
    def penalties(self) -> OrderPenalties:
        return OrderPenalties(
            unfilled_per_unit=self.unfilled_penalty_per_unit,
            split=self.split_penalty,
            max_shipments=self.max_shipments_per_order or UNLIMITED,
        )


@dataclass(frozen=True)
class Shipment:
    """One parcel of a plan: the units one node ships to the order, and its cost."""

    node: str
    lines: tuple[tuple[str, int], ...]  # (sku, qty), by SKU
    cost: float


@dataclass(frozen=True)
class Plan:
    """Shipments of one order with their costs (carrier charge, handling, split penalty)."""

    shipments: tuple[Shipment, ...]
    cost: float
    currency: str

    def to_data(self) -> dict[str, object]:
        return {
            "cost": self.cost,
            "currency": self.currency,
            "shipments": [
                {
                    "node": s.node,
                    "lines": [{"sku": sku, "qty": qty} for sku, qty in s.lines],
                    "cost": s.cost,
                }
                for s in self.shipments
            ],
        }


@dataclass(frozen=True)
class Sourced:
    """The engine's answer for one demand: units per node, and the lines it could not cover."""

    demand: Demand
    units: tuple[Unit, ...]
    shortages: tuple[Shortage, ...]

    @property
    def complete(self) -> bool:
        return not self.shortages

    def require_complete(self) -> tuple[Unit, ...]:
        """The units, or InsufficientStock with every short line: no partial allocations."""
        if self.shortages:
            raise InsufficientStock(self.shortages)
        return self.units


def merge_lines(lines: Sequence[tuple[str, int]]) -> dict[str, int]:
    """SKU -> units, two lines of one SKU summed (one demand, as a warehouse picks it)."""
    merged: dict[str, int] = {}
    for sku, qty in lines:
        merged[sku] = merged.get(sku, 0) + qty
    return merged


def units_by_sku(units: Sequence[Unit]) -> dict[str, int]:
    return merge_lines([(u.sku, u.qty) for u in units])


def check_items(skus: Collection[str], items: Mapping[str, ItemRecord]) -> None:
    """Invalid naming every SKU the network has no item record (weight, size) for."""
    unknown = sorted(s for s in skus if s not in items)
    if unknown:
        raise Invalid(
            f"unknown SKU{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: no item "
            "record (weight and dimensions); upsert the items first (PUT /v1/items)"
        )


class _Arrays:
    """Node and SKU arrays of a problem, with the id <-> index maps."""

    def __init__(self, nodes: Sequence[NodeRecord], items: Sequence[ItemRecord]) -> None:
        self.node_ids = [n.id for n in nodes]
        self.node_index = {n: i for i, n in enumerate(self.node_ids)}
        self.skus = [it.sku for it in items]
        self.sku_index = {s: i for i, s in enumerate(self.skus)}
        self.nodes = nodes
        self.items = items

    def problem(
        self,
        demands: Sequence[Demand],
        stock: Mapping[tuple[int, int], int],
        config: SourcingConfig,
        *,
        capacities: bool,
    ) -> SourcingProblem:
        """stock: (sku index, node index) -> units the engine may take (> 0)."""
        keys = list(stock)
        columns = (
            np.fromiter((s for s, _ in keys), dtype=np.int64, count=len(keys)),
            np.fromiter((n for _, n in keys), dtype=np.int64, count=len(keys)),
            np.fromiter((stock[k] for k in keys), dtype=np.int64, count=len(keys)),
        )
        orders = [d.order() for d in demands]
        return build_problem(
            self.nodes,
            self.items,
            columns,
            orders,
            config.shipping,
            config.penalties,
            capacities=capacities,
        )


def _exact(demand: Demand) -> bool:
    """Whether the engine's exact single-order pricing takes this order's quantities.

    The count of possible shipment contents is checked first with Python integers: exact
    pricing needs at most MAX_CONTENTS of them, and `supported` counts them in int64, which
    wraps around for orders of 64 or more lines (and would then try to list 2**64 vectors).
    """
    qty = tuple(sorted(demand.lines.values(), reverse=True))
    if math.prod(q + 1 for q in qty) > max(MAX_CONTENTS, MAX_SPLITS_PER_SHAPE):
        return False
    return supported(qty)


def _best_rule(problem: SourcingProblem) -> Result:
    """For orders too large to price exactly: the cheaper of two rules (fewest unfilled
    units first, since the unfilled penalty dominates the objective)."""
    results = [solve(problem, "fewest-splits"), solve(problem, "closest")]
    return min(results, key=lambda r: r.objective)


def source(
    demands: Sequence[Demand],
    nodes: Sequence[NodeRecord],
    items: Mapping[str, ItemRecord],
    positions: Sequence[Position],
    config: SourcingConfig,
    *,
    exclude: Collection[str] = (),
    joint_time_limit: float | None = None,
) -> list[Sourced]:
    """Source demands on the available stock of `positions`, never from `exclude` nodes.

    One demand (or joint_time_limit None) is solved with `greedy-cost`: orders in sequence,
    each given its exact cheapest plan against what the ones before it left. With a time
    limit the demands are solved jointly with `optimal`. Demands whose quantities are too
    large for exact pricing are sourced afterwards, one by one, with the cheaper of the
    `fewest-splits` and `closest` rules on what is left.
    """
    skus = sorted({s for d in demands for s in d.lines})
    check_items(skus, items)
    arrays = _Arrays(nodes, [items[s] for s in skus])
    excluded = set(exclude)
    stock: dict[tuple[int, int], int] = {}
    for p in positions:
        n = arrays.node_index.get(p.node)
        s = arrays.sku_index.get(p.sku)
        if n is None or s is None or p.node in excluded:
            continue
        stock[(s, n)] = stock.get((s, n), 0) + p.available

    exact = [d for d in demands if _exact(d)]
    by_rule = [d for d in demands if not _exact(d)]
    taken: dict[tuple[int, int], int] = {}
    found: dict[str, tuple[Unit, ...]] = {}
    if exact:
        problem = arrays.problem(exact, stock, config, capacities=joint_time_limit is not None)
        if joint_time_limit is None or len(exact) == 1:
            result = solve(problem, "greedy-cost")
        else:
            result = solve(problem, "optimal", time_limit=joint_time_limit)
        found |= _read_back(arrays, problem, exact, result.allocation, taken)
    for d in by_rule:
        left = {k: q - taken.get(k, 0) for k, q in stock.items()}
        problem = arrays.problem([d], left, config, capacities=False)
        found |= _read_back(arrays, problem, [d], _best_rule(problem).allocation, taken)
    return [
        Sourced(d, found[d.id], _shortages(arrays, d, found[d.id], stock, nodes, excluded))
        for d in demands
    ]


def _read_back(
    arrays: _Arrays,
    problem: SourcingProblem,
    demands: Sequence[Demand],
    alloc: Allocation,
    taken: dict[tuple[int, int], int],
) -> dict[str, tuple[Unit, ...]]:
    """Units per node and SKU of each demand; adds them to `taken`."""
    per_order: list[list[Unit]] = [[] for _ in demands]
    for line, node, qty in zip(
        alloc.line.tolist(), alloc.node.tolist(), alloc.qty.tolist(), strict=True
    ):
        sku = int(problem.line_sku[line])
        per_order[int(problem.line_order[line])].append(
            Unit(arrays.node_ids[node], arrays.skus[sku], qty)
        )
        taken[(sku, node)] = taken.get((sku, node), 0) + qty
    return {
        d.id: tuple(sorted(u, key=lambda x: (x.node, x.sku)))
        for d, u in zip(demands, per_order, strict=True)
    }


def _shortages(
    arrays: _Arrays,
    demand: Demand,
    units: Sequence[Unit],
    stock: Mapping[tuple[int, int], int],
    nodes: Sequence[NodeRecord],
    excluded: Collection[str],
) -> tuple[Shortage, ...]:
    """Every line the plan leaves short: the nodes that were tried and what they had."""
    got = units_by_sku(units)
    out = []
    for sku, qty in demand.lines.items():
        if got.get(sku, 0) >= qty:
            continue
        s = arrays.sku_index[sku]
        tried = [
            (n.id, stock.get((s, arrays.node_index[n.id]), 0))
            for n in nodes
            if n.ship_enabled and n.id not in excluded
        ]
        tried = [(node, q) for node, q in tried if q > 0]
        out.append(
            Shortage(
                sku=sku,
                nodes=tuple(sorted(node for node, _ in tried)),
                requested=qty,
                available=sum(q for _, q in tried),
            )
        )
    return tuple(out)


def price_plan(
    destination: Destination,
    units: Sequence[Unit],
    nodes: Sequence[NodeRecord],
    items: Mapping[str, ItemRecord],
    config: SourcingConfig,
) -> Plan:
    """The shipments of units going to a destination, each priced with the cost model.

    Used for every plan the service stores (after creation, cancellation or re-sourcing),
    so costs always describe the units the order holds now.
    """
    merged: dict[tuple[str, str], int] = {}
    for u in units:
        merged[(u.node, u.sku)] = merged.get((u.node, u.sku), 0) + u.qty
    currency = config.shipping.currency
    if not merged:
        return Plan((), 0.0, currency)
    used = {n for n, _ in merged}
    known = [n for n in nodes if n.id in used]
    missing = used - {n.id for n in known}
    # nodes are never deleted, but a plan must still render if one were: its shipment
    # is listed without a price rather than failing the whole request
    skus = sorted({s for _, s in merged})
    check_items(skus, items)
    arrays = _Arrays(known, [items[s] for s in skus])
    priced = {k: q for k, q in merged.items() if k[0] not in missing}
    demand = Demand(
        "plan", destination, units_by_sku([Unit(n, s, q) for (n, s), q in priced.items()])
    )
    stock = {(arrays.sku_index[s], arrays.node_index[n]): q for (n, s), q in priced.items()}
    # pricing only: the plan was feasible when made; capacities and enablement do not apply
    problem = arrays.problem([demand], stock, config, capacities=False)
    line_of = {s: i for i, s in enumerate(demand.lines)}
    keys = sorted(priced)
    alloc = Allocation(
        np.array([line_of[s] for _, s in keys], dtype=np.int64),
        np.array([arrays.node_index[n] for n, _ in keys], dtype=np.int64),
        np.array([priced[k] for k in keys], dtype=np.int64),
    )
    costs = evaluate(problem, alloc)
    cost_of = {
        arrays.node_ids[int(n)]: round(float(c), 6)
        for n, c in zip(costs.shipment_node, costs.shipment_cost, strict=True)
    }
    shipments = tuple(
        Shipment(
            node=node,
            lines=tuple((s, q) for (n, s), q in sorted(merged.items()) if n == node),
            cost=cost_of.get(node, 0.0),
        )
        for node in sorted({n for n, _ in merged})
    )
    split = config.split_penalty * max(0, len(shipments) - 1)
    return Plan(shipments, round(sum(s.cost for s in shipments) + split, 6), currency)
