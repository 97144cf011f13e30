"""Request and response bodies of the HTTP API.

Requests are strict: unknown fields are refused (a typo must not pass silently), numbers
must be numbers (no "2" for 2, no 2.5 units, no NaN or infinity), and every list and
quantity is bounded so that no request can ask for unbounded work.
"""

from collections import Counter
from dataclasses import replace
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sourcing_engine.api import render
from sourcing_engine.api_keys import SCOPES
from sourcing_engine.domain import (
    Destination,
    Inbound,
    Item,
    Node,
    NodeCalendar,
    Order,
    Pickup,
    Position,
    merge_lines,
)
from sourcing_engine.errors import Invalid, UnknownZip
from sourcing_engine.exchange import CalendarSpec, DestinationSpec, SettingsSpec, Whole
from sourcing_engine.geocode import destination
from sourcing_engine.service import StockView
from sourcing_engine.stock_sync import MAX_SEQUENCE, StockAdjustment, StockCount
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


Id = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN, strict=True)]
Text = Annotated[str, Field(min_length=1, max_length=500, strict=True)]
_BLANK = r" \t\n\r\f\v"
Reference = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=f"^[^{_BLANK}](.*[^{_BLANK}])?$", strict=True),
]
"""An id in another system: any text without leading or trailing blanks. The blanks are
listed: what `\\s` covers beyond ASCII (U+0085, ...) differs between the API's regex engine
and a client's, so a document with `\\S` promised what the API then refused."""
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
    """Where the order ships: `lat` and `lon`, or a postal code `zip` with its `country`
    (the network's country when left out; only US ZIP codes are placed, offline)."""

    def to_destination(self, country: str = "US") -> Destination:
        """The destination, its ZIP geocoded (UnknownZip if the table has no such ZIP: the
        request is well formed, the ZIP is not one the service knows; NoPostalData for
        another country's postal code). country: the network's, for a ZIP without one."""
        found = destination(self.lat, self.lon, self.zip, self.residential, self.country or country)
        if found is None:
            raise UnknownZip(str(self.zip))
        return found


class Line(Request):
    sku: Id
    qty: Qty


Lines = Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]


def lines_of(lines: list[Line]) -> dict[str, int]:
    return merge_lines([(ln.sku, ln.qty) for ln in lines])


def order_of(
    order_id: str,
    destination: "DestinationIn",
    lines: list[Line],
    country: str = "US",
    references: "References | None" = None,
    backorder: bool = False,
) -> Order:
    order = Order.of(
        order_id,
        destination.to_destination(country),
        [(ln.sku, ln.qty) for ln in lines],
        backorder,
    )
    if references is None:
        return order
    return replace(
        order,
        external_reference=references.external_reference,
        customer_reference=references.customer_reference,
    )


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
    calendar: CalendarSpec | None = None
    """When it works (time zone, cut-off, hours, closed days); left out: its kind's
    defaults, in the time zone of its coordinates."""

    def record(self) -> Node:
        """The node (Invalid for a calendar whose hours are out of order)."""
        try:
            calendar = self.calendar.record() if self.calendar else NodeCalendar()
        except ValueError as exc:
            raise Invalid(f"node {self.id}: calendar: {exc}") from None
        return Node(**{**self.model_dump(exclude={"calendar"}), "calendar": calendar})


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
    calendar: dict[str, Any]
    """The calendar's fields that differ from the kind's defaults."""

    @staticmethod
    def of(n: Node) -> "NodeOut":
        return NodeOut(**{**vars(n), "calendar": n.calendar.to_data()})


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
    safety_stock: Count | None = Field(
        None, description="Units never promised; left out, the stored value stays (0 if new)"
    )


