"""The batch allocation's `lookahead` policy in the live service, on SQLite and Redis: its
forecast is the store's own orders created in the rest of the day's hours on the days
before (the store's clock, the network's zone), and it moves an order off the node that
demand will need; without a whole earlier day of orders it is greedy-cost."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sourcing_engine.domain import Destination, Item, Node, NodeCalendar, Order
from sourcing_engine.errors import Invalid
from sourcing_engine.lookahead.history import StoreHistory
from sourcing_engine.lookahead.planner import DAY_S
from sourcing_engine.service import Service, order_of_record
from tests.conftest import fresh_store

NEW_YORK = ZoneInfo("America/New_York")
# NJ ships 2 units a day and is the only node with B; A is at NJ and at the Chicago store
NJ = Node("DC-NJ", "warehouse", 40.79, -74.06, ship_capacity=10, unit_capacity=2,
          calendar=NodeCalendar(time_zone="America/New_York"))  # fmt: skip
CHI = Node("ST-CHI", "store", 41.88, -87.63, calendar=NodeCalendar(time_zone="America/Chicago"))
NYC, CHICAGO = Destination(40.71, -74.01), Destination(41.85, -87.65)


@pytest.fixture(params=["sqlite", "redis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    svc = Service(fresh_store(request, tmp_path, "lookahead"))
    svc.upsert_nodes([NJ, CHI])
    svc.upsert_items([Item("A", 1.0), Item("B", 1.0)])
    svc.set_stock("DC-NJ", {"A": (5, 0), "B": (5, 0)}, "count")
    svc.set_stock("ST-CHI", {"A": (5, 0)}, "count")
    yield svc
    svc.close()


def at_local(service: Service, day: dt.date, hour: int) -> None:
    """Move the store's clock to this New York hour."""
    target = dt.datetime.combine(day, dt.time(hour), tzinfo=NEW_YORK).timestamp()
    service.store.shift_clock(target - service.store.now())


def batch_nodes(service: Service, order: Order, policy: str) -> dict[str, int]:
    done = service.allocate_batch([order], policy=policy)
    assert done.plan is not None
    assert done.plan.policy == policy
    outcome = done.outcomes[0]
    assert outcome.done is not None, outcome.error
    return {u.node: u.qty for u in service.get_order(order.id).order.allocations}


def test_lookahead_forecasts_from_the_stores_orders_of_the_days_before(service: Service) -> None:
    """Day 0: lookahead has no history (greedy-cost: NJ, cheapest for New York); in the
    afternoon three New York orders of B come. Day 1 at 10:00, NJ has two units of
    capacity left (capacity counts by the real day, so NJ's limit is raised by what day 0
    used) and B restocked: lookahead keeps NJ's capacity for this afternoon's B and ships
    a New York order of A from Chicago; greedy-cost still takes NJ."""
    service.upsert_nodes([replace(NJ, unit_capacity=None)])
    day0 = dt.datetime.now(NEW_YORK).date() + dt.timedelta(days=2)
    at_local(service, day0, 8)
    service.create_order(Order.of("h0", CHICAGO, [("A", 1)]))
    at_local(service, day0, 10)
    assert batch_nodes(service, Order.of("first", NYC, [("A", 1)]), "lookahead") == {"DC-NJ": 1}
    service.cancel("first")  # net of cancellations: not in the forecast
    at_local(service, day0, 15)
    for k in range(3):
        service.create_order(Order.of(f"h{k + 1}", NYC, [("B", 1)]))
    service.upsert_nodes([replace(NJ, unit_capacity=5)])
    service.set_stock("DC-NJ", {"B": (8, 0)}, "count")
    at_local(service, day0 + dt.timedelta(days=1), 10)
    assert service.capacity(["DC-NJ"])[0].units_left == 2
    assert batch_nodes(service, Order.of("o1", NYC, [("A", 1)]), "lookahead") == {"ST-CHI": 1}
    assert batch_nodes(service, Order.of("o2", NYC, [("A", 1)]), "greedy-cost") == {"DC-NJ": 1}


def test_the_store_history_reads_windows_and_knows_its_start(service: Service) -> None:
    """since: back to the whole days the store has orders before (none: now); a window
    holds the orders created in it, oldest first, net of cancellations."""
    day0 = dt.datetime.now(NEW_YORK).date() + dt.timedelta(days=2)
    at_local(service, day0, 9)
    t9 = service.store.now()
    service.create_order(Order.of("a", NYC, [("A", 1)]))
    now = service.store.now()
    assert StoreHistory(service.store, now, order_of_record).since == now
    at_local(service, day0, 12)
    service.create_order(Order.of("b", NYC, [("A", 1)]))
    service.create_order(Order.of("c", NYC, [("A", 2)]))
    service.cancel("b")
    at_local(service, day0 + dt.timedelta(days=2), 10)
    now = service.store.now()
    history = StoreHistory(service.store, now, order_of_record)
    assert history.since == now - 2 * DAY_S
    window = history.placed_between(t9, t9 + 4 * 3600)
    assert [(o.id, o.quantities) for o in window] == [("a", {"A": 1}), ("c", {"A": 2})]
    assert [o.id for o in history.placed_between(t9 + 3600, now)] == ["c"]


def test_an_unknown_policy_names_lookahead_among_the_choices(service: Service) -> None:
    with pytest.raises(Invalid, match="greedy-cost, optimal, lookahead"):
        service.allocate_batch([Order.of("x", NYC, [("A", 1)])], policy="cheapest")
