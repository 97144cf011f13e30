"""Ledger stores: `open_store(url)` picks the implementation from the URL's scheme.

- `sqlite:///data/ledger.db` (relative to the working directory) or
  `sqlite:////var/lib/sourcing/ledger.db` (absolute: four slashes), as in SQLAlchemy;
- `redis://host:port/db` (or `rediss://`), imported lazily so the embedded store needs no
  Redis client installed.
"""

from pathlib import Path

from sourcing_engine.stores.base import Store

SQLITE_PREFIX = "sqlite:///"
URL_FORMS = "sqlite:///relative/path.db, sqlite:////absolute/path.db or redis://host:port/db"


def open_store(url: str) -> Store:
    """The store for `url`; ValueError naming the accepted forms if the URL is not one."""
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX) :]
        if not path or path.endswith("/") or path == ":memory:":
            raise ValueError(f"store URL {url!r} names no database file; expected {URL_FORMS}")
        from sourcing_engine.stores.sqlite import SqliteStore

        return SqliteStore(Path(path))
    if url.startswith(("redis://", "rediss://", "unix://")):
        from sourcing_engine.stores.redis import RedisStore  # lazy: needs the Redis client

        return RedisStore(url)
    raise ValueError(f"unsupported store URL {url!r}; expected {URL_FORMS}")