class SnapshotIn(Request):
    """A count of one node from a WMS or POS: sets on hand (and safety stock) per SKU."""

    node: Id
    counts: Annotated[list[CountIn], Field(min_length=1, max_length=MAX_COUNTS_PER_SNAPSHOT)]
    reason: Text = "snapshot"

    def counts_by_sku(self) -> dict[str, tuple[int, int | None]]:
        """sku -> (on hand, safety stock or None to keep it); Invalid naming a SKU counted
        more than once (a rule JSON Schema cannot state, so it is the service's refusal, not
        the schema's)."""
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


# --- stock sync: counts as of a time or a source's sequence, bulk adjustments (stock_sync.py)

MAX_SYNC_ENTRIES = 10_000


class SyncCountIn(Request):
    node: Id
    sku: Id
    on_hand: Count
    safety_stock: Count | None = Field(
        None, description="Units never promised; left out, the stored value stays (0 if new)"
    )
    as_of: AwareDatetime | None = Field(
        None, description="When this position was counted, if not the call's as_of"
    )


class CountsIn(Request):
    """Counts of many positions from one system, applied all or nothing. Each is applied
    relative to the movements the engine recorded since its as_of; a count not after the
    last one applied from the same source at that position is refused as stale."""

    source: Id | None = Field(
        None, description="The counting system (a POS, a WMS): staleness is judged per source"
    )
    sequence: Annotated[int, Field(ge=0, le=MAX_SEQUENCE, strict=True), Whole] | None = Field(
        None,
        description="The source's own increasing number of this message (needs `source`)",
    )
    as_of: AwareDatetime | None = Field(
        None, description="When the counts were taken (ISO 8601 with offset); default: now"
    )
    reason: Text = "count"
    counts: Annotated[list[SyncCountIn], Field(min_length=1, max_length=MAX_SYNC_ENTRIES)]

    def stock_counts(self) -> list[StockCount]:
        """The counts as the store takes them (a sequence without a source is refused
        there, per entry)."""
        out = []
        for c in self.counts:
            as_of = c.as_of or self.as_of
            out.append(StockCount(c.node, c.sku, c.on_hand, c.safety_stock,
                                  as_of.timestamp() if as_of else None,
                                  self.source, self.sequence))  # fmt: skip
        return out


class AdjustmentsIn(Request):
    """Adjustments applied in order, all or nothing."""

    adjustments: Annotated[list[AdjustmentIn], Field(min_length=1, max_length=MAX_SYNC_ENTRIES)]

    def stock_adjustments(self) -> list[StockAdjustment]:
        return [StockAdjustment(a.node, a.sku, a.delta, a.reason) for a in self.adjustments]


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


class PositionsOut(Response):
    """The positions after a bulk call, one per entry, in entry order."""

    positions: list[PositionOut]

    @staticmethod
    def of(positions: tuple[Position, ...]) -> dict[str, Any]:
        return {"positions": [render.position(p) for p in positions]}


# --- orders -----------------------------------------------------------------------------


class References(Request):
    external_reference: Reference | None = None
    """The order's id in the system that sent it (a web shop, a marketplace): customer
    care finds the order by it (GET /v1/orders?external_reference=...)."""
    customer_reference: Reference | None = None
    """The customer's id or account number there (GET /v1/orders?customer_reference=...)."""

    def references(self) -> dict[str, str]:
        found = {"external_reference": self.external_reference,
                 "customer_reference": self.customer_reference}  # fmt: skip
        return {k: v for k, v in found.items() if v is not None}


