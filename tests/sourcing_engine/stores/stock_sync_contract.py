"""The stock sync part of the store contract (sourcing_engine/stock_sync.py): counts as of a
time or a source sequence, applied relative to the movements since, and bulk adjustments,
all or nothing. `StoreContract` inherits it, so every store runs it."""

import time

import pytest

from sourcing_engine.domain import Position, Unit
from sourcing_engine.errors import EntriesRefused
from sourcing_engine.stock_sync import MAX_AHEAD_S, MOVEMENT_RETENTION_S, StockAdjustment
from sourcing_engine.stock_sync import StockCount as C
from sourcing_engine.stores.base import IdempotencyKey, Replayed, Store

# as contract.seed: N1 holds A 10 (safety 2) and B 5, N2 holds A 4 and B 2


def _pos(store: Store, node: str, sku: str) -> Position:
    (found,) = store.positions([sku], [node])
    return found


def _moment(store: Store) -> float:
    """A store clock reading strictly between what was written before and after the call
    (movements at the very as_of of a count are not "since" it)."""
    time.sleep(0.002)
    at = store.now()
    time.sleep(0.002)
    return at


def _ship(store: Store, order_id: str, node: str, sku: str, qty: int) -> None:
    store.create_order(order_id, {sku: qty}, [Unit(node, sku, qty)], {})
    store.transition(order_id, "ship", node=node)


def _refusal(excinfo: pytest.ExceptionInfo[EntriesRefused]) -> list[tuple[int, str]]:
    return [(p.entry, p.problem) for p in excinfo.value.problems]


