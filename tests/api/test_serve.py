"""`sourcing-engine serve` as a user runs it: a real process in a fresh directory, with no
arguments, then with the admin key from the environment."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.conftest import Served
from tests.conftest import RedisServer, free_port
from tests.sourcing_engine.webhooks.receiver import Receiver, running

KEY = re.compile(r"sk_[0-9a-f]{16}_[A-Za-z0-9_-]+")


def test_serve_with_no_arguments(tmp_path: Path) -> None:
    """No arguments: demo network, data/ledger.db, a working printed key; a restart replaces it."""
    with Served(tmp_path) as first:
        assert first.url in first.output
        assert "loaded network small: 22 nodes" in first.output
        # the two lines it suggests work when pasted into a shell
        hint = first.output[first.output.index("try it") :].splitlines()[1:3]
        assert hint[0].strip().startswith("export KEY=sk_")
        shell = "\n".join(line.strip() for line in hint)
        run = subprocess.run(["bash", "-c", f"set -e\n{shell} -s -f"], capture_output=True,
                             text=True, timeout=60)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert len(json.loads(run.stdout)["nodes"]) == 22
        found = KEY.search(first.output)
        assert found is not None
        first_key = found[0]
        nodes = first.get("/v1/nodes", first_key)
        assert nodes.status_code == 200
        assert len(nodes.json()["nodes"]) == 22
    assert (tmp_path / "data" / "ledger.db").is_file()

    with Served(tmp_path) as second:
        assert "loaded network" not in second.output
        found = KEY.search(second.output)
        assert found is not None
        assert found[0] != first_key
        assert second.get("/v1/nodes", found[0]).status_code == 200
        assert second.get("/v1/nodes", first_key).status_code == 401


def test_serve_with_admin_key_from_environment(tmp_path: Path) -> None:
    """With SOURCING_ENGINE_ADMIN_KEY set that key is the admin key, and no key is printed."""
    key = "a-long-admin-key-from-the-environment"
    store = f"sqlite:///{tmp_path / 'elsewhere' / 'ledger.db'}"
    with Served(tmp_path, "--store", store, admin_key=key) as served:
        r = served.get("/v1/keys", key)
        assert r.status_code == 200
        assert [k["scopes"] for k in r.json()["keys"]] == [["admin"]]
        assert "sk_" not in served.output
        assert key not in served.output
        assert "GET /v1/keys" not in served.output  # no access log unless asked for
    assert (tmp_path / "elsewhere" / "ledger.db").is_file()


def test_serve_with_access_log(tmp_path: Path) -> None:
    """--access-log logs every request with its status (a JSON line, api/logs.py)."""
    key = "a-long-admin-key-from-the-environment"
    with Served(tmp_path, "--access-log", admin_key=key) as served:
        assert served.get("/v1/nodes", key).status_code == 200
        deadline = time.monotonic() + 10
        while '"method":"GET","path":"/v1/nodes","status":200' not in served.output:
            assert time.monotonic() < deadline, served.output
            time.sleep(0.05)


def test_serve_refuses_a_bad_store_url(tmp_path: Path) -> None:
    """A store URL of no known form is one `error:` line and exit code 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "sourcing_engine", "serve", "--store", "postgres://x"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --store postgres://x:")


