"""The store contract for transfer orders between nodes (lifecycle.py, "transfer orders"):
a mixin of `StoreContract`, so every store (SQLite, Redis, the one-node Redis Cluster)
runs it."""

from typing import Any, ClassVar

import pytest

from sourcing_engine.domain import Inbound, Position, Unit
from sourcing_engine.errors import (
    Conflict,
    IdempotencyMismatch,
    InsufficientStock,
    Invalid,
    NotFound,
    Shortage,
)
from sourcing_engine.lifecycle import (
    TRANSFER_ACTIONS,
    TransferAction,
    TransferRecord,
    TransferState,
    TransferStep,
    transfer_inbound_id,
)
from sourcing_engine.stores.base import IdempotencyKey, Replayed, Store

# the contract's seed (contract.seed): N1 A 10 on hand, 2 safety; B 5. N2 A 4, B 2. N3 none.
N1, N2, N3 = "N1", "N2", "N3"
ARRIVES = 1_781_000_000.123_456_7  # every digit of the double kept (Lua's cjson would round)

STEP_ARGS: dict[TransferAction, TransferStep] = {
    "ship": TransferStep(expected_at=ARRIVES),
    "receive": TransferStep(lines={"A": 1}),
    "cancel": TransferStep(),
}
T_ALLOWED: dict[tuple[TransferState, TransferAction], TransferState] = {
    (TransferState.REQUESTED, "ship"): TransferState.IN_TRANSIT,
    (TransferState.REQUESTED, "cancel"): TransferState.CANCELLED,
    (TransferState.IN_TRANSIT, "receive"): TransferState.PARTIALLY_RECEIVED,
    (TransferState.PARTIALLY_RECEIVED, "receive"): TransferState.PARTIALLY_RECEIVED,
}
"""(state, action) -> state after, with STEP_ARGS on a transfer of A x3; others conflict."""


def _seed(store: Store) -> None:
    from tests.sourcing_engine.stores.contract import seed

    seed(store)


def _pos(store: Store, node: str, sku: str) -> Position:
    found = store.positions([sku], [node])
    return found[0] if found else Position(node, sku, 0, 0, 0, 0)


def _units_everywhere(store: Store, sku: str) -> int:
    """On hand at every node plus open inbound: what a transfer must conserve."""
    on_hand = sum(p.on_hand for p in store.positions([sku]))
    return on_hand + sum(i.qty for i in store.list_inbound([sku]))


def transfer_in(store: Store, state: TransferState, transfer_id: str = "t1") -> TransferRecord:
    """A transfer of A x3 from N1 to N3 brought to `state` by allowed steps."""
    t = store.create_transfer(transfer_id, N1, N3, {"A": 3})
    steps: dict[TransferState, list[tuple[TransferAction, TransferStep]]] = {
        TransferState.REQUESTED: [],
        TransferState.IN_TRANSIT: [("ship", STEP_ARGS["ship"])],
        TransferState.PARTIALLY_RECEIVED: [("ship", STEP_ARGS["ship"]),
                                           ("receive", TransferStep(lines={"A": 1}))],
        TransferState.RECEIVED: [("ship", STEP_ARGS["ship"]), ("receive", TransferStep())],
        TransferState.CANCELLED: [("cancel", TransferStep())],
    }  # fmt: skip
    for action, step in steps[state]:
        t = store.transfer_step(transfer_id, action, step)
    assert t.state == state
    return t


