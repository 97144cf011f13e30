"""The replay: a variant's orders sourced in the order they were placed, over simulated
days, through the engine the live service sources with.

Order by order, each order gets the plan the live service would give it (`greedy-cost`
on one order is the exact single-order pricing) against the stock and the day's capacity
the orders before it left. That is exactly what `greedy-cost` computes on a run of orders
taken in sequence, so the replay builds one `SourcingProblem` per run of orders between
two events (a node's local midnight, when its daily capacity resets; a purchase order or
transfer arriving) with `sourcing.build_problem` and solves it with `solvers.solve`: the
same code, vectorized over the run. In waves, the orders placed during each wave are
sourced together when it closes (`optimal` with its time limit, or any policy).

Per-day capacity is each node's own: it resets at the node's local midnight. Stock only
moves by what the replay ships and what arrives. Deterministic: the same world, stream
and variant give the same plans.
"""

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models import handling_cost
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.domain import Batch, Inventory, Order
from sourcing_engine.lookahead.history import OrderHistory
from sourcing_engine.lookahead.planner import LOOKAHEAD, Lookahead
from sourcing_engine.plan_check import validate_plan
from sourcing_engine.promise.calendars import node_days, zone
from sourcing_engine.promise.carriers import level_days
from sourcing_engine.solvers import Result, SourcingProblem, solve
from sourcing_engine.sourcing import CompiledBatch, Network, build_problem
from sourcing_engine.whatif.changes import node_zone
from sourcing_engine.whatif.scenario import Variant
from sourcing_engine.whatif.world import OrderStream, Period, World

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


REOPTIMIZE_MINUTES = 30
"""How often the held orders are re-sourced jointly (re-optimization)."""


class ReplayCheckError(RuntimeError):
    """A plan of the replay failed the independent plan checker: a bug, never a figure."""


@dataclass(frozen=True, eq=False)
class Replay:
    """What a variant's replay did, as columns (see outcomes.py for the figures).

    Shipments: the order (index into the stream), node, units, carrier charge, handling,
    miles, zone and the node's local day (0 = the period's first) of each. Orders: their
    destinations, shipments, units ordered and unfilled, cost (shipments and penalties),
    and when promise dates exist the days from placement to the promised delivery and
    whether the plan as executed delivers by then. used_*: shipments and units per node
    and day; day_*_capacity: each node's daily capacity (-1: unlimited).
    """

    variant: Variant
    currency: str
    node_ids: tuple[str, ...]
    node_is_store: BoolArray
    node_lat: FloatArray
    node_lon: FloatArray
    node_enabled: BoolArray
    day_ship_capacity: IntArray
    ship_order: IntArray
    ship_node: IntArray
    ship_units: IntArray
    ship_carrier: FloatArray
    ship_handling: FloatArray
    ship_miles: FloatArray
    ship_zone: IntArray
    order_lat: FloatArray
    order_lon: FloatArray
    order_shipments: IntArray
    order_units: IntArray
    order_unfilled: IntArray
    order_cost: FloatArray
    split_penalty: float
    unfilled_penalty: float
    used_ships: IntArray
    used_units: IntArray
    promised_days: FloatArray | None
    on_time: BoolArray | None
    runtime_s: float
    runs: int
    checked: bool
    moves: int = 0
    """Orders whose allocation re-optimization moved (counted once per move)."""


@dataclass
class _Parts:
    order: list[IntArray]
    node: list[IntArray]
    units: list[IntArray]
    cost: list[FloatArray]
    handling: list[FloatArray]
    miles: list[FloatArray]
    run: list[IntArray]  # the run each shipment was planned in
    day: list[IntArray]  # its node's local day then


