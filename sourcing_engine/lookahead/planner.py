"""The `lookahead` policy over a selling period: each run of orders sourced as greedy-cost
with the opportunity cost of the resources a plan uses on top (a unit of stock at a node,
a shipment and a unit of a node's capacity for the day), read from the dual values of the
relaxation of the demand still to come today, recomputed every REFRESH_HOURS.

Why the rest of today, and why order plans rather than a (region, SKU) transportation LP:
on the presets the scarce resource is the nodes' daily capacity (warehouses ship at their
limit most days), not stock, and a node's capacity resets at midnight. A unit of capacity
used now is worth what it would save the orders still to come before the reset. Those
orders' own plans (several lines, splits, shipments counted per node) decide that value,
so the relaxation is the engine's own master LP (solvers.shadow.BatchRelaxation) over a
sample of them, whose duals price stock, shipments and units on the same footing as the
costs (Acimovic and Graves 2015 price stock the same way, with a fluid forecast).

The forecast of the rest of today is empirical: the orders placed over the same hours of
the days before, pooled over as many past days as give MIN_SCENARIO_ORDERS (a thin sample
prices noise), with stock and capacity scaled by the days pooled, a sample average. On the
first day there is no such history and the policy is greedy-cost. The prices are charged
at PRICE_WEIGHT: a sample's duals overstate what a unit is worth when the day turns out
quieter than the sample, and half of them keeps the choice that well-founded prices make
without moving orders for noise (measured in benchmarks/test_lookahead.py).
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.lookahead.forecast import DAY_S
from sourcing_engine.solvers import Result, SourcingProblem
from sourcing_engine.solvers.baselines import lookahead
from sourcing_engine.solvers.pricing import Prices
from sourcing_engine.solvers.shadow import BatchRelaxation

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

REFRESH_HOURS = 1.0
RELAXATION_LIMIT_S = 5.0
"""Per refresh: the relaxation's last duals are used if it has not converged by then."""
MIN_SCENARIO_ORDERS = 300
PRICE_WEIGHT = 0.5
LOOKAHEAD = "lookahead"
"""The policy's name in scenarios and the CLI."""

Scenario = Callable[[IntArray], SourcingProblem]
"""The problem of some of the stream's orders (by index) on the stock and capacity left."""


@dataclass
class Lookahead:
    """Prices over a period starting at `since` (a local midnight: days start there)."""

    order_placed: FloatArray
    """When each order of the stream was placed (only those before now are read)."""
    since: float
    end: float
    refresh_hours: float = REFRESH_HOURS
    weight: float = PRICE_WEIGHT
    """Share of each price charged (below 1 hedges against the sample's error)."""
    prices: Prices | None = None
    refreshes: int = 0
    next_refresh: float = field(init=False)

    def __post_init__(self) -> None:
        self.next_refresh = self.since

    def refresh_moments(self) -> list[float]:
        step = self.refresh_hours * 3600.0
        return [float(t) for t in np.arange(self.since + step, self.end, step)]

    def source(self, problem: SourcingProblem, now: float, scenario: Scenario) -> Result:
        """The run sourced at `now` on what problem holds (stock and capacity left)."""
        if now >= self.next_refresh:
            self.prices = self.rest_of_day_prices(now, scenario)
            self.refreshes += 1
            while self.next_refresh <= now:
                self.next_refresh += self.refresh_hours * 3600.0
        p, w = self.prices, self.weight
        if p is None:
            zeros = np.zeros(problem.n_nodes)
            return lookahead(problem, Prices(np.zeros(len(problem.stock_qty)), zeros, zeros))
        return lookahead(problem, Prices(w * p.entry, w * p.node_ship, w * p.node_unit))

    def rest_of_day_prices(self, now: float, scenario: Scenario) -> Prices | None:
        """Dual prices of the relaxation of the rest of today's forecast demand (see the
        module's docstring); None without history of those hours. The scenario's problem
        has the same stock entries and nodes as every run's, so its prices apply as they
        are."""
        day_end = self.since + (math.floor((now - self.since) / DAY_S) + 1) * DAY_S
        placed = self.order_placed
        pick = np.zeros(len(placed), dtype=bool)
        k = 0
        while now - (k + 1) * DAY_S >= self.since and pick.sum() < MIN_SCENARIO_ORDERS:
            k += 1
            pick |= (placed >= now - k * DAY_S) & (placed < day_end - k * DAY_S)
        if not pick.any():
            return None
        sample = scenario(np.nonzero(pick)[0].astype(np.int64))

        def pooled(a: IntArray) -> IntArray:
            return np.where(a >= UNLIMITED, UNLIMITED, a * k)

        sample = replace(
            sample,
            stock_qty=sample.stock_qty * k,
            node_ship_capacity=pooled(sample.node_ship_capacity),
            node_unit_capacity=pooled(sample.node_unit_capacity),
        )
        duals = BatchRelaxation(sample, None, RELAXATION_LIMIT_S).relaxation.duals
        return None if duals is None else duals.prices