def _serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SOURCING_ENGINE_ADMIN_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "sourcing_engine", "serve", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _one_error_line(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exit 2, nothing on stdout, one `error:` line on stderr naming the cause and the fix."""
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for text in expected:
        assert text in proc.stderr, proc.stderr


def test_a_second_serve_on_a_busy_port_changes_nothing(tmp_path: Path) -> None:
    """serve started again on the port of a running one fails before writing anything: the
    running server's admin key keeps working."""
    with Served(tmp_path) as first:
        found = KEY.search(first.output)
        assert found is not None
        proc = _serve(tmp_path, "--port", str(first.port))
        _one_error_line(proc, f"--port {first.port}", "cannot listen there", "another --port")
        assert first.get("/v1/nodes", found[0]).status_code == 200


def test_an_unresolvable_host_is_one_line(tmp_path: Path) -> None:
    """--host that does not resolve: one line, nothing written (no ledger made)."""
    _one_error_line(_serve(tmp_path, "--host", "no-such-host.invalid"), "cannot be resolved")
    assert not (tmp_path / "data").exists()


def test_store_that_cannot_be_used_is_one_line(tmp_path: Path) -> None:
    """An unreachable Redis, a Redis that would not fsync, a directory or a file that is not
    a database: each one line naming the store and what to do, exit 2."""
    port = free_port()
    _one_error_line(_serve(tmp_path, "--store", f"redis://127.0.0.1:{port}/0"),
                    "cannot be reached", "is redis-server running")  # fmt: skip
    _one_error_line(_serve(tmp_path, "--store", "redis://no-such-host.invalid:6379/0"),
                    "cannot be reached")  # fmt: skip
    lax = RedisServer(tmp_path / "lax", None, "--appendfsync", "everysec")
    lax.start()
    try:
        _one_error_line(_serve(tmp_path, "--store", lax.url),
                        "appendfsync everysec", "?configure_durability=1")  # fmt: skip
    finally:
        lax.stop()
    (tmp_path / "adir").mkdir()
    _one_error_line(_serve(tmp_path, "--store", "sqlite:///adir"), "sqlite:///adir")
    (tmp_path / "notes.txt").write_text("not a database, only some text " * 100)
    _one_error_line(_serve(tmp_path, "--store", "sqlite:///notes.txt"), "not a database")


def test_serve_starts_the_webhook_deliverer(tmp_path: Path) -> None:
    """serve runs a deliverer beside the API: a stock count made through the API reaches a
    webhook's receiver, signed; --no-deliverer starts none."""
    key = "a-long-admin-key-for-the-webhook-test"
    with running(Receiver()) as receiver, Served(tmp_path, admin_key=key) as served:
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=served.url, headers=auth, timeout=30) as c:
            made = c.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["stock.*"]})
            assert made.status_code == 201, made.text
            receiver.secret = made.json()["secret"]
            assert c.put(
                "/v1/items", json={"items": [{"sku": "HOOK-1", "weight_lb": 1}]}
            ).is_success
            node = c.get("/v1/nodes").json()["nodes"][0]["id"]
            count = {"node": node, "counts": [{"sku": "HOOK-1", "on_hand": 3}]}
            assert c.post("/v1/stock/snapshots", json=count).status_code == 200
        deadline = time.monotonic() + 30
        while not receiver.accepted:
            assert time.monotonic() < deadline, f"nothing delivered:\n{served.output}"
            time.sleep(0.1)
        assert len(deliverers(served.proc.pid)) == 1
    assert receiver.accepted[0]["type"] == "stock.snapshot"
    assert receiver.bad_signatures == 0
    with Served(tmp_path, "--no-deliverer", admin_key=key) as served:
        assert deliverers(served.proc.pid) == []


def test_the_deliverer_stops_when_serve_is_killed(tmp_path: Path) -> None:
    """serve killed with SIGKILL cannot stop its deliverer: the deliverer notices it was
    orphaned and exits, instead of polling the store for ever."""
    with Served(tmp_path, admin_key="a-long-admin-key-for-the-orphan-test") as served:
        (deliverer,) = deliverers(served.proc.pid)
        served.proc.kill()
        served.proc.wait()
        deadline = time.monotonic() + 30
        while Path(f"/proc/{deliverer}").exists() and _state(deliverer) != "Z":
            assert time.monotonic() < deadline, "the orphaned deliverer is still running"
            time.sleep(0.1)


def _state(pid: int) -> str:
    """A process's state letter from /proc (Z: exited, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def deliverers(parent: int) -> list[int]:
    """The `sourcing-engine deliver` processes started by this process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"deliver" in cmdline:
            found.append(int(stat.parent.name))
    return found
