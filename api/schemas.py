"""Request and response bodies of the HTTP API.

Requests are strict: unknown fields are refused (a typo must not pass silently), numbers
must be numbers (no "2" for 2, no 2.5 units, no NaN or infinity), and every list and
quantity is bounded so that no request can ask for unbounded work.
"""

from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from sourcing_engine.api import render
from sourcing_engine.api_keys import SCOPES
from sourcing_engine.domain import Destination, Inbound, Item, Node, Order, merge_lines
from sourcing_engine.errors import Invalid, UnknownZip
from sourcing_engine.exchange import DestinationSpec
from sourcing_engine.geocode import destination
from sourcing_engine.service import StockView
from sourcing_engine.stores.base import ApiKey

MAX_LINE_QTY = 10_000
MAX_LINES = 100
MAX_BATCH_ORDERS = 5_000
MAX_NODES_PER_CALL = 10_000
MAX_COUNTS_PER_SNAPSHOT = 100_000
MAX_STOCK = 10**9
MIN_TTL_S = 1
MAX_TTL_S = 24 * 3600
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"
"""Ids appear in URL paths: letters, digits and . _ : - (no slash, no space)."""


def _whole(value: object) -> object:
    """4253.0 is the integer 4253, as JSON Schema's `integer` says; 4253.5 is refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = BeforeValidator(_whole)
"""Integer fields take integral numbers written with a fraction (strict otherwise: no "2").
It goes after the Field, so that the field's bounds stay in the JSON Schema."""

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN, strict=True)]
Text = Annotated[str, Field(min_length=1, max_length=500, strict=True)]
Qty = Annotated[int, Field(ge=1, le=MAX_LINE_QTY, strict=True), Whole]
Count = Annotated[int, Field(ge=0, le=MAX_STOCK, strict=True), Whole]
Number = Annotated[float, Field(strict=True)]
Latitude = Annotated[float, Field(ge=-90, le=90, strict=True)]
Longitude = Annotated[float, Field(ge=-180, le=180, strict=True)]
Money = Annotated[float, Field(ge=0, le=1e6, strict=True)]
Flag = Annotated[bool, Field(strict=True)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Response(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- shared pieces ----------------------------------------------------------------------


class DestinationIn(DestinationSpec):
    """Where the order ships: `lat` and `lon`, or a US `zip` (geocoded offline)."""

    def to_destination(self) -> Destination:
        """The destination, its ZIP geocoded (UnknownZip if the table has no such ZIP: the
        request is well formed, the ZIP is not one the service knows)."""
        found = destination(self.lat, self.lon, self.zip, self.residential)
        if found is None:
            raise UnknownZip(str(self.zip))
        return found


class Line(Request):
    sku: Id
    qty: Qty


Lines = Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]


def lines_of(lines: list[Line]) -> dict[str, int]:
    return merge_lines([(ln.sku, ln.qty) for ln in lines])


def order_of(order_id: str, destination: "DestinationIn", lines: list[Line]) -> Order:
    return Order.of(order_id, destination.to_destination(), [(ln.sku, ln.qty) for ln in lines])


class LineOut(Response):
    sku: str
    qty: int


class UnitOut(Response):
    """qty units of sku at node."""

    node: str
    sku: str
    qty: int


class ErrorBody(Response):
    code: str
    message: str
    details: list[dict[str, Any]]


class ErrorOut(Response):
    """Every error has this shape."""

    error: ErrorBody


# --- network and stock ------------------------------------------------------------------


class NodeIn(Request):
    id: Id
    kind: Literal["warehouse", "store"]
    lat: Latitude
    lon: Longitude
    ship_capacity: Count | None = None
    unit_capacity: Count | None = None
    handling_per_shipment: Money = 0.0
    handling_per_unit: Money = 0.0
    ship_enabled: Flag = True

    def record(self) -> Node:
        return Node(**self.model_dump())


class NodesIn(Request):
    nodes: Annotated[list[NodeIn], Field(min_length=1, max_length=MAX_NODES_PER_CALL)]


class NodeOut(Response):
    id: str
    kind: Literal["warehouse", "store"]
    lat: float
    lon: float
    ship_capacity: int | None
    unit_capacity: int | None
    handling_per_shipment: float
    handling_per_unit: float
    ship_enabled: bool


class NodesOut(Response):
    nodes: list[NodeOut]


class ItemIn(Request):
    sku: Id
    weight_lb: Annotated[float, Field(ge=0, le=10_000, strict=True)]
    dims_in: Annotated[
        list[Annotated[float, Field(ge=0, le=1_000, strict=True)]],
        Field(min_length=3, max_length=3),
    ] = [0.0, 0.0, 0.0]

    def record(self) -> Item:
        return Item(self.sku, self.weight_lb, (self.dims_in[0], self.dims_in[1], self.dims_in[2]))


class ItemsIn(Request):
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=MAX_NODES_PER_CALL)]


