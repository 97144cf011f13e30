"""The API under concurrent clients, as deployed: `sourcing-engine serve` processes over a real
store, hammered on hot SKUs through HTTP (tests/api/http_load.py). Every step is followed by
a read of the hot positions, checked; at the end the store agrees with every acknowledged
(2xx) reply and never gave out more than it had."""

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sourcing_engine.stores import open_store
from tests.api.conftest import Served
from tests.api.http_load import HttpWorker, hammer_http, seed_network
from tests.sourcing_engine.stores.invariants import (
    HOT_NODES,
    HOT_SKUS,
    Key,
    Tally,
    check_against_tally,
)

ADMIN = "sk_00000000000000ad_load-admin-secret-0123456789"
KINDS = ("reserve", "commit", "release", "create", "cancel", "ship", "receive")


def _run_load(
    served: Served, store_url: str, initial: dict[Key, tuple[int, int]], clients: int,
    seconds: float, keepalive: bool = True,
) -> tuple[Tally, Counter[int]]:  # fmt: skip
    """`clients` threads hammer the API for `seconds`; the store is checked against the
    merged tallies. Returns the merged tally and the replies per API process."""

    def client(i: int) -> HttpWorker:
        return hammer_http(served.url, ADMIN, f"c{i}", seconds, i, keepalive=keepalive)

    with ThreadPoolExecutor(clients) as pool:
        workers: list[HttpWorker] = list(pool.map(client, range(clients)))
    served_by: Counter[int] = Counter()
    for w in workers:
        served_by.update(w.served_by)
    total = Tally()
    for w in workers:
        total.merge(w.tally)
    store = open_store(store_url)
    try:
        check_against_tally(initial, store.positions(HOT_SKUS, HOT_NODES), total)
    finally:
        store.close()
    assert all(w.tally.ops.total() > 0 for w in workers), "a client got nothing done"
    assert all(total.ops[k] > 0 for k in KINDS), total.ops
    assert total.refused["shortage"] > 0, "the load never reached the stock limit"
    return total, served_by


@pytest.mark.slow
def test_three_api_workers_on_redis_never_oversell(redis_url: str, tmp_path: Path) -> None:
    """serve --workers 3 on Redis under 12 HTTP clients: every step checks out, 2xx = store."""
    store_url = f"{redis_url}?namespace=api-load-{uuid.uuid4().hex[:8]}"
    initial = seed_network(store_url, on_hand=(300, 20), safety=2)
    with Served(tmp_path, "--store", store_url, "--workers", "3", admin_key=ADMIN) as served:
        total, served_by = _run_load(
            served, store_url, initial, clients=12, seconds=8.0, keepalive=False
        )
        pids = served.worker_pids()
    assert len(pids) == 3, f"expected 3 API worker processes, found {pids}"
    assert set(served_by) == set(pids), f"replies per worker {dict(served_by)}, workers {pids}"
    assert total.checks > 100, total


@pytest.mark.slow
def test_embedded_store_under_many_client_threads(tmp_path: Path) -> None:
    """One API process on the embedded store, 16 client threads for 5 s: the same checks."""
    store_url = f"sqlite:///{tmp_path / 'data' / 'ledger.db'}"
    initial = seed_network(store_url, on_hand=(300, 20), safety=2)
    with Served(tmp_path, "--store", store_url, admin_key=ADMIN) as served:
        total, served_by = _run_load(served, store_url, initial, clients=16, seconds=5.0)
    assert list(served_by) == [served.proc.pid], served_by  # the serve process itself
    assert total.checks > 100, total
