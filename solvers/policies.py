"""Every sourcing policy behind one protocol, in one registry.

The CLI, `compare`, the plan validator and the live service enumerate policies from
`POLICIES`; a new policy is added here once and is then offered everywhere.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sourcing_engine.solvers.baselines import closest, fewest_splits, greedy_cost
from sourcing_engine.solvers.mip import BACKENDS
from sourcing_engine.solvers.optimal import OptimalParams, solve_optimal
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Result


@dataclass(frozen=True)
class Limits:
    """What a caller allows a policy: seconds for the whole solve, and the relative gap to
    the bound at which a plan counts as optimal (policies without a bound ignore both)."""

    time_limit_s: float = 60.0
    gap_tolerance: float = 1e-4

    def __post_init__(self) -> None:
        if not (math.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise ValueError(f"time_limit_s must be > 0 seconds, got {self.time_limit_s!r}")
        if not 0 <= self.gap_tolerance < 1:
            raise ValueError(f"gap_tolerance must be in [0, 1), got {self.gap_tolerance!r}")


class Policy(Protocol):
    """A way of sourcing a batch: its name, what it does, and its own parameters."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> dict[str, object]: ...

    def solve(self, problem: SourcingProblem, limits: Limits) -> Result: ...


@dataclass(frozen=True)
class Rule:
    """A rule-based policy: one pass over the orders, no bound; limits do not apply."""

    name: str
    description: str
    run: Callable[[SourcingProblem], Result]
    parameters: dict[str, object] = field(default_factory=dict)

    def solve(self, problem: SourcingProblem, limits: Limits) -> Result:
        return self.run(problem)


@dataclass(frozen=True)
class Optimal:
    """The whole batch as one model, to proven optimality where the time allows."""

    mip_backend: str = "highs"
    name: str = "optimal"
    description: str = (
        "the whole batch as one model, to proven optimality where time allows, with its "
        "bound and gap"
    )

    def __post_init__(self) -> None:
        if self.mip_backend not in BACKENDS:
            raise ValueError(
                f"mip_backend must be one of {', '.join(BACKENDS)}, got {self.mip_backend!r}"
            )

    @property
    def parameters(self) -> dict[str, object]:
        return {"mip_backend": self.mip_backend}

    def solve(self, problem: SourcingProblem, limits: Limits) -> Result:
        params = OptimalParams(limits.time_limit_s, limits.gap_tolerance, self.mip_backend)
        return solve_optimal(problem, params)


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Rule(
            "closest",
            "each line from the nearest node with stock (the default of common commerce "
            "platforms)",
            closest,
        ),
        Rule(
            "fewest-splits", "the fewest nodes that cover the order, nearest first among equals",
            fewest_splits,
        ),
        Rule(
            "greedy-cost",
            "orders in sequence, each given its own cheapest plan against what is left",
            greedy_cost,
        ),
        Optimal(),
    )
}  # fmt: skip
"""Every policy by name, rules first."""


def policy(name: str) -> Policy:
    """The policy of this name; ValueError naming the ones there are."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}") from None


def solve(
    problem: SourcingProblem,
    name: str = "optimal",
    *,
    time_limit: float = 60.0,
    gap_tolerance: float = 1e-4,
    mip_backend: str = "highs",
) -> Result:
    """Source a batch with the policy of this name (mip_backend: `optimal`'s)."""
    chosen = Optimal(mip_backend) if name == "optimal" else policy(name)
    return chosen.solve(problem, Limits(time_limit, gap_tolerance))
