"""Lookahead: the forecast's arithmetic, the stock prices are the LP's marginal values,
the policy is greedy-cost under those prices (never leaving a unit unfilled for them), its
replay passes the plan checker, and the hindsight bound is below every policy's cost."""

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.lookahead.forecast import DAY_S, DemandHistory, TrailingRate, regions_of
from sourcing_engine.lookahead.prices import stock_prices
from sourcing_engine.presets import PRESETS, generate
from sourcing_engine.solvers import SourcingProblem
from sourcing_engine.solvers.baselines import greedy_cost, lookahead
from sourcing_engine.solvers.pricing import Prices
from sourcing_engine.sourcing import Network, build_problem
from sourcing_engine.whatif.hindsight import hindsight
from sourcing_engine.whatif.scenario import Variant, loads
from sourcing_engine.whatif.simulate import replay
from sourcing_engine.whatif.world import Period, spread_over, world_of_batch

PERIOD = Period(dt.date(2026, 11, 23), 3, "America/New_York")


def test_trailing_rate_is_the_sku_rate_times_the_region_share_over_the_horizon() -> None:
    day = DAY_S
    history = DemandHistory(
        placed_at=np.array([0.5, 1.0, 1.5, 2.5, 9.0]) * day,
        region=np.array([0, 0, 1, 1, 1]),
        sku=np.array([0, 1, 0, 0, 1]),
        qty=np.array([2, 1, 1, 100, 5]),
        n_regions=2, n_skus=2, since=0.0,
    )  # fmt: skip
    # at day 2 with a 1.5-day window: the lines at days 0.5 .. 1.5 (the 100 is later)
    got = TrailingRate(window_days=1.5).demand(history, 2 * day, 3 * day)
    sku_rate = np.array([3.0, 1.0]) / 1.5  # units a day over the window
    share = np.array([3.0, 1.0]) / 4.0
    assert got == pytest.approx(np.outer(share, sku_rate) * 3)
    assert TrailingRate().demand(history, 0.0, day).sum() == 0  # nothing seen yet


def test_regions_are_grid_cells_centred_on_their_demand() -> None:
    lat, lon = np.array([40.1, 40.9, 35.0]), np.array([-74.1, -74.3, -80.0])
    regions = regions_of(lat, lon, np.array([1.0, 3.0, 1.0]))
    assert len(regions) == 2
    r = regions.of(lat, lon)
    assert r[0] == r[1] != r[2]
    assert regions.lat[r[0]] == pytest.approx((40.1 + 3 * 40.9) / 4)
    assert regions.of(np.array([10.0]), np.array([10.0]))[0] == -1


def _problem(preset: str = "small", seed: int = 2) -> SourcingProblem:
    batch = generate(PRESETS[preset], seed)
    w = world_of_batch(batch, 1)
    stock = (w.stock_sku, w.stock_node, np.maximum(w.on_hand - w.safety_stock, 0))
    return build_problem(Network(w.nodes), w.items, stock, batch.orders[:5], w.shipping,
                         w.penalties)  # fmt: skip


