"""The delivery options of a cart (promise/options.py) on small hand-made networks.

Stock is a list of positions handed to `promise` through its reader callables, as the
service hands it the store's. Which node ships is reasoned out case by case; every cost
is recomputed with tests/independent_pricer.py (nothing shared with cost_models) and, where
the answer is "the cheapest plan", checked against a brute force over every assignment of
the cart's units to stocked nodes. Dates follow the rules checked one by one in
test_calendars.py.

The network (explicit time zones; distances to the customer in Manhattan):
  DC-NJ   warehouse  6 mi, zone 2   handling 1.50 + 0.25 a unit
  ST-NYC  store      3 mi           handling 2.50 + 0.50 a unit
  ST-BKN  store      3.8 mi         handling 2.50 + 0.50 a unit
  ST-CHI  store      711 mi, zone 5 handling 2.50 + 0.50 a unit
  DC-LA   warehouse  2,445 mi, zone 8  handling 1.00 + 0.20 a unit
  ST-OFF  store      1.5 mi, ships nothing (ship_enabled False)
"""

import datetime as dt
import itertools
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from sourcing_engine.cost_models import OrderPenalties
from sourcing_engine.domain import (
    DEFAULT_UNFILLED_PENALTY,
    Batch,
    Carrier,
    Destination,
    Inbound,
    Item,
    Node,
    NodeCalendar,
    Position,
    merge_lines,
)
from sourcing_engine.presets import generate
from sourcing_engine.promise.carriers import default_carrier
from sourcing_engine.promise.network import PromiseNetwork
from sourcing_engine.promise.options import (
    METHODS,
    Method,
    Option,
    Promise,
    PromiseConfig,
    PromisedShipment,
    promise,
)
from sourcing_engine.sourcing import Network
from tests.independent_pricer import (
    CarrierTerms,
    carrier_price,
    carrier_terms,
    great_circle_miles,
    handling,
    unit_volume_in3,
)

NEW_YORK, LOS_ANGELES, CHICAGO = "America/New_York", "America/Los_Angeles", "America/Chicago"
US = default_carrier("US")
FACTOR = {lv.name: lv.rate_factor for lv in US.levels}


def _node(id_: str, kind: str, lat: float, lon: float, tz: str, hs: float, hu: float,
          **kw: Any) -> Node:  # fmt: skip
    return Node(id_, kind, lat, lon, handling_per_shipment=hs, handling_per_unit=hu,  # type: ignore[arg-type]
                calendar=NodeCalendar(time_zone=tz), **kw)  # fmt: skip


NODES = (
    _node("DC-NJ", "warehouse", 40.79, -74.06, NEW_YORK, 1.5, 0.25),
    _node("ST-NYC", "store", 40.75, -73.99, NEW_YORK, 2.5, 0.5),
    _node("ST-BKN", "store", 40.68, -73.95, NEW_YORK, 2.5, 0.5),
    _node("ST-CHI", "store", 41.88, -87.63, CHICAGO, 2.5, 0.5),
    _node("DC-LA", "warehouse", 34.05, -118.24, LOS_ANGELES, 1.0, 0.2),
    _node("ST-OFF", "store", 40.73, -74.00, NEW_YORK, 2.5, 0.5, ship_enabled=False),
)
BY_ID = {n.id: n for n in NODES}
ITEMS = {
    "A": Item("A", 1.0),
    "B": Item("B", 2.0, (10.0, 8.0, 4.0)),  # 320 in3 / 139 = 2.3: billed as 3 lb
    "C": Item("C", 5.0),
}
CUSTOMER = Destination(40.71, -74.01)
PENALTIES = OrderPenalties(unfilled_per_unit=1000.0, split=5.0)
AT = dt.datetime(2026, 6, 10, 10, 0, tzinfo=ZoneInfo(NEW_YORK))
"""Wed 2026-06-10 10:00 in New York (07:00 in LA): before every cut-off."""
TERMS = carrier_terms(US.shipping)

Stock = Mapping[tuple[str, str], int] | Sequence[Position]


def positions_of(stock: Stock) -> list[Position]:
    if isinstance(stock, Mapping):
        return [Position(n, s, q, 0, 0, 0) for (n, s), q in stock.items()]
    return list(stock)


def run(
    cart: Mapping[str, int],
    stock: Stock,
    *,
    inbound: Sequence[Inbound] = (),
    methods: Collection[str] = METHODS,
    config: PromiseConfig | None = None,
    at: dt.datetime = AT,
    to: Destination = CUSTOMER,
    nodes: Sequence[Node] = NODES,
    carrier: Carrier = US,
    items: Mapping[str, Item] = ITEMS,
    penalties: OrderPenalties = PENALTIES,
) -> Promise:
    """The promise of a cart on this stock, read through reader callables."""
    found = positions_of(stock)

    def read_positions(skus: Sequence[str], only: Sequence[str] | None) -> list[Position]:
        return [p for p in found if p.sku in skus and (only is None or p.node in only)]

    def read_inbound(skus: Sequence[str]) -> list[Inbound]:
        return sorted((b for b in inbound if b.sku in skus), key=lambda b: (b.expected_at, b.id))

    net = PromiseNetwork(Network(nodes), carrier)
    asked = cast(Collection[Method], methods)
    return promise(
        dict(cart), to, at, net, items, read_positions, read_inbound, penalties, config, asked
    )


