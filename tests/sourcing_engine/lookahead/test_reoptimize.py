"""Re-optimization in the replay: held orders re-sourced jointly move only when that saves
more than the threshold per order moved, every run passes the plan checker, and units and
capacity add up across moves (nothing shipped twice, no day over a node's capacity)."""

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from sourcing_engine.presets import PRESETS, generate
from sourcing_engine.whatif.scenario import ScenarioError, Variant, loads
from sourcing_engine.whatif.simulate import Replay, replay
from sourcing_engine.whatif.world import Period, spread_over, world_of_batch

PERIOD = Period(dt.date(2026, 11, 23), 2, "America/New_York")


def _replays() -> tuple[Replay, Replay, Replay]:
    batch = generate(replace(PRESETS["small"], n_orders=200), 3)
    world = world_of_batch(batch, PERIOD.days)
    stream = spread_over(batch.orders, PERIOD, 5)
    plain = replay(world, stream, PERIOD, Variant("g"), check=True)
    held = replay(world, stream, PERIOD, Variant("r", hold_minutes=180), check=True)
    never = Variant("n", hold_minutes=180, move_threshold=1e9)
    return plain, held, replay(world, stream, PERIOD, never, check=True)


def test_held_orders_move_and_every_unit_and_shipment_adds_up() -> None:
    plain, held, never = _replays()
    assert held.moves > 0
    # a threshold no saving reaches moves nothing: the plain replay's plans exactly
    assert never.moves == 0
    assert never.order_cost.sum() == pytest.approx(plain.order_cost.sum())
    assert np.array_equal(never.ship_node, plain.ship_node)
    for r in (held, never):
        shipped = np.bincount(r.ship_order, weights=r.ship_units, minlength=len(r.order_units))
        assert np.array_equal(shipped + r.order_unfilled, r.order_units)  # units conserved
        assert np.array_equal(np.bincount(r.ship_order, minlength=len(r.order_units)),
                              r.order_shipments)  # fmt: skip
        limited = r.day_ship_capacity >= 0
        assert np.all(r.used_ships[limited] <= r.day_ship_capacity[limited, None])
        assert (r.used_ships >= 0).all()
        assert (r.used_units >= 0).all()
        assert r.used_ships.sum() <= len(r.ship_order)
        terms = r.ship_carrier.sum() + r.ship_handling.sum() + r.split_penalty
        assert r.order_cost.sum() == pytest.approx(terms + r.unfilled_penalty)


def test_a_scenario_names_the_hold_window_and_threshold_with_clear_errors() -> None:
    head = (
        'name = "x"\n[base]\npreset = "small"\n[orders]\ncount = 10\n'
        '[period]\nstart = 2026-11-23\ndays = 2\n[[variants]]\nname = "r"\n'
    )
    sc = loads(head + "hold_minutes = 60\nmove_threshold = 2.5\n")
    assert (sc.variants[0].hold_minutes, sc.variants[0].move_threshold) == (60, 2.5)
    assert sc.variants[0].batching == "order by order, 60-min hold"
    with pytest.raises(ScenarioError, match=r"hold_minutes.*whole number >= 1"):
        loads(head + "hold_minutes = 0\n")
    with pytest.raises(ScenarioError, match=r"move_threshold.*amount >= 0"):
        loads(head + "hold_minutes = 60\nmove_threshold = -1\n")
    with pytest.raises(ScenarioError, match="move_threshold needs hold_minutes"):
        loads(head + "move_threshold = 1\n")
