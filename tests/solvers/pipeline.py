"""The first steps of `optimal`, set up the same way for the tests of its later steps."""

import numpy as np

from sourcing_engine.solvers.baselines import closest, fewest_splits, greedy_cost, shape_groups
from sourcing_engine.solvers.column_generation import (
    ColumnGeneration,
    allocation_columns,
    plan_columns,
)
from sourcing_engine.solvers.master import Columns, scarce_rows
from sourcing_engine.solvers.pricing import price_orders
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation


def start_column_generation(problem: SourcingProblem, how: str = "warm") -> ColumnGeneration:
    """Column generation set up as `optimal` does (warm: baseline plans, the all-unfilled
    plan and each order's own cheapest plan as the first columns) or from the all-unfilled
    plan alone (cold)."""
    groups = shape_groups(problem)
    rows = scarce_rows(problem)
    columns = Columns(problem, rows)
    allocation_columns(columns, problem, Allocation.empty())
    if how == "warm":
        for policy in (greedy_cost, closest, fewest_splits):
            allocation_columns(columns, problem, policy(problem).allocation)
        for plans in price_orders(problem, groups):
            plan_columns(columns, plans, np.arange(len(plans.group)))
    return ColumnGeneration(problem, groups, rows, columns)
