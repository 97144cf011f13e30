"""The Redis store against the store contract, on a real redis-server (tests/conftest.py)."""

import uuid
from collections.abc import Iterator

import pytest

from sourcing_engine.ledger import Store
from sourcing_engine.stores.redis import RedisStore
from tests.sourcing_engine.stores.contract import StoreContract


class TestRedisStore(StoreContract):
    """Every rule of the Store protocol, each test in a fresh namespace of one server."""

    @pytest.fixture
    def store(self, redis_url: str) -> Iterator[Store]:
        store = RedisStore(redis_url, namespace=f"contract-{uuid.uuid4().hex}")
        yield store
        store.close()
