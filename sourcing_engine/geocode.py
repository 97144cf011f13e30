"""US ZIP code centroids, from the data shipped in the `zipcodes` package (no network)."""

from functools import lru_cache

import zipcodes


@lru_cache(maxsize=1)
def _zip_table() -> dict[str, tuple[float, float]]:
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
    return _zip_table().get(five)
