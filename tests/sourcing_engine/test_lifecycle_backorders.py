"""Backorders and returns with dispositions in the order state machine on its own (no
store): what a receipt fills, what a cancel gives back, where a return restocks."""

import pytest

from sourcing_engine import lifecycle
from sourcing_engine.domain import Unit
from sourcing_engine.errors import Conflict, Invalid
from sourcing_engine.lifecycle import Backorder, OrderRecord, OrderState, ReturnLine, Step

PO1 = Backorder("po1", "W", "A", 3, 10.0)
PO2 = Backorder("po2", "W", "A", 2, 20.0)


def waiting_order() -> OrderRecord:
    """A x6: one on hand at W, three on po1, two on po2."""
    order, _ = lifecycle.create("o1", {"A": 6}, [Unit("W", "A", 1)], {}, 0.0,
                                backorders=[PO2, PO1])  # fmt: skip
    return order


def test_create_counts_backorders_in_the_lines() -> None:
    """Lines must be the allocated and backordered units; backorders by arrival."""
    order, effects = lifecycle.create("o1", {"A": 6}, [Unit("W", "A", 1)], {}, 0.0,
                                      backorders=[PO2, PO1])  # fmt: skip
    assert order.backordered == (PO1, PO2)
    assert effects.backorder == (PO1, PO2)
    assert [t for t, _ in effects.events][-1] == "order.backordered"
    with pytest.raises(Invalid, match="backordered"):
        lifecycle.create("o2", {"A": 5}, [Unit("W", "A", 1)], {}, 0.0, backorders=[PO1, PO2])


def test_a_fill_takes_at_most_what_waits_on_that_inbound() -> None:
    """A receipt of 5 on po1 fills its 3 waiting units only; po2's stay waiting."""
    after, effects, took = lifecycle.fill_backorders(waiting_order(), "po1", 5)
    assert took == 3
    assert after.allocations == (Unit("W", "A", 4),)
    assert after.backordered == (PO2,)
    assert effects.fill == (Unit("W", "A", 3),)
    assert effects.unbackorder == (PO1,)
    assert after.version == 2
    assert lifecycle.fill_backorders(after, "po1", 5)[2] == 0  # nothing left on po1


def test_fill_in_turn_serves_the_oldest_first() -> None:
    """Two orders on po1 and a receipt of 4: the first gets 3, the second 1."""
    first = waiting_order()
    second, _ = lifecycle.create("o2", {"A": 2}, [], {}, 0.0,
                                 backorders=[Backorder("po1", "W", "A", 2, 10.0)])  # fmt: skip
    orders = {"o1": first, "o2": second}
    fills = lifecycle.fill_in_turn(["o1", "o2"], orders.__getitem__, "po1", 4)
    assert [(a.id, e.fill) for _, a, e in fills] == [
        ("o1", (Unit("W", "A", 3),)), ("o2", (Unit("W", "A", 1),)),
    ]  # fmt: skip


def test_an_order_waiting_stays_open_and_cancel_gives_back() -> None:
    """Shipping what is on hand leaves it partially shipped; cancelling po2's units gives
    them back; more than it waits for is a conflict; a whole cancel ends the order."""
    order = waiting_order()
    shipped, _ = lifecycle.apply(order, "ship", Step(node="W"))
    assert shipped.state == OrderState.PARTIALLY_SHIPPED
    part, effects = lifecycle.apply(shipped, "cancel", Step(backorders=(PO2,)))
    assert effects.unbackorder == (PO2,)
    assert part.lines == {"A": 4}
    with pytest.raises(Conflict, match="po2"):
        lifecycle.apply(part, "cancel", Step(backorders=(PO2,)))
    done, _ = lifecycle.apply(order, "cancel", Step())
    assert done.state == OrderState.CANCELLED
    assert done.backordered == ()


def test_a_return_restocks_only_restocked_lines_where_received() -> None:
    """At store S: restock adds stock at S, quarantine and write_off add none."""
    order, _ = lifecycle.create("o1", {"A": 3}, [Unit("W", "A", 3)], {}, 0.0)
    order, _ = lifecycle.apply(order, "ship", Step(node="W"))
    back = tuple(ReturnLine("W", "A", 1, d) for d in lifecycle.DISPOSITIONS)
    after, effects = lifecycle.apply(order, "return", Step(returns=back, at="S"))
    assert effects.restock == (Unit("S", "A", 1),)
    assert after.returned == (Unit("W", "A", 3),)
    assert after.state == OrderState.RETURNED
