"""BI export: orders, shipments, allocations and events of a time range as CSV or Parquet.

Rows are read from the store page by page (the event feed, then `Store.get_orders` for the
orders it names) and written in record batches, so memory stays flat however many rows
there are (docs/export.md lists every column). Which rows a range selects:
- orders, shipments, allocations: the orders *created* in [start, end), as they are now;
- events: the events recorded in [start, end).
Times are the store's clock; its event times do not go backwards along the feed, so the
first event of the range is found by bisecting the feed and the scan stops at `end`.
"""

import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sourcing_engine.errors import Invalid
from sourcing_engine.lifecycle import OrderRecord
from sourcing_engine.stores.base import Event, Store

FORMATS = ("csv", "parquet")
EVENT_PAGE = 5000
"""Events read per store call (and so at most this many orders per get_orders)."""
BATCH_ROWS = 50_000
"""Rows per record batch (a Parquet row group): the memory an export holds at once."""
TIME = pa.timestamp("us", tz="UTC")
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    doc: str


@dataclass(frozen=True)
class Kind:
    """One exportable table: its columns, and the rows of one order (None for events)."""

    name: str
    columns: tuple[Column, ...]
    order_rows: Callable[[OrderRecord], list[Row]] | None

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(c.name, c.type) for c in self.columns])


@dataclass(frozen=True)
class ExportRequest:
    """start and end in microseconds since the epoch, the resolution of the exported times
    (so a row shows inside the range exactly when its exported time is)."""

    kind: Kind
    start_us: int
    end_us: int
    format: str

    @property
    def media_type(self) -> str:
        return "text/csv" if self.format == "csv" else "application/vnd.apache.parquet"


def _us(at: float) -> int:
    """Microseconds since the epoch, rounded as datetime.fromtimestamp rounds (half to even
    on the fraction; at * 1e6 would lose the last microsecond to float precision)."""
    seconds = math.floor(at)
    return seconds * 1_000_000 + round((at - seconds) * 1e6)


def _units(units: Sequence[Any]) -> int:
    return sum(u.qty for u in units)


def _plan(o: OrderRecord) -> dict[str, Any]:
    return o.document.get("plan") or {}


def _order_row(o: OrderRecord) -> list[Row]:
    plan, dest = _plan(o), o.document.get("destination") or {}
    return [(
        o.id, str(o.state), _us(o.created_at), _us(o.updated_at), o.version,
        len(o.lines), sum(o.lines.values()), _units(o.allocations), _units(o.shipped),
        _units(o.returned), len(plan.get("shipments", ())), plan.get("cost"),
        plan.get("currency") or o.document.get("currency"), dest.get("zip"), dest.get("lat"),
        dest.get("lon"), dest.get("residential"), ";".join(o.released_nodes),
        o.document.get("reservation"),
    )]  # fmt: skip