class FulfillmentIn(Request):
    """How an order (or a hold) reaches its customer: shipped to `destination`, or
    collected at the store `pickup_node` (click and collect). allow_transfer: when the
    store's shelf lacks units, other nodes may send them there (a leg), then pickup."""

    destination: DestinationIn | None = None
    fulfillment: Literal["ship", "pickup"] = "ship"
    pickup_node: Id | None = None
    allow_transfer: Flag = False

    def pickup(self) -> Pickup | None:
        """The pickup (None: shipped); Invalid naming the field of a combination that
        cannot be (a field JSON Schema cannot tie to another)."""
        if self.fulfillment == "ship":
            if self.pickup_node is not None or self.allow_transfer:
                raise Invalid('pickup_node, allow_transfer: only for fulfillment "pickup"')
            if self.destination is None:
                raise Invalid('destination: required to ship (or give fulfillment "pickup")')
            return None
        if self.pickup_node is None:
            raise Invalid('pickup_node: required for fulfillment "pickup" (the store)')
        if self.destination is not None:
            raise Invalid("destination: a pickup order is collected at its pickup_node; leave "
                          "destination out")  # fmt: skip
        return Pickup(self.pickup_node, self.allow_transfer)

    def shipped_to(self, where: str = "") -> "DestinationIn":
        """The destination of an order shipped; Invalid for a pickup (`where` names the
        entry of a list that cannot take one)."""
        if self.pickup() is not None or self.destination is None:
            raise Invalid(f'{where}fulfillment: "pickup" is not taken here; ship it')
        return self.destination


class OrderIn(FulfillmentIn, References):
    id: Id
    lines: Lines
    backorder: Flag = False
    """Accept waiting: what stock on hand cannot cover is promised from open purchase
    orders, earliest arrival first (refused as insufficient_stock only if they cannot
    cover it either)."""


class BatchIn(Request):
    orders: Annotated[list[OrderIn], Field(min_length=1, max_length=MAX_BATCH_ORDERS)]
    policy: Literal["closest", "fewest-splits", "greedy-cost", "optimal", "lookahead"] = "optimal"
    """lookahead: greedy-cost with the opportunity cost of stock and capacity forecast from
    the orders this service took in the rest of the day's hours on the days before."""
    time_limit_s: Annotated[float, Field(gt=0, le=300, strict=True)] | None = None
    """The joint solve's limit (default the service's batch_time_limit_s)."""

    def check_distinct(self) -> None:
        """Invalid naming an order id given more than once (the service's refusal: JSON
        Schema cannot state it)."""
        dup = sorted(i for i, n in Counter(o.id for o in self.orders).items() if n > 1)
        if dup:
            raise Invalid(f"orders: order id {', '.join(dup[:20])} given more than once")


class ShipIn(Request):
    """The node shipped everything it holds for the order, or these lines of it (a part);
    carrier and tracking: the parcel's, recorded with the order and in the event."""

    node: Id
    lines: Lines | None = None
    carrier: Text | None = None
    tracking: Text | None = None


class ParcelOut(Response):
    node: str
    lines: list[UnitOut]
    carrier: str | None
    tracking: str | None


class CancelIn(Request):
    """Without lines the whole order (every unshipped unit) is cancelled."""

    lines: Lines | None = None


class RejectIn(Request):
    """The node cannot fulfil these units (without lines: all it holds for the order)."""

    node: Id
    lines: Lines | None = None


class ReallocateIn(Request):
    min_saving: Annotated[float, Field(ge=0, le=1e9, strict=True)] = 0.0
    """Move the order only if its plan then costs more than this less (its currency)."""


class ReturnLine(Request):
    sku: Id
    qty: Qty
    node: Id | None = None
    """The node that shipped them (default: any that did)."""
    disposition: Literal["restock", "quarantine", "write_off"] | None = None
    """restock: sellable again at the receiving node; quarantine (held apart for
    inspection) and write_off add no sellable stock. Default: `restock` of the body."""


class ReturnIn(Request):
    lines: Annotated[list[ReturnLine], Field(min_length=1, max_length=MAX_LINES)]
    restock: Flag = True
    """The disposition of lines that give none: restock (true) or write_off (false)."""
    receiving_node: Id | None = None
    """Where the units came back (any node; default: each at the node that shipped it)."""


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


Method = Literal["ship", "pickup", "ship_to_store", "backorder"]


