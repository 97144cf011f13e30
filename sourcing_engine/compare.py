"""Policy comparison: run several policies on one batch, check and measure their plans.

Every plan goes through the plan checker (`plan_check.validate_plan`, on the plan document
the batch's `CompiledBatch.plan_document` writes) before it is measured: an invalid plan, or
one whose checked cost differs from the measured one, raises `InvalidPlanError`.

The figures are computed from the problem and each policy's allocation (`solvers.evaluate`,
the node handling of `cost_models`), not from the solver's own statistics, so every policy
is measured the same way. The total cost is split into its four terms: shipping (carrier
charges), handling (the nodes' pick and pack), split penalties and unfilled penalties, and
the fill rate is reported on its own, so that shipping savings are not mistaken for the
penalty of units another policy leaves unfilled. The CLI, the benchmarks and the API share
these functions; nothing here prints.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from sourcing_engine.cost_models import handling_cost
from sourcing_engine.plan_check import validate_plan
from sourcing_engine.solvers import POLICIES, Result, SourcingProblem, solve
from sourcing_engine.solvers.evaluate import evaluate
from sourcing_engine.sourcing import CompiledBatch

BASELINE = "closest"
"""The policy savings are measured against: what a store network does without an optimizer."""
BASELINES = ("closest", "greedy-cost")
"""The policies the per-unit savings are measured against: the rule a store network runs
without an optimizer, and the best rule."""
DEFAULT_POLICIES = tuple(POLICIES)
"""Every policy of the registry (rules first, `optimal` last)."""
NOT_APPLICABLE = "—"
COST_TOLERANCE = 1e-6
"""Relative (and absolute) tolerance between the measured total and the checker's."""


class InvalidPlanError(RuntimeError):
    """A policy's plan failed the plan checker: a solver bug, never a figure to report."""

    def __init__(self, policy: str, errors: Sequence[str]) -> None:
        self.policy = policy
        self.errors = list(errors)
        shown = "; ".join(self.errors[:5]) + (" ..." if len(self.errors) > 5 else "")
        super().__init__(
            f"the {policy} plan fails the plan checker ({len(self.errors)} "
            f"error{'s' if len(self.errors) != 1 else ''}): {shown}"
        )


@dataclass(frozen=True)
class PolicyMetrics:
    """What one policy's plan costs and looks like.

    total_cost = shipping_cost + handling_cost + split_penalty + unfilled_penalty:
    shipping_cost is the carrier charges of the shipments, handling_cost the nodes' pick and
    pack (per shipment plus per unit), split_penalty the batch's split penalty per shipment
    beyond an order's first, unfilled_penalty its penalty per unit left unfilled.
    fill_rate = units_shipped / units_ordered. shipping_handling_per_unit =
    (shipping_cost + handling_cost) / units_shipped: what a shipped unit costs to send, with
    no penalty in it.
    Per-order figures divide by every order of the batch. split_order_share is the share of
    orders with 2+ shipments among orders with at least one shipment; avg_miles_per_shipment
    is the mean great-circle distance from the shipping node to the destination. Figures
    that have no value (no shipments, no orders, no bound) are None.
    Savings (None until `with_savings` sets them, or when the baseline was not run):
    savings_vs_closest_pct is the percent of `closest`'s total cost saved;
    per_unit_savings_vs_closest_pct and per_unit_savings_vs_greedy_cost_pct the percent of
    that baseline's shipping_handling_per_unit saved (negative: dearer).
    """

    policy: str
    status: str
    currency: str
    total_cost: float
    shipping_cost: float
    handling_cost: float
    split_penalty: float
    unfilled_penalty: float
    units_ordered: int
    units_shipped: int
    fill_rate: float | None
    shipping_handling_per_unit: float | None
    orders: int
    cost_per_order: float | None
    shipments: int
    shipments_per_order: float | None
    split_order_share: float | None
    unfilled_units: int
    avg_miles_per_shipment: float | None
    runtime_s: float
    bound: float | None
    gap: float | None
    savings_vs_closest_pct: float | None = None
    per_unit_savings_vs_closest_pct: float | None = None
    per_unit_savings_vs_greedy_cost_pct: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def policy_metrics(problem: SourcingProblem, result: Result) -> PolicyMetrics:
    """Measure one policy's plan: its cost terms, fill rate, shipments, splits, distance."""
    costs = evaluate(problem, result.allocation)
    n_orders = problem.n_orders
    n_shipments = len(costs.shipment_order)
    shipping_orders = int(np.count_nonzero(costs.order_shipments))
    miles = problem.distance_miles(costs.shipment_order, costs.shipment_node)
    node = costs.shipment_node
    handling = handling_cost(
        problem.node_handling_per_shipment[node],
        problem.node_handling_per_unit[node],
        costs.shipment_units,
    )
    handling_total = math.fsum(handling.tolist())
    # each shipment's cost is its carrier charge plus its handling
    shipping_total = math.fsum((costs.shipment_cost - handling).tolist())
    pen = problem.penalties
    extra_shipments = int(np.maximum(costs.order_shipments - 1, 0).sum())
    unfilled = int(costs.order_unfilled_units.sum())
    ordered = int(problem.line_qty.sum())
    shipped = int(costs.shipment_units.sum())
    total = costs.total
    split_orders = int(np.count_nonzero(costs.order_shipments >= 2))
    return PolicyMetrics(
        policy=result.policy,
        status=str(result.status),
        currency=problem.shipping.currency,
        total_cost=total,
        shipping_cost=shipping_total,
        handling_cost=handling_total,
        split_penalty=pen.split * extra_shipments,
        unfilled_penalty=pen.unfilled_per_unit * unfilled,
        units_ordered=ordered,
        units_shipped=shipped,
        fill_rate=_ratio(shipped, ordered),
        shipping_handling_per_unit=_ratio(shipping_total + handling_total, shipped),
        orders=n_orders,
        cost_per_order=_ratio(total, n_orders),
        shipments=n_shipments,
        shipments_per_order=_ratio(n_shipments, n_orders),
        split_order_share=_ratio(split_orders, shipping_orders),
        unfilled_units=unfilled,
        avg_miles_per_shipment=float(miles.mean()) if n_shipments else None,
        runtime_s=result.runtime_s,
        bound=result.bound,
        gap=result.gap,
    )


