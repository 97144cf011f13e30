"""Solvers: numbers in, numbers out. `solve(problem, policy, ...) -> Result`.

Solvers never import the domain (`sourcing_engine`) or the API; they take a read-only
`SourcingProblem` and return a solver-neutral `Result`. Every policy is in
`solvers.policies.POLICIES`.
"""

from sourcing_engine.solvers.optimal import OptimalParams
from sourcing_engine.solvers.policies import POLICIES, Limits, Policy, policy, solve
from sourcing_engine.solvers.problem import UNLIMITED, SourcingProblem
from sourcing_engine.solvers.result import Allocation, PlanCosts, Result, Status, Termination

__all__ = [
    "POLICIES",
    "UNLIMITED",
    "Allocation",
    "Limits",
    "OptimalParams",
    "PlanCosts",
    "Policy",
    "Result",
    "SourcingProblem",
    "Status",
    "Termination",
    "policy",
    "solve",
]