class Upserted(Response):
    upserted: int


class CountIn(Request):
    sku: Id
    on_hand: Count
    safety_stock: Count = 0


class SnapshotIn(Request):
    """A count of one node from a WMS or POS: sets on hand (and safety stock) per SKU."""

    node: Id
    counts: Annotated[list[CountIn], Field(min_length=1, max_length=MAX_COUNTS_PER_SNAPSHOT)]
    reason: Text = "snapshot"

    def counts_by_sku(self) -> dict[str, tuple[int, int]]:
        """sku -> (on hand, safety stock); Invalid naming a SKU counted more than once (a
        rule JSON Schema cannot state, so it is the service's refusal, not the schema's)."""
        dup = sorted(s for s, n in Counter(c.sku for c in self.counts).items() if n > 1)
        if dup:
            raise Invalid(f"counts: SKU {', '.join(dup)} counted more than once")
        return {c.sku: (c.on_hand, c.safety_stock) for c in self.counts}


class SnapshotOut(Response):
    node: str
    counted: int


class AdjustmentIn(Request):
    node: Id
    sku: Id
    delta: Annotated[
        int,
        Field(ge=-MAX_STOCK, le=MAX_STOCK, strict=True, json_schema_extra={"not": {"const": 0}}),
        Whole,
    ]
    reason: Text

    @model_validator(mode="after")
    def _nonzero(self) -> "AdjustmentIn":
        if self.delta == 0:
            raise ValueError("delta: expected a non-zero number of units")
        return self


class PositionOut(Response):
    node: str
    sku: str
    on_hand: int
    safety_stock: int
    reserved: int
    allocated: int
    available: int
    oversold: bool


class InboundIn(Request):
    id: Id
    node: Id
    sku: Id
    qty: Annotated[int, Field(ge=1, le=MAX_STOCK, strict=True), Whole]
    expected_at: Annotated[float, Field(ge=0, le=1e11, strict=True)]
    """UNIX seconds."""

    def record(self) -> Inbound:
        return Inbound(self.id, self.node, self.sku, self.qty, self.expected_at)


class InboundsIn(Request):
    inbound: Annotated[list[InboundIn], Field(min_length=1, max_length=MAX_NODES_PER_CALL)]


class StockTotals(Response):
    on_hand: int
    safety_stock: int
    reserved: int
    allocated: int
    available: int


class StockOut(Response):
    sku: str
    nodes: list[PositionOut]
    totals: StockTotals

    @staticmethod
    def of(view: StockView) -> "StockOut":
        return StockOut(
            sku=view.sku,
            nodes=[PositionOut(**render.position(p)) for p in view.positions],
            totals=StockTotals(
                **{
                    k: view.total(k)
                    for k in ("on_hand", "safety_stock", "reserved", "allocated", "available")
                }
            ),
        )


# --- orders -----------------------------------------------------------------------------


class OrderIn(Request):
    id: Id
    destination: DestinationIn
    lines: Lines


class BatchIn(Request):
    orders: Annotated[list[OrderIn], Field(min_length=1, max_length=MAX_BATCH_ORDERS)]

    def check_distinct(self) -> None:
        """Invalid naming an order id given more than once (the service's refusal: JSON
        Schema cannot state it)."""
        dup = sorted(i for i, n in Counter(o.id for o in self.orders).items() if n > 1)
        if dup:
            raise Invalid(f"orders: order id {', '.join(dup[:20])} given more than once")


