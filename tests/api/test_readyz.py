"""/readyz follows the store: a real redis-server paused (SIGSTOP: it accepts nothing and
answers nothing, like a hung host) or shut down makes it 503, and it is 200 again once the
server is back; meanwhile the API keeps answering /healthz."""

import os
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.api.conftest import start_server
from tests.conftest import RedisServer


def _wait_ready(client: httpx.Client, want: int) -> None:
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != want:
        assert time.monotonic() < deadline, f"/readyz never answered {want}"
        time.sleep(0.1)


def test_readyz_fails_while_redis_is_paused_or_stopped(tmp_path: Path) -> None:
    """Paused: 503 (the probe's own short timeout) while /healthz answers; resumed: 200;
    shut down: 503; started again on its files: 200."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    server = start_server(f"{redis.url}?namespace=ready", reaper_interval_s=3600)
    try:
        with server.client() as c:
            assert c.get("/readyz").status_code == 200
            assert redis.proc is not None
            pid = redis.proc.pid
            os.kill(pid, signal.SIGSTOP)
            try:
                finished: list[str] = []
                probe = threading.Thread(
                    target=lambda: finished.append(f"readyz {c.get('/readyz').status_code}")
                )
                probe.start()
                time.sleep(0.2)  # the probe is waiting for the paused server
                # the probe waits in the thread pool, not on the event loop: others answer
                finished.append(f"healthz {c.get('/healthz').status_code}")
                probe.join()
                assert finished == ["healthz 200", "readyz 503"]
                assert c.get("/readyz").json() == {"status": "unavailable"}
            finally:
                os.kill(pid, signal.SIGCONT)
            _wait_ready(c, 200)
            redis.stop()
            assert c.get("/readyz").status_code == 503
            redis.start()  # the same port and files
            _wait_ready(c, 200)
    finally:
        server.stop()
        redis.stop()
