"""The deliverer: posts the event feed to every webhook, at least once, in feed order.

Each subscription is its own sequential stream over the store's event feed: the events
after its cursor that match its types are posted one at a time, in seq order, so events of
one order arrive in the order they happened. A failed post (not 2xx, timed out, refused)
becomes the head: it is retried with exponential backoff and jitter, and nothing after it
is sent, until it succeeds or its retry period ends; then it is recorded as failed with its
last error and the stream moves on. Replay requests are served before live events, the same
way. Progress lives in the store (`save_webhook_progress`), saved after every failure and
at least every `checkpoint_s` of successes: a deliverer killed at any point starts again
from its last save and sends again at most what it had sent since (at-least-once).

One deliverer per store: two would each send every event (still at-least-once, but twice).
"""

import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from sourcing_engine.errors import NotFound
from sourcing_engine.events import envelope, matches
from sourcing_engine.stores.base import Event, Store, Webhook
from sourcing_engine.webhooks import signing


@dataclass(frozen=True)
class DeliveryConfig:
    """retry_period_s: how long the head is retried, from its first attempt, before it is
    given up; backoff: first_backoff_s doubling to max_backoff_s, each wait drawn in
    [half, all] of it (jitter, so that failed receivers are not hit in step)."""

    retry_period_s: float = 3 * 24 * 3600.0
    first_backoff_s: float = 1.0
    max_backoff_s: float = 600.0
    timeout_s: float = 10.0
    poll_s: float = 0.5
    batch: int = 200
    checkpoint_s: float = 0.2


def payload(event: Event) -> bytes:
    """The body posted for an event (the feed's event, as GET /v1/events gives it)."""
    return orjson.dumps(envelope(event))


def message_id(event: Event) -> str:
    """The same for every attempt and replay of an event: receivers deduplicate on it."""
    return f"evt_{event.seq}"


class Deliverer:
    def __init__(
        self, store: Store, config: DeliveryConfig = DeliveryConfig(), seed: int | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.client = httpx.Client(timeout=config.timeout_s, follow_redirects=False)
        self.random = random.Random(seed)
        self.retry_due = float("inf")  # the earliest next attempt of a head, after a step

    def close(self) -> None:
        self.client.close()

    def run(self, stop: threading.Event) -> None:
        """Deliver until stop is set; sleeps poll_s whenever a pass found nothing to do."""
        while not stop.is_set():
            if not self.step():  # nothing now: wake for the next new event or retry due
                stop.wait(max(0.0, min(self.config.poll_s, self.retry_due - time.time())))

    def step(self) -> bool:
        """One pass over every webhook; whether anything was sent."""
        worked = False
        self.retry_due = float("inf")
        for webhook in self.store.list_webhooks():
            try:
                worked |= self.advance(webhook)
            except NotFound:
                continue  # deleted meanwhile
        return worked

    def post(self, webhook: Webhook, event: Event) -> str | None:
        """One attempt; None when the receiver answered 2xx, else what went wrong."""
        body = payload(event)
        headers = signing.headers(webhook.secret, message_id(event), int(time.time()), body)
        try:
            reply = self.client.post(webhook.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return f"timed out after {self.config.timeout_s:g} s"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= reply.status_code < 300:
            return None
        return f"HTTP {reply.status_code}: {reply.text[:200]}"

    def advance(self, webhook: Webhook) -> bool:
        """Send this webhook's next events (its pending replay first) until one fails or
        the batch is done; whether anything was attempted."""
        progress = self.store.webhook_progress(webhook.id)
        if progress is None:  # created this instant: its starting cursor is not saved yet
            return False
        now = time.time()
        head = progress["head"]
        if head is not None and head["next_at"] > now:
            self.retry_due = min(self.retry_due, head["next_at"])
            return False
        replaying = progress["replay_cursor"] is not None
        if not replaying:
            pending = self.store.webhook_replays(webhook.id, progress["replays_done"])
            if pending and head is None:
                progress["replay_cursor"], replaying = pending[0][0], True
        through = None
        if replaying:
            through = self.store.webhook_replays(webhook.id, progress["replays_done"])[0][1]
        key = "replay_cursor" if replaying else "cursor"
        events = self.store.events(progress[key], self.config.batch)
        if through is not None:
            events = [e for e in events if e.seq <= through]
            if not events:  # this replay is done
                progress["replays_done"] += 1
                progress["replay_cursor"] = None
                self.store.save_webhook_progress(webhook.id, progress)
                return True
        if not events:
            return False
        saved = time.monotonic()
        for event in events:
            if not matches(webhook.event_types, event.type):
                progress[key] = event.seq
                continue
            error = self.post(webhook, event)
            if error is None:
                progress[key], progress["head"] = event.seq, None
                progress["delivered"] += 1
                if time.monotonic() - saved >= self.config.checkpoint_s:
                    self.store.save_webhook_progress(webhook.id, progress)
                    saved = time.monotonic()
                continue
            self.store.save_webhook_progress(webhook.id, *self.failed(progress, key, event, error))
            return True
        self.store.save_webhook_progress(webhook.id, progress)
        return True

    def failed(
        self, progress: dict[str, Any], key: str, event: Event, error: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The progress after a failed attempt, and the failure record if it is given up."""
        now = time.time()
        head = progress["head"]
        if head is None or head["seq"] != event.seq:
            head = {"seq": event.seq, "first_at": now, "attempts": 0}
        head["attempts"] += 1
        head["last_error"] = error
        deadline = head["first_at"] + self.config.retry_period_s
        if now >= deadline:
            progress[key], progress["head"] = event.seq, None
            failure = {
                "seq": event.seq,
                "type": event.type,
                "subject": event.subject,
                "attempts": head["attempts"],
                "first_at": head["first_at"],
                "failed_at": now,
                "last_error": error,
            }
            return progress, failure
        wait = min(
            self.config.max_backoff_s, self.config.first_backoff_s * 2 ** (head["attempts"] - 1)
        )
        head["next_at"] = min(deadline, now + wait * self.random.uniform(0.5, 1.0))
        progress["head"] = head
        return progress, None


def run_until_signalled(store: Store, config: DeliveryConfig, parent: int | None = None) -> None:
    """`sourcing-engine deliver`: deliver until SIGTERM or SIGINT, or until the process
    `parent` is gone (serve passes its own pid: a serve killed with SIGKILL cannot stop its
    deliverer, which would otherwise poll the store forever as an orphan)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if parent is not None:
        threading.Thread(target=_stop_with, args=(parent, stop), daemon=True).start()
    deliverer = Deliverer(store, config)
    try:
        deliverer.run(stop)
    finally:
        deliverer.close()


def _stop_with(parent: int, stop: threading.Event) -> None:
    """Set stop once this process's parent is no longer `parent` (it exited: the orphan was
    re-parented), checked every second."""
    while not stop.wait(1.0):
        if os.getppid() != parent:
            stop.set()
