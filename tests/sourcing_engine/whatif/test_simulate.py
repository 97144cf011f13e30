"""The replay: order by order it gives each order the live service's plan; plans pass the
independent checker; capacity is per node and local day; arrivals add stock on their
moment; promise dates are the hand-computed ones; the same inputs give the same numbers."""

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np

from sourcing_engine.cost_models import OrderPenalties, default_us_ground
from sourcing_engine.domain import Destination, Item, Node, Order, Position
from sourcing_engine.presets import PRESETS, generate
from sourcing_engine.promise.carriers import default_carrier
from sourcing_engine.sourcing import Network, SourcingConfig, source
from sourcing_engine.whatif.scenario import Variant
from sourcing_engine.whatif.simulate import replay
from sourcing_engine.whatif.world import (
    Arrival,
    OrderStream,
    Period,
    World,
    spread_over,
    world_of_batch,
)

NY = ZoneInfo("America/New_York")
PERIOD = Period(dt.date(2026, 11, 23), 3, "America/New_York")
GREEDY = Variant("v")


def _small(n_orders: int, days: int = 3) -> tuple[World, OrderStream]:
    batch = generate(replace(PRESETS["small"], n_orders=n_orders), 3)
    period = replace(PERIOD, days=days)
    return world_of_batch(batch, days), spread_over(batch.orders, period, 5)


def test_order_by_order_is_what_the_live_service_gives_each_order_in_turn() -> None:
    """Without capacity limits (the live service sources one order on stock alone), each
    order's shipments and cost equal `sourcing.source` called order after order on the
    stock the orders before it left."""
    world, stream = _small(120)
    world = replace(world, nodes=tuple(replace(n, ship_capacity=None, unit_capacity=None)
                                       for n in world.nodes))  # fmt: skip
    r = replay(world, stream, PERIOD, GREEDY)
    network = Network(world.nodes)
    items = {it.sku: it for it in world.items}
    stock = {
        (world.nodes[n].id, world.items[s].sku): max(0, oh - ss)
        for n, s, oh, ss in zip(world.stock_node.tolist(), world.stock_sku.tolist(),
                                world.on_hand.tolist(), world.safety_stock.tolist(), strict=True)
    }  # fmt: skip
    config = SourcingConfig(
        world.shipping, world.penalties.unfilled_per_unit, world.penalties.split
    )
    for k, order in enumerate(stream.orders):
        positions = [Position(n, s, q, 0, 0, 0) for (n, s), q in stock.items() if q > 0]
        plan = source([order], network, items, positions, config)[0].plan
        mine = r.ship_order == k
        got = sorted(zip([r.node_ids[i] for i in r.ship_node[mine]], r.ship_units[mine].tolist(),
                         strict=True))  # fmt: skip
        assert got == sorted((s.node, s.units) for s in plan.shipments), order.id
        assert abs(r.order_cost[k] - plan.cost) < 1e-6
        for s in plan.shipments:
            for ln in s.lines:
                stock[(s.node, ln.sku)] -= ln.qty


def test_plans_pass_the_checker_and_capacity_is_per_node_and_local_day() -> None:
    """Every run's plan passes plan_check (order by order, and optimal in waves); no node
    ships more than its daily capacity on any local day, and capacity binds somewhere."""
    world, stream = _small(600)
    for variant in (GREEDY, Variant("w", policy="optimal", waves_minutes=60, time_limit_s=1.0)):
        r = replay(world, stream, PERIOD, variant, check=True)
        assert r.checked
        assert r.runs > 3
        cap = r.day_ship_capacity
        limited = cap >= 0
        assert np.all(r.used_ships[limited] <= cap[limited, None])
        assert np.any(r.used_ships[limited] == cap[limited, None])
        assert int(r.ship_units.sum()) + int(r.order_unfilled.sum()) == int(r.order_units.sum())