def _by_node_sku(units: Sequence[Any]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for u in units:
        out[u.node, u.sku] = out.get((u.node, u.sku), 0) + u.qty
    return out


def _shipment_rows(o: OrderRecord) -> list[Row]:
    plan = _plan(o)
    allocated, shipped = _by_node_sku(o.allocations), _by_node_sku(o.shipped)
    rows = []
    for s in plan.get("shipments", ()):
        node = s["node"]
        rows.append((
            o.id, _us(o.created_at), str(o.state), node, sum(ln["qty"] for ln in s["lines"]),
            sum(q for (n, _), q in allocated.items() if n == node),
            sum(q for (n, _), q in shipped.items() if n == node),
            s["cost"], plan.get("currency"),
        ))  # fmt: skip
    return rows


def _allocation_rows(o: OrderRecord) -> list[Row]:
    plan = _plan(o)
    cost = {s["node"]: s["cost"] for s in plan.get("shipments", ())}
    allocated, shipped = _by_node_sku(o.allocations), _by_node_sku(o.shipped)
    returned = _by_node_sku(o.returned)
    return [
        (o.id, _us(o.created_at), str(o.state), node, sku, allocated.get((node, sku), 0),
         shipped.get((node, sku), 0), returned.get((node, sku), 0), cost.get(node),
         plan.get("currency"))
        for node, sku in sorted(allocated.keys() | shipped.keys())
    ]  # fmt: skip


_ORDER = Column("order_id", pa.string(), "the order's id")
_CREATED = Column("order_created_at", TIME, "when the order was created (UTC)")
_STATE = Column("order_state", pa.string(), "the order's state now (docs/service.md)")
_NODE = Column("node", pa.string(), "the node shipping the units")
_CURRENCY = Column("currency", pa.string(), "ISO 4217 code of the costs")

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("orders", (
            _ORDER,
            Column("state", pa.string(), "the order's state now"),
            Column("created_at", TIME, "when the order was created (UTC)"),
            Column("updated_at", TIME, "its last change (UTC)"),
            Column("version", pa.int64(), "1 at creation, +1 per step"),
            Column("skus", pa.int64(), "distinct SKUs ordered"),
            Column("units_ordered", pa.int64(), "units ordered, after cancellations"),
            Column("units_allocated", pa.int64(), "units allocated, not yet shipped"),
            Column("units_shipped", pa.int64(), "units shipped (returned ones included)"),
            Column("units_returned", pa.int64(), "units returned"),
            Column("shipments", pa.int64(), "parcels in the order's plan"),
            Column("cost", pa.float64(), "plan cost: parcels, split and unfilled penalties"),
            _CURRENCY,
            Column("destination_zip", pa.string(), "postal code, if given"),
            Column("destination_lat", pa.float64(), "latitude"),
            Column("destination_lon", pa.float64(), "longitude"),
            Column("residential", pa.bool_(), "residential address"),
            Column("released_nodes", pa.string(), "nodes released to, ';'-separated"),
            Column("reservation_id", pa.string(), "the checkout hold it came from, if any"),
        ), _order_row),
        Kind("shipments", (
            _ORDER, _CREATED, _STATE, _NODE,
            Column("units", pa.int64(), "units the plan sends from the node"),
            Column("units_allocated", pa.int64(), "of the order's units there: still allocated"),
            Column("units_shipped", pa.int64(), "of the order's units there: shipped"),
            Column("cost", pa.float64(), "the parcel's cost: carrier charge and handling"),
            _CURRENCY,
        ), _shipment_rows),
        Kind("allocations", (
            _ORDER, _CREATED, _STATE, _NODE,
            Column("sku", pa.string(), "the SKU"),
            Column("allocated", pa.int64(), "units allocated, not yet shipped"),
            Column("shipped", pa.int64(), "units shipped"),
            Column("returned", pa.int64(), "units returned (of those shipped)"),
            Column("shipment_cost", pa.float64(),
                   "cost of the parcel from this node, the same on each of its SKUs' rows"),
            _CURRENCY,
        ), _allocation_rows),
        Kind("events", (
            Column("seq", pa.int64(), "the feed's cursor, strictly increasing"),
            Column("at", TIME, "when it happened (UTC)"),
            Column("type", pa.string(), "e.g. order.shipped"),
            Column("subject", pa.string(), "order or hold id, node:<id>, stock:<node>/<sku>"),
            Column("data", pa.string(), "the event's data as JSON"),
            Column("resource", pa.string(),
                   "the changed record after the change as JSON (null before events had it)"),
        ), None),
    )
}  # fmt: skip


