"""The Redis store against the store contract, on a real redis-server (tests/conftest.py)."""

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from sourcing_engine.stores.base import Store
from sourcing_engine.stores.redis import RedisStore
from tests.conftest import RedisServer, free_port
from tests.sourcing_engine.stores.contract import StoreContract


class TestRedisStore(StoreContract):
    """Every rule of the Store protocol, each test in a fresh namespace of one server."""

    @pytest.fixture
    def store(self, redis_url: str) -> Iterator[Store]:
        store = RedisStore(redis_url, namespace=f"contract-{uuid.uuid4().hex}")
        yield store
        store.close()


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A one-node Redis Cluster owning every slot: it refuses any script that touches a key
    outside the slot of the keys it declared."""
    data = tmp_path_factory.mktemp("redis-cluster")
    # a cluster node also listens on its port + 10000, so its port must be 55535 or less
    port = free_port(highest=55535)
    cluster_conf = str(data / "nodes.conf")
    server = RedisServer(
        data, port, "--cluster-enabled", "yes", "--cluster-config-file", cluster_conf
    )
    server.start()
    admin = redis.Redis(port=server.port, decode_responses=True)
    admin.cluster("ADDSLOTSRANGE", 0, 16383)
    deadline = time.monotonic() + 20
    while admin.cluster("INFO").get("cluster_state") != "ok":
        assert time.monotonic() < deadline, "the one-node cluster did not come up"
        time.sleep(0.05)
    admin.close()
    yield server.url
    server.stop()


class TestRedisStoreOnCluster(StoreContract):
    """The whole contract through a cluster client on a cluster node: every script keeps to
    one slot (the server checks each key a script touches), so a cluster deployment works."""

    @pytest.fixture
    def store(self, cluster_url: str) -> Iterator[Store]:
        store = RedisStore(cluster_url, namespace=f"cluster-{uuid.uuid4().hex}", cluster=True)
        yield store
        store.close()
