"""Finding orders: the fields an order is searched by, the query, and its cursor.

Each store keeps, atomically with every write of an order, one index entry per search
*term* of the order ("status=allocated", "node=N1", ...), ordered by (created_at, id). A
search names terms that must all hold, a creation time range, and a cursor; it answers
newest first, so orders created while a client pages through never shift the pages still
to come (they sort before the cursor): no order is skipped or listed twice.

To search by a new field, add one entry to SEARCH_FIELDS (its values on an order); both
stores index whatever terms `index_terms` gives (an existing SQLite ledger is indexed
again when opened, see SqliteStore).
"""

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sourcing_engine import lifecycle
from sourcing_engine.errors import Invalid
from sourcing_engine.lifecycle import OrderRecord

MAX_SCAN = 10_000
"""Index entries a search looks through at most per call, where a store filters by scanning
(its cursor then says where it stopped, as the event feed's does)."""


def postal_code(value: str) -> str:
    """A postal code as searched: upper case, without spaces ("sw1a 1aa" = "SW1A1AA")."""
    return "".join(value.split()).upper()


def _method(order: OrderRecord) -> Iterable[str]:
    promise = order.document.get("promise")
    method = promise.get("method") if isinstance(promise, dict) else None
    if isinstance(method, str):
        return [method]
    return ["ship" if lifecycle.pickup_of(order) is None else "pickup"]


def _document_text(key: str) -> Callable[[OrderRecord], Iterable[str]]:
    def values(order: OrderRecord) -> Iterable[str]:
        value = order.document.get(key)
        return [value] if isinstance(value, str) and value else []

    return values


def _postal_code(order: OrderRecord) -> Iterable[str]:
    destination = order.document.get("destination")
    zip_ = destination.get("zip") if isinstance(destination, dict) else None
    return [postal_code(zip_)] if isinstance(zip_, str) and zip_ else []


SEARCH_FIELDS: dict[str, Callable[[OrderRecord], Iterable[str]]] = {
    "status": lambda o: [str(o.state)],
    "node": lambda o: lifecycle.node_units(o),  # nodes holding units (allocated or shipped)
    "method": _method,  # the promised option's method, else its fulfillment (ship, pickup)
    "pickup_node": lambda o: [n] if (n := lifecycle.pickup_node_of(o)) else [],  # its store
    "backordered_on": lambda o: sorted({b.inbound for b in o.backordered}),  # POs it waits for
    "external_reference": _document_text("external_reference"),
    "customer_reference": _document_text("customer_reference"),
    "postal_code": _postal_code,
}
"""Field -> its values on an order. The search terms of an order are "<field>=<value>"."""

SELECTIVITY = (
    "external_reference", "customer_reference", "backordered_on", "postal_code", "pickup_node",
    "node", "method",
)  # fmt: skip
"""Fields from the fewest orders per value to the most: a store scans the first one given."""


def term(field: str, value: str) -> str:
    return f"{field}={value}"


def index_terms(order: OrderRecord) -> list[str]:
    """Every search term of the order, sorted, each once."""
    return sorted({term(f, v) for f, values in SEARCH_FIELDS.items() for v in values(order)})


Cursor = tuple[float, str]
"""(created_at, id) of the last order a page looked at: the next page starts after it."""


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps([repr(cursor[0]), cursor[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The cursor of a page (Invalid naming `cursor` for anything not one)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, order_id = json.loads(raw)
        found = (float(at), order_id)
        if not isinstance(order_id, str):
            raise ValueError(order_id)
    except (ValueError, TypeError) as exc:
        raise Invalid(
            f"cursor: {text[:40]!r} is not a cursor this service gave; pass `next_cursor` of "
            "the previous page as it is"
        ) from exc
    return found


@dataclass(frozen=True)
class OrderQuery:
    """Orders whose terms include every one of `terms`, created in [created_from,
    created_to), after `cursor`, newest first, at most `limit`."""

    terms: tuple[str, ...] = ()
    created_from: float | None = None
    created_to: float | None = None
    cursor: Cursor | None = None
    limit: int = 50

    @staticmethod
    def of(filters: Mapping[str, str | None], **rest: Any) -> "OrderQuery":
        """The query of field -> value filters (None: not filtered), fields checked."""
        terms = []
        for field, value in filters.items():
            if field not in SEARCH_FIELDS:
                raise Invalid(
                    f"{field}: not a field orders are searched by; expected one of "
                    f"{', '.join(SEARCH_FIELDS)}"
                )
            if value is not None:
                terms.append(term(field, postal_code(value) if field == "postal_code" else value))
        return OrderQuery(terms=tuple(sorted(set(terms))), **rest)

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 1000:
            raise Invalid(f"limit: expected 1 to 1000, got {self.limit}")

    def ordered_terms(self) -> list[str]:
        """The terms, the most selective first (the one a store scans)."""
        rank = {f: k for k, f in enumerate(SELECTIVITY)}
        return sorted(self.terms, key=lambda t: (rank.get(t.partition("=")[0], 99), t))

    def upper(self) -> Cursor | None:
        """Where the newest-first scan starts: the cursor, or created_to (exclusive)."""
        if self.cursor is not None and (
            self.created_to is None or self.cursor[0] < self.created_to
        ):
            return self.cursor
        return None if self.created_to is None else (self.created_to, "")

    def matches(self, order: OrderRecord) -> bool:
        """Whether the order answers the query (terms and time range; not the cursor)."""
        have = set(index_terms(order))
        return (
            all(t in have for t in self.terms)
            and (self.created_from is None or order.created_at >= self.created_from)
            and (self.created_to is None or order.created_at < self.created_to)
        )


@dataclass(frozen=True)
class OrderPage:
    """A page of orders, newest first, and the cursor of the next page (None: the last)."""

    orders: Sequence[OrderRecord]
    next_cursor: Cursor | None
