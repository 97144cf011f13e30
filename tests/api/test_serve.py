"""`sourcing-engine serve` as a user runs it: a real process in a fresh directory, with no
arguments, then with the admin key from the environment."""

import re
import subprocess
import sys
import time
from pathlib import Path

from tests.api.conftest import Served

KEY = re.compile(r"sk_[0-9a-f]{16}_[A-Za-z0-9_-]+")


def test_serve_with_no_arguments(tmp_path: Path) -> None:
    """No arguments: demo network, data/ledger.db, a working printed key; a restart replaces it."""
    with Served(tmp_path) as first:
        assert first.url in first.output
        assert "loaded network small: 22 nodes" in first.output
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
    """--access-log logs every request with its status."""
    key = "a-long-admin-key-from-the-environment"
    with Served(tmp_path, "--access-log", admin_key=key) as served:
        assert served.get("/v1/nodes", key).status_code == 200
        deadline = time.monotonic() + 10
        while '"GET /v1/nodes HTTP/1.1" 200' not in served.output:
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
