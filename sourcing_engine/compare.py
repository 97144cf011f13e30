"""Policy comparison: run several policies on one batch and measure their plans.

The figures are computed from the problem and each policy's allocation (`solvers.evaluate`),
not from the solver's own statistics, so every policy is measured the same way. The CLI,
the benchmarks and the API share these functions; nothing here prints.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from sourcing_engine.solvers import POLICIES, Result, SourcingProblem, solve
from sourcing_engine.solvers.evaluate import evaluate
from sourcing_engine.sourcing import CompiledBatch

BASELINE = "closest"
"""The policy savings are measured against: what a store network does without an optimizer."""
DEFAULT_POLICIES = tuple(POLICIES)
"""Every policy of the registry (rules first, `optimal` last)."""
NOT_APPLICABLE = "—"


@dataclass(frozen=True)
class PolicyMetrics:
    """What one policy's plan costs and looks like.

    Per-order figures divide by every order of the batch. split_order_share is the share of
    orders with 2+ shipments among orders with at least one shipment; avg_miles_per_shipment
    is the mean great-circle distance from the shipping node to the destination. Figures
    that have no value (no shipments, no orders, no bound) are None.
    savings_vs_closest_pct: percent of `closest`'s total cost saved (negative: dearer);
    None until `with_savings` sets it, or when `closest` was not run.
    """

    policy: str
    status: str
    currency: str
    total_cost: float
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def policy_metrics(problem: SourcingProblem, result: Result) -> PolicyMetrics:
    """Measure one policy's plan: costs, shipments, splits, unfilled units and distance."""
    costs = evaluate(problem, result.allocation)
    n_orders = problem.n_orders
    n_shipments = len(costs.shipment_order)
    shipping_orders = int(np.count_nonzero(costs.order_shipments))
    miles = problem.distance_miles(costs.shipment_order, costs.shipment_node)
    total = costs.total
    split_orders = int(np.count_nonzero(costs.order_shipments >= 2))
    return PolicyMetrics(
        policy=result.policy,
        status=str(result.status),
        currency=problem.shipping.currency,
        total_cost=total,
        orders=n_orders,
        cost_per_order=_ratio(total, n_orders),
        shipments=n_shipments,
        shipments_per_order=_ratio(n_shipments, n_orders),
        split_order_share=_ratio(split_orders, shipping_orders),
        unfilled_units=int(costs.order_unfilled_units.sum()),
        avg_miles_per_shipment=float(miles.mean()) if n_shipments else None,
        runtime_s=result.runtime_s,
        bound=result.bound,
        gap=result.gap,
    )


def with_savings(rows: Sequence[PolicyMetrics]) -> list[PolicyMetrics]:
    """The rows with savings against `closest` filled in (None without a `closest` row)."""
    base = next((r.total_cost for r in rows if r.policy == BASELINE), None)
    if base is None or base <= 0.0:
        return list(rows)
    return [replace(r, savings_vs_closest_pct=100.0 * (base - r.total_cost) / base) for r in rows]


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
    """Solve the batch with each policy in turn and measure each plan.

    policies is consumed once, lazily, so a caller may pass an iterable that reports
    progress (the CLI passes one that drives a progress bar). time_limit and gap_tolerance
    apply to `optimal` only.
    """
    rows = [
        policy_metrics(
            compiled.problem,
            solve(compiled.problem, name, time_limit=time_limit, gap_tolerance=gap_tolerance),
        )
        for name in policies
    ]
    return with_savings(rows)


# --- presentation -----------------------------------------------------------------------

COLUMNS = (
    "policy",
    "total cost",
    "cost/order",
    "ships/order",
    "split orders",
    "unfilled units",
    "miles/ship",
    "runtime",
    "status",
    "gap",
    "vs closest",
)

_MONEY_COLUMNS = ("total cost", "cost/order")


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
        _money(row.cost_per_order),
        _number(row.shipments_per_order, 3),
        _percent(None if row.split_order_share is None else 100.0 * row.split_order_share),
        f"{row.unfilled_units:,}",
        _number(row.avg_miles_per_shipment, 1),
        f"{row.runtime_s:.2f} s",
        row.status,
        _percent(None if row.gap is None else 100.0 * row.gap, 3),
        _percent(row.savings_vs_closest_pct),
    ]


def format_table(rows: Sequence[PolicyMetrics]) -> str:
    """A plain-text table, one line per policy; text left-aligned, figures right-aligned.

    Money is in the batch's currency, named in the header; "vs closest" is the percent of
    closest's total cost saved.
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
        "policies": [{k: _finite(v) for k, v in r.to_dict().items()} for r in rows],
    }


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity (an unbounded gap): write null rather than invalid JSON
    return None if isinstance(value, float) and not math.isfinite(value) else value


__all__ = [
    "BASELINE",
    "DEFAULT_POLICIES",
    "PolicyMetrics",
    "check_policies",
    "compare",
    "format_table",
    "policy_metrics",
    "to_json_data",
    "with_savings",
]
