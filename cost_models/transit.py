"""Carrier transit days by zone and service level (for promise dates)."""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class TransitTable:
    """Business days in transit, per service level, for each zone from first_zone up."""

    days: dict[str, tuple[int, ...]]
    first_zone: int = 2

    def __post_init__(self) -> None:
        if not self.days:
            raise ValueError("a transit table needs at least one service level")
        lengths = {len(v) for v in self.days.values()}
        if len(lengths) != 1:
            raise ValueError("every service level must give days for the same zones")
        for service, row in self.days.items():
            if not row:
                raise ValueError(f"transit days for {service!r}: expected at least one zone")
            if any(d < 0 for d in row):
                raise ValueError(f"transit days for {service!r} must be >= 0")

    @property
    def service_levels(self) -> tuple[str, ...]:
        return tuple(self.days)

    def transit_days(self, zone: ArrayLike, service: str) -> NDArray[np.int64]:
        """Transit days for each zone (zones past the table's last use its last entry)."""
        if service not in self.days:
            raise KeyError(f"unknown service level {service!r}; known: {', '.join(self.days)}")
        row = np.asarray(self.days[service], dtype=np.int64)
        index = np.clip(np.asarray(zone, dtype=np.int64) - self.first_zone, 0, len(row) - 1)
        result: NDArray[np.int64] = row[index]
        return result


def default_us_transit() -> TransitTable:
    """Typical US parcel transit days for zones 2-8."""
    return TransitTable(
        days={
            "ground": (1, 2, 3, 3, 4, 4, 5),
            "two_day": (2, 2, 2, 2, 2, 2, 2),
            "next_day": (1, 1, 1, 1, 1, 1, 1),
        },
        first_zone=2,
    )