class PromisedShipmentOut(Response):
    node: str
    lines: list[LineOut]
    cost: float
    distance_miles: float
    zone: int | None
    ships_on: str | None
    """The node's local date it hands the parcel to the carrier."""
    delivered_on: str | None
    """The customer's (or the store's) local date the carrier delivers it."""
    inbound: str | None = None
    """The purchase order the units arrive with (backorders)."""
    arrives: str | None = None


class DeliveryWindowOut(Response):
    earliest: str
    latest: str
    by: str
    """Local time at the customer by which the carrier delivers, each day of the window."""
    time_zone: str


class OptionOut(Response):
    id: str
    method: Method
    service_level: str | None
    store: str | None
    lines: list[LineOut]
    complete: bool
    """Whether it covers the whole cart (else the rest is backordered or unpromisable)."""
    cost: float
    """Our cost (carrier charges and handling) in `currency`."""
    currency: str
    delivery: DeliveryWindowOut | None
    ready_at: str | None
    """Pickup and ship-to-store: when the cart is ready at the store, in its local time."""
    shipments: list[PromisedShipmentOut]
    reason: str
    next_best_cost: float | None
    cheapest: bool
    fastest: bool
    explanation: dict[str, Any] | None = None
    """With explain=true: {"shipments": [...]}, each shipment term by term (ship options)."""


class BackorderOut(Response):
    """qty units of sku promised from purchase order `inbound`, expected at node."""

    inbound: str
    node: str
    sku: str
    qty: int
    expected_at: float


class PickupOut(Response):
    node: str
    legs: list[str]
    allow_transfer: bool
    ready_at: str | None


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
    promise: OptionOut | None = None
    """The option promised at checkout (POST /v1/promise with a hold), if any."""
    backorder: OptionOut | None = None
    """The cart's units promised from purchase orders, recorded with the order."""
    parcels: list[ParcelOut] = []
    """Each shipment as it shipped: node, units, carrier and tracking number."""
    external_reference: str | None = None
    """The order's id in the system that sent it (a web shop, a marketplace)."""
    customer_reference: str | None = None
    """The customer's id or account number, for customer care lookups."""
    backordered: list[BackorderOut] = []
    """Units still waiting for purchase orders (allocated at their node on receipt)."""
    promised_date: str | None = None
    """For a backordered order: the local date its last backordered unit was expected at
    its node when the order was placed (YYYY-MM-DD)."""
    fulfillment: Literal["ship", "pickup"] = "ship"
    pickup: PickupOut | None = None
    """Where a pickup order is collected, the nodes sending it units (legs), whether it
    allowed them, and when it is ready (ISO time at the store)."""


class EventOut(Response):
    seq: int
    at: float
    type: str
    subject: str
    payload_version: int
    """2: `resource` is the changed record after the change (1: recorded before events
    carried it; `resource` is null)."""
    data: dict[str, Any]
    """What changed (units moved, the reason, a receipt's quantity)."""
    resource: dict[str, Any] | None
    """The record after the change, as its GET answers it: an order (type order.*), a hold
    (reservation.*, without its promise), a stock position (stock.adjusted,
    inbound.received), a node's counted positions (stock.snapshot), a node, an item, a
    purchase order or transfer (inbound.created / updated) or a setting."""


class OrderSummaryOut(OrderOut):
    version: int
    created_at: float
    updated_at: float


class OrderDetailOut(OrderSummaryOut):
    history: list[EventOut]


class OrdersOut(Response):
    orders: list[OrderSummaryOut]
    """Newest first (by creation time, then id)."""
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class HistoryEventOut(EventOut):
    code: str
    """The decision: placed, sourced, released, shipped, cancelled, rejected, resourced,
    unfillable, returned (or the event's own name for a type added later)."""
    reason: str
    """The decision in one line, from the event's data."""
    explained: bool
    """The engine chose nodes here: `explanation` says why those nodes."""


