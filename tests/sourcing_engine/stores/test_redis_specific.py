"""What only the Redis store promises: durable configuration, one cluster slot per store,
expiry without key TTLs, and refusals that leave the keyspace untouched."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from sourcing_engine.domain import Node, Unit
from sourcing_engine.errors import Conflict, IdempotencyMismatch, InsufficientStock, Invalid
from sourcing_engine.lifecycle import HoldState
from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import IdempotencyKey, StoreNotDurable
from sourcing_engine.stores.redis import RedisStore
from tests.conftest import RedisServer


@pytest.fixture
def namespace() -> str:
    return f"specific-{uuid.uuid4().hex}"


@pytest.fixture
def store(redis_url: str, namespace: str) -> Iterator[RedisStore]:
    store = RedisStore(redis_url, namespace=namespace)
    yield store
    store.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator["redis.Redis"]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def keys_of(raw: "redis.Redis", store: RedisStore) -> list[str]:
    return sorted(raw.scan_iter(match=store.prefix.replace("{", "\\{").replace("}", "\\}") + "*"))


def exercise(store: RedisStore) -> None:
    """One of every kind of write, so that every kind of key exists."""
    store.upsert_nodes([Node("N1", "warehouse", 40.0, -75.0)])
    store.set_stock("N1", {"A": (10, 1), "B": (5, 0)}, "count")
    store.adjust_stock("N1", "B", 1, "found", idem=IdempotencyKey("k1", "h"))
    store.reserve("h1", "cart", [Unit("N1", "A", 2)], 60.0)
    store.commit_reservation(store.get_reservation("h1"), "o1", {"dest": "10001"})
    store.reserve("h2", "cart", [Unit("N1", "B", 1)], 60.0)
    store.create_order("o2", {"B": 2}, [Unit("N1", "B", 2)], {})
    store.transition("o2", "ship", node="N1")
    store.claim_idempotency_key("k2", "h", 30.0)
    store.create_api_key("key1", "ops", "hash", ["orders"])


def test_refuses_a_server_without_fsync_always(tmp_path: Path) -> None:
    """A server without appendonly yes / appendfsync always is refused with what to change,
    unless the store may configure it, which it then does."""
    server = RedisServer(tmp_path, None, "--appendonly", "no", "--appendfsync", "everysec")
    server.start()
    try:
        with pytest.raises(StoreNotDurable, match="appendfsync always"):
            RedisStore(server.url)
        raw = redis.Redis.from_url(server.url, decode_responses=True)
        raw.config_set("appendonly", "yes")
        with pytest.raises(StoreNotDurable, match="appendfsync everysec"):
            RedisStore(server.url)
        store = open_store(server.url + "?configure_durability=1")
        wanted = {"appendonly": "yes", "appendfsync": "always"}
        assert wanted.items() <= raw.config_get("append*").items()
        assert store.ping()
        store.close()
        raw.close()
    finally:
        server.stop()


def test_url_options_and_namespace_rules(redis_url: str) -> None:
    """namespace= in the URL picks the key prefix; braces in a namespace are refused."""
    store = open_store(redis_url + "?namespace=shop-eu")
    assert isinstance(store, RedisStore)
    assert store.prefix == "se:{shop-eu}:"
    store.close()
    with pytest.raises(ValueError, match="braces"):
        RedisStore(redis_url, namespace="a}b")


def test_every_key_of_a_store_is_in_one_cluster_slot(store: RedisStore, raw: "redis.Redis") -> None:
    """All keys a store writes carry its hash tag, so they hash to one Redis Cluster slot."""
    exercise(store)
    keys = keys_of(raw, store)
    kinds = {k[len(store.prefix) :].split(":")[0] for k in keys}
    assert {"seq", "events", "pos", "hz", "res", "order", "hist", "idem", "nodes"} <= kinds
    assert {key_slot(k.encode()) for k in keys} == {key_slot(store.key("seq").encode())}


def test_expiry_needs_no_key_ttl(store: RedisStore, raw: "redis.Redis") -> None:
    """No key but idempotency records has a TTL: holds expire by their score, not by Redis."""
    exercise(store)
    ttls = {k: raw.ttl(k) for k in keys_of(raw, store)}
    assert {k: t for k, t in ttls.items() if ":idem:" not in k and t != -1} == {}
    assert 24 * 3600 - 60 <= ttls[store.key("idem:k1")] <= 24 * 3600


def test_expired_hold_counts_for_nothing_before_any_reaper(
    store: RedisStore, raw: "redis.Redis"
) -> None:
    """An expired hold still in its sorted set is not reserved; the next write there drops
    it from the counter, and the reaper then still marks the hold once."""
    store.set_stock("N1", {"A": (5, 0)}, "count")
    store.reserve("h1", "cart", [Unit("N1", "A", 5)], 60.0)
    assert raw.zcard(store.key("hz:A")) == 1
    store.shift_clock(61)
    assert store.positions(["A"])[0].reserved == 0  # no reaper has run
    store.reserve("h2", "cart", [Unit("N1", "A", 5)], 60.0)
    assert raw.hget(store.key("pos:A"), "rs:N1") == "5"  # h1 dropped from the counter
    assert store.get_reservation("h1").state == HoldState.EXPIRED
    assert store.expire_reservations() == 1
    assert store.expire_reservations() == 0
    assert store.positions(["A"])[0].reserved == 5


def test_refused_operations_leave_the_keyspace_byte_identical(
    store: RedisStore, raw: "redis.Redis", redis_url: str
) -> None:
    """Shortages, conflicts, bad arguments and key mismatches change no byte of any key:
    every script checks everything before its first write."""
    exercise(store)
    dumper = redis.Redis.from_url(redis_url)  # DUMP payloads are bytes

    def snapshot() -> dict[str, bytes | None]:
        return {k: dumper.dump(k) for k in keys_of(raw, store)}

    before = snapshot()
    refusals: list[tuple[type[Exception], Callable[[], object]]] = [
        (InsufficientStock, lambda: store.reserve("h9", "c", [Unit("N1", "A", 1),
                                                               Unit("N1", "B", 99)], 60.0)),
        (InsufficientStock, lambda: store.create_order("o9", {"A": 9}, [Unit("N1", "A", 9)], {})),
        (Conflict, lambda: store.commit_reservation(store.get_reservation("h1"), "o9", {})),
        (Conflict, lambda: store.transition("o2", "cancel")),
        (Invalid, lambda: store.transition("o1", "reject", node="N1",
                                           new_allocations=[Unit("N1", "A", 1)])),
        (InsufficientStock, lambda: store.transition("o1", "reallocate", units=[Unit("N1", "A", 2)],
                                                     new_allocations=[Unit("N2", "A", 2)])),
        (Invalid, lambda: store.adjust_stock("N1", "A", -99, "shrink")),
        (IdempotencyMismatch, lambda: store.adjust_stock("N1", "A", 1, "x",
                                                         idem=IdempotencyKey("k1", "other"))),
    ]  # fmt: skip
    for error, call in refusals:
        with pytest.raises(error):
            call()
    assert snapshot() == before
    dumper.close()
