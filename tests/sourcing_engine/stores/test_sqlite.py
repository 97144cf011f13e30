"""The embedded SQLite store against the store contract, plus what only it promises."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from sourcing_engine.ledger import Store
from sourcing_engine.stores.sqlite import SqliteStore
from tests.sourcing_engine.stores.contract import StoreContract


class TestSqliteStore(StoreContract):
    """Every rule of the Store protocol on a fresh database file per test."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = SqliteStore(tmp_path / "data" / "ledger.db")
        yield store
        store.close()
