"""`sourcing-engine serve` as a user runs it: a real process in a fresh directory, with no
arguments, then with the admin key from the environment."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

KEY = re.compile(r"sk_[0-9a-f]{16}_[A-Za-z0-9_-]+")


class Served:
    """`python -m sourcing_engine serve ...` with its output in a file."""

    def __init__(self, cwd: Path, *args: str, admin_key: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "SOURCING_ENGINE_ADMIN_KEY"}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
        if admin_key is not None:
            env["SOURCING_ENGINE_ADMIN_KEY"] = admin_key
        self.log = cwd / f"serve-{self.port}.out"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sourcing_engine", "serve", "--port", str(self.port),
                 *args],
                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def __enter__(self) -> "Served":
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"serve exited:\n{self.output}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"serve not ready:\n{self.output}"
            time.sleep(0.1)

    def __exit__(self, *_: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def output(self) -> str:
        return self.log.read_text()

    def get(self, path: str, key: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {key}"})


def test_serve_with_no_arguments(tmp_path: Path) -> None:
    """With no arguments it creates ./data/ledger.db, loads the demo network, prints the URL
    and a development admin key that works; a second start keeps the network and replaces
    the key (the old one stops working)."""
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
    assert (tmp_path / "elsewhere" / "ledger.db").is_file()


def test_serve_refuses_a_bad_store_url(tmp_path: Path) -> None:
    """A store URL of no known form is one `error:` line and exit code 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "sourcing_engine", "serve", "--store", "postgres://x"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --store postgres://x:")
