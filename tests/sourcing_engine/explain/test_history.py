"""The pickup steps' events read as customer care decisions (explain/history.py)."""

from sourcing_engine.explain.history import Decision, decision
from sourcing_engine.stores.base import Event


def test_pickup_events_read_as_decisions() -> None:
    """ready_for_pickup, picked_up and not_collected each get their own code and a line
    naming the store and the units, not the fallback of an unknown type."""
    ready = Event(1, 0.0, "order.ready_for_pickup", "p1", {"node": "ST-1"})
    picked = Event(2, 0.0, "order.picked_up", "p1", {"node": "ST-1", "lines": {"A": 2}})
    not_collected = Event(3, 0.0, "order.not_collected", "p2", {
        "node": "ST-1", "freed": [{"node": "ST-1", "sku": "A", "qty": 1}],
        "restocked": [{"node": "ST-1", "sku": "B", "qty": 2}]})  # fmt: skip
    assert decision(ready) == Decision(
        "ready_for_pickup", "every unit is at ST-1, waiting for the customer"
    )
    assert decision(picked) == Decision("picked_up", "the customer collected 2 x A at ST-1")
    assert decision(not_collected) == Decision(
        "not_collected",
        "nobody came to ST-1: 1 x A at ST-1 available again, 2 x B at ST-1 restocked there",
    )
