"""The deliverer against a real HTTP receiver on the loopback, on both stores."""

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import Store
from sourcing_engine.webhooks.deliverer import Deliverer, DeliveryConfig
from sourcing_engine.webhooks.subscriptions import Webhooks
from tests.sourcing_engine.webhooks.receiver import (
    Answer,
    Receiver,
    make_orders,
    order_events,
    running,
    stocked,
)

FAST = DeliveryConfig(first_backoff_s=0.05, max_backoff_s=0.2, timeout_s=0.5, poll_s=0.02)
ORDER_TYPES = ["order.created", "order.allocated", "order.shipped"]


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = f"{request.getfixturevalue('redis_url')}?namespace={uuid.uuid4().hex}"
    s = open_store(url)
    stocked(s)
    yield s
    s.close()


def deliver_until(deliverer: Deliverer, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        deliverer.step()
        if check():
            return
        time.sleep(0.01)
    raise AssertionError("deliveries did not finish in time")


def test_failures_and_timeouts_are_retried_in_order_until_the_receiver_recovers(
    store: Store,
) -> None:
    """A receiver that fails, hangs past the timeout, then recovers gets every order event
    once accepted, signed, in each order's own order; only events from the subscription on."""
    make_orders(store, 2, prefix="before")  # before the subscription: never sent

    def flaky(attempt: int) -> Answer:
        answers: dict[int, Answer] = {1: "fail", 2: "hang", 3: "fail", 5: "fail"}
        return answers.get(attempt, "ok")

    with running(Receiver(behaviour=flaky, hang_s=1.0)) as receiver:
        webhook = Webhooks(store).create(receiver.url, ["order.*"])
        receiver.secret = webhook.secret
        make_orders(store, 10)
        deliverer = Deliverer(store, FAST, seed=1)
        try:
            deliver_until(deliverer, lambda: len(receiver.accepted) >= 30, 20)
        finally:
            deliverer.close()
    assert receiver.bad_signatures == 0
    per = order_events(receiver.accepted)
    assert sorted(per) == [f"o{i}" for i in range(10)]
    assert all(types == ORDER_TYPES for types in per.values())
    seqs = [b["seq"] for b in receiver.accepted]
    assert seqs == sorted(seqs)  # one stream in feed order
    progress = Webhooks(store).status(webhook.id).progress
    assert progress is not None
    assert progress["head"] is None
    assert progress["delivered"] == 30


def test_a_delivery_past_its_retry_period_is_marked_failed_and_the_stream_moves_on(
    store: Store,
) -> None:
    """The head is retried until its period ends, then recorded failed with its last error
    (visible in the status), and the next events are delivered."""
    config = DeliveryConfig(
        retry_period_s=0.4, first_backoff_s=0.05, max_backoff_s=0.1, timeout_s=0.5
    )
    with running(Receiver()) as receiver:
        webhooks = Webhooks(store)
        webhook = webhooks.create(receiver.url, ["order.shipped"])
        receiver.secret = webhook.secret
        receiver.behaviour = lambda attempt: "ok" if time.monotonic() > recover_at else "fail"
        recover_at = time.monotonic() + 0.7
        make_orders(store, 3)
        deliverer = Deliverer(store, config, seed=2)
        try:
            deliver_until(deliverer, lambda: len(receiver.accepted) >= 1, 10)
            deliver_until(deliverer, lambda: len(receiver.accepted) >= 2, 10)
        finally:
            deliverer.close()
        status = webhooks.status(webhook.id)
    assert len(status.failures) >= 1
    failure = status.failures[-1]  # the first one given up
    assert failure["subject"] == "o0"
    assert failure["type"] == "order.shipped"
    assert failure["last_error"].startswith("HTTP 500")
    assert failure["attempts"] >= 2
    got = [b["subject"] for b in receiver.accepted]
    assert got == sorted(got)
    assert "o2" in got


def test_replay_sends_a_time_range_again(store: Store) -> None:
    """A replay of a time range sends again exactly the matching events recorded in it."""
    with running(Receiver()) as receiver:
        webhooks = Webhooks(store)
        webhook = webhooks.create(receiver.url, ["order.shipped"])
        receiver.secret = webhook.secret
        make_orders(store, 2, prefix="a")
        middle = time.time()
        time.sleep(0.01)
        make_orders(store, 2, prefix="b")
        end = time.time()
        deliverer = Deliverer(store, FAST, seed=3)
        try:
            deliver_until(deliverer, lambda: len(receiver.accepted) == 4, 10)
            webhooks.replay(webhook.id, middle, end + 1)
            deliver_until(deliverer, lambda: len(receiver.accepted) == 6, 10)
        finally:
            deliverer.close()
    assert [b["subject"] for b in receiver.accepted] == ["a0", "a1", "b0", "b1", "b0", "b1"]
