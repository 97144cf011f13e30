"""Lookahead: the forecast's arithmetic, the stock prices are the LP's marginal values,
the policy is greedy-cost under those prices (never leaving a unit unfilled for them), its
replay passes the plan checker, and the hindsight bound is below every policy's cost."""

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sourcing_engine.domain import Destination, Order
from sourcing_engine.lookahead.history import OrderHistory
from sourcing_engine.lookahead.planner import (
    DAY_S,
    MIN_SCENARIO_ORDERS,
    known_orders,
    next_midnight,
    rest_of_day_sample,
)
from sourcing_engine.presets import PRESETS, generate
from sourcing_engine.solvers.baselines import greedy_cost, lookahead
from sourcing_engine.solvers.pricing import Prices
from sourcing_engine.sourcing import Network, build_problem
from sourcing_engine.whatif.hindsight import hindsight
from sourcing_engine.whatif.scenario import Variant, loads
from sourcing_engine.whatif.simulate import replay
from sourcing_engine.whatif.world import OrderStream, Period, spread_over, world_of_batch

PERIOD = Period(dt.date(2026, 11, 23), 3, "America/New_York")


def _history(days: int, per_day: list[float], start: float = 0.0) -> OrderHistory:
    """Orders placed at these hours of each of `days` days from `start`, named day-hour."""
    placed = [start + d * DAY_S + h * 3600.0 for d in range(days) for h in per_day]
    orders = [Order.of(f"{int((t - start) // DAY_S)}-{(t - start) % DAY_S / 3600:g}",
                       Destination(40.7, -74.0), [("A", 1)]) for t in placed]  # fmt: skip
    return OrderHistory(OrderStream(tuple(orders), np.array(placed)), start)


def test_the_sample_is_the_rest_of_the_day_on_the_days_before_nearest_first() -> None:
    """At 10:00 of day 3, to midnight: the orders of 10:00..24:00 of days 2, 1 and 0 (not
    the morning ones, not day 3's), in the order placed; a day before the history's start
    is not pooled; without a whole earlier day there is no sample."""
    history = _history(4, [8.0, 10.0, 15.0, 23.5])
    now, end = 3 * DAY_S + 10 * 3600.0, 4 * DAY_S
    sample = rest_of_day_sample(history, now, end)
    assert sample is not None
    assert sample.days == 3
    assert [o.id for o in sample.orders] == [f"{d}-{h}" for d in range(3) for h in (10, 15, 23.5)]
    later = OrderHistory(history.stream, 0.5 * DAY_S)  # day 0 unknown
    later_sample = rest_of_day_sample(later, now, end)
    assert later_sample is not None
    assert later_sample.days == 2
    assert rest_of_day_sample(history, 0.9 * DAY_S, DAY_S) is None


def test_pooling_stops_at_enough_orders() -> None:
    """Days are pooled, nearest first, only until MIN_SCENARIO_ORDERS orders."""
    history = _history(5, [12.0 + h / 60 for h in range(MIN_SCENARIO_ORDERS // 2 + 1)])
    sample = rest_of_day_sample(history, 4 * DAY_S + 11 * 3600.0, 5 * DAY_S)
    assert sample is not None
    assert sample.days == 2
    assert {o.id.split("-")[0] for o in sample.orders} == {"2", "3"}


def test_next_midnight_is_local_across_a_clock_change() -> None:
    """The day ends at the zone's midnight; the night the clocks go back is 25 hours."""
    tz = ZoneInfo("America/New_York")
    at = dt.datetime(2026, 10, 31, 23, 0, tzinfo=tz).timestamp()
    assert next_midnight(at, tz) == dt.datetime(2026, 11, 1, 0, 0, tzinfo=tz).timestamp()
    after = dt.datetime(2026, 11, 1, 0, 30, tzinfo=tz).timestamp()
    assert next_midnight(after, tz) - after == 24.5 * 3600


def test_known_orders_keep_only_the_lines_of_known_skus() -> None:
    dest = Destination(40.7, -74.0)
    orders = [Order.of("a", dest, [("A", 1), ("Z", 2)]), Order.of("z", dest, [("Z", 1)]),
              Order.of("b", dest, [("B", 3)])]  # fmt: skip
    kept = known_orders(orders, {"A", "B"})
    assert [(o.id, o.quantities) for o in kept] == [("a", {"A": 1}), ("b", {"B": 3})]
    assert kept[1] is orders[2]


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
    # a margin above every saving the prices promise keeps every order on its myopic plan
    kept = lookahead(p, on_stock(price), margin=40.0 * int(p.line_qty.max()) + 1)
    assert np.array_equal(kept.allocation.node, g.allocation.node)
    assert np.array_equal(kept.allocation.qty, g.allocation.qty)
    # one just below the largest saving lets that order, and only orders saving more, move
    assert lookahead(p, on_stock(price), margin=1e-9).objective == pytest.approx(dear.objective)
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
