"""Stock sync from a POS or WMS that cannot race.

A count describes the shelf at one moment (`as_of`, UNIX seconds; when the store applies it,
if not given), so the store applies it relative to the movements of on hand it recorded
since then: shipments, restocks, adjustments, receipts, and the corrections of other counts
(each recorded at the moment its count describes). A count taken before a shipment and
applied after it is reduced by the shipment instead of bringing the shipped units back.

Each source (a POS, a WMS) numbers its counts by time or by its own `sequence`: a count
not after the last one applied from the same source at the same position is refused as
stale (a late or redelivered message never overwrites a newer count). Counts and bulk
adjustments apply all or nothing; every refused entry is named (`EntriesRefused`).

The judgement of one count (`judge_count`) is the same on every store: SQLite runs this
module's function, Redis its Lua copy (stores/lua/count_stock.lua) with the same constants.
"""

import datetime as dt
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sourcing_engine.errors import EntriesRefused, EntryProblem, Invalid

MOVEMENT_RETENTION_S = 7 * 24 * 3600.0
"""How long movements are kept: a count as of longer ago cannot be adjusted, so it is refused
(count again). Also in stores/lua/common.lua."""
MAX_AHEAD_S = 300.0
"""How far a count's as_of may be ahead of the store clock (the source's clock skew)."""
MAX_SEQUENCE = 2**53
"""Sequences stay exact as doubles (Redis's Lua numbers)."""


@dataclass(frozen=True)
class StockCount:
    """On hand counted at a node for a SKU. safety_stock None keeps the stored value (0 for a
    new position); as_of None means "now" (no movement to account for)."""

    node: str
    sku: str
    on_hand: int
    safety_stock: int | None = None
    as_of: float | None = None
    source: str | None = None
    sequence: int | None = None


@dataclass(frozen=True)
class StockAdjustment:
    """on_hand += delta at a node for a SKU, with the reason (damage, found, correction)."""

    node: str
    sku: str
    delta: int
    reason: str


@dataclass(frozen=True)
class LastCount:
    """The last count applied from one source at one position."""

    as_of: float
    sequence: int | None


def _whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_counts(counts: Sequence[StockCount], max_qty: int) -> None:
    """Refuse (EntriesRefused, nothing applied) counts malformed in themselves: quantities,
    times, a sequence without its source, a position counted twice in one call."""
    problems = []
    seen = Counter((c.node, c.sku) for c in counts)
    for i, c in enumerate(counts):
        why = None
        if not _whole(c.on_hand, 0, max_qty):
            why = f"on_hand {c.on_hand!r}: expected a whole number from 0 to {max_qty}"
        elif c.safety_stock is not None and not _whole(c.safety_stock, 0, max_qty):
            why = f"safety_stock {c.safety_stock!r}: expected a whole number from 0 to {max_qty}"
        elif c.as_of is not None and not (isinstance(c.as_of, float | int)
                                          and math.isfinite(c.as_of) and c.as_of > 0):  # fmt: skip
            why = f"as_of {c.as_of!r}: expected a time (UNIX seconds)"
        elif c.sequence is not None and not _whole(c.sequence, 0, MAX_SEQUENCE):
            why = f"sequence {c.sequence!r}: expected a whole number from 0 to {MAX_SEQUENCE}"
        elif c.sequence is not None and not c.source:
            why = "sequence given without its source: a sequence is numbered per source"
        elif seen[(c.node, c.sku)] > 1:
            why = "counted more than once in this call; send one count per node and SKU"
        if why:
            problems.append(EntryProblem(i, c.node, c.sku, "invalid", why))
    if problems:
        raise EntriesRefused("counts", problems)


def check_adjustments(adjustments: Sequence[StockAdjustment], max_qty: int) -> None:
    problems = [
        EntryProblem(i, a.node, a.sku, "invalid",
                     f"delta {a.delta!r}: expected a non-zero whole number within ±{max_qty}")
        for i, a in enumerate(adjustments)
        if not _whole(a.delta, -max_qty, max_qty) or a.delta == 0
    ]  # fmt: skip
    if problems:
        raise EntriesRefused("adjustments", problems)
    if not adjustments:
        raise Invalid("adjustments: expected at least one")


def iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")


def judge_count(c: StockCount, last: LastCount | None, now: float) -> str | None:
    """Why the count cannot apply now ("ahead", "too_old", "stale"), or None if it can."""
    as_of = now if c.as_of is None else c.as_of
    if as_of > now + MAX_AHEAD_S:
        return "ahead"
    if as_of < now - MOVEMENT_RETENTION_S:
        return "too_old"
    if last is not None:
        if c.sequence is not None and last.sequence is not None:
            return "stale" if c.sequence <= last.sequence else None
        if as_of <= last.as_of:
            return "stale"
    return None


def count_problem(
    i: int, c: StockCount, kind: str, last: LastCount | None, now: float
) -> EntryProblem:
    """The refusal of count i for the reason judge_count gave, in words."""
    if kind == "ahead":
        why = (f"as_of {iso(c.as_of or now)} is more than {MAX_AHEAD_S:.0f} s ahead of the "
               f"store clock ({iso(now)}); check the source's clock")  # fmt: skip
    elif kind == "too_old":
        why = (f"as_of {iso(c.as_of or now)} is older than the "
               f"{MOVEMENT_RETENTION_S / 86400:.0f} days of movements the store keeps; "
               "count again")  # fmt: skip
    else:
        assert last is not None
        if c.sequence is not None and last.sequence is not None:
            why = (f"stale: sequence {c.sequence} from source {c.source} is not after the "
                   f"last one applied here ({last.sequence})")  # fmt: skip
        else:
            why = (f"stale: as of {iso(c.as_of or now)}, not after the last count applied "
                   f"here from source {c.source} (as of {iso(last.as_of)})")  # fmt: skip
        kind = "stale"
    return EntryProblem(i, c.node, c.sku, kind, why)


def counted_on_hand(counted: int, moved_since: int) -> int:
    """On hand now: what was counted plus what moved since (never below zero: a count that
    missed units already shipped cannot make on hand negative)."""
    return max(0, counted + moved_since)


def below_zero(i: int, a: StockAdjustment, on_hand: int) -> EntryProblem:
    return EntryProblem(
        i, a.node, a.sku, "below_zero",
        f"delta {a.delta}: on hand is {on_hand} and may not go below zero",
    )  # fmt: skip
