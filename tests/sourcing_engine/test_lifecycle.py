"""The order state machine on its own (no store): each step's order, stock effects and
events, worked out by hand; refusals name what is wrong."""

from dataclasses import replace

import pytest

from sourcing_engine import lifecycle
from sourcing_engine.domain import Unit
from sourcing_engine.errors import Conflict, Invalid
from sourcing_engine.lifecycle import Effects, HoldState, OrderRecord, OrderState, Step

# two units of A at N1, one at N2; one B at N2
UNITS = (Unit("N1", "A", 2), Unit("N2", "A", 1), Unit("N2", "B", 1))


def new_order() -> OrderRecord:
    order, _ = lifecycle.create("o1", {"A": 3, "B": 1}, UNITS, {"d": 1}, now=100.0)
    return order


def test_create_allocates_every_unit_and_says_so() -> None:
    """A new order holds its units, version 1, with order.created and order.allocated."""
    order, effects = lifecycle.create("o1", {"B": 1, "A": 3}, reversed(UNITS), {"d": 1}, 100.0)
    assert (order.state, order.version, order.created_at, order.updated_at) == (
        OrderState.ALLOCATED, 1, 100.0, 100.0,
    )  # fmt: skip
    assert order.lines == {"A": 3, "B": 1}
    assert order.allocations == UNITS  # merged and sorted by (node, sku)
    assert effects.allocate == UNITS
    assert (effects.free, effects.ship, effects.restock) == ((), (), ())
    units = [{"node": "N1", "sku": "A", "qty": 2}, {"node": "N2", "sku": "A", "qty": 1},
             {"node": "N2", "sku": "B", "qty": 1}]  # fmt: skip
    assert effects.events == (
        ("order.created", {"lines": {"B": 1, "A": 3}, "reservation_id": None,
                           "state": "allocated", "version": 1}),
        ("order.allocated", {"units": units, "state": "allocated", "version": 1}),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "units"),
    [
        ({"A": 4, "B": 1}, UNITS),  # lines not the units per SKU
        ({}, ()),  # nothing at all
        ({"A": 1}, (Unit("N1", "A", 0),)),  # no units in a line
        ({"A": 1}, (Unit("", "A", 1),)),  # no node
    ],
)
def test_create_refuses_anything_but_whole_orders(
    lines: dict[str, int], units: tuple[Unit, ...]
) -> None:
    """An order is allocated whole: its lines are exactly its units, none empty."""
    with pytest.raises(Invalid):
        lifecycle.create("o1", lines, units, {}, 0.0)


def test_ship_one_node_then_the_other() -> None:
    """Shipping N1 leaves N2's units: partially shipped; shipping N2 ends it: shipped."""
    order = new_order()
    after, effects = lifecycle.apply(order, "ship", Step(node="N1"))
    assert after.state == OrderState.PARTIALLY_SHIPPED
    assert after.version == 2
    assert after.allocations == (Unit("N2", "A", 1), Unit("N2", "B", 1))
    assert after.shipped == (Unit("N1", "A", 2),)
    assert effects == Effects(
        free=(Unit("N1", "A", 2),),
        ship=(Unit("N1", "A", 2),),
        events=(("order.shipped", {"node": "N1", "units": [{"node": "N1", "sku": "A", "qty": 2}],
                                   "state": "partially_shipped", "version": 2}),),
    )  # fmt: skip
    done, _ = lifecycle.apply(after, "ship", Step(node="N2"))
    assert (done.state, done.allocations, done.lines) == (OrderState.SHIPPED, (), {"A": 3, "B": 1})


def test_cancel_some_units_then_the_rest() -> None:
    """Cancelling leaves the lines with what is left; cancelling everything ends it."""
    order = new_order()
    after, effects = lifecycle.apply(order, "cancel", Step(units=(Unit("N1", "A", 1),)))
    assert (after.state, after.lines) == (OrderState.ALLOCATED, {"A": 2, "B": 1})
    assert after.allocations == (Unit("N1", "A", 1), Unit("N2", "A", 1), Unit("N2", "B", 1))
    assert effects.free == (Unit("N1", "A", 1),)
    rest, effects = lifecycle.apply(after, "cancel", Step())
    assert (rest.state, rest.lines, rest.allocations) == (OrderState.CANCELLED, {}, ())
    assert effects.free == after.allocations