class ShipIn(Request):
    node: Id


class CancelIn(Request):
    """Without lines the whole order (every unshipped unit) is cancelled."""

    lines: Lines | None = None


class RejectIn(Request):
    """The node cannot fulfil these units (without lines: all it holds for the order)."""

    node: Id
    lines: Lines | None = None


class ReturnLine(Request):
    sku: Id
    qty: Qty
    node: Id | None = None
    """The node that shipped them (default: any that did)."""


class ReturnIn(Request):
    lines: Annotated[list[ReturnLine], Field(min_length=1, max_length=MAX_LINES)]
    restock: Flag = True


class DestinationOut(Response):
    lat: float
    lon: float
    residential: bool
    zip: str | None = None


class ShipmentOut(Response):
    node: str
    lines: list[LineOut]
    cost: float


class PlanOut(Response):
    """The order's shipments (allocated and shipped units per node) with their costs."""

    cost: float
    currency: str
    shipments: list[ShipmentOut]


class OrderOut(Response):
    id: str
    state: str
    lines: list[LineOut]
    allocations: list[UnitOut]
    shipped: list[UnitOut]
    returned: list[UnitOut]
    released_nodes: list[str]
    destination: DestinationOut | None
    plan: PlanOut | None
    excluded_nodes: list[str]
    reservation_id: str | None = None


class EventOut(Response):
    seq: int
    at: float
    type: str
    subject: str
    data: dict[str, Any]


class OrderDetailOut(OrderOut):
    version: int
    created_at: float
    updated_at: float
    history: list[EventOut]


class ShortLineOut(Response):
    sku: str
    nodes: list[str]
    requested: int
    available: int


class BatchResultOut(Response):
    id: str
    status: Literal["allocated", "refused"]
    order: OrderOut | None = None
    error: ErrorBody | None = None


class BatchOut(Response):
    allocated: int
    refused: int
    results: list[BatchResultOut]


# --- reservations -----------------------------------------------------------------------


class ReservationIn(Request):
    cart: Id
    destination: DestinationIn
    lines: Lines
    ttl_s: Annotated[int, Field(ge=MIN_TTL_S, le=MAX_TTL_S, strict=True), Whole] = 900


class CommitIn(Request):
    """The order the hold becomes, and where it ships (for its plan's costs)."""

    order_id: Id
    destination: DestinationIn


class ReservationOut(Response):
    id: str
    cart: str
    state: str
    units: list[UnitOut]
    created_at: float
    expires_at: float
    order_id: str | None


# --- events and keys --------------------------------------------------------------------


class EventsOut(Response):
    events: list[EventOut]
    next_after: int
    """The cursor for the next call: the last event's seq (or `after` when none came)."""


Scope = Literal["promise", "orders", "inventory", "planning", "admin"]
assert set(SCOPES) == set(Scope.__args__)  # type: ignore[attr-defined]


class KeyIn(Request):
    name: Text
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(SCOPES))]


class KeyOut(Response):
    id: str
    name: str
    scopes: list[str]
    created_at: float
    revoked: bool

    @staticmethod
    def of(k: ApiKey) -> "KeyOut":
        return KeyOut(
            id=k.id, name=k.name, scopes=list(k.scopes), created_at=k.created_at, revoked=k.revoked
        )


class IssuedKeyOut(KeyOut):
    token: str
    """Shown once: send it as `Authorization: Bearer <token>`."""


class KeysOut(Response):
    keys: list[KeyOut]


class Health(Response):
    status: Literal["ok", "unavailable"]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error replies a route can give (all in the one shape)."""
    meaning = {
        401: "No valid API key",
        403: "The key lacks the route's scope",
        404: "Unknown id",
        409: "Conflict with the current state, a shortage, or a key in flight",
        413: "Request body too large",
        422: "Invalid request (names the field)",
        503: "The store cannot be reached now: retry after Retry-After seconds (with the "
        "same Idempotency-Key for a state change)",
    }
    return {
        s: {"model": ErrorOut, "description": meaning[s]} for s in (401, 403, 413, *statuses, 503)
    }