def test_the_same_inputs_give_the_same_numbers() -> None:
    world, stream = _small(200)
    a, b = replay(world, stream, PERIOD, GREEDY), replay(world, stream, PERIOD, GREEDY)
    for name in ("ship_order", "ship_node", "ship_units", "order_cost", "used_ships"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def _tiny(arrivals: tuple[Arrival, ...] = (), on_hand: int = 10) -> World:
    """One warehouse in New York City with one SKU."""
    shipping = default_us_ground()
    return World(
        nodes=(Node("DC-NYC", "warehouse", 40.71, -74.01, ship_capacity=100, unit_capacity=100),),
        items=(Item("SKU-1", 1.0, (6.0, 6.0, 6.0)),),
        stock_node=np.array([0]), stock_sku=np.array([0]), on_hand=np.array([on_hand]),
        safety_stock=np.array([0]), shipping=shipping,
        penalties=OrderPenalties(unfilled_per_unit=250.0, split=1.0),
        carrier=default_carrier("US", shipping), arrivals=arrivals,
    )  # fmt: skip


def _stream(*moments: dt.datetime) -> OrderStream:
    philadelphia = Destination(39.95, -75.17)  # 80 miles: zone 2, ground 1 day
    orders = tuple(Order.of(f"O-{k}", philadelphia, [("SKU-1", 1)]) for k in range(len(moments)))
    return OrderStream(orders, np.array([m.timestamp() for m in moments]))


def test_promise_dates_are_the_hand_computed_ones() -> None:
    """Warehouse cut-off 14:00 New York time, Monday to Friday, Thanksgiving (Thu 26 Nov
    2026) closed; ground in zone 2 delivers the next working day (not on weekends)."""
    stream = _stream(
        dt.datetime(2026, 11, 23, 10, 0, tzinfo=NY),  # Mon before cut-off: ships Mon, Tue
        dt.datetime(2026, 11, 23, 15, 0, tzinfo=NY),  # Mon after: ships Tue, delivered Wed
        dt.datetime(2026, 11, 25, 15, 0, tzinfo=NY),  # Wed after: Fri (Thanksgiving), Mon 30
    )
    r = replay(_tiny(), stream, replace(PERIOD, days=7), GREEDY)
    assert r.promised_days is not None
    assert r.on_time is not None
    assert r.promised_days.tolist() == [1.0, 2.0, 5.0]
    assert r.on_time.all()
    # in an hourly wave the 13:30 order is sourced at 14:00, after the cut-off: a day late
    late = _stream(dt.datetime(2026, 11, 23, 13, 30, tzinfo=NY))
    w = replay(_tiny(), late, replace(PERIOD, days=7), Variant("w", waves_minutes=60))
    assert w.promised_days is not None
    assert w.on_time is not None
    assert w.promised_days.tolist() == [1.0]
    assert not w.on_time[0]


def test_a_purchase_order_adds_stock_when_it_arrives() -> None:
    """No stock until a purchase order of 2 arrives on Tuesday 08:00: Monday's order goes
    unfilled, Tuesday's two later orders ship, the third finds none left."""
    po = Arrival("DC-NYC", "SKU-1", 2, dt.datetime(2026, 11, 24, 8, 0, tzinfo=NY).timestamp())
    stream = _stream(
        dt.datetime(2026, 11, 23, 12, 0, tzinfo=NY),
        dt.datetime(2026, 11, 24, 9, 0, tzinfo=NY),
        dt.datetime(2026, 11, 24, 9, 30, tzinfo=NY),
        dt.datetime(2026, 11, 24, 10, 0, tzinfo=NY),
    )
    r = replay(_tiny((po,), on_hand=0), stream, PERIOD, GREEDY, check=True)
    assert r.order_unfilled.tolist() == [1, 0, 0, 1]
    assert r.used_ships[0].tolist() == [0, 2, 0]


def test_a_transfer_leaves_when_sent_and_arrives_on_its_date() -> None:
    """A transfer of 3 from Philadelphia leaves on Monday 08:00, after one of its 3 units
    shipped, so it carries the 2 left; they reach New York on Tuesday 08:00, which ships
    two orders with them; in between neither node has stock."""
    world = _tiny(on_hand=0)
    phl = Node("DC-PHL", "warehouse", 39.95, -75.17, ship_capacity=100, unit_capacity=100)
    world = replace(
        world,
        nodes=(*world.nodes, phl),
        stock_node=np.array([0, 1]), stock_sku=np.array([0, 0]), on_hand=np.array([0, 3]),
        safety_stock=np.array([0, 0]),
        arrivals=(Arrival("DC-NYC", "SKU-1", 3,
                          dt.datetime(2026, 11, 24, 8, 0, tzinfo=NY).timestamp(), "DC-PHL",
                          dt.datetime(2026, 11, 23, 8, 0, tzinfo=NY).timestamp()),),
    )  # fmt: skip
    stream = _stream(
        dt.datetime(2026, 11, 23, 7, 0, tzinfo=NY),  # before it leaves: Philadelphia ships
        dt.datetime(2026, 11, 23, 9, 0, tzinfo=NY),  # on the road: unfilled
        dt.datetime(2026, 11, 24, 9, 0, tzinfo=NY),  # arrived: New York ships
        dt.datetime(2026, 11, 24, 9, 30, tzinfo=NY),  # and the second unit
        dt.datetime(2026, 11, 24, 10, 0, tzinfo=NY),  # none left anywhere
    )
    r = replay(world, stream, PERIOD, GREEDY, check=True)
    assert r.order_unfilled.tolist() == [0, 1, 0, 0, 1]
    assert [r.node_ids[n] for n in r.ship_node] == ["DC-PHL", "DC-NYC", "DC-NYC"]
