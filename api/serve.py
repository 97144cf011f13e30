"""`sourcing-engine serve`: prepare the ledger (demo network, admin key), then run the API.

With no options it runs on the embedded store in ./data/ledger.db, loads the `small`
preset's nodes, items and stock if the store has no network yet, and, unless
SOURCING_ENGINE_ADMIN_KEY is set, creates a development admin key and prints it.

Each uvicorn worker process builds the app from the environment (`app_from_env`), so the
settings are handed to the workers as SOURCING_ENGINE_* variables (sourcing_engine.settings).
"""

import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sourcing_engine.api.metrics import MULTIPROC_ENV
from sourcing_engine.api_keys import ENVIRONMENT_KEY_NAME, MIN_EXTERNAL_KEY
from sourcing_engine.domain import Batch
from sourcing_engine.errors import DomainError, InputError, StoreUnavailable
from sourcing_engine.exchange import problem_from_json
from sourcing_engine.presets import PRESETS, generate
from sourcing_engine.service import Service
from sourcing_engine.settings import DEFAULT_STORE, env_name
from sourcing_engine.stores import open_store
from sourcing_engine.stores.base import Store, StoreNotDurable

DEFAULT_SCENARIO = "small"
APP = "sourcing_engine.api.app:app_from_env"


class ServeError(Exception):
    """Something the user can fix before the server starts (store URL, scenario, key)."""


@dataclass(frozen=True)
class Prepared:
    """What the start-up did: the network loaded (if any) and the admin key to print."""

    loaded: str | None
    admin_key: str
    generated_key: bool


def scenario_batch(scenario: str) -> Batch:
    """A preset name (seed 0) or a `sourcing-problem/1` file."""
    if scenario in PRESETS:
        return generate(scenario, seed=0)
    path = Path(scenario)
    if not path.is_file():
        raise ServeError(
            f"--scenario {scenario}: neither a preset ({', '.join(PRESETS)}) nor a file"
        )
    try:
        return problem_from_json(path.read_bytes(), what=str(path))
    except InputError as exc:
        raise ServeError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ServeError(f"{path}: cannot read ({exc.strerror or exc})") from None


def new_admin_token() -> str:
    return f"sk_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"


def check_address(host: str, port: int) -> None:
    """The address can be listened on (resolvable, free): checked before anything is
    written, so that a second serve on a busy port changes nothing of the first one's."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(
            f"--host {host}: cannot be resolved ({exc.strerror}); give an address of this "
            "machine such as 127.0.0.1 or 0.0.0.0"
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise ServeError(
                f"--host {host} --port {port}: cannot listen there ({exc.strerror}); is "
                "another server running on it? Choose another --port or stop it"
            ) from None


def open_checked(store_url: str) -> Store:
    """The store, or one line saying why it cannot be used and how to fix it."""
    try:
        return open_store(store_url)
    except StoreNotDurable as exc:
        raise ServeError(
            f"--store {store_url}: {exc}. Start redis-server with --appendonly yes "
            "--appendfsync always, or add ?configure_durability=1 to the URL to let the "
            "service set them"
        ) from None
    except StoreUnavailable as exc:
        hint = "; is redis-server running there?" if store_url.startswith(("redis", "unix")) else ""
        raise ServeError(f"--store {store_url}: {exc}{hint}") from None
    except (ValueError, OSError, sqlite3.Error) as exc:
        raise ServeError(f"--store {store_url}: cannot be used as the ledger ({exc})") from None


def prepare(store_url: str, scenario: str | None, admin_key: str | None) -> Prepared:
    """Open the store once before the workers: load the network into an empty store and
    install the admin key (a new development key when none is given)."""
    admin_env = env_name("admin_key")
    if admin_key is not None and len(admin_key) < MIN_EXTERNAL_KEY:
        raise ServeError(f"{admin_env}: expected at least {MIN_EXTERNAL_KEY} characters")
    service = Service(open_checked(store_url))
    try:
        loaded = None
        if not service.list_nodes():
            name = scenario or DEFAULT_SCENARIO
            batch = scenario_batch(name)
            service.load_network(batch, reason=f"scenario {name}")
            loaded = (
                f"{name}: {len(batch.nodes)} nodes, {len(batch.items)} SKUs, "
                f"{len(batch.inventory)} stock positions"
            )
        generated = admin_key is None
        token = admin_key or new_admin_token()
        try:
            service.install_key(token, ENVIRONMENT_KEY_NAME, ["admin"])
        except DomainError as exc:
            raise ServeError(f"{admin_env}: {exc}") from None
        return Prepared(loaded, token, generated)
    finally:
        service.close()


WORKER_HEALTHCHECK_S = 30
"""How long a worker may take to answer its supervisor's health check before it is killed."""


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    store_url: str = DEFAULT_STORE,
    scenario: str | None = None,
    workers: int = 1,
    access_log: bool = False,
    deliverer: bool = True,
) -> int:
    import uvicorn  # here: the other commands do not need the server

    admin_env = env_name("admin_key")
    check_address(host, port)
    prepared = prepare(store_url, scenario, os.environ.get(admin_env) or None)
    if scenario and prepared.loaded is None:
        print(f"note: the store already has a network; --scenario {scenario} not loaded")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host}:{port}"
    print(f"sourcing-engine API on {url} (store {store_url}, {workers} worker(s))")
    if prepared.loaded:
        print(f"loaded network {prepared.loaded}")
    if prepared.generated_key:
        print(
            f"development admin key ({admin_env} is not set; a new key each start):\n"
            f"  {prepared.admin_key}"
        )
    key = prepared.admin_key if prepared.generated_key else f'"${admin_env}"'
    print(
        f"try it (docs: {url}/docs):\n"
        f"  export KEY={key}\n"
        f'  curl -H "Authorization: Bearer $KEY" {url}/v1/nodes'
    )
    sys.stdout.flush()
    os.environ[env_name("store")] = store_url
    if access_log:  # the app's JSON line per request (api/logs.py), not uvicorn's text one
        os.environ[env_name("access_log")] = "1"
    metrics_dir = None
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # the workers' metrics, summed by /metrics (api/metrics.py); fresh at every start, as
        # the files of a previous run would count again
        metrics_dir = tempfile.mkdtemp(prefix="sourcing-engine-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[admin_env] = prepared.admin_key
    # the webhook deliverer, its own process beside the workers (one per store: the other
    # machines of a Redis store run serve --no-deliverer)
    delivering = None
    if deliverer:
        command = ["deliver", "--store", store_url, "--parent", str(os.getpid())]
        delivering = subprocess.Popen([sys.executable, "-m", "sourcing_engine", *command])
    try:
        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=False,
            # uvicorn kills a worker that misses a 5 s health check: seen killing a worker
            # (and dropping its request) busy with its first orders on a loaded machine
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )
    finally:
        if delivering is not None:
            delivering.terminate()
            delivering.wait(30)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            del os.environ[MULTIPROC_ENV]
    return 0
