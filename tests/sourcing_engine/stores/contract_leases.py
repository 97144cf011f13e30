"""Leases: how the API processes of one store elect the one that runs a background task
(the scheduled re-optimization). A mixin of `StoreContract`, so every store (SQLite, Redis,
the one-node Redis Cluster) runs it."""

import threading

from sourcing_engine.stores.base import Store

LEASE_S = 60.0


class LeaseContract:
    def test_a_lease_has_one_holder_until_it_expires(self, store: Store) -> None:
        """A live lease refuses another holder and is renewed by its own; once the store's
        clock passes its end another holder takes it, and then the first holder is refused."""
        assert store.acquire_lease("reoptimize", "p1", LEASE_S)
        assert not store.acquire_lease("reoptimize", "p2", LEASE_S)
        assert store.acquire_lease("reoptimize", "p1", LEASE_S)  # renewed from now
        assert store.acquire_lease("other", "p2", LEASE_S)  # each name its own lease
        store.shift_clock(LEASE_S - 1)
        assert not store.acquire_lease("reoptimize", "p2", LEASE_S)
        store.shift_clock(2)
        assert store.acquire_lease("reoptimize", "p2", LEASE_S)
        assert not store.acquire_lease("reoptimize", "p1", LEASE_S)

    def test_only_the_holder_releases_a_lease(self, store: Store) -> None:
        """Release by another holder changes nothing (a lease taken over after it expired is
        not the first holder's to free); release by the holder frees it at once."""
        assert store.acquire_lease("reoptimize", "p1", LEASE_S)
        store.release_lease("reoptimize", "p2")
        assert not store.acquire_lease("reoptimize", "p2", LEASE_S)
        store.release_lease("reoptimize", "p1")
        assert store.acquire_lease("reoptimize", "p2", LEASE_S)
        store.release_lease("never-held", "p1")  # a no-op

    def test_concurrent_acquires_elect_one_holder(self, store: Store) -> None:
        """Eight threads racing for a free lease: exactly one holds it."""
        won: list[str] = []
        start = threading.Barrier(8)

        def race(holder: str) -> None:
            start.wait()
            if store.acquire_lease("race", holder, LEASE_S):
                won.append(holder)

        threads = [threading.Thread(target=race, args=(f"p{k}",)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
