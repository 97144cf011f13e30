"""Every setting of the live service, and its environment variable: one place.

`Settings()` reads `SOURCING_ENGINE_<NAME>` from the environment (pydantic-settings: typed,
validated, each problem named); `sourcing-engine serve` sets them for its worker processes.
`open_service(settings)` gives the API a ready `Service` on the configured store.
"""

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sourcing_engine.api_keys import ENVIRONMENT_KEY_NAME
from sourcing_engine.service import Service, ServiceConfig
from sourcing_engine.stores import open_store
from sourcing_engine.webhooks.deliverer import DeliveryConfig

ENV_PREFIX = "SOURCING_ENGINE_"
DEFAULT_STORE = "sqlite:///data/ledger.db"
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024


def env_name(field: str) -> str:
    """The environment variable of a setting, e.g. SOURCING_ENGINE_STORE."""
    return ENV_PREFIX + field.upper()


class Settings(BaseSettings):
    """store: the ledger (sqlite:///path or redis://...); admin_key: installed at start with
    every scope; threads: the worker process's thread pool, which runs every route that
    calls the store (plain `def`): a store call that blocks (SQLite waiting for another
    worker's write lock, a Redis server that hangs) then holds one thread, not the worker's
    event loop and every request on it (the hop costs CPU: on the event loop a request took
    1.5 ms of CPU against 2.4 ms through the pool, measured before this choice);
    max_body_bytes: larger request bodies are refused (413) before they are read;
    reaper_interval_s: how often expired holds are marked (they count for nothing once
    expired either way); idempotency_lease_s: how long a key stays in flight before another
    request may take it over (only an answer-time matter: the store applies at most one
    effect per key whatever the leases; a refused call releases its key at once);
    batch_time_limit_s: the joint solve of a batch allocation; batch_job_orders: a batch of
    more orders runs as a background job (202, then GET /v1/jobs/{id}); promise_stock_cache_s: how
    long a promise's stock read serves the next promises of those SKUs (0: never; a hold
    always reads live stock)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    store: str = DEFAULT_STORE
    admin_key: Annotated[str, Field(min_length=16)] | None = None
    threads: Annotated[int, Field(ge=1, le=256)] = 8
    max_body_bytes: Annotated[int, Field(ge=1024)] = DEFAULT_MAX_BODY_BYTES
    reaper_interval_s: Annotated[float, Field(gt=0)] = 5.0
    idempotency_lease_s: Annotated[float, Field(gt=0)] = 2.0
    batch_time_limit_s: Annotated[float, Field(gt=0)] = 10.0
    batch_job_orders: Annotated[int, Field(ge=1)] = 500
    promise_stock_cache_s: Annotated[float, Field(ge=0, le=60)] = 0.0
    # one JSON line per request (api/logs.py; serve --access-log)
    access_log: bool = False
    # what-if runs (POST /v1/whatif): one directory per run, shared by the workers of one
    # machine (None: sourcing-engine-whatif in the system's temporary directory)
    whatif_dir: str | None = None
    # webhook deliveries (sourcing_engine.webhooks.deliverer.DeliveryConfig)
    webhook_retry_period_s: Annotated[float, Field(gt=0)] = 3 * 24 * 3600.0
    webhook_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    webhook_first_backoff_s: Annotated[float, Field(gt=0)] = 1.0
    # the scheduled re-optimization of the hold window (sourcing_engine/reoptimization.py;
    # on while the network settings' hold_minutes is set): the joint solve's time limit,
    # and how often each API process checks whether this period's run is due
    reoptimize_time_limit_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    reoptimize_check_s: Annotated[float, Field(gt=0)] = 30.0

    def service_config(self) -> ServiceConfig:
        return ServiceConfig(
            batch_time_limit_s=self.batch_time_limit_s,
            idempotency_lease_s=self.idempotency_lease_s,
            promise_stock_cache_s=self.promise_stock_cache_s,
            reoptimize_time_limit_s=self.reoptimize_time_limit_s,
        )

    def delivery_config(self) -> DeliveryConfig:
        return DeliveryConfig(
            retry_period_s=self.webhook_retry_period_s,
            timeout_s=self.webhook_timeout_s,
            first_backoff_s=self.webhook_first_backoff_s,
        )


def open_service(settings: Settings) -> Service:
    """A service on the configured store, with the admin key installed; close it with
    `Service.close()`."""
    service = Service(open_store(settings.store), settings.service_config())
    try:
        if settings.admin_key:
            service.install_key(settings.admin_key, ENVIRONMENT_KEY_NAME, ["admin"])
    except BaseException:
        service.close()
        raise
    return service
