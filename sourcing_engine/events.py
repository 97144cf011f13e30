"""Event types and the filtered feed.

Every state change is an event in the store's feed (`Store.events`, seq order). Its type is
`<family>.<what>` (order.shipped, stock.adjusted, ...); a pattern names one type, a family
(`order.*`) or every type (`*`). Webhook subscriptions and the feed's filter use the same
patterns.
"""

from collections.abc import Sequence
from typing import Any

from sourcing_engine.errors import Invalid
from sourcing_engine.resources import PAYLOAD_VERSION
from sourcing_engine.stores.base import Event, Store

EVENT_FAMILIES = (
    "order", "reservation", "stock", "inbound", "settings", "node", "item", "transfer",
)  # fmt: skip
MAX_SCAN = 10_000
"""Events a filtered read looks through at most per call (its cursor says where it stopped)."""
PAGE = 1000


def envelope(e: Event) -> dict[str, Any]:
    """An event as the feed answers it and a webhook posts it: its type, the time, the
    payload version, what changed (`data`) and the resource after the change."""
    return {
        "seq": e.seq,
        "at": e.at,
        "type": e.type,
        "subject": e.subject,
        "payload_version": PAYLOAD_VERSION if e.resource is not None else 1,
        "data": e.data,
        "resource": e.resource,
    }


def check_event_type(pattern: str, where: str) -> None:
    """Invalid, naming `where`, unless pattern is '*', '<family>.*' or '<family>.<event>'."""
    family, _, rest = pattern.partition(".")
    if pattern == "*" or (
        family in EVENT_FAMILIES and rest and all(c.isalnum() or c in "_*" for c in rest)
    ):
        return
    raise Invalid(
        f"{where}: {pattern!r} is not an event type; expected '*', '<family>.*' or "
        f"'<family>.<event>' with family one of {', '.join(EVENT_FAMILIES)}"
    )


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """Whether the type is one the patterns name (no patterns: every type)."""
    if not patterns:
        return True
    for p in patterns:
        if p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])):
            return True
    return False


def feed(
    store: Store, after: int, limit: int, types: Sequence[str] = (), subject: str | None = None
) -> tuple[list[Event], int]:
    """Up to limit events with seq > after of these types (patterns) and this subject, and
    the cursor to pass as `after` next: the last event looked at, which may be past the
    last one returned when fewer matched within MAX_SCAN events."""
    for i, pattern in enumerate(types):
        check_event_type(pattern, f"type[{i}]")
    if not types and subject is None:
        found = store.events(after, limit)
        return found, found[-1].seq if found else after
    matched: list[Event] = []
    cursor, scanned = after, 0
    while len(matched) < limit and scanned < MAX_SCAN:
        page = store.events(cursor, PAGE)
        for event in page:
            cursor, scanned = event.seq, scanned + 1
            if matches(types, event.type) and (subject is None or event.subject == subject):
                matched.append(event)
                if len(matched) == limit:
                    break
        if len(page) < PAGE:
            break
    return matched, cursor