class TransferContract:
    """Transfers: reserve at the source, ship into transit, receive (in part), cancel."""

    EXPECTED_AT: ClassVar[float] = ARRIVES

    def test_create_reserves_at_the_source(self, store: Store) -> None:
        """A new transfer allocates its lines at the source (available falls, on hand
        stays), is `requested` at version 1, and logs transfer.created."""
        _seed(store)
        t = store.create_transfer("t1", N1, N3, {"A": 3, "B": 5}, document={"why": "restock"})
        assert (t.id, t.source, t.destination, t.lines, t.received) == (
            "t1", N1, N3, {"A": 3, "B": 5}, {},
        )  # fmt: skip
        assert (t.state, t.version, t.expected_at, t.document) == (
            TransferState.REQUESTED, 1, None, {"why": "restock"},
        )  # fmt: skip
        assert t.created_at == t.updated_at
        assert abs(t.created_at - store.now()) < 5
        assert store.get_transfer("t1") == t
        assert _pos(store, N1, "A") == Position(N1, "A", 10, 2, 0, 3)
        assert _pos(store, N1, "B").available == 0
        (event,) = [e for e in store.events(0, 1000) if e.type.startswith("transfer.")]
        assert (event.type, event.subject, event.data) == ("transfer.created", "t1", {
            "source": N1, "destination": N3, "lines": {"A": 3, "B": 5}, "expected_at": None,
            "state": "requested", "version": 1,
        })  # fmt: skip

    def test_reserved_units_are_not_sold_twice(self, store: Store) -> None:
        """Units reserved for a transfer are taken: an order or hold for them is short."""
        _seed(store)
        store.create_transfer("t1", N1, N2, {"A": 6})
        with pytest.raises(InsufficientStock):
            store.create_order("o1", {"A": 3}, [Unit(N1, "A", 3)], {})
        with pytest.raises(InsufficientStock):
            store.reserve("h1", "c", [Unit(N1, "A", 3)], 600.0)
        store.create_order("o2", {"A": 2}, [Unit(N1, "A", 2)], {})
        assert _pos(store, N1, "A") == Position(N1, "A", 10, 2, 0, 8)

    def test_create_is_all_or_nothing_with_every_short_line(self, store: Store) -> None:
        """A transfer short on any line reserves nothing, names every short line and logs
        nothing; safety stock is never transferred."""
        _seed(store)
        last = store.events(0, 1000)[-1].seq
        with pytest.raises(InsufficientStock) as short:
            store.create_transfer("t1", N2, N1, {"A": 5, "B": 3})
        assert short.value.shortages == (
            Shortage("A", (N2,), 5, 4), Shortage("B", (N2,), 3, 2),
        )  # fmt: skip
        with pytest.raises(InsufficientStock):
            store.create_transfer("t1", N1, N2, {"A": 9})  # 10 on hand, 2 safety
        assert store.events(last) == []
        assert _pos(store, N2, "A").allocated == 0
        assert _pos(store, N1, "A").allocated == 0
        with pytest.raises(NotFound, match="t1"):
            store.get_transfer("t1")

    @pytest.mark.parametrize(
        ("source", "destination", "lines", "match"),
        [
            (N1, N1, {"A": 1}, "must differ"),
            (N1, N2, {}, "at least one line"),
            (N1, N2, {"A": 0}, "whole quantity"),
            (N1, N2, {"A": -2}, "whole quantity"),
            (N1, N2, {"A": True}, "whole quantity"),
            (N1, N2, {"A": 1.5}, "whole quantity"),
        ],
    )
    def test_create_refuses_bad_input(
        self, store: Store, source: str, destination: str, lines: dict[str, Any], match: str
    ) -> None:
        """A transfer to its own source, without lines, or with a quantity that is not a
        whole number >= 1 is Invalid, naming the transfer; nothing is written."""
        _seed(store)
        with pytest.raises(Invalid, match=match) as refused:
            store.create_transfer("t1", source, destination, lines)
        assert "transfer t1" in str(refused.value)
        with pytest.raises(NotFound):
            store.get_transfer("t1")

    def test_create_refuses_an_existing_id(self, store: Store) -> None:
        """A second transfer with the same id conflicts (with the first's state) and
        reserves nothing more."""
        _seed(store)
        store.create_transfer("t1", N1, N2, {"A": 1})
        with pytest.raises(Conflict) as clash:
            store.create_transfer("t1", N1, N2, {"A": 2})
        assert clash.value.current_state == "requested"
        assert _pos(store, N1, "A").allocated == 1

    def test_ship_puts_the_units_in_transit(self, store: Store) -> None:
        """Shipped, the units leave the source (on hand and allocated fall) and are open
        inbound at the destination, one per SKU, arriving at expected_at exactly."""
        _seed(store)
        store.create_transfer("t1", N1, N3, {"A": 3, "B": 2})
        before = {s: _units_everywhere(store, s) for s in ("A", "B")}
        t = store.transfer_step("t1", "ship", TransferStep(expected_at=self.EXPECTED_AT))
        assert (t.state, t.version, t.expected_at) == (TransferState.IN_TRANSIT, 2, ARRIVES)
        assert t.in_transit == {"A": 3, "B": 2}
        assert store.get_transfer("t1") == t
        assert _pos(store, N1, "A") == Position(N1, "A", 7, 2, 0, 0)
        assert _pos(store, N1, "B") == Position(N1, "B", 3, 0, 0, 0)
        assert store.list_inbound(["A", "B"]) == [
            Inbound(transfer_inbound_id("t1", "A"), N3, "A", 3, ARRIVES),
            Inbound(transfer_inbound_id("t1", "B"), N3, "B", 2, ARRIVES),
        ]
        assert {s: _units_everywhere(store, s) for s in ("A", "B")} == before
        shipped = [e for e in store.events(0, 1000) if e.type == "transfer.shipped"]
        assert [e.data for e in shipped] == [{
            "lines": {"A": 3, "B": 2}, "expected_at": ARRIVES, "state": "in_transit",
            "version": 2,
        }]  # fmt: skip

    def test_ship_takes_the_arrival_given_at_creation(self, store: Store) -> None:
        """An arrival given at creation is used when the ship names none; with neither,
        the ship is Invalid and changes nothing."""
        _seed(store)
        store.create_transfer("t1", N1, N3, {"A": 1}, expected_at=5000.25)
        assert store.transfer_step("t1", "ship").expected_at == 5000.25
        store.create_transfer("t2", N1, N3, {"A": 1})
        with pytest.raises(Invalid, match="expected_at"):
            store.transfer_step("t2", "ship")
        assert store.get_transfer("t2").state == TransferState.REQUESTED
        assert _pos(store, N1, "A").allocated == 1

    def test_receive_in_part_then_in_full_conserves_units(self, store: Store) -> None:
        """Receipts move units from the inbound to the destination's on hand (creating its
        position), in part or the rest (no lines: everything in transit); units are
        conserved throughout; each receipt logs inbound.received per SKU, then
        transfer.received."""
        _seed(store)
        store.create_transfer("t1", N1, N3, {"A": 3, "B": 2})
        store.transfer_step("t1", "ship", TransferStep(expected_at=ARRIVES))
        before = {s: _units_everywhere(store, s) for s in ("A", "B")}
        t = store.transfer_step("t1", "receive", TransferStep(lines={"A": 2}))
        assert (t.state, t.received, t.in_transit) == (
            TransferState.PARTIALLY_RECEIVED, {"A": 2}, {"A": 1, "B": 2},
        )  # fmt: skip
        assert _pos(store, N3, "A") == Position(N3, "A", 2, 0, 0, 0)
        assert store.list_inbound(["A"]) == [
            Inbound(transfer_inbound_id("t1", "A"), N3, "A", 1, ARRIVES)
        ]
        t = store.transfer_step("t1", "receive")
        assert (t.state, t.received, t.in_transit, t.version) == (
            TransferState.RECEIVED, {"A": 3, "B": 2}, {}, 4,
        )  # fmt: skip
        assert _pos(store, N3, "A").on_hand == 3
        assert _pos(store, N3, "B").on_hand == 2
        assert store.list_inbound(["A", "B"]) == []
        assert {s: _units_everywhere(store, s) for s in ("A", "B")} == before
        events = [(e.type, e.subject, e.data.get("lines") or e.data.get("qty"))
                  for e in store.events(0, 1000) if e.type.endswith(".received")]  # fmt: skip
        assert events == [
            ("inbound.received", "stock:N3/A", 2),
            ("transfer.received", "t1", {"A": 2}),
            ("inbound.received", "stock:N3/A", 1),
            ("inbound.received", "stock:N3/B", 2),
            ("transfer.received", "t1", {"A": 1, "B": 2}),
        ]

    def test_receive_refusals_change_nothing(self, store: Store) -> None:
        """More than is in transit, a SKU not sent, or a quantity below 1 is Invalid; a
        receipt before shipping conflicts; none changes stock, inbound or events."""
        _seed(store)
        store.create_transfer("t1", N1, N3, {"A": 3})
        with pytest.raises(Conflict) as early:
            store.transfer_step("t1", "receive")
        assert early.value.current_state == "requested"
        store.transfer_step("t1", "ship", TransferStep(expected_at=ARRIVES))
        last = store.events(0, 1000)[-1].seq
        for lines, match in (({"A": 4}, "4 units, but 3 are in transit"),
                             ({"B": 1}, "1 units, but 0 are in transit"),
                             ({"A": 0}, "whole quantity")):  # fmt: skip
            with pytest.raises(Invalid, match=match):
                store.transfer_step("t1", "receive", TransferStep(lines=lines))
        assert store.events(last) == []
        assert store.get_transfer("t1").version == 2
        assert _pos(store, N3, "A") == Position(N3, "A", 0, 0, 0, 0)
        assert store.list_inbound(["A"])[0].qty == 3

    def test_cancel_releases_the_reservation(self, store: Store) -> None:
        """Cancelled before shipping, the units are available at the source again; a
        shipped transfer cannot be cancelled (its units are received instead)."""
        _seed(store)
        store.create_transfer("t1", N1, N3, {"A": 3})
        t = store.transfer_step("t1", "cancel")
        assert (t.state, t.version) == (TransferState.CANCELLED, 2)
        assert _pos(store, N1, "A") == Position(N1, "A", 10, 2, 0, 0)
        transfer_in(store, TransferState.IN_TRANSIT, "t2")
        with pytest.raises(Conflict, match="cancel is allowed only when requested"):
            store.transfer_step("t2", "cancel")

    @pytest.mark.parametrize("state", list(TransferState))
    @pytest.mark.parametrize("action", TRANSFER_ACTIONS)
    def test_transfer_state_matrix(
        self, store: Store, state: TransferState, action: TransferAction
    ) -> None:
        """Every (state, action): allowed ones reach the documented state, the others
        conflict with the current state and change nothing."""
        _seed(store)
        t = transfer_in(store, state)
        expected = T_ALLOWED.get((state, action))
        if expected is None:
            positions = store.positions(["A"])
            with pytest.raises(Conflict) as refused:
                store.transfer_step("t1", action, STEP_ARGS[action])
            assert refused.value.current_state == state.value
            assert store.get_transfer("t1") == t
            assert store.positions(["A"]) == positions
        else:
            after = store.transfer_step("t1", action, STEP_ARGS[action])
            assert (after.state, after.version) == (expected, t.version + 1)

    def test_a_transfers_inbound_is_received_through_the_transfer_only(self, store: Store) -> None:
        """The inbound a shipped transfer opens cannot be received as a purchase order
        (Conflict naming the transfer) nor upserted (Invalid): the transfer stays whole."""
        _seed(store)
        transfer_in(store, TransferState.IN_TRANSIT)
        inbound_id = transfer_inbound_id("t1", "A")
        with pytest.raises(Conflict, match="transfer t1"):
            store.receive_inbound(inbound_id, 1)
        with pytest.raises(Invalid, match="transfers' own"):
            store.add_inbound([Inbound(inbound_id, N2, "A", 9, 1.0)])
        assert store.list_inbound(["A"]) == [Inbound(inbound_id, N3, "A", 3, ARRIVES)]

    def test_transfer_steps_check_the_version(self, store: Store) -> None:
        """A step expecting another version conflicts and changes nothing."""
        _seed(store)
        store.create_transfer("t1", N1, N3, {"A": 3})
        with pytest.raises(Conflict, match="version is 1, not 7"):
            store.transfer_step("t1", "cancel", expected_version=7)
        assert store.transfer_step("t1", "cancel", expected_version=1).version == 2

    def test_unknown_transfer_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound, match="transfer nope"):
            store.get_transfer("nope")
        with pytest.raises(NotFound, match="transfer nope"):
            store.transfer_step("nope", "cancel")

    def test_transfer_calls_replay_their_keys(self, store: Store) -> None:
        """Keyed create and steps apply once: the same key and request replay the record
        (also through idempotent_reply), another request under the key is refused."""
        _seed(store)
        first = store.create_transfer("t1", N1, N3, {"A": 3}, IdempotencyKey("k1", "h"))
        reply = store.idempotent_reply("k1")
        assert reply is not None
        assert reply.result == first
        with pytest.raises(Replayed) as again:
            store.create_transfer("t1", N1, N3, {"A": 3}, IdempotencyKey("k1", "h"))
        assert again.value.result == first
        with pytest.raises(IdempotencyMismatch):
            store.create_transfer("t9", N1, N3, {"A": 1}, IdempotencyKey("k1", "other"))
        ship = TransferStep(expected_at=ARRIVES)
        shipped = store.transfer_step("t1", "ship", ship, IdempotencyKey("k2", "h"))
        with pytest.raises(Replayed) as replayed:
            store.transfer_step("t1", "ship", ship, IdempotencyKey("k2", "h"))
        assert replayed.value.result == shipped
        assert _pos(store, N1, "A") == Position(N1, "A", 7, 2, 0, 0)