def _tz_midnights(zones: list[str], period: Period) -> list[tuple[float, str, int]]:
    """(moment, zone, local day index) of every local midnight of each zone around the
    period (a node's capacity resets then)."""
    out = []
    for name in zones:
        tz = zone(name)
        for d in range(-1, period.days + 2):
            day = period.start + dt.timedelta(days=d)
            out.append((dt.datetime.combine(day, dt.time(0), tzinfo=tz).timestamp(), name, d))
    return out


def replay(
    world: World,
    stream: OrderStream,
    period: Period,
    variant: Variant,
    *,
    check: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Replay:
    """Replay the stream through the world as the variant says (check: every run's plan
    through the independent plan checker, `plan_check.validate_plan`)."""
    t0 = time.perf_counter()
    nodes = world.nodes
    n_nodes, days = len(nodes), period.days
    network = Network(nodes)
    daily_ships = network.ship_capacity.copy()
    daily_units = network.unit_capacity.copy()
    ships_left, units_left = daily_ships.copy(), daily_units.copy()
    zones = [node_zone(n) for n in nodes]
    by_zone = {z: np.array([i for i, zi in enumerate(zones) if zi == z]) for z in set(zones)}

    # stock positions, with a (zero) position for every arrival that has none
    sku_of, node_of = world.stock_sku.copy(), world.stock_node.copy()
    on_hand, safety = world.on_hand.copy(), world.safety_stock.copy()
    nidx, sidx = world.node_index(), world.sku_index()
    extra = {(sidx[a.sku], nidx[n]) for a in world.arrivals for n in (a.node, a.from_node) if n}
    have = set(zip(sku_of.tolist(), node_of.tolist(), strict=True))
    new = sorted(extra - have)
    if new:
        sku_of = np.concatenate([sku_of, [s for s, _ in new]]).astype(np.int64)
        node_of = np.concatenate([node_of, [n for _, n in new]]).astype(np.int64)
        on_hand = np.concatenate([on_hand, np.zeros(len(new), np.int64)])
        safety = np.concatenate([safety, np.zeros(len(new), np.int64)])
    key = sku_of * n_nodes + node_of
    by_key = np.argsort(key)
    sorted_key = key[by_key]

    def position(sku: IntArray, node: IntArray) -> IntArray:
        found: IntArray = by_key[np.searchsorted(sorted_key, sku * n_nodes + node)]
        return found

    # events: (moment, kind, a, b, c); kind 0: zone a's nodes start local day b (their
    # capacity resets); kind 1: c units of SKU a arrive at node b (a purchase order);
    # kind 2 / 3: transfer c leaves its node / arrives with what left (at most what the
    # node had). Resets sort first at the same moment.
    zone_names = sorted(by_zone)
    events: list[tuple[float, int, int, int, int]] = [
        (moment, 0, zone_names.index(z), d, 0) for moment, z, d in _tz_midnights(zone_names, period)
    ]
    transfers = [a for a in world.arrivals if a.from_node is not None and a.sent_at is not None]
    sent = [0] * len(transfers)
    for a in world.arrivals:
        if a.from_node is None or a.sent_at is None:
            events.append((a.at, 1, sidx[a.sku], nidx[a.node], a.qty))
    for k, a in enumerate(transfers):
        events.append((a.sent_at or 0.0, 2, sidx[a.sku], nidx[a.from_node or ""], k))
        events.append((a.at, 3, sidx[a.sku], nidx[a.node], k))
    events.sort(key=lambda e: (e[0], e[1]))
    node_day = np.zeros(n_nodes, dtype=np.int64)

    def apply_event(kind: int, a: int, b: int, c: int) -> None:
        if kind == 0:
            members = by_zone[zone_names[a]]
            ships_left[members] = daily_ships[members]
            units_left[members] = daily_units[members]
            node_day[members] = b
            return
        p = position(np.array([a]), np.array([b]))[0]
        if kind == 1:
            on_hand[p] += c
        elif kind == 2:
            sent[c] = min(transfers[c].qty, int(on_hand[p]))
            on_hand[p] -= sent[c]
        else:
            on_hand[p] += sent[c]

    placed = stream.placed_at
    look = (
        Lookahead(OrderHistory(stream, period.begin), period.end)
        if variant.policy == LOOKAHEAD
        else None
    )
    refreshes = look.refresh_moments() if look is not None else []
    hold_s = 60.0 * variant.hold_minutes if variant.hold_minutes is not None else None
    ticks = _reoptimize_moments(placed, period, hold_s) if hold_s is not None else []
    groups = _groups(placed, [e[0] for e in events] + refreshes + ticks, period, variant)
    # re-optimization ticks run before the orders placed at the same moment are sourced
    schedule = sorted(
        [(m, 0, np.zeros(0, np.int64)) for m in ticks] + [(m, 1, g) for m, g in groups],
        key=lambda x: (x[0], x[1]),
    )
    used_ships = np.zeros((n_nodes, days), dtype=np.int64)
    used_units = np.zeros((n_nodes, days), dtype=np.int64)
    parts = _Parts([], [], [], [], [], [], [], [])
    n_orders = len(stream)
    order_shipments = np.zeros(n_orders, dtype=np.int64)
    order_unfilled = np.zeros(n_orders, dtype=np.int64)
    order_cost = np.zeros(n_orders, dtype=np.float64)
    order_run = np.full(n_orders, -1, dtype=np.int64)  # the run whose plan is the order's
    taken: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []  # per run: order, pos..
    release = placed.copy() if hold_s is None else placed + hold_s
    e = 0
    done = 0
    moves = 0
    runs = 0
    limited_s, limited_u = daily_ships < UNLIMITED, daily_units < UNLIMITED

    def problem_of(orders: list[Order], sourceable: IntArray, ships: IntArray,
                   units: IntArray) -> SourcingProblem:  # fmt: skip
        problem = build_problem(
            network, world.items, (sku_of, node_of, sourceable), orders, world.shipping,
            world.penalties,
        )  # fmt: skip
        return replace(problem, node_ship_capacity=np.maximum(ships, 0),
                       node_unit_capacity=np.maximum(units, 0))  # fmt: skip

    def record(members: IntArray, problem: SourcingProblem, result: Result) -> None:
        """What a run took (stock, the day's capacity of each node) and its plan."""
        alloc, costs = result.allocation, result.costs
        pos = position(problem.line_sku[alloc.line], alloc.node)
        np.subtract.at(on_hand, pos, alloc.qty)
        run = len(taken)
        taken.append((members[problem.line_order[alloc.line]], pos, alloc.node, alloc.qty))
        node = costs.shipment_node
        ships = np.bincount(node, minlength=n_nodes)
        units = np.bincount(node, weights=costs.shipment_units, minlength=n_nodes).astype(np.int64)
        ships_left[limited_s] -= ships[limited_s]
        units_left[limited_u] -= units[limited_u]
        # use on a node's local day before or after the period is not counted
        inside = (node_day >= 0) & (node_day < days)
        used_ships[inside, node_day[inside]] += ships[inside]
        used_units[inside, node_day[inside]] += units[inside]
        handling = handling_cost(
            problem.node_handling_per_shipment[node], problem.node_handling_per_unit[node],
            costs.shipment_units,
        )  # fmt: skip
        parts.order.append(members[costs.shipment_order])
        parts.node.append(node)
        parts.units.append(costs.shipment_units)
        parts.cost.append(costs.shipment_cost - handling)
        parts.handling.append(handling)
        parts.miles.append(problem.distance_miles(costs.shipment_order, node))
        parts.run.append(np.full(len(node), run, dtype=np.int64))
        parts.day.append(node_day[node])
        order_shipments[members] = costs.order_shipments
        order_unfilled[members] = costs.order_unfilled_units
        order_cost[members] = costs.order_cost
        order_run[members] = run

    def reoptimize(moment: float) -> None:
        """The orders still held at `moment` sourced again jointly; their new plans replace
        the old ones when that saves more than the threshold per order moved."""
        nonlocal moves, runs
        assert hold_s is not None
        held = np.nonzero((placed > moment - hold_s) & (placed < moment) & (order_run >= 0))[0]
        if len(held) < 2:  # one order's plan was already its cheapest on what it had
            return
        back_stock = np.zeros(len(on_hand), np.int64)
        back_ships, back_units = np.zeros(n_nodes, np.int64), np.zeros(n_nodes, np.int64)
        day_ships, day_units = np.zeros_like(used_ships), np.zeros_like(used_units)
        old_plan = {}
        for r in np.unique(order_run[held]).tolist():
            order, pos, _, qty = taken[r]
            mine = np.isin(order, held)
            np.add.at(back_stock, pos[mine], qty[mine])
            old_plan.update(_plans(order[mine], pos[mine], qty[mine]))
            ship = np.isin(parts.order[r], held)
            n, d, u = parts.node[r][ship], parts.day[r][ship], parts.units[r][ship]
            today = node_day[n] == d  # a past day's capacity is not this day's
            np.add.at(back_ships, n[today], 1)
            np.add.at(back_units, n[today], u[today])
            ok = (d >= 0) & (d < days)
            np.add.at(day_ships, (n[ok], d[ok]), 1)
            np.add.at(day_units, (n[ok], d[ok]), u[ok])
        orders = [stream.orders[i] for i in held.tolist()]
        sourceable = np.maximum(on_hand + back_stock - safety, 0)
        ships = np.where(limited_s, ships_left + back_ships, ships_left)
        units = np.where(limited_u, units_left + back_units, units_left)
        problem = problem_of(orders, sourceable, ships, units)
        result = solve(problem, "optimal", time_limit=variant.time_limit_s)
        runs += 1
        alloc = result.allocation
        pos = position(problem.line_sku[alloc.line], alloc.node)
        new_plan = _plans(held[problem.line_order[alloc.line]], pos, alloc.qty)
        moved = sum(old_plan.get(o) != new_plan.get(o) for o in held.tolist())
        saving = float(order_cost[held].sum()) - result.costs.total
        if moved == 0 or saving <= variant.move_threshold * moved:
            return
        if check:
            _check(world, problem, orders, sourceable, sku_of, node_of, result)
        on_hand[:] += back_stock
        ships_left[:] = ships
        units_left[:] = units
        used_ships[:] -= day_ships
        used_units[:] -= day_units
        record(held, problem, result)
        moves += moved

    for moment, kind, members in schedule:
        while e < len(events) and events[e][0] <= moment:
            apply_event(*events[e][1:])
            e += 1
        if kind == 0:
            reoptimize(moment)
            continue
        if len(members) == 0:
            continue
        if variant.waves_minutes is not None:
            release[members] = moment + (hold_s or 0.0)
        orders = [stream.orders[i] for i in members.tolist()]
        sourceable = np.maximum(on_hand - safety, 0)
        problem = problem_of(orders, sourceable, ships_left, units_left)
        if look is not None:

            def scenario(
                sample: Sequence[Order],
                base: SourcingProblem = problem,
                stock: IntArray = sourceable,
            ) -> SourcingProblem:
                return problem_of(list(sample), stock, base.node_ship_capacity,
                                  base.node_unit_capacity)  # fmt: skip

            result = look.source(problem, moment, scenario)
        else:
            result = solve(problem, variant.policy, time_limit=variant.time_limit_s)
        runs += 1
        if check:
            _check(world, problem, orders, sourceable, sku_of, node_of, result)
        record(members, problem, result)
        done += len(members)
        if progress is not None:
            progress(done)

    current = [parts.run[r] == order_run[parts.order[r]] for r in range(len(parts.run))]
    for name in ("order", "node", "units", "cost", "handling", "miles"):
        setattr(parts, name, [a[k] for a, k in zip(getattr(parts, name), current, strict=True)])
    pen = world.penalties
    split_total = pen.split * float(np.maximum(order_shipments - 1, 0).sum())
    unfilled_total = pen.unfilled_per_unit * float(order_unfilled.sum())
    ship_order = _ints(parts.order)
    ship_node = _ints(parts.node)
    miles = _floats(parts.miles)
    zone_of = world.carrier.zone(miles)
    order_units = np.array([sum(ln.qty for ln in o.lines) for o in stream.orders], np.int64)
    promised, on_time = _promises(world, stream, period, ship_order, ship_node, zone_of, release)
    return Replay(
        variant=variant,
        currency=world.currency,
        node_ids=tuple(n.id for n in nodes),
        node_is_store=np.array([n.kind == "store" for n in nodes]),
        node_lat=network.lat,
        node_lon=network.lon,
        node_enabled=network.ship_enabled,
        day_ship_capacity=np.where(daily_ships >= UNLIMITED, -1, daily_ships),
        ship_order=ship_order,
        ship_node=ship_node,
        ship_units=_ints(parts.units),
        ship_carrier=_floats(parts.cost),
        ship_handling=_floats(parts.handling),
        ship_miles=miles,
        ship_zone=zone_of,
        order_lat=np.array([o.destination.lat for o in stream.orders], np.float64),
        order_lon=np.array([o.destination.lon for o in stream.orders], np.float64),
        order_shipments=order_shipments,
        order_units=order_units,
        order_unfilled=order_unfilled,
        order_cost=order_cost,
        split_penalty=split_total,
        unfilled_penalty=unfilled_total,
        used_ships=used_ships,
        used_units=used_units,
        promised_days=promised,
        on_time=on_time,
        runtime_s=time.perf_counter() - t0,
        runs=runs,
        checked=check,
        moves=moves,
    )


def _plans(order: IntArray, pos: IntArray, qty: IntArray) -> dict[int, list[tuple[int, int]]]:
    """Each order's plan as sorted (stock position, units) pairs, to tell a move."""
    out: dict[int, list[tuple[int, int]]] = {}
    for o, p, q in zip(order.tolist(), pos.tolist(), qty.tolist(), strict=True):
        out.setdefault(o, []).append((p, q))
    return {o: sorted(v) for o, v in out.items()}


def _reoptimize_moments(placed: FloatArray, period: Period, hold_s: float) -> list[float]:
    """Every REOPTIMIZE_MINUTES from the period's start until the last order's hold ends."""
    last = max(period.end, float(placed[-1]) + hold_s if len(placed) else period.end)
    step = REOPTIMIZE_MINUTES * 60.0
    return [float(t) for t in np.arange(period.begin + step, last + step, step)]


def _ints(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _floats(parts: list[FloatArray]) -> FloatArray:
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0, np.float64)


def _groups(
    placed: FloatArray, event_moments: list[float], period: Period, variant: Variant
) -> list[tuple[float, IntArray]]:
    """The runs of orders sourced together, each with the moment it is sourced at (events
    up to that moment apply first). Order by order: the orders between two events, at the
    first one's moment. Waves: the orders placed during each wave, at its close."""
    if variant.waves_minutes is None:
        cuts = np.searchsorted(placed, np.array(sorted(set(event_moments))), side="left")
        bounds = np.unique(np.concatenate([[0], cuts, [len(placed)]]))
        return [
            (float(placed[a]), np.arange(a, b, dtype=np.int64))
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
            if b > a
        ]
    step = variant.waves_minutes * 60.0
    n_waves = (
        int(
            np.ceil(
                (max(period.end, float(placed[-1]) if len(placed) else 0) - period.begin) / step
            )
        )
        + 1
    )
    closes = period.begin + step * np.arange(1, n_waves + 1)
    wave = np.searchsorted(closes, placed, side="left")
    bounds = np.searchsorted(wave, np.arange(n_waves + 1), side="left")
    return [
        (float(closes[w]), np.arange(bounds[w], bounds[w + 1], dtype=np.int64))
        for w in range(n_waves)
        if bounds[w + 1] > bounds[w]
    ]


def _check(
    world: World,
    problem: SourcingProblem,
    orders: Sequence[Order],
    sourceable: IntArray,
    sku_of: IntArray,
    node_of: IntArray,
    result: Result,
) -> None:
    """The run's plan through the independent plan checker, on the stock and capacity the
    run was given."""
    nodes = tuple(
        replace(n, ship_capacity=int(s), unit_capacity=int(u))
        for n, s, u in zip(world.nodes, problem.node_ship_capacity.tolist(),
                           problem.node_unit_capacity.tolist(), strict=True)
    )  # fmt: skip
    batch = Batch(
        nodes=nodes,
        items=world.items,
        inventory=Inventory(node_of, sku_of, sourceable, np.zeros(len(sourceable), np.int64)),
        shipping=world.shipping,
        penalties=world.penalties,
        orders=tuple(orders),
    )
    report = validate_plan(batch, CompiledBatch(batch, problem).plan_document(result))
    if not report.ok:
        raise ReplayCheckError(f"a replay plan fails the plan checker: {report.errors[:3]}")


def _promises(
    world: World,
    stream: OrderStream,
    period: Period,
    ship_order: IntArray,
    ship_node: IntArray,
    ship_zone: IntArray,
    release: FloatArray,
) -> tuple[FloatArray | None, BoolArray | None]:
    """Days from placement to the delivery promised at arrival (the carrier's first level,
    from the nodes that ship), and whether the plan as sourced (at its wave's close) still
    delivers by then. None without a carrier."""
    carrier = world.carrier
    if carrier is None or len(ship_order) == 0:
        return None, None
    level = carrier.levels[0]
    year = period.start.year
    carrier_days = level_days(carrier, level, year)
    cal = [node_days(n, carrier.country, year) for n in world.nodes]
    transit = carrier.transit_days(level, np.arange(carrier.first_zone, carrier.first_zone + 16))
    ship_cache: dict[tuple[int, dt.date, bool], dt.date] = {}
    deliver_cache: dict[tuple[dt.date, int], dt.date] = {}

    def delivered(node: int, moment: float, z: int) -> dt.date:
        nd = cal[node]
        local = dt.datetime.fromtimestamp(moment, nd.tz)
        k = (node, local.date(), local.time() < nd.cutoff)
        ship = ship_cache.get(k)
        if ship is None:
            ship = ship_cache[k] = nd.ship_date(local)
        d = deliver_cache.get((ship, z))
        if d is None:
            pickup = carrier_days.next_open(ship)
            d = deliver_cache[(ship, z)] = carrier_days.add(
                pickup, int(transit[z - carrier.first_zone])
            )
        return d

    n = len(stream)
    promised = np.full(n, -1, dtype=np.int64)
    actual = np.full(n, -1, dtype=np.int64)
    epoch = dt.date(1970, 1, 1)
    placed = stream.placed_at
    for o, node, z in zip(ship_order.tolist(), ship_node.tolist(), ship_zone.tolist(), strict=True):
        p = (delivered(node, placed[o], z) - epoch).days
        promised[o] = max(promised[o], p)
        if release[o] != placed[o]:
            actual[o] = max(actual[o], (delivered(node, release[o], z) - epoch).days)
        else:
            actual[o] = max(actual[o], p)
    shipped = promised >= 0
    tz = zone(period.time_zone)
    placed_day = np.array(
        [(dt.datetime.fromtimestamp(t, tz).date() - epoch).days for t in placed.tolist()]
    )
    days = np.where(shipped, promised - placed_day, np.nan).astype(np.float64)
    on_time = np.where(shipped, actual <= promised, False)
    return days, on_time
