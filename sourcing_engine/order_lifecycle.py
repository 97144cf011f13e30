"""The order state machine (docs/service.md), as the service applies it.

The store enforces it atomically; the service uses the same table to pick the units of a
step (which allocations a cancellation releases, which shipped units a return takes back)
and to know, before the store call, the order the step leaves behind: that is the reply an
idempotency key stores together with the effect.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Literal

from sourcing_engine.ledger import ALLOWED_FROM, Conflict, OrderRecord, OrderState, Unit

Action = Literal["release", "ship", "cancel", "reject", "return"]
"""The steps the service takes (every ledger action but reallocate)."""

S = OrderState


def check_allowed(order: OrderRecord, action: Action) -> None:
    """Conflict (409 with the current state) when the action is not allowed now."""
    if order.state not in ALLOWED_FROM[action]:
        allowed = ", ".join(sorted(ALLOWED_FROM[action]))
        raise Conflict(
            f"order {order.id} is {order.state}: {action} is allowed only when {allowed}",
            current_state=str(order.state),
        )


def merge_units(units: Iterable[Unit]) -> tuple[Unit, ...]:
    """Units summed per node and SKU, sorted, without empty entries."""
    total: dict[tuple[str, str], int] = {}
    for u in units:
        total[(u.node, u.sku)] = total.get((u.node, u.sku), 0) + u.qty
    return tuple(Unit(n, s, q) for (n, s), q in sorted(total.items()) if q != 0)


def subtract_units(have: Sequence[Unit], take: Sequence[Unit]) -> tuple[Unit, ...]:
    return merge_units([*have, *(Unit(u.node, u.sku, -u.qty) for u in take)])


def sku_totals(units: Iterable[Unit]) -> dict[str, int]:
    total: dict[str, int] = {}
    for u in units:
        total[u.sku] = total.get(u.sku, 0) + u.qty
    return total


def pick_units(
    have: Sequence[Unit],
    want: Mapping[str, int],
    order: OrderRecord,
    what: str,
    prefer: Sequence[str] = (),
) -> tuple[Unit, ...]:
    """Units for `want` (SKU -> qty) taken from `have`, nodes in `prefer` last, then by id.

    Conflict naming every SKU that has fewer units than wanted.
    """
    short = []
    picked: list[Unit] = []
    last = set(prefer)
    for sku, qty in want.items():
        pool = sorted((u for u in have if u.sku == sku), key=lambda u: (u.node in last, u.node))
        there = sum(u.qty for u in pool)
        if there < qty:
            short.append(f"{sku}: {qty} requested, {there} {what}")
            continue
        left = qty
        for u in pool:
            if left == 0:
                break
            n = min(left, u.qty)
            picked.append(Unit(u.node, sku, n))
            left -= n
    if short:
        raise Conflict(
            f"order {order.id} does not have the units: {'; '.join(short)}",
            current_state=str(order.state),
        )
    return merge_units(picked)


def _settled(order: OrderRecord, allocations: tuple[Unit, ...]) -> OrderState:
    """State once allocations change: nothing left allocated ends the order (shipped if
    anything shipped, else cancelled); otherwise it stays where it was."""
    if allocations:
        return order.state
    return S.SHIPPED if order.shipped else S.CANCELLED


def after(
    order: OrderRecord,
    action: Action,
    *,
    node: str | None = None,
    units: Sequence[Unit] = (),
    new_allocations: Sequence[Unit] = (),
) -> OrderRecord:
    """The order as the step leaves it (lines, allocations, shipments, returns, state).

    Version and timestamps are the store's and are left as they were.
    """
    check_allowed(order, action)
    allocations = merge_units(order.allocations)
    lines = dict(order.lines)
    if action == "release":
        return replace(
            order,
            state=S.RELEASED,
            released_nodes=tuple(sorted({u.node for u in allocations})),
        )
    if action == "ship":
        left = tuple(u for u in allocations if u.node != node)
        shipped = merge_units([*order.shipped, *(u for u in allocations if u.node == node)])
        state = S.PARTIALLY_SHIPPED if left else S.SHIPPED
        return replace(order, state=state, allocations=left, shipped=shipped)
    if action == "cancel":
        left = subtract_units(allocations, units)
        for sku, qty in sku_totals(units).items():
            lines[sku] -= qty
        return replace(
            order,
            state=_settled(order, left),
            allocations=left,
            lines={s: q for s, q in lines.items() if q > 0},
        )
    if action == "reject":
        left = merge_units([*subtract_units(allocations, units), *new_allocations])
        placed = sku_totals(new_allocations)
        for sku, qty in sku_totals(units).items():
            lines[sku] -= qty - placed.get(sku, 0)
        released = order.released_nodes
        if order.state == S.RELEASED:  # new nodes are released to at once
            released = tuple(sorted({*released, *(u.node for u in new_allocations)}))
        return replace(
            order,
            state=_settled(order, left),
            allocations=left,
            lines={s: q for s, q in lines.items() if q > 0},
            released_nodes=released,
        )
    # return: the order is returned once everything shipped came back
    returned = merge_units([*order.returned, *units])
    outstanding = subtract_units(order.shipped, returned)
    state = S.RETURNED if order.state == S.SHIPPED and not outstanding else order.state
    return replace(order, state=state, returned=returned)