def _instant(value: str | float | None, field: str, default: float) -> float:
    """Seconds since the epoch from an ISO 8601 date or time (UTC when it names no zone)."""
    if value is None or value == "":
        return default
    if isinstance(value, int | float):
        return float(value)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"{field}: expected an ISO 8601 date or time (2026-12-01 or"
            f" 2026-12-01T08:00:00Z), got {value!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def request(
    kind: str, start: str | float | None, end: str | float | None, fmt: str, now: float
) -> ExportRequest:
    """The export asked for, checked: Invalid naming the parameter that is wrong. A missing
    start is the beginning, a missing end is now; start is included, end is not."""
    if kind not in KINDS:
        raise Invalid(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if fmt not in FORMATS:
        raise Invalid(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    lo, hi = _instant(start, "from", 0.0), _instant(end, "to", now)
    if hi <= lo:
        got = repr(end) if end else f"now ({dt.datetime.fromtimestamp(hi, dt.UTC).isoformat()})"
        raise Invalid(f"to: expected a time after from ({start}), got {got}")
    return ExportRequest(KINDS[kind], _us(lo), _us(hi), fmt)


def _first_after(store: Store, start_us: int) -> int:
    """The cursor before the first event at or after `start_us` (bisecting the feed)."""
    lo, hi = 0, 2**62
    while lo < hi:
        mid = (lo + hi) // 2
        found = store.events(mid, 1)
        if not found or _us(found[0].at) >= start_us:
            hi = mid
        else:
            lo = found[0].seq
    return lo


def _events(store: Store, start_us: int, end_us: int) -> Iterator[list[Event]]:
    """The feed's events in [start_us, end_us), a page at a time."""
    after = _first_after(store, start_us)
    while True:
        page = store.events(after, EVENT_PAGE)
        inside = [e for e in page if _us(e.at) < end_us]
        if inside:
            yield inside
        if len(inside) < EVENT_PAGE:
            return
        after = page[-1].seq


def _event_row(e: Event) -> Row:
    resource = None if e.resource is None else orjson.dumps(e.resource).decode()
    return (e.seq, _us(e.at), e.type, e.subject, orjson.dumps(e.data).decode(), resource)


def rows(store: Store, req: ExportRequest) -> Iterator[list[Row]]:
    """The rows of the export, a page at a time."""
    order_rows = req.kind.order_rows
    for page in _events(store, req.start_us, req.end_us):
        if order_rows is None:
            yield [_event_row(e) for e in page]
            continue
        created = [e.subject for e in page if e.type == "order.created"]
        if created:
            yield [r for o in store.get_orders(created) for r in order_rows(o)]


def batches(store: Store, req: ExportRequest) -> Iterator[pa.RecordBatch]:
    """The rows in record batches of BATCH_ROWS rows (the last one shorter)."""
    schema, held, size = req.kind.schema, list[Row](), BATCH_ROWS
    for page in rows(store, req):
        held.extend(page)
        while len(held) >= size:
            yield _batch(schema, held[:size])
            del held[:size]
    if held:
        yield _batch(schema, held)


def _batch(schema: pa.Schema, found: list[Row]) -> pa.RecordBatch:
    by_column = zip(*found, strict=True)  # every row has one value per column
    columns = [pa.array(col, type=f.type) for col, f in zip(by_column, schema, strict=True)]
    return pa.record_batch(columns, schema=schema)


def _write_batches(store: Store, req: ExportRequest, sink: Any) -> Iterator[int]:
    """Writes the export to sink batch by batch, yielding each batch's rows; the file is
    complete (Parquet's footer written) when the iterator ends."""
    writer: pq.ParquetWriter | pa_csv.CSVWriter
    if req.format == "parquet":
        writer = pq.ParquetWriter(sink, req.kind.schema, compression="zstd")
    else:
        writer = pa_csv.CSVWriter(sink, req.kind.schema)
    with writer:
        for batch in batches(store, req):
            writer.write_batch(batch)
            yield batch.num_rows


def write(store: Store, req: ExportRequest, sink: IO[bytes]) -> int:
    """Writes the export to a binary file; the rows written."""
    return sum(_write_batches(store, req, sink))


class _Chunks:
    """A write-only sink whose written bytes are taken out as they come (streaming)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.written = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out, self.chunks = b"".join(self.chunks), []
        return out


def stream(store: Store, req: ExportRequest) -> Iterator[bytes]:
    """The export's bytes, one record batch at a time (for a streamed HTTP response)."""
    sink = _Chunks()
    for _ in _write_batches(store, req, sink):
        yield sink.take()
    yield sink.take()
