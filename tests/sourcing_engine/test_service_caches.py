"""What a Service keeps for a moment (API keys, nodes, items), with two Service objects on
one SQLite file standing for two API processes. Time is a clock the tests move by hand
(Service's clock parameter): a cache time passes exactly when a test says so."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sourcing_engine.domain import Destination, Item, Node, Order
from sourcing_engine.errors import NotFound
from sourcing_engine.service import Service, ServiceConfig
from sourcing_engine.stores.base import Store
from sourcing_engine.stores.sqlite import SqliteStore

TTL_S = 60.0
CONFIG = ServiceConfig(key_cache_s=TTL_S, network_cache_s=TTL_S)


class Clock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


NYC = Destination(40.71, -74.01, True)


def one_a(order_id: str) -> Order:
    """An order for one unit of A to New York."""
    return Order.of(order_id, NYC, [("A", 1)])


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two connections to one ledger file, as two API processes would have."""
    first, second = SqliteStore(tmp_path / "ledger.db"), SqliteStore(tmp_path / "ledger.db")
    yield first, second
    first.close()
    second.close()


def test_revoked_key_stops_at_once_here_and_within_the_cache_time_elsewhere(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    """A revocation is immediate in its own process and reaches another within key_cache_s."""
    here, there = Service(stores[0], CONFIG, clock=clock), Service(stores[1], CONFIG, clock=clock)
    issued = here.issue_key("ops", ["orders"])
    assert here.authenticate(issued.token) is not None
    assert there.authenticate(issued.token) is not None
    here.revoke_key(issued.key.id)
    assert here.authenticate(issued.token) is None
    assert there.cached_key(issued.token) is not None  # still remembered over there...
    clock.advance(TTL_S - 0.001)
    assert there.cached_key(issued.token) is not None  # ...to the end of the cache time...
    clock.advance(0.001)
    assert there.cached_key(issued.token) is None
    assert there.authenticate(issued.token) is None  # ...until the cache time passed


def test_a_wrong_secret_is_never_taken_from_the_cache(stores: tuple[Store, Store]) -> None:
    """Only the exact token verified is remembered: another secret for the key is refused."""
    service = Service(stores[0], CONFIG)
    issued = service.issue_key("ops", ["orders"])
    assert service.authenticate(issued.token) is not None
    assert (
        service.authenticate(issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")) is None
    )


def test_network_changed_elsewhere_reaches_sourcing_within_the_cache_time(
    stores: tuple[Store, Store], clock: Clock
) -> None:
    """A node or item changed elsewhere reaches sourcing and prices after network_cache_s."""
    here, there = Service(stores[0], CONFIG, clock=clock), Service(stores[1], CONFIG, clock=clock)
    here.upsert_nodes([Node("FAR", "warehouse", 34.05, -118.24)])
    here.upsert_items([Item("A", 1.0)])
    here.set_stock("FAR", {"A": (5, 0)}, "count")
    assert [u.node for u in here.create_order(one_a("o1")).value.allocations] == ["FAR"]

    there.upsert_nodes([Node("NEAR", "warehouse", 40.79, -74.06)])
    there.set_stock("NEAR", {"A": (5, 0)}, "count")
    clock.advance(TTL_S - 0.001)
    stale = here.create_order(one_a("o2")).value
    assert [u.node for u in stale.allocations] == ["FAR"]  # within the cache time
    clock.advance(0.001)
    near = here.create_order(one_a("o3")).value
    assert [u.node for u in near.allocations] == ["NEAR"]

    there.upsert_items([Item("A", 40.0)])  # heavier: the same shipment costs more
    clock.advance(TTL_S)
    heavy = here.create_order(one_a("o4")).value
    assert [u.node for u in heavy.allocations] == ["NEAR"]
    assert heavy.document["plan"]["cost"] > near.document["plan"]["cost"]


def test_a_node_added_elsewhere_can_be_counted_at_once(stores: tuple[Store, Store]) -> None:
    """A count at a node added elsewhere a moment ago is accepted (unknown ids are re-read)."""
    here, there = Service(stores[0], CONFIG), Service(stores[1], CONFIG)
    here.upsert_nodes([Node("N1", "warehouse", 40.0, -75.0)])
    here.upsert_items([Item("A", 1.0)])  # stock of a SKU without an item is refused
    here.set_stock("N1", {"A": (1, 0)}, "count")  # caches the nodes
    there.upsert_nodes([Node("N2", "store", 41.0, -75.0)])
    here.set_stock("N2", {"A": (1, 0)}, "count")
    assert {p.node for p in here.stock("A").positions} == {"N1", "N2"}


def test_an_unknown_node_is_still_refused(stores: tuple[Store, Store]) -> None:
    """A stock count at a node nobody added is 404, cache or not."""
    service = Service(stores[0], CONFIG)
    service.upsert_nodes([Node("N1", "warehouse", 40.0, -75.0)])
    with pytest.raises(NotFound):
        service.set_stock("NOPE", {"A": (1, 0)}, "count")
