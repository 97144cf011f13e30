"""What the API process needs to start: where the ledger is, the admin key, limits."""

import os
from dataclasses import dataclass, field

from api.limits import DEFAULT_MAX_BODY_BYTES
from sourcing_engine.serve import ADMIN_KEY_ENV, DEFAULT_STORE, STORE_ENV
from sourcing_engine.service import ServiceConfig

THREADS_ENV = "SOURCING_ENGINE_THREADS"


@dataclass(frozen=True)
class Settings:
    """store_url: the ledger (sqlite:///path or redis://...); admin_key: installed at start
    with every scope; reaper_interval_s: how often expired holds are marked (they count for
    nothing once expired either way); idempotency_lease_s: how long a key stays in flight
    before another request may take it over (only an answer-time matter: the store applies
    at most one effect per key whatever the leases; a refused call releases its key at
    once, so this only matters for a caller that dies mid-call); threads: how many requests
    one worker process runs at once (its thread pool; the rest queue): the request path
    holds the GIL most of its time, so more threads only contend for it (40, the default
    of the framework, answered a fifth slower under load than 8 and with p99 spikes of
    seconds), but a batch solve holds its thread for seconds (environment:
    SOURCING_ENGINE_THREADS)."""

    store_url: str = DEFAULT_STORE
    admin_key: str | None = None
    service: ServiceConfig = field(default_factory=ServiceConfig)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    reaper_interval_s: float = 5.0
    idempotency_lease_s: float = 2.0
    threads: int = 8

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"{THREADS_ENV} must be at least 1, got {self.threads}")

    @staticmethod
    def from_env() -> "Settings":
        """Settings of a worker process (`sourcing-engine serve` passes them this way)."""
        return Settings(
            store_url=os.environ.get(STORE_ENV, DEFAULT_STORE),
            admin_key=os.environ.get(ADMIN_KEY_ENV) or None,
            threads=int(os.environ.get(THREADS_ENV) or 8),
        )
