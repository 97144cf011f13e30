"""Solver-neutral plan and result types: what a policy returns, its cost terms, and why it
stopped."""

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class Status(StrEnum):
    """How much is known about a plan's quality."""

    OPTIMAL = "optimal"
    """Proven optimal: the gap to the lower bound is within the solver's tolerance."""
    FEASIBLE = "feasible"
    """A valid plan with a proven lower bound, stopped (time limit) before closing the gap."""
    HEURISTIC = "heuristic"
    """A valid plan from a rule, with no lower bound."""


class Termination(StrEnum):
    """Why a policy stopped."""

    COMPLETED = "completed"
    """A rule ran to its end (it proves nothing)."""
    OPTIMAL = "optimal"
    """The gap to the bound closed within the tolerance."""
    TIME_LIMIT = "time_limit"
    """The time limit ended the search with a gap left (the plan and bound are valid)."""
    INFEASIBLE = "infeasible"
    """No plan satisfies the constraints."""
    ERROR = "error"
    """A solver failed; `Result.message` says how (the plan is the best valid one found)."""


@dataclass(frozen=True, eq=False)
class Allocation:
    """Units sent from nodes to order lines: qty[i] units of line[i] from node[i].

    (line, node) pairs are distinct and quantities positive; a line's units that no entry
    covers are unfilled. One order's entries at one node form one shipment.
    """

    line: IntArray
    node: IntArray
    qty: IntArray

    def __post_init__(self) -> None:
        for name in ("line", "node", "qty"):
            a = np.ascontiguousarray(getattr(self, name), dtype=np.int64).copy()
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        if not (len(self.line) == len(self.node) == len(self.qty)):
            raise ValueError("line, node and qty must have the same length")
        if np.any(self.qty <= 0):
            raise ValueError("allocated quantities must be positive")

    @staticmethod
    def empty() -> "Allocation":
        z = np.zeros(0, dtype=np.int64)
        return Allocation(z, z, z)

    @staticmethod
    def concat(parts: "list[Allocation]") -> "Allocation":
        if not parts:
            return Allocation.empty()
        return Allocation(
            np.concatenate([p.line for p in parts]),
            np.concatenate([p.node for p in parts]),
            np.concatenate([p.qty for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.line)


@dataclass(frozen=True, eq=False)
class PlanCosts:
    """A plan grouped into shipments (by order, then node), with every cost term."""

    shipment_order: IntArray
    shipment_node: IntArray
    shipment_units: IntArray
    shipment_cost: FloatArray
    """Carrier charge plus the node's handling, per shipment."""
    order_shipments: IntArray
    order_unfilled_units: IntArray
    order_cost: FloatArray
    """Shipments, split penalty and unfilled penalty, per order."""

    @property
    def total(self) -> float:
        return float(self.order_cost.sum())


@dataclass(frozen=True, eq=False)
class Result:
    """What every policy returns: the plan, its cost and what is proven about it.

    objective: total cost of the plan (shipments, split and unfilled penalties).
    bound: a proven lower bound on the optimal cost (None for rule-based policies).
    gap: (objective - bound) / objective, 0 when both are 0 (None without a bound).
    costs: the plan's shipments and every cost term (objective == costs.total).
    termination: why the policy stopped; message: what went wrong, if anything did.
    """

    policy: str
    status: Status
    objective: float
    bound: float | None
    gap: float | None
    runtime_s: float
    allocation: Allocation
    costs: PlanCosts
    termination: Termination
    message: str = ""
    stats: dict[str, float] = field(default_factory=dict)


def relative_gap(objective: float, bound: float) -> float:
    """(objective - bound) / |objective|, never negative, 0 when both are 0 or when they
    differ by float noise only (1e-9 relative)."""
    if objective - bound <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    if objective <= 0.0:
        return float("inf")
    return (objective - bound) / abs(objective)
