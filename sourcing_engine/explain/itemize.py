"""A plan's cost term by term: per shipment the distance, zone, billable weight, rate,
surcharges and handling; per order the split and unfilled penalties.

Every term comes from the cost model's own parts (cost_models: zone_for_distance,
billable_weight_lb, the rate table, handling_cost), so the terms add up to the cost the
solvers charge; the tests check each term against tests/independent_pricer.py.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sourcing_engine.cost_models import LinearCost, ParcelCost, ScaledCost, ShipmentCostModel
from sourcing_engine.cost_models.parcel import billable_weight_lb
from sourcing_engine.domain import Line
from sourcing_engine.solvers import Allocation, SourcingProblem

Term = tuple[str, float]


@dataclass(frozen=True)
class ShipmentItems:
    """One shipment's cost, term by term (terms add up to cost)."""

    node: str
    lines: tuple[Line, ...]
    units: int
    miles: float
    zone: int | None
    weight_lb: float
    dim_weight_lb: float | None
    billable_lb: int | None
    terms: tuple[Term, ...]
    cost: float

    def to_data(self) -> dict[str, object]:
        return {
            "node": self.node,
            "lines": [{"sku": ln.sku, "qty": ln.qty} for ln in self.lines],
            "units": self.units, "distance_miles": round(self.miles, 1), "zone": self.zone,
            "weight_lb": round(self.weight_lb, 3),
            "dim_weight_lb": None if self.dim_weight_lb is None else round(self.dim_weight_lb, 3),
            "billable_lb": self.billable_lb,
            "terms": {name: round(v, 6) for name, v in self.terms},
            "cost": round(self.cost, 6),
        }  # fmt: skip


@dataclass(frozen=True)
class PlanItems:
    """A plan of one order, itemized: shipments, unfilled lines and the order's penalties."""

    shipments: tuple[ShipmentItems, ...]
    unfilled: tuple[Line, ...]
    split_penalty: float
    unfilled_penalty: float

    @property
    def cost(self) -> float:
        return sum(s.cost for s in self.shipments) + self.split_penalty + self.unfilled_penalty

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(s.node for s in self.shipments)

    def term_totals(self) -> dict[str, float]:
        """Carrier charges, handling, split and unfilled penalties over the plan."""
        carrier = sum(v for s in self.shipments for k, v in s.terms if not k.startswith("handl"))
        handling = sum(v for s in self.shipments for k, v in s.terms if k.startswith("handl"))
        return {"carrier": carrier, "handling": handling, "split_penalty": self.split_penalty,
                "unfilled_penalty": self.unfilled_penalty}  # fmt: skip

    def to_data(self) -> dict[str, object]:
        return {
            "cost": round(self.cost, 6),
            "shipments": [s.to_data() for s in self.shipments],
            "unfilled": [{"sku": ln.sku, "qty": ln.qty} for ln in self.unfilled],
            "split_penalty": round(self.split_penalty, 6),
            "unfilled_penalty": round(self.unfilled_penalty, 6),
        }


def carrier_terms(
    model: ShipmentCostModel, miles: float, weight: float, volume: float, units: int,
    residential: bool,
) -> tuple[tuple[Term, ...], int | None, float | None, int | None]:  # fmt: skip
    """The carrier's charge as terms, with the zone, dimensional and billable weight where
    the model has them."""
    if isinstance(model, ScaledCost):
        terms, zone, dim, billable = carrier_terms(model.base, miles, weight, volume, units,
                                                   residential)  # fmt: skip
        base = sum(v for _, v in terms)
        return (*terms, ("service_factor", base * (model.factor - 1.0))), zone, dim, billable
    if isinstance(model, ParcelCost):
        zone = int(model.zone(np.array([miles]))[0])
        billable = int(billable_weight_lb(weight, volume, model.dim_divisor))
        rate = float(model.rate(np.array([zone]), np.array([billable]))[0])
        residential_fee = model.residential_surcharge if residential else 0.0
        fuel = (rate + residential_fee) * model.fuel_surcharge_pct / 100.0
        terms = (("rate", rate), ("residential_surcharge", residential_fee),
                 ("fuel_surcharge", fuel))  # fmt: skip
        return terms, zone, volume / model.dim_divisor, billable
    if isinstance(model, LinearCost):
        return (
            ("per_shipment", model.per_shipment),
            ("per_unit", model.per_unit * units),
            ("per_unit_mile", model.per_unit_mile * units * miles),
        ), None, None, None  # fmt: skip
    charge = float(
        model.shipment_cost(
            np.array([miles]), np.array([weight]), np.array([volume]), np.array([units]),
            np.array([residential]),
        )[0]
    )  # fmt: skip
    return (("carrier", charge),), None, None, None


def itemize(
    problem: SourcingProblem,
    allocation: Allocation,
    node_ids: Sequence[str],
    skus: Sequence[str],
) -> PlanItems:
    """The plan of order 0 of a one-order problem, term by term (shipments by node id)."""
    p = problem
    by_node: dict[int, list[tuple[int, int]]] = {}
    for line, node, qty in zip(allocation.line.tolist(), allocation.node.tolist(),
                               allocation.qty.tolist(), strict=True):  # fmt: skip
        by_node.setdefault(node, []).append((line, qty))
    residential = bool(p.order_residential[0])
    shipments = []
    for node, contents in sorted(by_node.items(), key=lambda kv: node_ids[kv[0]]):
        miles = float(p.distance_miles(np.array([0]), np.array([node]))[0])
        sku = [int(p.line_sku[ln]) for ln, _ in contents]
        weight = sum(q * float(p.sku_weight_lb[s]) for (_, q), s in zip(contents, sku, strict=True))
        volume = sum(
            q * float(p.sku_volume_in3[s]) for (_, q), s in zip(contents, sku, strict=True)
        )
        units = sum(q for _, q in contents)
        terms, zone, dim, billable = carrier_terms(p.shipping, miles, weight, volume, units,
                                                   residential)  # fmt: skip
        handling = (
            ("handling_per_shipment", float(p.node_handling_per_shipment[node])),
            ("handling_per_unit", float(p.node_handling_per_unit[node]) * units),
        )
        all_terms = (*terms, *handling)
        shipments.append(ShipmentItems(
            node=node_ids[node],
            lines=tuple(Line(skus[s], q) for (_, q), s in zip(contents, sku, strict=True)),
            units=units, miles=miles, zone=zone, weight_lb=weight, dim_weight_lb=dim,
            billable_lb=billable, terms=all_terms, cost=sum(v for _, v in all_terms),
        ))  # fmt: skip
    shipped = np.bincount(allocation.line, allocation.qty, minlength=p.n_lines)
    unfilled = tuple(
        Line(skus[int(p.line_sku[ln])], int(p.line_qty[ln] - shipped[ln]))
        for ln in range(p.n_lines)
        if p.line_qty[ln] > shipped[ln]
    )
    pen = p.penalties
    return PlanItems(
        shipments=tuple(shipments),
        unfilled=unfilled,
        split_penalty=pen.split * max(len(shipments) - 1, 0),
        unfilled_penalty=pen.unfilled_per_unit * sum(ln.qty for ln in unfilled),
    )
