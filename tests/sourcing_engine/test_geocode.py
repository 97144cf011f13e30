"""ZIP geocoding: the table is built once per process, however many threads ask first."""

import threading
from typing import Any

import pytest
import zipcodes

from sourcing_engine import geocode


def test_concurrent_first_lookups_build_the_table_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve threads (an API worker's pool) looking up ZIPs on a cold process build the
    table once and all get the same centroid."""
    monkeypatch.setattr(geocode, "_zips", None)
    real = zipcodes.list_all
    builds: list[int] = []

    def counted() -> Any:
        builds.append(1)
        return real()

    monkeypatch.setattr(zipcodes, "list_all", counted)
    start = threading.Barrier(12)
    found: list[tuple[float, float] | None] = []

    def look_up() -> None:
        start.wait()
        found.append(geocode.zip_to_latlon("10001"))

    threads = [threading.Thread(target=look_up) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert len(found) == 12
    assert len(set(found)) == 1
    lat, lon = found[0] or (0.0, 0.0)
    assert 40.5 < lat < 41.0  # Manhattan
    assert -74.2 < lon < -73.7
