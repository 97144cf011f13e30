"""Resources as an integrator sees them: the JSON of each record, the same in the API's
replies and in the events that change it (an event's `resource` is its record after the
change, so a webhook receiver or a feed reader needs no second call).

One function per resource type, record -> JSON values. A new resource type plugs in with
one function here, called by the stores where they emit its events (`resource=` of the
store's emit; a Redis script that builds the record itself writes the same fields, see
`position_json` and `hold_json` in stores/lua/common.lua, pinned equal by the store
contract).
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sourcing_engine.domain import Inbound, Item, Node, Position, Unit
from sourcing_engine.lifecycle import (
    OrderRecord,
    Reservation,
    TransferRecord,
    backorders_data,
    pickup_of,
)

PAYLOAD_VERSION = 2
"""The events' payload version: 2 carries `resource` (1: events recorded before, data only)."""


def units(found: Iterable[Unit]) -> list[dict[str, Any]]:
    return [{"node": u.node, "sku": u.sku, "qty": u.qty} for u in found]


def lines(per_sku: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"sku": s, "qty": q} for s, q in sorted(per_sku.items())]


def order(o: OrderRecord) -> dict[str, Any]:
    """An order with its lines, allocations, shipments (units and parcels), plan with
    costs, promise and references (its version and times: the event's or GET's)."""
    doc = o.document
    return {
        "id": o.id,
        "state": str(o.state),
        "lines": lines(o.lines),
        "allocations": units(o.allocations),
        "shipped": units(o.shipped),
        "returned": units(o.returned),
        "released_nodes": list(o.released_nodes),
        "destination": doc.get("destination"),
        "plan": doc.get("plan"),
        "excluded_nodes": list(doc.get("excluded_nodes", [])),
        "reservation_id": doc.get("reservation"),
        "promise": doc.get("promise"),
        "backorder": doc.get("backorder"),
        "parcels": doc.get("parcels", []),
        "backordered": backorders_data(o.backordered),
        "promised_date": doc.get("promised_date"),
        "fulfillment": "ship" if (pickup := pickup_of(o)) is None else "pickup",
        "pickup": pickup,
        "external_reference": doc.get("external_reference"),
        "customer_reference": doc.get("customer_reference"),
    }


def position(p: Position) -> dict[str, Any]:
    return {
        "node": p.node,
        "sku": p.sku,
        "on_hand": p.on_hand,
        "safety_stock": p.safety_stock,
        "reserved": p.reserved,
        "allocated": p.allocated,
        "available": p.available,
        "oversold": p.oversold,
    }


def stock_count(node: str, positions: Sequence[Position]) -> dict[str, Any]:
    """A node's positions of the SKUs one count named (a `stock.snapshot`)."""
    return {"node": node, "positions": [position(p) for p in positions]}


def hold(r: Reservation) -> dict[str, Any]:
    """A checkout hold (its promise, fixed when it is made, is on GET /v1/reservations)."""
    return {
        "id": r.id,
        "cart": r.cart,
        "state": str(r.state),
        "units": units(r.units),
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "order_id": r.order_id,
    }


def node(n: Node) -> dict[str, Any]:
    return n.to_data()


def item(i: Item) -> dict[str, Any]:
    return {"sku": i.sku, "weight_lb": i.weight_lb, "dims_in": list(i.dims_in)}


def inbound(b: Inbound) -> dict[str, Any]:
    """A purchase order or transfer: `qty` still open (0 once received in full), of which
    `backordered` units orders wait for."""
    return {"id": b.id, "node": b.node, "sku": b.sku, "qty": b.qty, "expected_at": b.expected_at,
            "backordered": b.backordered}  # fmt: skip


def transfer(t: TransferRecord) -> dict[str, Any]:
    """A transfer order between nodes: its lines, what is received and what is in transit
    (its version and times: the event's or GET's, as for an order)."""
    return {
        "id": t.id,
        "state": str(t.state),
        "source": t.source,
        "destination": t.destination,
        "lines": lines(t.lines),
        "received": lines(t.received),
        "in_transit": lines(t.in_transit),
        "expected_at": t.expected_at,
    }


def setting(name: str, value: dict[str, Any], version: int) -> dict[str, Any]:
    return {"name": name, "version": version, "value": value}
