"""The embedded SQLite store against the store contract, plus what only it promises."""

import datetime as dt
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sourcing_engine.domain import Node, NodeCalendar, Unit
from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import IdempotencyKey, Store
from sourcing_engine.stores.sqlite import SqliteStore
from tests.sourcing_engine.stores.contract import N1, StoreContract, seed


class TestSqliteStore(StoreContract):
    """Every rule of the Store protocol on a fresh database file per test."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        store = SqliteStore(tmp_path / "data" / "ledger.db")
        yield store
        store.close()


def test_open_store_sqlite_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite:///rel is relative to the working directory, sqlite:////abs absolute."""
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///data/ledger.db")
    absolute = open_store(f"sqlite:///{tmp_path / 'abs' / 'ledger.db'}")
    try:
        assert isinstance(relative, SqliteStore)
        assert relative.path == Path("data/ledger.db")
        assert (tmp_path / "data" / "ledger.db").exists()
        assert (tmp_path / "abs" / "ledger.db").exists()
    finally:
        relative.close()
        absolute.close()


@pytest.mark.parametrize(
    "url", ["", "ledger.db", "sqlite://", "sqlite:///", "sqlite:///data/", "sqlite:///:memory:",
            "postgres://db/ledger", "http://localhost:6379"],
)  # fmt: skip
def test_open_store_refuses_bad_urls(url: str) -> None:
    """A URL naming no database file or an unknown scheme is a ValueError naming the forms."""
    with pytest.raises(ValueError, match=r"sqlite:///"):
        open_store(url)


def test_data_survives_reopening(tmp_path: Path) -> None:
    """Everything committed is there after closing and opening the file again."""
    store = SqliteStore(tmp_path / "ledger.db")
    seed(store)
    store.create_order("o1", {"A": 2}, [Unit(N1, "A", 2)], {"dest": "x"})
    events = store.events(0, 1000)
    store.close()
    again = SqliteStore(tmp_path / "ledger.db")
    try:
        assert again.get_order("o1").document == {"dest": "x"}
        assert again.events(0, 1000) == events
        assert again.positions(["A"], [N1])[0].allocated == 2
    finally:
        again.close()


def test_wal_and_full_sync(tmp_path: Path) -> None:
    """The file is in WAL mode and the store's connections sync fully on commit."""
    store = SqliteStore(tmp_path / "ledger.db")
    try:
        with sqlite3.connect(tmp_path / "ledger.db") as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert store._conn().execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()


def test_claims_skip_the_fsync_and_effects_keep_it(tmp_path: Path) -> None:
    """A claim or release commits with synchronous=NORMAL; every other write stays FULL."""
    store = SqliteStore(tmp_path / "ledger.db")
    seen: list[int] = []
    try:
        seed(store)
        conn = store._conn()
        conn.set_trace_callback(
            lambda sql: (
                seen.append(conn.execute("PRAGMA synchronous").fetchone()[0])
                if sql == "COMMIT"
                else None
            )
        )
        store.claim_idempotency_key("k1", "h", lease_s=60.0)
        store.adjust_stock(N1, "A", 1, "found", idem=IdempotencyKey("k1", "h"))
        store.release_idempotency_key("k2")
        store.create_order("o1", {"A": 1}, [Unit(N1, "A", 1)], {})
        conn.set_trace_callback(None)
        assert seen == [1, 2, 1, 2]  # NORMAL, FULL, NORMAL, FULL
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        store.close()


def wait_for_blocked_flock(path: Path, writer: threading.Thread) -> None:
    """Until the kernel lists a process waiting for an flock of this file (a "->" line of
    /proc/locks on its inode): the writer has reached the lock and waits there, not merely
    not finished yet. Fails if the writer ends first or nothing waits within 10 s."""
    inode = os.stat(path).st_ino
    deadline = time.monotonic() + 10
    while not any(
        "->" in line and "FLOCK" in line and any(f.endswith(f":{inode}") for f in line.split())
        for line in Path("/proc/locks").read_text().splitlines()
    ):
        assert writer.is_alive(), "the write ran although another process held the lock"
        assert time.monotonic() < deadline, "no writer is waiting for the lock file"
        time.sleep(0.01)


def test_writers_queue_on_the_lock_file(tmp_path: Path) -> None:
    """A write waits while another process holds <database>.lock, and runs once it is free."""
    store = SqliteStore(tmp_path / "ledger.db")
    other = os.open(tmp_path / "ledger.db.lock", os.O_RDWR | os.O_CREAT)  # another process
    try:
        seed(store)
        fcntl.flock(other, fcntl.LOCK_EX)
        writer = threading.Thread(target=store.adjust_stock, args=(N1, "A", 1, "found"))
        writer.start()
        wait_for_blocked_flock(tmp_path / "ledger.db.lock", writer)
        assert store.positions(["A"], [N1])[0].on_hand == 10  # reads never wait
        fcntl.flock(other, fcntl.LOCK_UN)
        writer.join(timeout=10)
        assert not writer.is_alive()
        assert store.positions(["A"], [N1])[0].on_hand == 11
    finally:
        os.close(other)
        store.close()


def test_old_replies_are_purged_after_retention(tmp_path: Path) -> None:
    """Replies older than the retention go on a later write; younger ones stay."""
    store = SqliteStore(tmp_path / "ledger.db", idempotency_retention_s=60)
    try:
        seed(store)
        store.adjust_stock(N1, "A", 1, "r", idem=IdempotencyKey("old", "h"))
        store.shift_clock(61)
        store.adjust_stock(N1, "A", 1, "r", idem=IdempotencyKey("new", "h"))
        assert store.idempotent_reply("old") is None
        assert store.idempotent_reply("new") is not None
    finally:
        store.close()


def test_a_ledger_from_before_node_calendars_is_migrated(tmp_path: Path) -> None:
    """A file whose nodes table has no calendar column (written before calendars existed)
    opens: its nodes read back with the default calendar, and calendars are stored from then
    on, also after reopening."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE nodes (id TEXT PRIMARY KEY, kind TEXT NOT NULL, lat REAL NOT NULL,"
            " lon REAL NOT NULL, ship_capacity INTEGER, unit_capacity INTEGER,"
            " handling_per_shipment REAL NOT NULL, handling_per_unit REAL NOT NULL,"
            " ship_enabled INTEGER NOT NULL)"
        )
        old.execute("INSERT INTO nodes VALUES ('DC-1', 'warehouse', 40.0, -75.0, 10, NULL, 1.5,"
                    " 0.25, 1)")  # fmt: skip
    old.close()
    store = SqliteStore(path)
    try:
        assert store.list_nodes() == [
            Node("DC-1", "warehouse", 40.0, -75.0, 10, None, 1.5, 0.25, True, NodeCalendar())
        ]
        rome = NodeCalendar(time_zone="Europe/Rome", cutoff=dt.time(12), closed_weekdays=(6,))
        store.upsert_nodes([Node("ST-1", "store", 41.9, 12.5, calendar=rome)])
    finally:
        store.close()
    again = SqliteStore(path)
    try:
        assert [n.calendar for n in again.list_nodes()] == [NodeCalendar(), rome]
    finally:
        again.close()
