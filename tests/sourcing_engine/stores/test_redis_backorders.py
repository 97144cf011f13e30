"""What only the Redis store needs for backorders: a receipt's fills are computed from the
orders as read, so an order backordered between that read and the receipt's script must
make the script refuse and the store read again (else that order would wait for units
the receipt brought, and the purchase order would be over-promised)."""

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from sourcing_engine.domain import Unit
from sourcing_engine.stores.redis import RedisStore
from tests.sourcing_engine.stores.contract_backorders import W, bo, seed_supply, waiting


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore(f"{redis_url}?namespace=bo-{uuid.uuid4().hex[:10]}")
    yield store
    store.close()


def test_an_order_backordered_during_a_receipt_is_filled(
    store: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody waits on po1 when the receipt reads it; an order backorders 3 on it before
    the script runs: the receipt is computed again and fills that order."""
    seed_supply(store)
    read = store._fill_args
    raced: list[str] = []

    def read_then_race(inbound_id: str, qty: int, days: Mapping[str, str] | None) -> Any:
        args = read(inbound_id, qty, days)
        if not raced:
            raced.append("b1")
            store.create_order("b1", {"A": 3}, [], {}, backorders=[bo("po1", 3)])
        return args

    monkeypatch.setattr(store, "_fill_args", read_then_race)
    after = store.receive_inbound("po1", 4)
    assert after.allocated == 3
    order = store.get_order("b1")
    assert order.allocations == (Unit(W, "A", 3),)
    assert order.backordered == ()
    assert waiting(store) == {"po1": (1, 0), "po2": (4, 0)}
