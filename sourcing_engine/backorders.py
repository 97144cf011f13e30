"""Backorders: what of an order that accepts waiting is promised from open purchase orders.

The engine sources the order on stock on hand first; the units it leaves short are taken
from open inbound supply at nodes that ship, earliest arrival first, each purchase order at
most for its open units no other order waits for yet (the store checks that again, in the
order's atomic write). The order's promised date is the local date the last of them
arrives at its node.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

from sourcing_engine.domain import Inbound, sku_totals
from sourcing_engine.errors import InsufficientStock
from sourcing_engine.lifecycle import TRANSFER_INBOUND, Backorder, merge_backorders
from sourcing_engine.promise.network import PromiseNetwork
from sourcing_engine.promise.options import from_inbound
from sourcing_engine.sourcing import Sourced


def backorders_for(
    sourced: Sourced, inbound: Sequence[Inbound], net: PromiseNetwork
) -> tuple[Backorder, ...]:
    """The backorders covering what the engine left short of the order; InsufficientStock
    (each short line's available counting the incoming units no order waits for) when open
    purchase orders cannot cover it all."""
    # purchase orders only: a transfer's receipt is a step of the transfer, not a receipt
    # that fills backorders (lifecycle.create refuses them too)
    inbound = [b for b in inbound if not b.id.startswith(TRANSFER_INBOUND)]
    covered = sku_totals(sourced.units)
    short = {s: q - covered.get(s, 0) for s, q in sourced.order.quantities.items()}
    short = {s: q for s, q in short.items() if q > 0}
    taken, left = from_inbound(short, inbound, net)
    if left:
        incoming = {s: sum(b.free for b in inbound if b.sku == s) for s in left}
        raise InsufficientStock(
            [
                replace(s, available=s.available + incoming[s.sku])
                for s in sourced.shortages
                if s.sku in left
            ]
        )
    return merge_backorders(Backorder(b.id, b.node, b.sku, q, b.expected_at) for b, q in taken)


def promised_date(
    backorders: Sequence[Backorder], local_date: Callable[[str, float], dt.date]
) -> str | None:
    """The local date (YYYY-MM-DD) the last backordered unit arrives at its node."""
    if not backorders:
        return None
    return max(local_date(b.node, b.expected_at) for b in backorders).isoformat()