def options(found: Promise) -> dict[str, Option]:
    return {o.id: o for o in found.options}


def content(lines: Iterable[Any]) -> dict[str, int]:
    return merge_lines((ln.sku, ln.qty) for ln in lines)


def price(
    node: str | Node,
    units: Mapping[str, int],
    to: Destination = CUSTOMER,
    factor: float = 1.0,
    items: Mapping[str, Item] = ITEMS,
    terms: CarrierTerms = TERMS,
) -> float:
    """The independent price of one shipment: the carrier's charge at the level's factor
    plus the node's handling."""
    n = BY_ID[node] if isinstance(node, str) else node
    weight = sum(q * items[s].weight_lb for s, q in units.items())
    volume = sum(q * unit_volume_in3(items[s]) for s, q in units.items())
    count = sum(units.values())
    miles = great_circle_miles(n.lat, n.lon, to.lat, to.lon)
    charge = carrier_price(terms, miles, weight, volume, count, to.residential)
    return charge * factor + handling(n.handling_per_shipment, n.handling_per_unit, count)


def priced(shipments: Sequence[PromisedShipment], factor: float = 1.0,
           to: Destination = CUSTOMER) -> float:  # fmt: skip
    return sum(price(s.node, content(s.lines), to, factor) for s in shipments)


def cheapest(
    cart: Mapping[str, int],
    stock: Mapping[tuple[str, str], int],
    allowed: Collection[str],
    to: Destination = CUSTOMER,
    penalties: OrderPenalties = PENALTIES,
    nodes: Mapping[str, Node] = BY_ID,
    items: Mapping[str, Item] = ITEMS,
    terms: CarrierTerms = TERMS,
) -> float:
    """The brute force: every way to send each unit of the cart from an allowed node that
    stocks it, priced independently with the split penalty; the cheapest."""
    return cheapest_plan(cart, stock, allowed, to, penalties, nodes, items, terms)[0]


def cheapest_plan(
    cart: Mapping[str, int],
    stock: Mapping[tuple[str, str], int],
    allowed: Collection[str],
    to: Destination = CUSTOMER,
    penalties: OrderPenalties = PENALTIES,
    nodes: Mapping[str, Node] = BY_ID,
    items: Mapping[str, Item] = ITEMS,
    terms: CarrierTerms = TERMS,
) -> tuple[float, float, dict[str, dict[str, int]]]:
    """The brute force's cheapest plan: its cost with the split penalty, the cost of its
    shipments alone, and its shipments (node -> units per SKU)."""
    units = [s for s, q in sorted(cart.items()) for _ in range(q)]
    choices = [sorted({n for (n, s), q in stock.items() if s == sku and q > 0 and n in allowed})
               for sku in units]  # fmt: skip
    best: tuple[float, float, dict[str, dict[str, int]]] = (float("inf"), 0.0, {})
    for pick in itertools.product(*choices):
        taken: dict[tuple[str, str], int] = {}
        for node, sku in zip(pick, units, strict=True):
            taken[(node, sku)] = taken.get((node, sku), 0) + 1
        if any(q > stock[k] for k, q in taken.items()):
            continue
        by_node: dict[str, dict[str, int]] = {}
        for (node, sku), q in taken.items():
            by_node.setdefault(node, {})[sku] = q
        shipped = sum(price(nodes[n], c, to, 1.0, items, terms) for n, c in by_node.items())
        cost = shipped + penalties.split * (len(by_node) - 1)
        if cost < best[0]:
            best = (cost, shipped, by_node)
    return best


def plan_cost(option: Option) -> float:
    """An option's shipments (at the rate card) with the split penalty: what the plan was
    chosen by."""
    return priced(option.shipments) + PENALTIES.split * (len(option.shipments) - 1)


SHIPPERS = ("DC-NJ", "ST-NYC", "ST-BKN", "ST-CHI", "DC-LA")


# --- which node ships, at what cost ----------------------------------------------------------


def test_the_nearest_warehouse_ships_and_every_level_prices_it() -> None:
    """Two units of A at New Jersey and Los Angeles go from New Jersey (zone 2, 6 mi); each
    level's cost is the independent price at its rate factor, handling unscaled."""
    found = run({"A": 2}, {("DC-NJ", "A"): 5, ("DC-LA", "A"): 5}, methods=("ship",))
    ship = options(found)
    assert sorted(ship) == ["ship:ground", "ship:next_day", "ship:same_day", "ship:two_day"]
    for level, factor in FACTOR.items():
        option = ship[f"ship:{level}"]
        (s,) = option.shipments
        assert (s.node, content(s.lines), s.zone, s.distance_miles) == ("DC-NJ", {"A": 2}, 2, 6.1)
        assert option.cost == pytest.approx(price("DC-NJ", {"A": 2}, factor=factor), abs=1e-6)
        assert (option.complete, option.currency, option.service_level) == (True, "USD", level)
    assert found.currency == "USD"
    assert found.unpromisable == ()
    assert found.candidates == 2