class HistoryOut(Response):
    order_id: str
    explanation: str
    """Where the explanation of the order's sourcing is (GET, scope orders)."""
    events: list[HistoryEventOut]


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
    explanation: dict[str, Any] | None = None
    """With explain=true: the allocated order's explanation (GET .../explanation's body)."""


class BatchPlanOut(Response):
    """The joint plan: its policy, status, cost, proven lower bound and gap (null for
    rule-based policies), the solve's seconds and the currency."""

    policy: str
    status: str
    cost: float
    bound: float | None
    gap: float | None
    runtime_s: float
    currency: str


class BatchOut(Response):
    allocated: int
    refused: int
    allocated_cost: float
    plan: BatchPlanOut | None
    results: list[BatchResultOut]


class JobOut(Response):
    """A background job (a batch allocation larger than the service's batch_job_orders, or
    asked for with `background=true`): `state` queued, running, succeeded or failed;
    `phase` sourcing (the joint solve) or allocating; `done` of `total` orders allocated or
    refused so far; `result` once succeeded (what the synchronous call answers), `error`
    once failed (`interrupted`: the process running it stopped; post the same batch with
    the same Idempotency-Key to finish it)."""

    id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    phase: str
    done: int
    total: int
    created_at: float
    updated_at: float
    result: BatchOut | None
    error: ErrorBody | None


# --- reservations -----------------------------------------------------------------------


class ReservationIn(FulfillmentIn):
    cart: Id
    lines: Lines
    ttl_s: Annotated[int, Field(ge=MIN_TTL_S, le=MAX_TTL_S, strict=True), Whole] = 900


class CommitIn(References):
    """The order the hold becomes, and where it ships (left out: where the hold was
    sourced for), with its references."""

    order_id: Id
    destination: DestinationIn | None = None


class ReservationOut(Response):
    id: str
    cart: str
    state: str
    units: list[UnitOut]
    created_at: float
    expires_at: float
    order_id: str | None
    promise: OptionOut | None = None
    """The option held, for a hold made by POST /v1/promise."""
    pickup: PickupOut | None = None
    """The pickup store, legs and readiness of a click-and-collect hold."""


# --- promise ----------------------------------------------------------------------------


class PromiseIn(Request):
    """A cart and where it goes. at: the moment of the request (default now; give it for
    reproducible answers); methods: which to consider (default all); hold_seconds: hold an
    option's units in the same step, the one named by hold_option (default the first
    ranked that holds stock)."""

    cart: Id = "checkout"
    lines: Lines
    destination: DestinationIn
    at: AwareDatetime | None = None
    methods: Annotated[list[Method], Field(min_length=1, max_length=4)] | None = None
    hold_seconds: Annotated[int, Field(ge=MIN_TTL_S, le=MAX_TTL_S, strict=True), Whole] | None = (
        None
    )
    hold_option: Annotated[str, Field(min_length=1, max_length=300, strict=True)] | None = None

    def check(self) -> None:
        """Invalid for what JSON Schema cannot state (the service's refusals)."""
        if self.at is not None and not 2000 <= self.at.year <= 2099:
            raise Invalid("at: expected a moment between the years 2000 and 2099")
        if self.hold_option is not None and self.hold_seconds is None:
            raise Invalid("hold_option: give hold_seconds too (how long to hold it)")
        if self.methods is not None and len(set(self.methods)) != len(self.methods):
            raise Invalid("methods: each method once")


class UnpromisableOut(Response):
    sku: str
    qty: int
    reason: Literal["no_stock", "safety_stock", "held", "ship_disabled", "left_unfilled"]
    detail: str


class NotOfferedOut(Response):
    id: str
    reason: str
    lines: list[LineOut]


class HeldOut(Response):
    option: str
    reservation: ReservationOut


class PromiseOut(Response):
    at: str
    destination: DestinationOut
    currency: str
    options: list[OptionOut]
    unpromisable: list[UnpromisableOut]
    not_offered: list[NotOfferedOut]
    candidate_nodes: int
    hold: HeldOut | None = None