def _saved_pct(base: float | None, value: float | None) -> float | None:
    if base is None or value is None or base <= 0.0:
        return None
    return 100.0 * (base - value) / base


def with_savings(rows: Sequence[PolicyMetrics]) -> list[PolicyMetrics]:
    """The rows with their savings filled in: total cost against `closest`, shipping plus
    handling per shipped unit against `closest` and `greedy-cost` (None for a baseline that
    was not run, or that costs nothing)."""
    by_policy = {r.policy: r for r in rows}
    closest, greedy = by_policy.get("closest"), by_policy.get("greedy-cost")
    return [
        replace(
            r,
            savings_vs_closest_pct=_saved_pct(
                closest.total_cost if closest else None, r.total_cost
            ),
            per_unit_savings_vs_closest_pct=_saved_pct(
                closest.shipping_handling_per_unit if closest else None,
                r.shipping_handling_per_unit,
            ),
            per_unit_savings_vs_greedy_cost_pct=_saved_pct(
                greedy.shipping_handling_per_unit if greedy else None,
                r.shipping_handling_per_unit,
            ),
        )
        for r in rows
    ]


def checked_metrics(compiled: CompiledBatch, result: Result) -> PolicyMetrics:
    """Check a policy's plan with the plan checker, then measure it; InvalidPlanError if
    the plan is invalid or the checker's objective differs from the measured total."""
    report = validate_plan(compiled.batch, compiled.plan_document(result))
    if not report.ok:
        raise InvalidPlanError(result.policy, report.errors)
    metrics = policy_metrics(compiled.problem, result)
    gap = abs(metrics.total_cost - report.objective)
    if gap > COST_TOLERANCE * (1.0 + abs(report.objective)):
        raise InvalidPlanError(
            result.policy,
            [f"measured total {metrics.total_cost!r}, the checker's {report.objective!r}"],
        )
    return metrics


def check_policies(policies: Iterable[str]) -> list[str]:
    """The policy names, each known and given once; ValueError naming the first bad one."""
    names: list[str] = []
    for name in policies:
        if name not in POLICIES:
            raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}")
        if name in names:
            raise ValueError(f"policy {name!r} is given twice")
        names.append(name)
    if not names:
        raise ValueError(f"no policy given; choose from {', '.join(POLICIES)}")
    return names


