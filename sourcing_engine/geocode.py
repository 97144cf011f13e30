"""Destinations: a point, or a postal code with its country. US ZIP codes are geocoded to
their centroid from the data shipped in the `zipcodes` package (no network); a postal code
of another country is refused (NoPostalData), never read as a US ZIP."""

import threading

import zipcodes

from sourcing_engine.domain import Destination
from sourcing_engine.errors import NoPostalData

POSTAL_COUNTRIES = ("US",)
"""Countries whose postal codes ship with the package."""

_zips: dict[str, tuple[float, float]] | None = None
_zips_lock = threading.Lock()


def load_zip_table() -> dict[str, tuple[float, float]]:
    """The ZIP code table, built on the first call (about a second of CPU: the package
    materializes 42,000 entries). Built once under a lock: the API's routes run in a thread
    pool, and without it every thread of a cold worker built its own copy at once (12
    concurrent first calls built it 9 times, 6 s of CPU). The API builds it at startup."""
    global _zips
    if _zips is None:
        with _zips_lock:
            if _zips is None:
                _zips = _read_zip_table()
    return _zips


def _read_zip_table() -> dict[str, tuple[float, float]]:
    table: dict[str, tuple[float, float]] = {}
    for entry in zipcodes.list_all():  # type: ignore[no-untyped-call]
        try:
            table[entry["zip_code"]] = (float(entry["lat"]), float(entry["long"]))
        except (KeyError, TypeError, ValueError):
            continue  # a handful of entries have no coordinates
    return table


def zip_to_latlon(zip_code: str) -> tuple[float, float] | None:
    """Latitude and longitude of a 5-digit US ZIP code (ZIP+4 accepted), None if unknown."""
    five = zip_code.strip().split("-")[0]
    if len(five) != 5 or not five.isdigit():
        return None
    return load_zip_table().get(five)


def check_form(lat: float | None, lon: float | None, zip_code: str | None) -> None:
    """A destination is a point (lat and lon) or a US ZIP code, not both: ValueError saying
    which is missing or extra."""
    has_point = lat is not None or lon is not None
    if has_point and zip_code is not None:
        raise ValueError("give either lat and lon, or a US zip code, not both")
    if has_point and (lat is None or lon is None):
        raise ValueError("give both lat and lon")
    if not has_point and zip_code is None:
        raise ValueError("give either lat and lon, or a US zip code")


def destination(
    lat: float | None,
    lon: float | None,
    zip_code: str | None,
    residential: bool,
    country: str = "US",
) -> Destination | None:
    """The destination of a checked form (`check_form`), its postal code geocoded; None for
    a ZIP that is not known, NoPostalData for a country without postal data."""
    if zip_code is not None and country not in POSTAL_COUNTRIES:
        raise NoPostalData(zip_code, country)
    if zip_code is None:
        assert lat is not None
        assert lon is not None
        return Destination(lat, lon, residential)
    point = zip_to_latlon(zip_code)
    if point is None:
        return None
    return Destination(point[0], point[1], residential, zip_code)
