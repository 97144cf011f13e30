"""Re-optimization of the hold window in the service, on SQLite and Redis: held orders are
sourced again jointly and moved when that saves more than the threshold, each move an
`order.reallocated` event with its saving; released, old and changed orders stay; one run
at a time per store."""

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sourcing_engine.domain import Destination, Item, Node, Order, Unit
from sourcing_engine.errors import Conflict
from sourcing_engine.reoptimization import (
    Kept,
    RunInProgress,
    Schedule,
    _move,
    get_run,
    reoptimize,
)
from sourcing_engine.service import Service
from sourcing_engine.stores.base import Store
from sourcing_engine.stores.redis import RedisStore
from sourcing_engine.stores.sqlite import SqliteStore
from tests.conftest import fresh_store

NJ = Node("DC-NJ", "warehouse", 40.79, -74.06)
LA = Node("DC-LA", "warehouse", 34.05, -118.24)
NEW_YORK, BOSTON = Destination(40.71, -74.01), Destination(42.36, -71.06)


@pytest.fixture(params=["sqlite", "redis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    """A at LA only (5); NJ, next to the customers, has none yet; a 60-minute hold window."""
    svc = Service(fresh_store(request, tmp_path, "reopt"))
    svc.upsert_nodes([NJ, LA])
    svc.upsert_items([Item("A", 1.0)])
    svc.set_stock("DC-LA", {"A": (5, 0)}, "count")
    svc.put_network_settings(replace(svc.network_settings(), hold_minutes=60, move_threshold=0.5))
    yield svc
    svc.close()


def nodes_of(service: Service, order_id: str) -> dict[str, int]:
    return {u.node: u.qty for u in service.get_order(order_id).order.allocations}


def test_held_orders_move_to_stock_that_came_in(service: Service) -> None:
    """Two held orders sourced from LA; NJ counts 2: one run moves both there, each move
    an order.reallocated event with its saving and the run's id; LA's units are free again
    (units conserved); the run's report is kept; a second run has nothing to move."""
    service.create_order(Order.of("o1", NEW_YORK, [("A", 1)]))
    service.create_order(Order.of("o2", BOSTON, [("A", 2)]))
    before = {o: service.get_order(o).order.document["plan"]["cost"] for o in ("o1", "o2")}
    service.set_stock("DC-NJ", {"A": (3, 0)}, "count")
    run = reoptimize(service, time_limit_s=2.0)
    assert sorted(m.order_id for m in run.moved) == ["o1", "o2"]
    assert (nodes_of(service, "o1"), nodes_of(service, "o2")) == ({"DC-NJ": 1}, {"DC-NJ": 2})
    for m in run.moved:
        after = service.get_order(m.order_id).order.document["plan"]["cost"]
        assert m.saving == pytest.approx(before[m.order_id] - after)
        assert m.shipping_saving + m.penalty_saving == pytest.approx(m.saving)
        event = service.get_order(m.order_id).history[-1]
        assert event.type == "order.reallocated"
        assert event.data["reoptimization"] == run.id
        assert event.data["saving"] == pytest.approx(m.saving)
    assert run.saving["total"] == pytest.approx(sum(m.saving for m in run.moved))
    held = {p.node: (p.on_hand, p.allocated) for p in service.stock("A").positions}
    assert held == {"DC-LA": (5, 0), "DC-NJ": (3, 3)}
    assert get_run(service, run.id) == run
    again = reoptimize(service, time_limit_s=2.0)
    assert again.moved == []
    assert {k.reason for k in again.kept} == {"same_plan"}


def test_released_old_and_cheap_moves_stay(service: Service) -> None:
    """A released order is out of the window, so is one placed before it; a move saving
    less than the threshold is kept with its saving; with no window set a run is refused."""
    service.create_order(Order.of("old", NEW_YORK, [("A", 1)]))
    service.store.shift_clock(61 * 60)
    service.create_order(Order.of("released", NEW_YORK, [("A", 1)]))
    service.release("released")
    service.create_order(Order.of("held", NEW_YORK, [("A", 1)]))
    service.set_stock("DC-NJ", {"A": (5, 0)}, "count")
    run = reoptimize(service, time_limit_s=2.0, move_threshold=1e6)
    assert run.held == 1
    assert run.moved == []
    assert [(k.order_id, k.reason) for k in run.kept] == [("held", "saving_below_threshold")]
    assert (run.kept[0].saving or 0) > 0
    assert nodes_of(service, "old") == nodes_of(service, "held") == {"DC-LA": 1}
    service.put_network_settings(replace(service.network_settings(), hold_minutes=None))
    with pytest.raises(Conflict, match="hold_minutes"):
        reoptimize(service)


def test_an_order_changed_after_the_solve_is_kept(service: Service) -> None:
    """The move of an order as the solve read it, after the order shipped (or was
    cancelled): kept as changed, nothing moved, the stock as the ship left it."""
    service.create_order(Order.of("o1", NEW_YORK, [("A", 1)]))
    read = service.get_order("o1").order
    service.set_stock("DC-NJ", {"A": (1, 0)}, "count")
    service.ship("o1", "DC-LA")
    kept = _move(service, "ro_test", read, (Unit("DC-NJ", "A", 1),), 0.0)
    assert isinstance(kept, Kept)
    assert kept.reason == "changed"
    assert service.get_order("o1").order.shipped == (Unit("DC-LA", "A", 1),)
    assert service.stock("A").total("allocated") == 0


def test_one_run_at_a_time(service: Service) -> None:
    """While another process holds the lease a run is refused; once freed it runs."""
    assert service.store.acquire_lease("reoptimization", "other-process", 60.0)
    with pytest.raises(RunInProgress):
        reoptimize(service)
    service.store.release_lease("reoptimization", "other-process")
    assert reoptimize(service, time_limit_s=1.0).moved == []


CHICAGO = Destination(41.88, -87.63)
TX = Node("DC-TX", "warehouse", 32.78, -96.80)


def test_an_order_gives_up_stock_for_a_larger_saving(service: Service) -> None:
    """NJ's last unit went to a Chicago order placed first, so the New York order after it
    ships from Dallas; jointly, Chicago from Dallas (a unit is left there) and New York from
    NJ cost less. The New York move is refused (NJ's unit is Chicago's), so the Chicago
    order gives NJ up saving nothing itself (its event says for which order), then the New York
    order takes it: the pair saves more than the threshold per order moved."""
    service.upsert_nodes([NJ, LA, TX])
    service.upsert_items([Item("S", 1.0)])
    service.set_stock("DC-NJ", {"S": (1, 0)}, "count")
    service.set_stock("DC-TX", {"S": (2, 0)}, "count")
    service.create_order(Order.of("chicago", CHICAGO, [("S", 1)]))
    service.create_order(Order.of("new-york", NEW_YORK, [("S", 1)]))
    assert (nodes_of(service, "chicago"), nodes_of(service, "new-york")) == (
        {"DC-NJ": 1}, {"DC-TX": 1},
    )  # fmt: skip
    run = reoptimize(service, time_limit_s=2.0)
    assert (nodes_of(service, "chicago"), nodes_of(service, "new-york")) == (
        {"DC-TX": 1}, {"DC-NJ": 1},
    )  # fmt: skip
    by_id = {m.order_id: m for m in run.moved}
    assert by_id["chicago"].saving <= 0.5 < by_id["new-york"].saving
    assert run.saving["total"] > 2 * 0.5
    donor = service.get_order("chicago").history[-1]
    assert donor.data["frees_for"] == ["new-york"]


def test_the_schedule_runs_once_a_period_for_all_processes(
    request: pytest.FixtureRequest, service: Service, tmp_path: Path
) -> None:
    """Two schedules on one store (two API processes): the first check of a period runs
    and moves the held order, the other process's check finds the period taken; once the
    store's clock passes reoptimize_every_minutes the next check runs again. With no hold
    window no check runs."""
    store = service.store
    again: Store
    if isinstance(store, SqliteStore):
        again = SqliteStore(store.path)
    else:
        assert isinstance(store, RedisStore)
        again = RedisStore(request.getfixturevalue("redis_url"), namespace=store.namespace)

    def shift(seconds: float) -> None:
        """The store's clock (each SQLite client keeps its own shift; Redis one for all)."""
        store.shift_clock(seconds)
        if isinstance(again, SqliteStore):
            again.shift_clock(seconds)

    now = [0.0]
    other = Service(again, clock=lambda: now[0])  # another process, its caches on this clock
    try:
        first, second = Schedule(service), Schedule(other)
        service.create_order(Order.of("o1", NEW_YORK, [("A", 1)]))
        service.set_stock("DC-NJ", {"A": (1, 0)}, "count")
        ran = first.run_if_due()
        assert ran is not None
        assert [m.order_id for m in ran.moved] == ["o1"]
        assert second.run_if_due() is None
        assert first.run_if_due() is None
        shift(60.0 * service.network_settings().reoptimize_every_minutes + 1)
        assert second.run_if_due() is not None
        service.put_network_settings(replace(service.network_settings(), hold_minutes=None))
        shift(24 * 3600.0)
        now[0] += 3600.0  # past the other process's settings cache
        assert first.run_if_due() is None
        assert second.run_if_due() is None
    finally:
        other.close()
