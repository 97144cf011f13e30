"""Webhook subscriptions and what an operator sees of their deliveries (admin scope).

A subscription names the event types it wants ("order.shipped", a family "order.*", or "*"
for all) and a target URL; its secret is made here and shown once, at creation. Deliveries
start with the events recorded from its creation on. A replay asks the deliverer to send
again the events of a time range (the feed's seq range whose times fall in it).
"""

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sourcing_engine.errors import Invalid
from sourcing_engine.events import check_event_type
from sourcing_engine.stores.base import Store, Webhook
from sourcing_engine.webhooks.signing import new_secret

MAX_EVENT_TYPES = 50


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"url: {url!r} is not an http(s) URL with a host")


@dataclass(frozen=True)
class WebhookStatus:
    """A subscription (without its secret) and where its deliveries stand."""

    webhook: Webhook
    progress: dict[str, Any] | None
    failures: list[dict[str, Any]]


def last_seq_before(store: Store, at: float) -> int:
    """The cursor from which the feed's events at or after `at` follow: the seq before the
    first such event (event times grow with seq). Found by probing the feed, O(log n) reads,
    so that it works on any store."""

    def reached(after: int) -> bool:  # false, then true as `after` grows
        found = store.events(after, 1)
        return not found or found[0].at >= at

    if reached(0):
        return 0
    lo, hi = 0, 1  # reached(lo) is false
    while not reached(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reached(mid) else (mid, hi)
    return hi


class Webhooks:
    """The subscriptions of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, url: str, event_types: list[str]) -> Webhook:
        """A new subscription with a new secret (returned here only)."""
        check_url(url)
        if not event_types or len(event_types) > MAX_EVENT_TYPES:
            raise Invalid(f"event_types: expected 1 to {MAX_EVENT_TYPES} event types")
        for i, pattern in enumerate(event_types):
            check_event_type(pattern, f"event_types[{i}]")
        webhook_id = "wh_" + secrets.token_hex(8)
        made = self.store.create_webhook(
            Webhook(webhook_id, url, tuple(event_types), new_secret(), 0.0)
        )
        # its deliveries start at the feed's end now: saved before any deliverer reads it
        self.store.save_webhook_progress(
            webhook_id, new_progress(last_seq_before(self.store, made.created_at))
        )
        return made

    def list(self) -> list[Webhook]:
        return self.store.list_webhooks()

    def status(self, webhook_id: str, failures: int = 100) -> WebhookStatus:
        webhook = self.store.get_webhook(webhook_id)
        return WebhookStatus(
            webhook,
            self.store.webhook_progress(webhook_id),
            self.store.webhook_failures(webhook_id, failures),
        )

    def delete(self, webhook_id: str) -> None:
        self.store.delete_webhook(webhook_id)

    def replay(self, webhook_id: str, since: float, until: float) -> tuple[int, int]:
        """Ask for the events with since <= at < until again; returns their seq range
        (after, through]."""
        if not until > since:
            raise Invalid(f"until: expected a time after since ({since}), got {until}")
        self.store.get_webhook(webhook_id)  # NotFound first
        after, through = last_seq_before(self.store, since), last_seq_before(self.store, until)
        self.store.add_webhook_replay(webhook_id, after, through)
        return after, through


def new_progress(cursor: int) -> dict[str, Any]:
    """The deliverer's progress document: the live cursor (every event up to it is
    delivered or given up on), how many replay requests are done and the cursor of the
    one under way, the event being retried (head) and how many were delivered."""
    return {
        "cursor": cursor,
        "replays_done": 0,
        "replay_cursor": None,
        "head": None,
        "delivered": 0,
    }
