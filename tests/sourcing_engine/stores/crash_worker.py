"""A load that acknowledges each commit on stdout, for the kill -9 test.

    python -m tests.sourcing_engine.stores.crash_worker STORE_URL THREADS

Each thread loops: create an order, or hold and commit into an order; after the store
returns, it prints `ack <order id>` (flushed). Whatever it printed was durable by then.
Each order charges its node's capacity of invariants.HOT_DAY (no node has a limit here).
"""

import sys
import threading

from sourcing_engine.domain import Unit
from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import Store
from tests.sourcing_engine.stores.invariants import DAYS, HOT_NODES, HOT_SKUS

_print_lock = threading.Lock()


def _ack(order_id: str) -> None:
    with _print_lock:
        sys.stdout.write(f"ack {order_id}\n")
        sys.stdout.flush()


def _loop(store: Store, name: str) -> None:
    for i in range(10**9):
        unit = Unit(HOT_NODES[i % len(HOT_NODES)], HOT_SKUS[i % len(HOT_SKUS)], 1 + i % 3)
        lines = {unit.sku: unit.qty}
        if i % 2:
            order = store.create_order(f"{name}-o{i}", lines, [unit], {"i": i}, days=DAYS)
        else:
            store.reserve(f"{name}-h{i}", name, [unit], 600.0)
            order = store.commit_reservation(
                store.get_reservation(f"{name}-h{i}"), f"{name}-o{i}", {"i": i}, days=DAYS
            )
        _ack(order.id)


def main() -> None:
    url, threads = sys.argv[1], int(sys.argv[2])
    store = open_store(url)
    workers = [threading.Thread(target=_loop, args=(store, f"w{t}")) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