def test_a_split_cart_ships_each_sku_from_where_it_is() -> None:
    """A only in New Jersey and B only in Los Angeles: two parcels, each priced alone; the
    option's cost is their sum (the split penalty is the engine's, not a cost to us)."""
    found = run({"A": 1, "B": 2}, {("DC-NJ", "A"): 3, ("DC-LA", "B"): 3}, methods=("ship",))
    ground = options(found)["ship:ground"]
    by_node = {s.node: content(s.lines) for s in ground.shipments}
    assert by_node == {"DC-NJ": {"A": 1}, "DC-LA": {"B": 2}}
    for s in ground.shipments:
        assert s.cost == pytest.approx(price(s.node, content(s.lines)), abs=1e-6)
    assert ground.cost == pytest.approx(price("DC-NJ", {"A": 1}) + price("DC-LA", {"B": 2}))
    two_day = options(found)["ship:two_day"]
    assert two_day.cost == pytest.approx(priced(two_day.shipments, 1.9), abs=1e-6)


def test_a_node_that_does_not_ship_never_ships() -> None:
    """The outlet next door holds the cart but ships nothing: Los Angeles ships it."""
    found = run({"A": 1}, {("ST-OFF", "A"): 9, ("DC-LA", "A"): 1}, methods=("ship",))
    assert [s.node for s in options(found)["ship:ground"].shipments] == ["DC-LA"]


@pytest.mark.parametrize(
    "cart",
    [{"A": 1}, {"A": 2}, {"B": 1}, {"A": 1, "B": 1}, {"A": 2, "B": 1}, {"A": 1, "C": 1},
     {"A": 1, "B": 1, "C": 1}, {"C": 2}],
)  # fmt: skip
def test_the_ship_plan_is_the_brute_force_cheapest(cart: dict[str, int]) -> None:
    """On stock scattered over five shipping nodes, the ground plan costs (with the split
    penalty) what the cheapest of every assignment of the units costs."""
    stock = {
        ("DC-NJ", "A"): 1, ("ST-NYC", "A"): 2, ("ST-BKN", "A"): 1, ("ST-CHI", "A"): 3,
        ("ST-CHI", "B"): 2, ("DC-LA", "B"): 4, ("ST-BKN", "B"): 1, ("ST-NYC", "C"): 1,
        ("DC-LA", "C"): 2, ("DC-LA", "A"): 4,
    }  # fmt: skip
    ground = options(run(cart, stock, methods=("ship",)))["ship:ground"]
    assert content(ln for s in ground.shipments for ln in s.lines) == cart
    assert plan_cost(ground) == pytest.approx(cheapest(cart, stock, SHIPPERS), abs=1e-6)


# --- pickup ----------------------------------------------------------------------------------