def compare(
    compiled: CompiledBatch,
    policies: Iterable[str] = DEFAULT_POLICIES,
    *,
    time_limit: float = 60.0,
    gap_tolerance: float = 1e-4,
) -> list[PolicyMetrics]:
    """Solve the batch with each policy in turn, check each plan and measure it.

    Raises InvalidPlanError on the first plan the plan checker refuses. policies is consumed
    once, lazily, so a caller may pass an iterable that reports progress (the CLI passes one
    that drives a progress bar). time_limit and gap_tolerance apply to `optimal` only.
    """
    rows = [
        checked_metrics(
            compiled,
            solve(compiled.problem, name, time_limit=time_limit, gap_tolerance=gap_tolerance),
        )
        for name in policies
    ]
    return with_savings(rows)


# --- presentation -----------------------------------------------------------------------

COLUMNS = (
    "policy",
    "total cost",
    "shipping",
    "handling",
    "split pen.",
    "unfilled pen.",
    "fill",
    "ship+hand/unit",
    "ships/order",
    "split orders",
    "unfilled units",
    "miles/ship",
    "runtime",
    "status",
    "gap",
    "vs closest",
    "unit vs closest",
    "unit vs greedy",
)

_MONEY_COLUMNS = ("total cost",)

LEGEND = (
    "total cost = shipping (carrier charges) + handling (nodes' pick and pack) + split and "
    "unfilled penalties;",
    "fill = units shipped / units ordered; ship+hand/unit = (shipping + handling) / units shipped;",
    "vs closest: total cost saved against closest; unit vs closest, unit vs greedy: "
    "ship+hand/unit saved against closest, greedy-cost (negative: dearer).",
)
"""What the columns of `format_table` are, to print under it."""


def _money(value: float | None) -> str:
    return NOT_APPLICABLE if value is None else f"{value:,.2f}"


def _number(value: float | None, digits: int) -> str:
    return NOT_APPLICABLE if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None, digits: int = 1) -> str:
    return NOT_APPLICABLE if value is None or math.isnan(value) else f"{value:.{digits}f}%"


def _cells(row: PolicyMetrics) -> list[str]:
    return [
        row.policy,
        _money(row.total_cost),
        _money(row.shipping_cost),
        _money(row.handling_cost),
        _money(row.split_penalty),
        _money(row.unfilled_penalty),
        _percent(None if row.fill_rate is None else 100.0 * row.fill_rate),
        _money(row.shipping_handling_per_unit),
        _number(row.shipments_per_order, 3),
        _percent(None if row.split_order_share is None else 100.0 * row.split_order_share),
        f"{row.unfilled_units:,}",
        _number(row.avg_miles_per_shipment, 1),
        f"{row.runtime_s:.2f} s",
        row.status,
        _percent(None if row.gap is None else 100.0 * row.gap, 3),
        _percent(row.savings_vs_closest_pct),
        _percent(row.per_unit_savings_vs_closest_pct),
        _percent(row.per_unit_savings_vs_greedy_cost_pct),
    ]


def format_table(rows: Sequence[PolicyMetrics]) -> str:
    """A plain-text table, one line per policy; text left-aligned, figures right-aligned.

    Money is in the batch's currency, named in the header; `LEGEND` says what each column
    is ("vs closest": percent of closest's total cost saved; "unit vs ...": percent of that
    baseline's shipping plus handling per shipped unit saved).
    """
    currency = rows[0].currency if rows else ""
    header = [f"{c} ({currency})" if c in _MONEY_COLUMNS and currency else c for c in COLUMNS]
    table = [header] + [_cells(r) for r in rows]
    widths = [max(len(line[k]) for line in table) for k in range(len(COLUMNS))]
    left = {0, COLUMNS.index("status")}

    def render(line: list[str]) -> str:
        return "  ".join(
            cell.ljust(w) if k in left else cell.rjust(w)
            for k, (cell, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(table[0]), rule, *(render(line) for line in table[1:])])


def to_json_data(rows: Sequence[PolicyMetrics], *, problem_name: str = "") -> dict[str, Any]:
    """The comparison as a JSON-ready document (None figures become null)."""
    return {
        "problem": problem_name,
        "baseline": BASELINE,
        "per_unit_baselines": list(BASELINES),
        "policies": [{k: _finite(v) for k, v in r.to_dict().items()} for r in rows],
    }


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity (an unbounded gap): write null rather than invalid JSON
    return None if isinstance(value, float) and not math.isfinite(value) else value


__all__ = [
    "BASELINE",
    "BASELINES",
    "DEFAULT_POLICIES",
    "LEGEND",
    "InvalidPlanError",
    "PolicyMetrics",
    "check_policies",
    "checked_metrics",
    "compare",
    "format_table",
    "policy_metrics",
    "to_json_data",
    "with_savings",
]
