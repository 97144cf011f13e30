"""The Redis store under concurrent processes, racing expiry, duplicate requests, and kill -9 of
redis-server itself (tests/sourcing_engine/stores/invariants.py checks every step)."""

import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.sourcing_engine.stores.test_sqlite_concurrency as shared
from sourcing_engine.lifecycle import HoldState
from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import Store
from tests.conftest import RedisServer
from tests.sourcing_engine.stores.invariants import (
    HOT_NODES,
    HOT_SKUS,
    Tally,
    check_against_tally,
    check_capacity_recount,
    hot_load,
    seed_hot,
)

REPO = Path(__file__).resolve().parents[3]
LOAD_S = 3.0
PROCESSES, THREADS = 3, 8


@pytest.fixture
def url(redis_url: str) -> str:
    """A fresh store on the session's server (its own key namespace)."""
    return f"{redis_url}?namespace=load-{uuid.uuid4().hex}"


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    store = open_store(url)
    yield store
    store.close()


@pytest.mark.slow
def test_processes_and_threads_never_oversell(url: str, store: Store) -> None:
    """3 processes and 8 threads on hot SKUs of one Redis: every step checks out, the end
    matches every acknowledgement."""
    hot_load(url, store, LOAD_S, THREADS, PROCESSES)


def test_expiry_raced_against_commit_ends_each_hold_once(store: Store) -> None:
    """Commit, release and the reaper raced at each hold's expiry (the server's clock): every
    hold ends exactly once."""
    shared.test_expiry_raced_against_commit_ends_each_hold_once(store)


def test_fifty_duplicates_through_the_lease_have_one_effect(store: Store) -> None:
    """50 concurrent duplicates of one create_order (claim, replay or run): one effect."""
    shared.test_fifty_duplicates_through_the_lease_have_one_effect(store)


def test_fifty_duplicates_past_the_lease_have_one_effect(store: Store) -> None:
    """50 duplicates that skip the lease: the reply stored by the script lets one through."""
    shared.test_fifty_duplicates_past_the_lease_have_one_effect(store)


def _acks(lines: str) -> list[str]:
    return [line.split()[1] for line in lines.splitlines() if line.startswith("ack ")]


@pytest.mark.slow
def test_kill_9_of_redis_server_loses_no_acknowledged_commit(tmp_path: Path) -> None:
    """kill -9 of redis-server mid-load, restart on its append-only file: every acknowledged
    order is there, holds and allocations recount to the positions and to the nodes'
    capacity charged, and the store object from before the crash carries on."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    url = f"{server.url}?namespace=crash"
    store = open_store(url)
    try:
        initial = seed_hot(store, on_hand=(100_000, 100_000), safety=0)
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.sourcing_engine.stores.crash_worker", url, "4"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert worker.stdout is not None
        want, acks = 1000 + random.randrange(1000), list[str]()
        deadline = time.monotonic() + 20
        while len(acks) < want and time.monotonic() < deadline:
            line = worker.stdout.readline()
            if not line:
                break
            acks += _acks(line)
        server.kill()  # mid-load: the worker's calls in flight now fail
        try:
            rest, errors = worker.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            rest, errors = worker.communicate()
        acks += _acks(rest)
        assert len(acks) >= 300, f"only {len(acks)} acknowledged commits; worker said {errors}"

        server.start()  # same directory and port: Redis replays the append-only file
        for order_id in acks:
            assert store.get_order(order_id).version == 1, order_id
        allocated: Counter[tuple[str, str]] = Counter()
        held: Counter[tuple[str, str]] = Counter()
        for event in store.events(0, 1_000_000):
            if event.type == "order.created":
                for u in store.get_order(event.subject).allocations:
                    allocated[(u.node, u.sku)] += u.qty
            elif event.type == "reservation.created":
                hold = store.get_reservation(event.subject)
                if hold.state == HoldState.ACTIVE:
                    held.update({(u.node, u.sku): u.qty for u in hold.units})
        positions = store.positions(HOT_SKUS, HOT_NODES)
        check_against_tally(initial, positions, Tally(held=held, allocated=allocated))
        check_capacity_recount(store, allocated)
    finally:
        store.close()
        server.stop()