class AvailableAtOut(Response):
    node: str
    sellable: int
    on_hand: int
    safety_stock: int
    reserved: int
    allocated: int


class InboundOut(Response):
    """A purchase order or transfer still open: `qty` not yet received."""

    id: str
    node: str
    sku: str
    qty: int
    """Units still open (not received)."""
    expected_at: float
    backordered: int
    """Of the open units, how many orders are waiting for (promised on backorder)."""


class IncomingOut(Response):
    date: str
    """The local date at the receiving node."""
    qty: int
    inbound: list[InboundOut]


class SkuAvailabilityOut(Response):
    sku: str
    sellable: int
    """On hand minus safety stock, holds and allocations, over the nodes asked about."""
    nodes: list[AvailableAtOut]
    incoming: list[IncomingOut]


class AvailabilityOut(Response):
    skus: list[SkuAvailabilityOut]


class ReceiptIn(Request):
    qty: Annotated[int, Field(ge=1, le=MAX_STOCK, strict=True), Whole]


class ReceiptOut(Response):
    inbound: str
    received: int
    position: PositionOut


# --- transfers between nodes -----------------------------------------------------------

Moment = Annotated[float, Field(ge=0, le=1e11, strict=True)]
"""UNIX seconds."""


class TransferIn(Request):
    """Move stock from one node to another: the lines are reserved at the source now."""

    id: Id
    source: Id
    destination: Id
    lines: Lines
    expected_at: Moment | None = None
    """The planned arrival at the destination, if known (ship may give or compute it)."""


class TransferShipIn(Request):
    """expected_at: arrival at the destination; default the one given at creation, else
    computed as a ship-to-store leg is dated (the source's calendar, the carrier's store
    level over the distance, the destination's receiving days)."""

    expected_at: Moment | None = None


class TransferReceiveIn(Request):
    """The lines that arrived (without lines: everything still in transit)."""

    lines: Lines | None = None


class TransferOut(Response):
    id: str
    state: str
    source: str
    destination: str
    lines: list[LineOut]
    received: list[LineOut]
    in_transit: list[LineOut]
    expected_at: float | None
    version: int
    created_at: float
    updated_at: float


# --- network settings -------------------------------------------------------------------


class SettingsIn(SettingsSpec):
    """The network settings document; only cost_model is required (the rest default).
    cost_model and carrier are the problem file's (docs/exchange-format.md): the service
    checks them, naming each field that cannot be used (rules JSON Schema cannot state)."""

    cost_model: dict[str, Any]  # type: ignore[assignment]
    carrier: dict[str, Any] = Field(default_factory=dict)  # type: ignore[assignment]


class SettingsOut(Response):
    version: int
    currency: str
    cost_model: dict[str, Any]
    carrier: dict[str, Any]
    unfilled_penalty_per_unit: float
    split_penalty: float
    max_shipments_per_order: int | None
    default_service_level: str
    postal_country: str
    pickup_days: int
    hold_minutes: int | None
    move_threshold: float
    reoptimize_every_minutes: int


# --- node capacity ----------------------------------------------------------------------


class NodeCapacityOut(Response):
    node: str
    day: str
    """The node's local date the figures are for."""
    ship_capacity: int | None
    unit_capacity: int | None
    shipments: int
    units: int
    shipments_left: int | None
    units_left: int | None


class CapacityOut(Response):
    nodes: list[NodeCapacityOut]


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
        412: "If-Match names a version that is no longer the stored one",
        413: "Request body too large",
        422: "Invalid request (names the field)",
        503: "The store cannot be reached now: retry after Retry-After seconds (with the "
        "same Idempotency-Key for a state change)",
    }
    return {
        s: {"model": ErrorOut, "description": meaning[s]} for s in (401, 403, 413, *statuses, 503)
    }
