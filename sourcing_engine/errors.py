"""Errors a user can act on: each names the offending entry and says what was expected.

They speak the domain's words (orders, nodes, SKUs, holds); what they mean over HTTP (the
status, the error code, which route fixes them) is the API's business (api/errors.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass


class InputError(ValueError):
    """Bad input: one or more problems, each as 'where: what was expected'."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        lines = [f"{len(self.problems)} problems in the input:"] + [f"  - {p}" for p in shown]
        if more:
            lines.append(f"  ... and {more} more")
        return "\n".join(lines)


class DomainError(Exception):
    """Base of the errors of the live service and its stores: a request refused as such."""


@dataclass(frozen=True)
class Shortage:
    """One line that could not be covered: what was asked where, and what was there."""

    sku: str
    nodes: tuple[str, ...]
    requested: int
    available: int


class InsufficientStock(DomainError):
    """Not enough available stock for one or more lines; carries every short line."""

    def __init__(self, shortages: Sequence[Shortage]) -> None:
        self.shortages = tuple(shortages)
        super().__init__(
            "insufficient stock: "
            + "; ".join(
                f"{s.sku} at {','.join(s.nodes) or 'no node'}: requested {s.requested}, "
                f"available {s.available}"
                for s in self.shortages
            )
        )


@dataclass(frozen=True)
class CapacityShort:
    """A node that cannot take more on a day: shipments or units asked, and what was left."""

    node: str
    day: str
    what: str  # "shipments" or "units"
    requested: int
    left: int


class InsufficientCapacity(DomainError):
    """Nodes full for the day (their shipment or unit capacity); carries every short one."""

    def __init__(self, shorts: Sequence[CapacityShort], why: str = "") -> None:
        self.shorts = tuple(shorts)
        super().__init__(
            (why or "node capacity exhausted")
            + ": "
            + "; ".join(
                f"{c.node} on {c.day}: {c.requested} {c.what} asked, {c.left} left"
                for c in self.shorts
            )
        )


class NotFound(DomainError):
    """An id that the store does not know."""


class UnknownNode(NotFound):
    """A node id that is not part of the network."""

    def __init__(self, node: str) -> None:
        self.node = node
        super().__init__(f"node {node}: unknown; add it to the network first")


class Conflict(DomainError):
    """The request conflicts with the current state (e.g. a transition not allowed)."""

    def __init__(self, message: str, current_state: str | None = None) -> None:
        self.current_state = current_state
        super().__init__(message)


class PreconditionFailed(Conflict):
    """The caller's version of a record (If-Match) is not the stored one: it changed since
    the caller read it."""


class Invalid(DomainError):
    """A request refused as such (e.g. an adjustment below zero on hand)."""


class UnknownItems(Invalid):
    """SKUs without an item record (weight and dimensions), so they cannot be priced."""

    def __init__(self, skus: Sequence[str]) -> None:
        self.skus = tuple(skus)
        s = "s" if len(self.skus) > 1 else ""
        super().__init__(
            f"unknown SKU{s} {', '.join(self.skus)}: no item record (weight and dimensions); "
            "add the items first"
        )


class UnknownZip(Invalid):
    """A US ZIP code that the offline table does not know."""

    def __init__(self, zip_code: str) -> None:
        self.zip = zip_code
        super().__init__(
            f"destination.zip: unknown US ZIP code {zip_code!r} (expected a known 5-digit ZIP "
            "or ZIP+4 such as 10001)"
        )


class NoPostalData(Invalid):
    """A postal code of a country whose postal codes the engine cannot place."""

    def __init__(self, zip_code: str, country: str) -> None:
        self.zip, self.country = zip_code, country
        super().__init__(
            f"destination.zip: {zip_code!r} is a postal code of {country}, and no postal data "
            f"for {country} ships with the engine (only US ZIP codes); give the destination's "
            "lat and lon instead"
        )


class IdempotencyMismatch(DomainError):
    """The idempotency key was used before with a different request."""


class IdempotencyInFlight(DomainError):
    """A request with this idempotency key is still being processed."""


class StoreUnavailable(DomainError):
    """The store cannot be reached or refused to work; the request may be retried."""


# --- stock sync (sourcing_engine/stock_sync.py) ---------------------------------------------


@dataclass(frozen=True)
class EntryProblem:
    """Why one entry of a bulk stock call was refused: its index in the call, its position,
    the kind (invalid, unknown_node, unknown_sku, stale, ahead, too_old, below_zero) and
    what was expected."""

    entry: int
    node: str
    sku: str
    problem: str
    message: str


class EntriesRefused(Invalid):
    """Entries of a bulk stock call that cannot apply: the call applied nothing."""

    def __init__(self, what: str, problems: Sequence[EntryProblem]) -> None:
        self.what = what
        self.problems = tuple(problems)
        shown = "; ".join(
            f"{what}[{p.entry}] ({p.node}/{p.sku}): {p.message}" for p in self.problems[:10]
        )
        more = f"; and {len(self.problems) - 10} more" if len(self.problems) > 10 else ""
        super().__init__(f"{len(self.problems)} of the {what} refused, none applied: {shown}{more}")

    @property
    def stale_only(self) -> bool:
        """Every problem is a stale count (a conflict with newer data, not bad input)."""
        return all(p.problem == "stale" for p in self.problems)