def _demand(p: SourcingProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Demand in four regions at some nodes' locations, heavy on the first SKUs."""
    rng = np.random.default_rng(0)
    at = rng.choice(p.n_nodes, 4, replace=False)
    demand = rng.gamma(0.5, 4.0, size=(4, p.n_skus)) * (np.arange(p.n_skus) < 60)
    return demand, p.node_lat[at] + 0.3, p.node_lon[at] - 0.3


def test_a_stock_price_is_the_lp_cost_of_one_unit_less() -> None:
    """The dual of a stock row is a subgradient of the LP's cost in that stock: one unit
    more saves at most the price, one unit less costs at least it; on the positions where
    both changes agree (no degeneracy), the price equals the change exactly."""
    p = _problem()
    demand, lat, lon = _demand(p)
    cap = np.full(p.n_nodes, UNLIMITED, dtype=np.int64)
    base = stock_prices(p, demand, lat, lon, cap)
    priced = np.nonzero(base.entry > 1e-6)[0]
    assert len(priced) >= 5
    exact = 0
    for e in priced[:8].tolist():
        more = p.stock_qty.copy()
        more[e] += 1
        less = p.stock_qty.copy()
        less[e] -= 1
        up = stock_prices(replace(p, stock_qty=more), demand, lat, lon, cap).objective
        if less[e] == 0:  # a problem holds positive stock only: price the unit away instead
            continue
        down = stock_prices(replace(p, stock_qty=less), demand, lat, lon, cap).objective
        saved, lost = base.objective - up, down - base.objective
        assert saved <= base.entry[e] + 1e-6 <= lost + 2e-6
        exact += abs(saved - lost) < 1e-6 and abs(saved - base.entry[e]) < 1e-6
    assert exact >= 1


def test_lookahead_without_prices_is_greedy_cost_and_a_price_moves_the_plan() -> None:
    batch = generate(PRESETS["small"], 4)
    w = world_of_batch(batch, 1)
    p = build_problem(Network(w.nodes), w.items,
                      (w.stock_sku, w.stock_node, np.maximum(w.on_hand - w.safety_stock, 0)),
                      batch.orders, w.shipping, w.penalties)  # fmt: skip
    g = greedy_cost(p)
    no_node = np.zeros(p.n_nodes)

    def on_stock(price: np.ndarray) -> Prices:
        return Prices(price, no_node, no_node)

    free = lookahead(p, on_stock(np.zeros(len(p.stock_qty))))
    assert free.objective == pytest.approx(g.objective)
    assert np.array_equal(free.allocation.qty, g.allocation.qty)
    # price the entries greedy used most dearly: lookahead moves off them, fills as much
    used = p.stock_entry(g.allocation.node, p.line_sku[g.allocation.line])
    price = np.zeros(len(p.stock_qty))
    price[used] = 40.0
    dear = lookahead(p, on_stock(price))
    moved = p.stock_entry(dear.allocation.node, p.line_sku[dear.allocation.line])
    assert np.isin(moved, used).mean() < np.isin(used, used).mean()
    assert dear.objective >= g.objective - 1e-6  # greedy is cheapest now; the price buys later
    # a price never makes an order leave a unit unfilled: the same price on every unit,
    # ten times the unfilled penalty, changes nothing
    flat = lookahead(p, on_stock(np.full(len(p.stock_qty), 10 * p.penalties.unfilled_per_unit)))
    assert np.array_equal(flat.costs.order_unfilled_units, g.costs.order_unfilled_units)
    assert flat.objective == pytest.approx(g.objective)


def test_lookahead_replay_passes_the_checker_and_hindsight_bounds_every_policy() -> None:
    batch = generate(replace(PRESETS["small"], n_orders=240), 3)
    world = world_of_batch(batch, PERIOD.days)
    stream = spread_over(batch.orders, PERIOD, 5)
    costs = {}
    for variant in (Variant("g"), Variant("c", policy="closest"), Variant("l", policy="lookahead")):
        r = replay(world, stream, PERIOD, variant, check=True)
        terms = r.ship_carrier.sum() + r.ship_handling.sum() + r.split_penalty
        assert r.order_cost.sum() == pytest.approx(terms + r.unfilled_penalty)
        costs[variant.policy] = float(r.order_cost.sum())
    best = hindsight(world, stream, PERIOD, time_limit_s=20.0)
    assert best.bound is not None
    assert best.bound <= min(costs.values()) + 1e-6
    assert best.bound <= best.objective + 1e-6


def test_a_scenario_may_name_the_lookahead_policy() -> None:
    sc = loads(
        'name = "x"\n[base]\npreset = "small"\n[orders]\ncount = 10\n'
        "[period]\nstart = 2026-11-23\ndays = 2\n"
        '[[variants]]\nname = "look"\npolicy = "lookahead"\n'
    )
    assert sc.variants[0].policy == "lookahead"
