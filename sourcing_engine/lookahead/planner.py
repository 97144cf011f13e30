"""The `lookahead` policy's state over a selling period: the forecast and the stock prices,
recomputed on a schedule (every REFRESH_HOURS) from the orders seen so far and the stock
left then, and each batch sourced as greedy-cost with those prices on top."""

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.lookahead.forecast import (
    DAY_S,
    DemandHistory,
    Forecast,
    TrailingRate,
    regions_of,
)
from sourcing_engine.lookahead.prices import stock_prices
from sourcing_engine.solvers import Result, SourcingProblem
from sourcing_engine.solvers.baselines import lookahead

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

REFRESH_HOURS = 12.0
LOOKAHEAD = "lookahead"
"""The policy's name in scenarios and the CLI."""


@dataclass(frozen=True, eq=False)
class Lines:
    """Every order line of a period's stream as columns (the replay reveals them in time)."""

    placed_at: FloatArray
    lat: FloatArray
    lon: FloatArray
    sku: IntArray
    qty: IntArray
    n_skus: int


@dataclass
class Lookahead:
    """Prices for a period ending at `end`: refreshed every refresh_hours from `since`."""

    lines: Lines
    since: float
    end: float
    forecast: Forecast = field(default_factory=TrailingRate)
    refresh_hours: float = REFRESH_HOURS
    weight: float = 1.0
    """Share of each price charged (below 1 hedges against the forecast's error)."""
    next_refresh: float = field(init=False)
    key: IntArray = field(init=False)
    price: FloatArray = field(init=False)
    refreshes: int = 0

    def __post_init__(self) -> None:
        self.next_refresh = self.since
        self.key = np.zeros(0, dtype=np.int64)
        self.price = np.zeros(0)

    def refresh_moments(self) -> list[float]:
        step = self.refresh_hours * 3600.0
        return [float(t) for t in np.arange(self.since + step, self.end, step)]

    def source(
        self, problem: SourcingProblem, now: float, units_left: IntArray, daily_units: IntArray
    ) -> Result:
        """The batch sourced at `now` on what problem holds (stock and capacity left)."""
        if now >= self.next_refresh:
            self._refresh(problem, now, units_left, daily_units)
            while self.next_refresh <= now:
                self.next_refresh += self.refresh_hours * 3600.0
        return lookahead(problem, self.weight * self._entry_prices(problem))

    def _refresh(
        self, problem: SourcingProblem, now: float, units_left: IntArray, daily_units: IntArray
    ) -> None:
        ln = self.lines
        seen = ln.placed_at < now
        horizon = max(self.end - now, 0.0)
        if not seen.any() or horizon == 0:
            self.key, self.price = np.zeros(0, dtype=np.int64), np.zeros(0)
            return
        regions = regions_of(ln.lat[seen], ln.lon[seen], ln.qty[seen].astype(np.float64))
        history = DemandHistory(
            ln.placed_at[seen], regions.of(ln.lat[seen], ln.lon[seen]), ln.sku[seen],
            ln.qty[seen], len(regions), ln.n_skus, self.since,
        )  # fmt: skip
        demand = self.forecast.demand(history, now, horizon)
        # units each node may still ship before the end: today's left, then whole days
        later = daily_units.astype(np.float64) * max(horizon / DAY_S - 1.0, 0.0)
        capacity = np.where(
            daily_units >= UNLIMITED, UNLIMITED, np.maximum(units_left, 0) + later.astype(np.int64)
        )
        found = stock_prices(problem, demand, regions.lat, regions.lon, capacity)
        self.key = problem.stock_sku_of_entry * problem.n_nodes + problem.stock_node
        self.price = found.entry
        self._cols = found.columns
        self.refreshes += 1

    def _entry_prices(self, problem: SourcingProblem) -> FloatArray:
        """The last prices on this problem's stock entries (0 where none was priced)."""
        key = problem.stock_sku_of_entry * problem.n_nodes + problem.stock_node
        if not len(self.key):
            return np.zeros(len(key))
        pos = np.minimum(np.searchsorted(self.key, key), len(self.key) - 1)
        return np.where(self.key[pos] == key, self.price[pos], 0.0)
