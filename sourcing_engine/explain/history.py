"""An order's history as customer care reads it: each event with the decision it records,
in one line built from the event's own data.

Where the engine chose nodes (the allocation, a re-sourcing after a rejection or a
reallocation) the decision is marked `explained`: the order's explanation (explain/order.py,
GET /v1/orders/{id}/explanation) says why those nodes, itemized, against the stock now;
nothing of it is repeated here. An event type this module does not know (one added later)
still gets a line: its type.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sourcing_engine.stores.base import Event


@dataclass(frozen=True)
class Decision:
    code: str
    reason: str
    explained: bool = False
    """The engine chose nodes here: the order's explanation says why."""

    def to_data(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason, "explained": self.explained}


def _units(units: Sequence[Mapping[str, Any]], at: bool = True) -> str:
    parts = [f"{u['qty']} x {u['sku']}" + (f" at {u['node']}" if at else "") for u in units]
    return ", ".join(parts) or "nothing"


def _lines(lines: Mapping[str, int]) -> str:
    return ", ".join(f"{q} x {s}" for s, q in sorted(lines.items())) or "nothing"


def _created(d: Mapping[str, Any]) -> Decision:
    hold = d.get("reservation_id")
    origin = f", committed from hold {hold}" if hold else ""
    return Decision("placed", f"ordered {_lines(d.get('lines', {}))}{origin}")


def _shipped(d: Mapping[str, Any]) -> Decision:
    parcel = f" ({d['carrier']} {d['tracking']})" if d.get("carrier") else ""
    return Decision("shipped", f"{d['node']} shipped {_units(d['units'], at=False)}{parcel}")


def _returned(d: Mapping[str, Any]) -> Decision:
    restocked = "restocked" if d.get("restock") else "not restocked"
    return Decision("returned", f"{_units(d['units'])} came back, {restocked}")


DECISIONS: dict[str, Callable[[Mapping[str, Any]], Decision]] = {
    "order.created": _created,
    "order.allocated": lambda d: Decision(
        "sourced",
        f"allocated {_units(d['units'])}: the engine's plan on the stock and capacity "
        "available then",
        explained=True,
    ),
    "order.released": lambda d: Decision(
        "released", f"released to {', '.join(d['nodes'])} for picking"
    ),
    "order.shipped": _shipped,
    "order.cancelled": lambda d: Decision(
        "cancelled", f"cancelled {_units(d['units'])}; those units are available again"
    ),
    "order.rejected": lambda d: Decision(
        "rejected",
        f"{d['node']} could not fulfil {_units(d['units'], at=False)}; it is never used again "
        "for this order",
    ),
    "order.reallocated": lambda d: Decision(
        "resourced",
        f"gave back {_units(d['released'])} and allocated {_units(d['units'])} instead",
        explained=True,
    ),
    "order.lines_unfillable": lambda d: Decision(
        "unfillable",
        f"no other node could take {_lines(d['lines'])}: those units left the order",
    ),
    "order.returned": _returned,
    "order.ready_for_pickup": lambda d: Decision(
        "ready_for_pickup", f"every unit is at {d['node']}, waiting for the customer"
    ),
    "order.picked_up": lambda d: Decision(
        "picked_up", f"the customer collected {_lines(d['lines'])} at {d['node']}"
    ),
    "order.not_collected": lambda d: Decision(
        "not_collected",
        f"nobody came to {d['node']}: {_units(d['freed'])} available again, "
        f"{_units(d['restocked'])} restocked there",
    ),
}
"""Event type -> its decision from the event's data (one function per type)."""


def decision(event: Event) -> Decision:
    """The decision an order event records, and why, in one line."""
    found = DECISIONS.get(event.type)
    if found is None:
        return Decision(event.type.partition(".")[2] or event.type, event.type)
    return found(event.data)