def test_pickup_only_at_stores_holding_the_whole_cart_nearby() -> None:
    """Manhattan holds A and B, Brooklyn only A, Chicago both (but 711 mi away): pickup is
    offered in Manhattan only, Brooklyn is named with what it lacks, Chicago not at all. The
    cost is the store's handling (2.50 + 2 x 0.50); ready at opening + 60 min, 11:00."""
    stock = {("ST-NYC", "A"): 2, ("ST-NYC", "B"): 1, ("ST-BKN", "A"): 2, ("ST-CHI", "A"): 5,
             ("ST-CHI", "B"): 5}  # fmt: skip
    found = run({"A": 1, "B": 1}, stock, methods=("pickup",), at=AT.replace(hour=8))
    (pickup,) = found.options
    assert (pickup.id, pickup.method, pickup.store, pickup.complete) == (
        "pickup:ST-NYC", "pickup", "ST-NYC", True,
    )  # fmt: skip
    assert pickup.cost == pytest.approx(3.5)
    assert pickup.ready_at == dt.datetime(2026, 6, 10, 11, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert content(pickup.lines) == {"A": 1, "B": 1}
    missing = {n.id: content(n.lines) for n in found.not_offered}
    # ST-OFF (1.5 mi) is nearest and holds nothing; it ships nothing but has a counter
    assert missing == {"pickup:ST-OFF": {"A": 1, "B": 1}, "pickup:ST-BKN": {"B": 1}}


def test_pickup_radius_and_store_count() -> None:
    """Only stores within pickup_radius_miles, and at most pickup_stores of them (nearest
    first), are asked; with none in reach pickup and ship-to-store say so."""
    stock = {("ST-NYC", "A"): 1, ("ST-BKN", "A"): 1}
    near = run({"A": 1}, stock, methods=("pickup",), config=PromiseConfig(pickup_radius_miles=3.5))
    assert [o.id for o in near.options] == ["pickup:ST-NYC"]  # Brooklyn is 3.8 mi away
    two = run({"A": 1}, stock, methods=("pickup",), config=PromiseConfig(pickup_stores=2))
    # the two nearest are the outlet (1.5 mi) and Manhattan (3 mi)
    assert [o.id for o in two.options] == ["pickup:ST-NYC"]
    assert [n.id for n in two.not_offered] == ["pickup:ST-OFF"]
    none = run({"A": 1}, stock, methods=("pickup", "ship_to_store"),
               config=PromiseConfig(pickup_radius_miles=1.0))  # fmt: skip
    assert none.options == ()
    assert [(n.id, n.reason) for n in none.not_offered] == [
        ("pickup", "no store within 1 miles"), ("ship_to_store", "no store within 1 miles"),
    ]  # fmt: skip


def test_pickup_late_in_the_day_is_ready_next_morning() -> None:
    """At 19:30 the cart would be ready at 20:30, past closing: Thursday at 11:00."""
    found = run(
        {"A": 1}, {("ST-NYC", "A"): 1}, methods=("pickup",), at=AT.replace(hour=19, minute=30)
    )
    assert found.options[0].ready_at == dt.datetime(2026, 6, 11, 11, 0, tzinfo=ZoneInfo(NEW_YORK))


# --- ship-to-store ---------------------------------------------------------------------------


def test_ship_to_store_comes_from_warehouses_only() -> None:
    """Chicago's store is nearer than Los Angeles, but only warehouses send to stores: the
    cart goes LA -> Manhattan store (zone 8, non-residential, by ground). Wed 10:00 New York
    is 07:00 in LA: ships Wed 06-10; 5 days: Thu 11, Fri 12, Mon 15, Tue 16, Wed 17;
    out for pickup one open day later at opening: Thu 06-18 10:00 New York time."""
    stock = {("ST-CHI", "A"): 5, ("DC-LA", "A"): 5}
    found = run({"A": 1}, stock, methods=("ship_to_store",), config=PromiseConfig(pickup_stores=3))
    by_id = options(found)
    assert sorted(by_id) == ["ship_to_store:ST-BKN", "ship_to_store:ST-NYC", "ship_to_store:ST-OFF"]
    nyc = by_id["ship_to_store:ST-NYC"]
    (s,) = nyc.shipments
    store = Destination(BY_ID["ST-NYC"].lat, BY_ID["ST-NYC"].lon, residential=False)
    assert (s.node, s.zone, s.ships_on, s.delivered_on) == (
        "DC-LA", 8, dt.date(2026, 6, 10), dt.date(2026, 6, 17),
    )  # fmt: skip
    assert nyc.cost == pytest.approx(price("DC-LA", {"A": 1}, store), abs=1e-6)
    assert nyc.ready_at == dt.datetime(2026, 6, 18, 10, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert (nyc.store, nyc.service_level, nyc.complete) == ("ST-NYC", "ground", True)
    # the ship option takes the cheapest node, a store, which ship-to-store may not use
    ship = options(run({"A": 1}, stock, methods=("ship",)))["ship:ground"]
    assert [x.node for x in ship.shipments] == ["ST-CHI"]


def test_ship_to_store_from_a_nearby_warehouse() -> None:
    """New Jersey -> Manhattan store is zone 2 (1 day): ships Wed, delivered Thu 06-11, out
    for pickup Fri 06-12 10:00; the store counts one receiving day."""
    found = run({"A": 2}, {("DC-NJ", "A"): 5, ("DC-LA", "A"): 5}, methods=("ship_to_store",),
                config=PromiseConfig(pickup_stores=2))  # fmt: skip
    nyc = options(found)["ship_to_store:ST-NYC"]
    store = Destination(BY_ID["ST-NYC"].lat, BY_ID["ST-NYC"].lon, residential=False)
    assert [s.node for s in nyc.shipments] == ["DC-NJ"]
    assert nyc.cost == pytest.approx(price("DC-NJ", {"A": 2}, store), abs=1e-6)
    assert nyc.ready_at == dt.datetime(2026, 6, 12, 10, 0, tzinfo=ZoneInfo(NEW_YORK))


def test_ship_to_store_not_offered_without_warehouse_stock() -> None:
    """Stock only in stores: no ship-to-store, each store named with the reason."""
    found = run({"A": 1}, {("ST-CHI", "A"): 5}, methods=("ship_to_store",),
                config=PromiseConfig(pickup_stores=2))  # fmt: skip
    assert found.options == ()
    assert [(n.id, n.reason) for n in found.not_offered] == [
        ("ship_to_store:ST-OFF", "no warehouse stock for the whole cart"),
        ("ship_to_store:ST-NYC", "no warehouse stock for the whole cart"),
    ]


# --- backorder -------------------------------------------------------------------------------


def _ts(tz: str, text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


PURCHASE_ORDERS = (
    Inbound("po-late", "DC-NJ", "A", 10, _ts(NEW_YORK, "2026-06-20 12:00")),
    # arrives Fri 06-12 16:00 in LA, after the 14:00 cut-off: ships Mon 06-15
    Inbound("po-early", "DC-LA", "A", 2, _ts(LOS_ANGELES, "2026-06-12 16:00")),
    # arrives Mon 06-15 09:00 in New Jersey: ships that day
    Inbound("po-mid", "DC-NJ", "A", 1, _ts(NEW_YORK, "2026-06-15 09:00")),
    # the earliest of all, but at a node that ships nothing: never used
    Inbound("po-off", "ST-OFF", "A", 50, _ts(NEW_YORK, "2026-06-11 09:00")),
    Inbound("po-other", "DC-NJ", "B", 50, _ts(NEW_YORK, "2026-06-11 09:00")),
)


def test_backorder_takes_the_earliest_purchase_orders() -> None:
    """5 of A with 2 on hand: 3 from purchase orders, earliest first among nodes that ship
    (po-early's 2 at LA, po-mid's 1 in New Jersey). Dated from arrival: LA ships Mon 06-15,
    ground zone 8 (5 days): Tue 16, Wed 17, Thu 18, (Fri 19 Juneteenth) Mon 22, Tue 23;
    New Jersey ships Mon 15, delivered Tue 16; the window is the later, Tue 23 to Wed 24."""
    found = run({"A": 5}, {("DC-NJ", "A"): 2}, inbound=PURCHASE_ORDERS)
    back = options(found)["backorder"]
    assert (back.method, back.complete, back.service_level) == ("backorder", False, "ground")
    assert content(back.lines) == {"A": 3}
    by_node = {s.node: s for s in back.shipments}
    assert {n: content(s.lines) for n, s in by_node.items()} == {"DC-LA": {"A": 2},
                                                                 "DC-NJ": {"A": 1}}  # fmt: skip
    la, nj = by_node["DC-LA"], by_node["DC-NJ"]
    assert (la.inbound, la.ships_on, la.delivered_on) == (
        "po-early", dt.date(2026, 6, 15), dt.date(2026, 6, 23),
    )  # fmt: skip
    assert la.arrives == dt.datetime(2026, 6, 12, 16, 0, tzinfo=ZoneInfo(LOS_ANGELES))
    assert (nj.inbound, nj.ships_on, nj.delivered_on) == (
        "po-mid", dt.date(2026, 6, 15), dt.date(2026, 6, 16),
    )  # fmt: skip
    assert back.delivery is not None
    assert (back.delivery.earliest, back.delivery.latest) == (
        dt.date(2026, 6, 23), dt.date(2026, 6, 24),
    )  # fmt: skip
    assert back.cost == pytest.approx(price("DC-LA", {"A": 2}) + price("DC-NJ", {"A": 1}))
    assert back.units == ()  # a backorder holds nothing on hand
    assert found.unpromisable == ()
    # the 2 on hand ship now, as a partial ship option; the backorder is ranked last
    ground = options(found)["ship:ground"]
    assert (content(ground.lines), ground.complete) == ({"A": 2}, False)
    assert found.options[-1].id == "backorder"
    assert "po-mid" in back.reason  # the last to arrive


def test_backorder_dated_from_a_later_arrival_at_one_node() -> None:
    """Two purchase orders at one node: its parcel waits for the later (po-late, Sat 06-20
    12:00: ships Mon 06-22, ground zone 2: Tue 06-23)."""
    found = run({"A": 12}, {}, inbound=PURCHASE_ORDERS, methods=("backorder",))
    (back,) = found.options
    by_node = {s.node: s for s in back.shipments}
    assert content(by_node["DC-NJ"].lines) == {"A": 10}  # po-mid's 1 and 9 of po-late
    assert by_node["DC-NJ"].inbound == "po-late"
    assert by_node["DC-NJ"].ships_on == dt.date(2026, 6, 22)
    assert by_node["DC-NJ"].delivered_on == dt.date(2026, 6, 23)
    assert content(back.lines) == {"A": 12}


# --- lines that cannot be promised -------------------------------------------------------------


def test_unpromisable_reasons() -> None:
    """Each line nothing covers says why: nothing on hand anywhere (no_stock), all of it
    safety stock, all of it held or allocated, or only at nodes that do not ship; the rest
    of the cart ships as a partial option."""
    stock = [
        Position("DC-NJ", "A", 5, 0, 0, 0),
        Position("DC-NJ", "S", 3, 3, 0, 0),
        Position("DC-NJ", "H", 4, 1, 2, 1),
        Position("ST-OFF", "D", 2, 0, 0, 0),
    ]
    items = {**ITEMS, **{s: Item(s, 1.0) for s in "SHDZ"}}
    cart = {"A": 1, "S": 1, "H": 1, "D": 1, "Z": 2}
    found = run(cart, stock, items=items, methods=("ship", "backorder"))
    assert [(u.sku, u.qty, u.reason) for u in found.unpromisable] == [
        ("D", 1, "ship_disabled"), ("H", 1, "held"), ("S", 1, "safety_stock"),
        ("Z", 2, "no_stock"),
    ]  # fmt: skip
    details = {u.sku: u.detail for u in found.unpromisable}
    assert details["D"] == "the rest is available only at nodes that do not ship: ST-OFF"
    assert details["H"] == "3 sellable, 3 of it held or allocated"
    assert details["S"] == "3 on hand, 3 of it safety stock"
    ground = options(found)["ship:ground"]
    assert (content(ground.lines), ground.complete) == ({"A": 1}, False)


def test_same_day_is_too_late_when_the_stock_is_far() -> None:
    """Only Los Angeles holds A: same-day (zone 2 at most) is not offered, as too_late, with
    the units it cannot reach; stocked in New Jersey it is offered, delivered that day."""
    far = run({"A": 1}, {("DC-LA", "A"): 3}, methods=("ship",))
    (missing,) = far.not_offered
    assert missing.id == "ship:same_day"
    assert missing.reason.startswith("too_late: same_day serves zones up to 2")
    assert content(missing.lines) == {"A": 1}
    assert "ship:same_day" not in options(far)
    near = options(run({"A": 1}, {("DC-NJ", "A"): 3}, methods=("ship",)))["ship:same_day"]
    assert near.delivery is not None
    assert near.delivery.earliest == dt.date(2026, 6, 10)


def test_same_day_is_sourced_again_on_the_nodes_it_serves() -> None:
    """Chicago holds the whole cart (one parcel, cheapest on the card); same-day only
    serves zone 2, so it is sourced again over New Jersey and Manhattan: two parcels, the
    brute force's cheapest over those nodes, priced at 2.5 times the card."""
    stock = {("ST-CHI", "A"): 1, ("ST-CHI", "B"): 1, ("DC-NJ", "A"): 1, ("ST-NYC", "B"): 1}
    found = run({"A": 1, "B": 1}, stock, methods=("ship",))
    ground, same_day = options(found)["ship:ground"], options(found)["ship:same_day"]
    assert [s.node for s in ground.shipments] == ["ST-CHI"]
    assert plan_cost(ground) == pytest.approx(cheapest({"A": 1, "B": 1}, stock, SHIPPERS))
    assert {s.node: content(s.lines) for s in same_day.shipments} == {
        "DC-NJ": {"A": 1}, "ST-NYC": {"B": 1},
    }  # fmt: skip
    assert same_day.cost == pytest.approx(priced(same_day.shipments, 2.5), abs=1e-6)
    assert same_day.next_best_cost is None
    assert "the cheapest plan over the nodes same_day serves (zones up to 2)" in same_day.reason


# --- ranking, flags, next best -----------------------------------------------------------------


def test_ranking_and_flags() -> None:
    """Complete options by cost (ground 1x, two-day 1.9x, same-day 2.5x, next-day 3.2x):
    ground is cheapest; same-day, delivered today, is fastest. With pickup in Manhattan
    (handling only, ready at 11:00 today) pickup is both."""
    stock = {("DC-NJ", "A"): 5}
    found = run({"A": 1}, stock, methods=("ship",))
    assert [o.id for o in found.options] == [
        "ship:ground", "ship:two_day", "ship:same_day", "ship:next_day",
    ]  # fmt: skip
    assert [(o.cheapest, o.fastest) for o in found.options] == [
        (True, False), (False, False), (False, True), (False, False),
    ]  # fmt: skip
    with_pickup = run({"A": 1}, {**stock, ("ST-NYC", "A"): 1},
                      methods=("ship", "pickup", "ship_to_store"))  # fmt: skip
    first = with_pickup.options[0]
    assert (first.id, first.cheapest, first.fastest) == ("pickup:ST-NYC", True, True)
    assert sum(o.cheapest for o in with_pickup.options) == 1
    assert sum(o.fastest for o in with_pickup.options) == 1
    costs = [o.cost for o in with_pickup.options]
    assert costs == sorted(costs)


def test_flags_of_a_partial_cart() -> None:
    """No option is complete: the flags go to the partial ship options, never to the
    backorder, which is ranked last."""
    found = run(
        {"A": 3}, {("DC-NJ", "A"): 1}, inbound=PURCHASE_ORDERS, methods=("ship", "backorder")
    )
    ids = [o.id for o in found.options]
    assert ids[-1] == "backorder"
    marked = {o.id for o in found.options if o.cheapest or o.fastest}
    assert marked == {"ship:ground", "ship:same_day"}


def test_next_best_cost_is_the_best_plan_without_the_main_node() -> None:
    """A in New Jersey, Brooklyn and Los Angeles: New Jersey ships (same carrier charge as
    Brooklyn, less handling); without it, Brooklyn is the cheapest (the brute force over the
    other nodes), and each level states that plan at its own rate."""
    stock = {("DC-NJ", "A"): 5, ("ST-BKN", "A"): 5, ("DC-LA", "A"): 5}
    found = run({"A": 2}, stock, methods=("ship",))
    without = [n for n in SHIPPERS if n != "DC-NJ"]
    assert price("ST-BKN", {"A": 2}) == pytest.approx(cheapest({"A": 2}, stock, without))
    for level, factor in FACTOR.items():
        option = options(found)[f"ship:{level}"]
        assert [s.node for s in option.shipments] == ["DC-NJ"]
        expected = price("ST-BKN", {"A": 2}, factor=factor)
        assert option.next_best_cost == pytest.approx(expected, abs=1e-6), level
    ground = options(found)["ship:ground"]
    assert ground.next_best_cost is not None
    extra = ground.next_best_cost - ground.cost
    assert f"without DC-NJ the next best costs {ground.next_best_cost:.2f} USD (+{extra:.2f})" in (
        ground.reason
    )


def test_next_best_of_a_split_plan() -> None:
    """The main node is the one shipping most units: New Jersey (2 of A) beside Los Angeles
    (1 of B, held only there); the next best is the brute force's cheapest plan without New
    Jersey (at the cost of its shipments): Chicago's 2 of A with Los Angeles's B, rather than
    three parcels with Brooklyn's single unit."""
    stock = {("DC-NJ", "A"): 2, ("ST-BKN", "A"): 1, ("ST-CHI", "A"): 2, ("DC-LA", "B"): 1}
    cart = {"A": 2, "B": 1}
    ground = options(run(cart, stock, methods=("ship",)))["ship:ground"]
    total, _, plan = cheapest_plan(cart, stock, SHIPPERS)
    assert plan == {"DC-NJ": {"A": 2}, "DC-LA": {"B": 1}}
    assert {s.node: content(s.lines) for s in ground.shipments} == plan
    assert plan_cost(ground) == pytest.approx(total)
    _, next_best, alt = cheapest_plan(cart, stock, [n for n in SHIPPERS if n != "DC-NJ"])
    assert alt == {"ST-CHI": {"A": 2}, "DC-LA": {"B": 1}}
    assert ground.next_best_cost == pytest.approx(next_best, abs=1e-6)


def test_same_day_next_best_stays_within_its_zones() -> None:
    """Same-day's next best is the best plan without its main node among the nodes it
    serves: a dear store next door (handling 10.00 + 1.00 a unit), not Los Angeles, which
    is ground's next best but beyond same-day's zone 2."""
    pricey = _node("ST-PRICEY", "store", 40.72, -74.00, NEW_YORK, 10.0, 1.0)
    stock = {("DC-NJ", "A"): 5, ("ST-PRICEY", "A"): 5, ("DC-LA", "A"): 5}
    found = run({"A": 1}, stock, methods=("ship",), nodes=(*NODES, pricey))
    ground, same_day = options(found)["ship:ground"], options(found)["ship:same_day"]
    assert [s.node for s in ground.shipments] == [s.node for s in same_day.shipments] == ["DC-NJ"]
    to_la = price("DC-LA", {"A": 1})
    miles = great_circle_miles(pricey.lat, pricey.lon, CUSTOMER.lat, CUSTOMER.lon)
    next_door = carrier_price(TERMS, miles, 1.0, 0.0, 1, True)
    assert to_la < next_door + handling(10.0, 1.0, 1)  # ground's alternative is LA
    assert ground.next_best_cost == pytest.approx(to_la, abs=1e-6)
    assert same_day.next_best_cost == pytest.approx(next_door * 2.5 + 11.0, abs=1e-6)
    assert "the nodes same_day serves (zones up to 2)" in same_day.reason


def test_no_next_best_when_the_main_node_alone_has_the_cart() -> None:
    """Only New Jersey holds A: no next best, and the reason says why."""
    ground = options(run({"A": 1}, {("DC-NJ", "A"): 1}, methods=("ship",)))["ship:ground"]
    assert ground.next_best_cost is None
    assert ground.reason.endswith("without DC-NJ the cart cannot be covered")


# --- methods ---------------------------------------------------------------------------------


def test_methods_filter_the_options() -> None:
    """Only the asked methods are answered, and only their options are named as not
    offered."""
    stock = {("DC-NJ", "A"): 5, ("ST-NYC", "A"): 1}
    pickup = run({"A": 3}, stock, inbound=PURCHASE_ORDERS, methods=("pickup",))
    assert pickup.options == ()
    assert {n.id for n in pickup.not_offered} == {"pickup:ST-OFF", "pickup:ST-NYC",
                                                  "pickup:ST-BKN"}  # fmt: skip
    assert pickup.unpromisable == ()
    ship = run({"A": 3}, stock, inbound=PURCHASE_ORDERS, methods=("ship",))
    assert {o.method for o in ship.options} == {"ship"}
    assert all(n.id.startswith("ship:") for n in ship.not_offered)
    to_store = run({"A": 3}, stock, methods=("ship_to_store",))
    assert {o.method for o in to_store.options} == {"ship_to_store"}
    back = run({"A": 8}, stock, inbound=PURCHASE_ORDERS, methods=("backorder",))
    assert [o.id for o in back.options] == ["backorder"]
    assert content(back.options[0].lines) == {"A": 2}  # 6 on hand, po-early's 2


def test_an_italian_network_answers_in_euros() -> None:
    """On the Italian carrier a Rome warehouse ships to Milan in EUR, priced on the Italian
    card (levels standard, express; same-day too late)."""
    rome = Node(
        "DC-ROME", "warehouse", 41.90, 12.50, calendar=NodeCalendar(time_zone="Europe/Rome")
    )
    it = default_carrier("IT")
    found = run({"A": 1}, {("DC-ROME", "A"): 2}, nodes=(rome,), carrier=it, methods=("ship",),
                to=Destination(45.46, 9.19))  # fmt: skip
    assert found.currency == "EUR"
    by_id = options(found)
    assert sorted(by_id) == ["ship:express", "ship:standard"]
    terms = carrier_terms(it.shipping)
    miles = great_circle_miles(41.90, 12.50, 45.46, 9.19)
    expected = carrier_price(terms, miles, 1.0, 0.0, 1, True)
    assert by_id["ship:standard"].cost == pytest.approx(expected, abs=1e-6)
    assert by_id["ship:express"].cost == pytest.approx(expected * 1.6, abs=1e-6)
    assert all(o.currency == "EUR" for o in found.options)


# --- randomized: generated networks ------------------------------------------------------------


def _preset_readers(batch: Batch) -> tuple[list[Position], dict[str, Item]]:
    inv = batch.inventory
    positions = [
        Position(batch.nodes[n].id, batch.items[s].sku, int(oh), int(ss), 0, 0)
        for n, s, oh, ss in zip(inv.node.tolist(), inv.item.tolist(), inv.on_hand.tolist(),
                                inv.safety_stock.tolist(), strict=True)
    ]  # fmt: skip
    return positions, {it.sku: it for it in batch.items}


@pytest.mark.parametrize("seed", [1, 2])
def test_random_carts_on_generated_networks(seed: int) -> None:
    """On the small preset, for many random carts and places: each ship option ships
    exactly the units it lists (the cart less what cannot be promised), from nodes that
    ship and have them available, at the independent price of its shipments at the
    level's rate; the ground plan costs what the brute force's cheapest does (carts of up
    to three units). Penalties: the live service's (no unit is worth leaving unfilled)."""
    batch = generate("small", seed)
    carrier = batch.carrier
    assert carrier is not None
    penalties = OrderPenalties(unfilled_per_unit=DEFAULT_UNFILLED_PENALTY,
                               split=batch.penalties.split)  # fmt: skip
    positions, items = _preset_readers(batch)
    available = {(p.node, p.sku): p.available for p in positions}
    shippable = {k: q for k, q in available.items() if q > 0}
    nodes = {n.id: n for n in batch.nodes}
    allowed = [n.id for n in batch.nodes if n.ship_enabled]
    terms = carrier_terms(batch.shipping)
    rng = random.Random(seed)
    skus = sorted({p.sku for p in positions if p.available > 0})
    checked = brute = 0
    for _ in range(60):
        to = rng.choice(batch.orders).destination
        at = dt.datetime(2026, 6, 8, 12, 0, tzinfo=dt.UTC) + dt.timedelta(
            hours=rng.randint(0, 24 * 30)
        )
        cart = {s: rng.randint(1, 2) for s in rng.sample(skus, rng.randint(1, 3))}
        found = run(cart, positions, methods=("ship",), at=at, to=to, nodes=batch.nodes,
                    carrier=carrier, items=items, penalties=penalties)  # fmt: skip
        short = merge_lines((u.sku, u.qty) for u in found.unpromisable)
        want = {s: q - short.get(s, 0) for s, q in cart.items() if q > short.get(s, 0)}
        for option in found.options:
            level = carrier.level(option.service_level or "")
            shipped = content(ln for s in option.shipments for ln in s.lines)
            assert shipped == want == content(option.lines), option.id
            assert option.complete == (not short)
            assert len({s.node for s in option.shipments}) == len(option.shipments)
            for s in option.shipments:
                assert nodes[s.node].ship_enabled
                for ln in s.lines:
                    assert ln.qty <= available[(s.node, ln.sku)], (option.id, s.node, ln)
                expected = price(nodes[s.node], content(s.lines), to, level.rate_factor, items,
                                 terms)  # fmt: skip
                assert s.cost == pytest.approx(expected, abs=1e-6), (option.id, s.node)
            assert option.cost == pytest.approx(
                sum(price(nodes[s.node], content(s.lines), to, level.rate_factor, items, terms)
                    for s in option.shipments), abs=1e-6,
            )  # fmt: skip
            checked += 1
        ground = options(found).get("ship:ground")
        if ground is not None and sum(want.values()) <= 3:
            chosen = sum(s.cost for s in ground.shipments)
            chosen += penalties.split * (len(ground.shipments) - 1)
            best = cheapest(want, shippable, allowed, to, penalties, nodes, items, terms)
            assert chosen == pytest.approx(best, abs=1e-6), cart
            brute += 1
    assert checked >= 100
    assert brute >= 15


def test_a_partly_short_line_says_why() -> None:
    """Units short of a partly available line get the shortfall's reason: on hand short
    (no_stock), safety stock, held."""
    items = {**ITEMS, **{s: Item(s, 1.0) for s in "NSH"}}
    stock = [
        Position("DC-NJ", "N", 3, 0, 0, 0),
        Position("DC-NJ", "S", 5, 3, 0, 0),
        Position("DC-NJ", "H", 5, 0, 3, 0),
    ]
    found = run({"N": 5, "S": 5, "H": 5}, stock, items=items, methods=("ship",))
    reasons = {u.sku: (u.qty, u.reason) for u in found.unpromisable}
    assert reasons == {"N": (2, "no_stock"), "S": (3, "safety_stock"), "H": (3, "held")}


def test_a_ship_option_ships_every_unit_it_lists() -> None:
    """Under max_shipments=1 the ship option lists (and is complete for) only what it ships:
    B, left unfilled by the cheapest plan, is unpromisable with its reason."""
    stock = {("DC-NJ", "A"): 1, ("DC-LA", "B"): 1}
    capped = OrderPenalties(unfilled_per_unit=1000.0, max_shipments=1)
    found = run({"A": 1, "B": 1}, stock, methods=("ship",), penalties=capped)
    ground = options(found)["ship:ground"]
    assert content(ground.lines) == content(ln for s in ground.shipments for ln in s.lines)
    assert not ground.complete
    assert [(u.sku, u.qty, u.reason) for u in found.unpromisable] == [("B", 1, "left_unfilled")]


def test_a_unit_dearer_to_ship_than_its_penalty_does_not_crash() -> None:
    """small seed 1, penalty 250, a SKU billed at 265 lb to northern Virginia: the promise
    answers (no option without shipments) and says the unit is left unfilled."""
    batch = generate("small", 1)
    assert batch.carrier is not None
    positions, items = _preset_readers(batch)
    found = run(
        {"SKU-000055": 1},
        positions,
        methods=("ship",),
        at=dt.datetime(2026, 6, 10, 15, tzinfo=dt.UTC),
        to=Destination(38.86657, -77.43905),
        nodes=batch.nodes,
        carrier=batch.carrier,
        items=items,
        penalties=batch.penalties,
    )
    for option in found.options:
        assert option.shipments, option.id
    assert [u.reason for u in found.unpromisable] == ["left_unfilled"]


def test_no_stock_does_not_claim_nothing_is_on_order() -> None:
    """Ship only, nothing on hand, open purchase orders: the detail does not deny them."""
    found = run({"A": 1}, {}, inbound=PURCHASE_ORDERS, methods=("ship",))
    (line,) = found.unpromisable
    assert line.reason == "no_stock"
    assert "on order" not in line.detail
