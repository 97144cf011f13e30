"""Order steps from the version a caller read (If-Match), on SQLite and Redis: a stale
version is PreconditionFailed and changes nothing; the current one applies."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sourcing_engine.domain import Destination, Item, Node, Order
from sourcing_engine.errors import PreconditionFailed
from sourcing_engine.lifecycle import OrderState
from sourcing_engine.service import Service
from sourcing_engine.stores.redis import RedisStore
from sourcing_engine.stores.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "redis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    if request.param == "sqlite":
        store: SqliteStore | RedisStore = SqliteStore(tmp_path / "ledger.db")
    else:
        store = RedisStore(request.getfixturevalue("redis_url"),
                           namespace=f"versions-{uuid.uuid4().hex}")  # fmt: skip
    svc = Service(store)
    svc.upsert_nodes([Node("DC-NJ", "warehouse", 40.79, -74.06)])
    svc.upsert_items([Item("A", 1.0)])
    svc.set_stock("DC-NJ", {"A": (5, 0)}, "count")
    yield svc
    svc.close()


def test_a_step_from_a_stale_version_is_refused(service: Service) -> None:
    """Every step takes if_version; a stale one changes nothing (no event, same stock)."""
    service.create_order(Order.of("o1", Destination(40.71, -74.01), [("A", 2)]))
    assert service.release("o1", if_version=1).value.version == 2
    events = service.events(0, 1000)
    for step in (
        lambda: service.ship("o1", "DC-NJ", if_version=1),
        lambda: service.cancel("o1", {"A": 1}, if_version=1),
        lambda: service.reject("o1", "DC-NJ", if_version=3),
        lambda: service.release("o1", if_version=0),
    ):
        with pytest.raises(PreconditionFailed, match="version is 2"):
            step()
    assert service.events(0, 1000) == events
    assert service.stock("A").total("allocated") == 2
    done = service.cancel("o1", {"A": 1}, if_version=2).value
    assert (done.version, done.lines) == (3, {"A": 1})
    shipped = service.ship("o1", "DC-NJ", if_version=3).value
    assert shipped.state == OrderState.SHIPPED
    with pytest.raises(PreconditionFailed):
        service.return_units("o1", [("A", 1, None)], True, if_version=3)
    assert service.return_units("o1", [("A", 1, None)], True, if_version=4).value.version == 5
