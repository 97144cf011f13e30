"""Where the lookahead policy's order history comes from: a list of orders with the moment
each was placed (the replay's stream, the CLI's --history file), or the store's own orders
by creation time (the live service's batch allocation)."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sourcing_engine.domain import Order
from sourcing_engine.errors import Invalid
from sourcing_engine.lifecycle import OrderRecord
from sourcing_engine.lookahead.planner import DAY_S, MAX_HISTORY_DAYS
from sourcing_engine.order_search import OrderQuery
from sourcing_engine.stores.base import Store
from sourcing_engine.whatif.world import OrderStream

PAGE = 1000
"""Orders read from the store per page."""


@dataclass(frozen=True, eq=False)
class OrderHistory:
    """A stream of orders with the moment each was placed; since: when the history starts
    (a day before it is unknown, not quiet)."""

    stream: OrderStream
    since: float

    def placed_between(self, start: float, end: float) -> list[Order]:
        lo, hi = np.searchsorted(self.stream.placed_at, [start, end], side="left").tolist()
        return list(self.stream.orders[lo:hi])


class StoreHistory:
    """The store's orders by creation time, what they still hold (net of cancellations),
    read a window at a time (the planner reads the few hours it pools, never the whole
    week); order_of: the order a record places (Invalid: none, say without a destination).
    since: the start of the last whole day back from `now` (up to MAX_HISTORY_DAYS) before
    which the store has an order: the days the store did not exist yet are unknown, not
    quiet."""

    def __init__(self, store: Store, now: float, order_of: Callable[[OrderRecord], Order]) -> None:
        self.store = store
        self.order_of = order_of
        days = 0
        while days < MAX_HISTORY_DAYS and self._any_before(now - (days + 1) * DAY_S):
            days += 1
        self.since = now - days * DAY_S

    def _any_before(self, moment: float) -> bool:
        return bool(self.store.search_orders(OrderQuery(created_to=moment, limit=1)).orders)

    def placed_between(self, start: float, end: float) -> list[Order]:
        found = []
        query = OrderQuery(created_from=start, created_to=end, limit=PAGE)
        while True:
            page = self.store.search_orders(query)
            for record in page.orders:
                try:
                    order = self.order_of(record)
                except Invalid:
                    continue  # an order without a destination forecasts nothing
                if order.lines:  # net of cancellations: a cancelled order is no demand
                    found.append((record.created_at, record.id, order))
            if page.next_cursor is None:
                break
            query = OrderQuery(created_from=start, created_to=end, cursor=page.next_cursor,
                               limit=PAGE)  # fmt: skip
        found.sort(key=lambda f: (f[0], f[1]))
        return [o for _, _, o in found]
