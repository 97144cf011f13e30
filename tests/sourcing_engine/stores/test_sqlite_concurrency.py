"""The embedded store under concurrent callers, racing expiry, duplicate requests and kill -9."""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from sourcing_engine.domain import Unit
from sourcing_engine.errors import Conflict, IdempotencyInFlight
from sourcing_engine.lifecycle import HoldState
from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import IdempotencyKey, Replayed, Result, Store
from tests.sourcing_engine.stores.invariants import (
    HOT_NODES,
    HOT_SKUS,
    Tally,
    check_against_tally,
    check_capacity_recount,
    check_positions,
    hot_load,
    seed_hot,
)

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[3]
LOAD_S = 3.0
THREADS, PROCESSES = 16, 3


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'ledger.db'}"  # tmp_path is absolute: 4 slashes


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    store = open_store(url)
    yield store
    store.close()


def run_together(n: int, task: Callable[[int], T]) -> list[T]:
    """task(0..n-1) on n threads released at once by a barrier."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait()
        return task(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


@pytest.mark.slow
def test_threads_and_processes_never_oversell(url: str, store: Store) -> None:
    """16 threads and 3 processes on hot SKUs: every step checks out, the end matches every ack."""
    hot_load(url, store, LOAD_S, THREADS, PROCESSES)


def test_expiry_raced_against_commit_ends_each_hold_once(store: Store) -> None:
    """Commit, release and the reaper raced at each hold's expiry: every hold ends exactly once."""
    store.set_stock("N1", {"A": (10_000, 0)}, "race")
    rng = random.Random(7)
    holds = [f"h{i}" for i in range(150)]
    expires = {h: store.reserve(h, "c", [Unit("N1", "A", 1)], 0.5 + 1.5 * rng.random())
               .expires_at for h in holds}  # fmt: skip
    # each hold: a commit and a release, each within 150 ms of its expiry, in time order;
    # spread wide enough that a slow (loaded) machine still sees all three endings
    tasks = sorted((expires[h] + rng.uniform(-0.15, 0.15), kind, h)
                   for h in holds for kind in ("commit", "release"))  # fmt: skip
    wins: Counter[tuple[str, str]] = Counter()
    lock, done = threading.Lock(), threading.Event()

    def attempt(task: tuple[float, str, str]) -> None:
        at, kind, hold = task
        time.sleep(max(0.0, at - store.now()))
        try:
            if kind == "commit":
                store.commit_reservation(store.get_reservation(hold), f"o-{hold}", {})
            else:
                store.release_reservation(hold)
        except Conflict:
            return
        with lock:
            wins[(kind, hold)] += 1

    def reap() -> None:
        while not done.is_set():
            store.expire_reservations(limit=10)

    reaper = threading.Thread(target=reap)
    reaper.start()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(attempt, tasks))
    done.set()
    reaper.join()
    store.expire_reservations()

    ends = Counter(e.subject for e in store.events(0, 10_000)
                   if e.type in ("reservation.committed", "reservation.released",
                                 "reservation.expired"))  # fmt: skip
    outcomes: Counter[HoldState] = Counter()
    for hold in holds:
        state = store.get_reservation(hold).state
        outcomes[state] += 1
        assert ends[hold] == 1, f"{hold} ended {ends[hold]} times"
        assert wins[("commit", hold)] == (state == HoldState.COMMITTED), hold
        assert wins[("release", hold)] == (state == HoldState.RELEASED), hold
        assert state != HoldState.ACTIVE
    [position] = store.positions(["A"])
    check_positions([position])
    assert (position.reserved, position.allocated) == (0, outcomes[HoldState.COMMITTED])
    assert len(outcomes) == 3, f"the race never produced every ending: {outcomes}"


def test_fifty_duplicates_through_the_lease_have_one_effect(store: Store) -> None:
    """50 concurrent duplicates of one create_order (claim, replay or run): one order, one reply."""
    store.set_stock("N1", {"A": (100, 0)}, "dup")

    def request(_: int) -> tuple[str, Result]:
        while True:
            try:
                stored = store.claim_idempotency_key("key-1", "hash-1", lease_s=30.0)
                break
            except IdempotencyInFlight:
                time.sleep(0.002)
        if stored is not None:
            return "replayed", stored
        idem = IdempotencyKey("key-1", "hash-1")
        return "ran", store.create_order("o1", {"A": 3}, [Unit("N1", "A", 3)], {}, idem=idem)

    results = run_together(50, request)
    assert Counter(how for how, _ in results) == {"ran": 1, "replayed": 49}
    assert len({repr(result) for _, result in results}) == 1  # one order, the same reply
    assert store.positions(["A"])[0].allocated == 3


def test_fifty_duplicates_past_the_lease_have_one_effect(store: Store) -> None:
    """50 duplicates that all skip the lease: the key stored with the effect lets one through."""
    store.set_stock("N1", {"A": (1_000, 0)}, "dup")

    def request(i: int) -> str:
        idem = IdempotencyKey("key-1", "hash-1")
        try:  # distinct order ids, so only the idempotency key can stop a second effect
            store.create_order(f"o{i}", {"A": 3}, [Unit("N1", "A", 3)], {}, idem=idem)
        except Replayed:
            return "refused"
        return "applied"

    assert Counter(run_together(50, request)) == {"applied": 1, "refused": 49}
    assert store.positions(["A"])[0].allocated == 3
    assert sum(e.type == "order.created" for e in store.events(0, 1000)) == 1


def _read_acks(proc: subprocess.Popen[str], want: int, timeout_s: float) -> list[str]:
    assert proc.stdout is not None
    acks: list[str] = []
    deadline = time.monotonic() + timeout_s
    while len(acks) < want and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acks.append(line.split()[1])
    return acks


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_commit(url: str, store: Store) -> None:
    """kill -9 mid-load: every acknowledged order is there after reopening, stock adds up,
    and so does the capacity its nodes were charged."""
    initial = seed_hot(store, on_hand=(100_000, 100_000), safety=0)
    store.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.sourcing_engine.stores.crash_worker", url, "4"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        acks = _read_acks(proc, want=300 + random.randrange(200), timeout_s=20.0)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
    acks += [line.split()[1] for line in rest.splitlines()]  # printed before the kill
    assert len(acks) >= 300, f"the worker acknowledged only {len(acks)} commits"

    reopened = open_store(url)
    try:
        for order_id in acks:
            assert reopened.get_order(order_id).version == 1
        _check_recount(reopened, initial)
    finally:
        reopened.close()


def _check_recount(store: Store, initial: dict[tuple[str, str], tuple[int, int]]) -> None:
    """Positions recounted from every order and hold the log names, and the invariant."""
    allocated: Counter[tuple[str, str]] = Counter()
    held: Counter[tuple[str, str]] = Counter()
    for event in store.events(0, 1_000_000):
        if event.type == "order.created":
            for u in store.get_order(event.subject).allocations:
                allocated[(u.node, u.sku)] += u.qty
        elif event.type == "reservation.created":
            hold = store.get_reservation(event.subject)
            if hold.state == HoldState.ACTIVE:
                for u in hold.units:
                    held[(u.node, u.sku)] += u.qty
    positions = store.positions(HOT_SKUS, HOT_NODES)
    check_against_tally(initial, positions, Tally(held=held, allocated=allocated))
    check_capacity_recount(store, allocated)
