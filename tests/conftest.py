"""Shared fixtures: a real redis-server for the Redis store, the API and the load tests;
the hypothesis profiles."""

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from sourcing_engine.stores.base import Store

# Property tests draw new examples on every run (a fixed set would try the same cases
# forever); a failure prints its example and the @reproduce_failure blob that replays it,
# and the local example database replays it on the next run too. `pytest
# --hypothesis-profile=derandomized` runs the fixed set instead (e.g. to bisect), and
# `--hypothesis-seed=N` a given seed. The fuzz of the API (tests/api/test_fuzz.py) stays
# derandomized on its own settings.
settings.register_profile("random", print_blob=True, derandomize=False)
settings.register_profile("derandomized", print_blob=True, derandomize=True)
settings.load_profile("random")


def free_port(highest: int = 65535) -> int:
    """A free TCP port on 127.0.0.1, at most `highest`."""
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port <= highest:
            return port
    raise RuntimeError(f"no free port at most {highest}")


class RedisServer:
    """A redis-server process with a durable append-only file in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None, *extra_args: str) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra_args = extra_args
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail(
                "redis-server is not installed: the Redis store tests run a real server "
                "(Debian: apt-get install -y redis-server)",
                pytrace=False,
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / "redis.log"
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--logfile",
                str(log),
                "--daemonize",
                "no",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        text = log.read_text() if log.exists() else ""
        self.stop()
        pytest.fail(f"redis-server did not start on port {self.port}:\n{text[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync (what a crash does)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a redis-server started for this test session (appendonly, fsync always)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


def fresh_store(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Store:
    """A fresh store for a fixture parametrized by kind: "sqlite" (a file in tmp_path) or
    "redis" (a namespace of its own on the session's redis-server)."""
    from sourcing_engine.stores.redis import RedisStore
    from sourcing_engine.stores.sqlite import SqliteStore

    if request.param == "sqlite":
        return SqliteStore(tmp_path / "ledger.db")
    url = request.getfixturevalue("redis_url")
    return RedisStore(url, namespace=f"{name}-{uuid.uuid4().hex}")