class StockSyncContract:
    @pytest.fixture
    def seeded(self, store: Store) -> Store:
        """The contract's store with its seed (contract.seed)."""
        from tests.sourcing_engine.stores.contract import seed  # it imports this module

        seed(store)
        return store

    def test_a_count_taken_before_a_shipment_is_adjusted_for_it(self, seeded: Store) -> None:
        """Counted 10 before 3 shipped, applied after: on hand 7, not 10 (no unit created);
        the event says what moved since and that nothing needed correcting."""
        taken = _moment(seeded)
        _ship(seeded, "o1", "N1", "A", 3)
        assert _pos(seeded, "N1", "A").on_hand == 7
        (after,) = seeded.count_stock([C("N1", "A", 10, as_of=taken, source="wms")], "cycle")
        assert after == Position("N1", "A", 7, 2, 0, 0)
        event = seeded.events(0, 1000)[-1]
        assert (event.type, event.subject) == ("stock.counted", "stock:N1/A")
        assert event.data["moved_since"] == -3
        assert event.data["correction"] == 0
        assert event.data["source"] == "wms"
        assert event.data["reason"] == "cycle"

    def test_adjustments_and_returns_are_movements(self, seeded: Store) -> None:
        """Every change of on hand after the count's as_of is added to it; earlier ones
        are not."""
        _ship(seeded, "o1", "N2", "A", 1)  # before the count: part of what was counted
        taken = _moment(seeded)
        seeded.adjust_stock("N2", "A", -1, "damaged")
        seeded.transition("o1", "return")  # +1 back at N2
        seeded.adjust_stock_many([StockAdjustment("N2", "A", 5, "found")])
        (after,) = seeded.count_stock([C("N2", "A", 3, as_of=taken, source="pos")], "count")
        assert after.on_hand == 3 - 1 + 1 + 5

    def test_a_count_shows_shrinkage_once(self, seeded: Store) -> None:
        """A count finding 2 units missing corrects on hand by -2, recorded at its as_of: a
        later count from another source as of after it does not subtract them again, one
        as of before it does."""
        t0 = _moment(seeded)
        t1 = _moment(seeded)
        seeded.count_stock([C("N1", "B", 3, as_of=t1, source="wms")], "count")
        assert _pos(seeded, "N1", "B").on_hand == 3
        t2 = _moment(seeded)
        seeded.count_stock([C("N1", "B", 3, as_of=t2, source="pos")], "count")
        assert _pos(seeded, "N1", "B").on_hand == 3
        seeded.count_stock([C("N1", "B", 5, as_of=t0, source="rfid")], "count")
        assert _pos(seeded, "N1", "B").on_hand == 3

    def test_a_count_never_makes_on_hand_negative(self, seeded: Store) -> None:
        taken = _moment(seeded)
        _ship(seeded, "o1", "N2", "B", 2)
        (after,) = seeded.count_stock([C("N2", "B", 1, as_of=taken)], "count")
        assert after.on_hand == 0

    def test_omitted_safety_stock_keeps_its_value(self, seeded: Store) -> None:
        """A count without safety_stock keeps the stored one (0 for a new position); one
        with it sets it; the old snapshot call keeps it too when given None."""
        a, new = seeded.count_stock([C("N1", "A", 9), C("N3", "A", 4)], "count")
        assert (a.on_hand, a.safety_stock) == (9, 2)
        assert (new.on_hand, new.safety_stock) == (4, 0)
        (a,) = seeded.count_stock([C("N1", "A", 9, safety_stock=1)], "count")
        assert a.safety_stock == 1
        seeded.set_stock("N1", {"A": (6, None), "C": (1, None)}, "snapshot")
        assert (_pos(seeded, "N1", "A").on_hand, _pos(seeded, "N1", "A").safety_stock) == (6, 1)
        assert _pos(seeded, "N1", "C").safety_stock == 0

    def test_a_snapshot_correction_is_a_movement(self, seeded: Store) -> None:
        """The old snapshot call is a count as of now: a count as of before it sees its
        correction."""
        taken = _moment(seeded)
        seeded.set_stock("N1", {"B": (4, None)}, "snapshot")  # 5 -> 4
        (after,) = seeded.count_stock([C("N1", "B", 5, as_of=taken, source="pos")], "count")
        assert after.on_hand == 4

    def test_stale_sequences_are_refused_and_nothing_applies(self, seeded: Store) -> None:
        """Per source and position: a sequence not after the last applied one is stale (409
        material), refused with every other entry of the call; another source or another
        position has its own sequence."""
        seeded.count_stock([C("N1", "A", 8, source="pos-1", sequence=5)], "count")
        before = seeded.positions(["A", "B"])
        events = len(seeded.events(0, 1000))
        with pytest.raises(EntriesRefused) as refused:
            seeded.count_stock(
                [C("N1", "B", 1, source="pos-1", sequence=3),
                 C("N1", "A", 1, source="pos-1", sequence=5),
                 C("N2", "A", 1, source="pos-1", sequence=4)], "count",
            )  # fmt: skip
        assert _refusal(refused) == [(1, "stale")]
        assert refused.value.stale_only
        assert "counts[1] (N1/A)" in str(refused.value)
        assert "sequence 5" in str(refused.value)
        assert seeded.positions(["A", "B"]) == before
        assert len(seeded.events(0, 1000)) == events
        seeded.count_stock([C("N1", "A", 7, source="pos-1", sequence=6)], "count")
        seeded.count_stock([C("N1", "A", 6, source="pos-2", sequence=1)], "count")
        assert _pos(seeded, "N1", "A").on_hand == 6

    def test_stale_times_are_refused(self, seeded: Store) -> None:
        """Without sequences, a count as of a time not after the source's last applied one
        is stale; a redelivered count is too."""
        t1 = _moment(seeded)
        t2 = _moment(seeded)
        seeded.count_stock([C("N1", "A", 8, as_of=t2, source="wms")], "count")
        for stale_at in (t1, t2):
            with pytest.raises(EntriesRefused) as refused:
                seeded.count_stock([C("N1", "A", 9, as_of=stale_at, source="wms")], "count")
            assert _refusal(refused) == [(0, "stale")]
        assert _pos(seeded, "N1", "A").on_hand == 8

    def test_counts_as_of_the_future_or_the_forgotten_past_are_refused(self, seeded: Store) -> None:
        now = _moment(seeded)
        with pytest.raises(EntriesRefused) as refused:
            seeded.count_stock(
                [C("N1", "A", 1, as_of=now + MAX_AHEAD_S + 60),
                 C("N1", "B", 1, as_of=now - MOVEMENT_RETENTION_S - 60), C("N2", "A", 1)],
                "count",
            )  # fmt: skip
        assert _refusal(refused) == [(0, "ahead"), (1, "too_old")]
        assert not refused.value.stale_only
        assert _pos(seeded, "N2", "A").on_hand == 4

    @pytest.mark.parametrize(
        "count", [C("N1", "A", -1), C("N1", "A", 1, safety_stock=-1), C("N1", "A", 1, sequence=1),
                  C("N1", "A", 1, as_of=float("nan"))],
    )  # fmt: skip
    def test_malformed_counts_are_refused(self, seeded: Store, count: C) -> None:
        with pytest.raises(EntriesRefused) as refused:
            seeded.count_stock([C("N2", "A", 1), count], "count")
        assert _refusal(refused) == [(1, "invalid")]
        assert _pos(seeded, "N2", "A").on_hand == 4

    def test_a_position_counted_twice_in_one_call_is_refused(self, seeded: Store) -> None:
        with pytest.raises(EntriesRefused) as refused:
            seeded.count_stock([C("N1", "A", 1), C("N1", "A", 2)], "count")
        assert _refusal(refused) == [(0, "invalid"), (1, "invalid")]

    def test_bulk_adjustments_apply_in_order_all_or_nothing(self, seeded: Store) -> None:
        """Entries apply in order (the same position twice adds up); one that would go below
        zero, counting the earlier ones, refuses the call with every such entry named."""
        out = seeded.adjust_stock_many(
            [StockAdjustment("N1", "A", -4, "damaged"), StockAdjustment("N1", "A", 1, "found"),
             StockAdjustment("N3", "B", 2, "found")],
        )  # fmt: skip
        assert out == (Position("N1", "A", 6, 2, 0, 0), Position("N1", "A", 7, 2, 0, 0),
                       Position("N3", "B", 2, 0, 0, 0))  # fmt: skip
        events = seeded.events(0, 1000)[-3:]
        assert [(e.type, e.subject, e.data["delta"]) for e in events] == [
            ("stock.adjusted", "stock:N1/A", -4), ("stock.adjusted", "stock:N1/A", 1),
            ("stock.adjusted", "stock:N3/B", 2),
        ]  # fmt: skip
        before = seeded.positions(["A", "B"])
        with pytest.raises(EntriesRefused) as refused:
            seeded.adjust_stock_many(
                [StockAdjustment("N2", "A", -3, "x"), StockAdjustment("N2", "A", -3, "x"),
                 StockAdjustment("N2", "B", 1, "x"), StockAdjustment("N3", "A", -1, "x")],
            )  # fmt: skip
        assert _refusal(refused) == [(1, "below_zero"), (3, "below_zero")]
        assert "adjustments[1] (N2/A): delta -3: on hand is 1" in str(refused.value)
        assert seeded.positions(["A", "B"]) == before

    def test_bulk_calls_replay_their_key(self, seeded: Store) -> None:
        """With an idempotency key a bulk call applies once; a retry replays its positions."""
        key = IdempotencyKey("bulk-1", "h")
        first = seeded.adjust_stock_many([StockAdjustment("N1", "B", 1, "found")], key)
        with pytest.raises(Replayed) as again:
            seeded.adjust_stock_many([StockAdjustment("N1", "B", 1, "found")], key)
        assert again.value.result == first
        key = IdempotencyKey("count-1", "h")
        counted = seeded.count_stock([C("N2", "B", 9), C("N2", "A", 1)], "count", key)
        with pytest.raises(Replayed) as again:
            seeded.count_stock([C("N2", "B", 9), C("N2", "A", 1)], "count", key)
        assert again.value.result == counted
        assert _pos(seeded, "N1", "B").on_hand == 6