def test_reject_reallocates_what_it_can_and_drops_the_rest() -> None:
    """N1 rejects its 2 A; 1 goes to N3, the other leaves the order (lines_unfillable)."""
    order = new_order()
    step = Step(node="N1", new_allocations=(Unit("N3", "A", 1),))
    after, effects = lifecycle.apply(order, "reject", step)
    assert after.allocations == (Unit("N2", "A", 1), Unit("N2", "B", 1), Unit("N3", "A", 1))
    assert after.lines == {"A": 2, "B": 1}
    assert (effects.allocate, effects.free) == ((Unit("N3", "A", 1),), (Unit("N1", "A", 2),))
    assert [t for t, _ in effects.events] == [
        "order.rejected", "order.reallocated", "order.lines_unfillable",
    ]  # fmt: skip
    assert effects.events[2][1]["lines"] == {"A": 1}


def test_a_released_order_is_released_to_its_new_nodes_at_once() -> None:
    """After release, a reallocation adds its new node to the released nodes."""
    released, _ = lifecycle.apply(new_order(), "release", Step())
    assert released.released_nodes == ("N1", "N2")
    step = Step(units=(Unit("N1", "A", 1),), new_allocations=(Unit("N9", "A", 1),))
    after, _ = lifecycle.apply(released, "reallocate", step)
    assert after.released_nodes == ("N1", "N2", "N9")
    assert after.state == OrderState.RELEASED


def test_return_everything_shipped_ends_in_returned_with_restock_or_not() -> None:
    """Returning every shipped unit makes a shipped order returned; restock is an effect."""
    order = new_order()
    for node in ("N1", "N2"):
        order, _ = lifecycle.apply(order, "ship", Step(node=node))
    part, effects = lifecycle.apply(order, "return", Step(units=(Unit("N1", "A", 1),)))
    assert (part.state, effects.restock) == (OrderState.SHIPPED, (Unit("N1", "A", 1),))
    rest, effects = lifecycle.apply(part, "return", Step(restock=False))
    assert rest.state == OrderState.RETURNED
    assert rest.returned == UNITS
    assert effects.restock == ()


@pytest.mark.parametrize(
    ("action", "step"),
    [
        ("ship", Step()),  # a node is required
        ("release", Step(node="N1")),  # release takes nothing
        ("cancel", Step(new_allocations=(Unit("N3", "A", 1),))),
        ("reallocate", Step(units=(Unit("N1", "A", 1),), new_allocations=(Unit("N3", "B", 1),))),
        ("reject", Step(node="N1", new_allocations=(Unit("N1", "A", 1),))),
        ("reject", Step(node="N1", new_allocations=(Unit("N3", "A", 3),))),
    ],
)
def test_arguments_an_action_does_not_take_are_invalid(
    action: lifecycle.OrderAction, step: Step
) -> None:
    """Wrong arguments are Invalid, whatever the state."""
    with pytest.raises(Invalid):
        lifecycle.apply(new_order(), action, step)


def test_units_the_order_does_not_hold_are_a_conflict_with_its_state() -> None:
    """Cancelling more than the order holds at a node names what it holds."""
    with pytest.raises(Conflict, match="cancel 3 of A at N1 but the order has 2") as err:
        lifecycle.apply(new_order(), "cancel", Step(units=(Unit("N1", "A", 3),)))
    assert err.value.current_state == "allocated"


def test_every_action_not_in_the_table_is_refused() -> None:
    """For each state and action outside ALLOWED_FROM: Conflict naming the state."""
    base = new_order()
    for state in OrderState:
        order = replace(base, state=state)
        for action in lifecycle.ACTIONS:
            if state in lifecycle.ALLOWED_FROM[action]:
                continue
            with pytest.raises(Conflict) as err:
                lifecycle.apply(order, action, Step(node="N1"))
            assert err.value.current_state == state.value


def test_pick_units_takes_released_nodes_last() -> None:
    """Units are picked from nodes not yet released to first, then by node id."""
    have = (Unit("N1", "A", 2), Unit("N2", "A", 2), Unit("N3", "A", 2))
    picked = lifecycle.pick_units(have, {"A": 3}, new_order(), "held", prefer=("N1",))
    assert picked == (Unit("N2", "A", 2), Unit("N3", "A", 1))
    with pytest.raises(Conflict, match="A: 7 requested, 6 held"):
        lifecycle.pick_units(have, {"A": 7}, new_order(), "held")


def test_a_hold_is_expired_from_its_expiry_on() -> None:
    """An active hold reads as expired once now >= expires_at; other states stay."""
    assert lifecycle.hold_state_at("active", 10.0, 9.999) == HoldState.ACTIVE
    assert lifecycle.hold_state_at("active", 10.0, 10.0) == HoldState.EXPIRED
    assert lifecycle.hold_state_at("committed", 10.0, 11.0) == HoldState.COMMITTED
