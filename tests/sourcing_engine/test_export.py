"""The BI export on both stores: every row read back (pyarrow for Parquet, csv for CSV) equals
the order or event the service answers, across pages and batches; ranges and bad parameters."""

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from sourcing_engine import export
from sourcing_engine.cli import main
from sourcing_engine.domain import Destination, Item, Node, Order
from sourcing_engine.errors import Invalid
from sourcing_engine.lifecycle import OrderRecord
from sourcing_engine.service import Service
from sourcing_engine.stores import open_store

NJ = Node("DC-NJ", "warehouse", 40.79, -74.06, handling_per_shipment=1.5)
LA = Node("ST-LA", "store", 34.05, -118.24, handling_per_shipment=2.5)
NYC = Destination(40.71, -74.01, zip="10007")


@pytest.fixture(params=["sqlite", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    redis_url: str = request.getfixturevalue("redis_url")
    return f"{redis_url}?namespace=export-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def service(url: str) -> Iterator[Service]:
    """Seven orders: two split over both nodes, one shipped, one cancelled, one released."""
    service = Service(open_store(url))
    service.upsert_nodes([NJ, LA])
    service.upsert_items([Item("A", 2.0, (10.0, 8.0, 4.0)), Item("B", 1.0, (6.0, 6.0, 2.0))])
    service.set_stock("DC-NJ", {"B": (20, 0)}, "count")  # A only at LA: o0 and o1 split
    service.set_stock("ST-LA", {"A": (20, 0)}, "count")
    for i in range(7):
        service.create_order(Order.of(f"o{i}", NYC, [("A", 4), ("B", 1)] if i < 2 else [("B", 2)]))
    service.release("o2")
    service.ship("o2", "DC-NJ")
    service.cancel("o3")
    service.release("o4")
    yield service
    service.close()


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 3 events and batches of 2 rows, so that every path crosses their edges."""
    monkeypatch.setattr(export, "EVENT_PAGE", 3)
    monkeypatch.setattr(export, "BATCH_ROWS", 2)


def exported(service: Service, kind: str, fmt: str, **range_: str) -> list[dict[str, Any]]:
    req = service.export_request(kind, range_.get("start"), range_.get("end"), fmt)
    data = b"".join(service.export_stream(req))
    if fmt == "parquet":
        return list(pq.read_table(io.BytesIO(data)).to_pylist())
    return list(csv.DictReader(io.StringIO(data.decode())))


def orders(service: Service) -> list[OrderRecord]:
    return [service.get_order(f"o{i}").order for i in range(7)]


def by_node_sku(units: Any) -> dict[tuple[str, str], int]:
    return {(u.node, u.sku): u.qty for u in units}


@pytest.mark.usefixtures("small_pages")
def test_orders_shipments_and_allocations_equal_the_orders(service: Service) -> None:
    """Parquet rows equal what get_order answers: ids in creation order, states, times to the
    microsecond, units, the plan's cost and parcels with their costs, the destination."""
    records = orders(service)
    rows = exported(service, "orders", "parquet")
    assert [r["order_id"] for r in rows] == [o.id for o in records]
    for r, o in zip(rows, records, strict=True):
        plan = o.document["plan"]
        assert (r["state"], r["version"]) == (str(o.state), o.version)
        assert abs(r["created_at"].timestamp() - o.created_at) < 1e-6
        assert abs(r["updated_at"].timestamp() - o.updated_at) < 1e-6
        assert r["units_ordered"] == sum(o.lines.values())
        assert r["units_allocated"] == sum(u.qty for u in o.allocations)
        assert r["units_shipped"] == sum(u.qty for u in o.shipped)
        assert (r["cost"], r["currency"]) == (plan["cost"], plan["currency"])
        assert r["shipments"] == len(plan["shipments"])
        assert (r["destination_zip"], r["destination_lat"]) == ("10007", NYC.lat)
    assert [r["state"] for r in rows][2:5] == ["shipped", "cancelled", "released"]

    parcels = [
        (o.id, s["node"], s["cost"]) for o in records for s in o.document["plan"]["shipments"]
    ]
    shipments = exported(service, "shipments", "parquet")
    assert [(r["order_id"], r["node"], r["cost"]) for r in shipments] == parcels
    assert {r["node"] for r in shipments if r["order_id"] == "o0"} == {"DC-NJ", "ST-LA"}
    shipped = next(r for r in shipments if r["order_id"] == "o2")
    assert (shipped["units"], shipped["units_shipped"], shipped["units_allocated"]) == (2, 2, 0)

    allocations = exported(service, "allocations", "parquet")
    for o in records:
        mine = {(r["node"], r["sku"]): r for r in allocations if r["order_id"] == o.id}
        assert {k: r["allocated"] for k, r in mine.items() if r["allocated"]} == by_node_sku(
            o.allocations
        )
        assert {k: r["shipped"] for k, r in mine.items() if r["shipped"]} == by_node_sku(o.shipped)
    assert not [r for r in allocations if r["order_id"] == "o3"]  # cancelled: nothing left


@pytest.mark.usefixtures("small_pages")
def test_events_as_csv_equal_the_feed(service: Service) -> None:
    """CSV rows equal the event feed: seq, type, subject and data (JSON) of every event."""
    feed = service.events(0, 1000)
    rows = exported(service, "events", "csv")
    assert [(int(r["seq"]), r["type"], r["subject"]) for r in rows] == [
        (e.seq, e.type, e.subject) for e in feed
    ]
    assert [json.loads(r["data"]) for r in rows] == [e.data for e in feed]
    assert [json.loads(r["resource"]) for r in rows] == [e.resource for e in feed]
    assert rows[0]["at"].endswith("Z")


@pytest.mark.usefixtures("small_pages")
def test_a_time_range_selects_orders_by_creation_and_events_by_time(service: Service) -> None:
    """from is included and to excluded; orders are chosen by when they were created."""
    records = orders(service)
    start, end = records[2].created_at, records[5].created_at
    iso = {"start": _iso(start), "end": _iso(end)}
    assert [r["order_id"] for r in exported(service, "orders", "csv", **iso)] == [
        "o2", "o3", "o4"
    ]  # fmt: skip
    events = exported(service, "events", "parquet", **iso)
    assert events
    assert all(start - 1e-6 <= r["at"].timestamp() < end for r in events)
    later = {"start": _iso(records[-1].updated_at + 60), "end": _iso(records[-1].updated_at + 90)}
    assert exported(service, "orders", "parquet", **later) == []
    with pytest.raises(Invalid, match=r"to: expected a time after from \(.*\), got now \("):
        exported(service, "orders", "parquet", start=later["start"])


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat()


@pytest.mark.parametrize(
    ("kind", "start", "end", "fmt", "named"),
    [
        ("invoices", None, None, "csv", "kind: expected one of orders, shipments"),
        ("orders", None, None, "xlsx", "format: expected one of csv, parquet, got 'xlsx'"),
        ("orders", "yesterday", None, "csv", "from: expected an ISO 8601 date or time"),
        ("orders", None, "2026-13-01", "csv", "to: expected an ISO 8601"),
        ("orders", "2026-12-02", "2026-12-01", "csv", "to: expected a time after from"),
    ],
)
def test_bad_parameters_are_named(
    tmp_path: Path, kind: str, start: str | None, end: str | None, fmt: str, named: str
) -> None:
    """Each bad parameter is refused naming it and what was expected."""
    with pytest.raises(Invalid, match=named):
        export.request(kind, start, end, fmt, now=2e9)


def test_the_command_writes_parquet_and_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sourcing-engine export on a SQLite ledger: the files read back as the service's export
    (format from the suffix), no .part left; a bad --from is one error line, exit 2."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    service = Service(open_store(url))
    service.upsert_nodes([NJ])
    service.upsert_items([Item("B", 1.0, (6.0, 6.0, 2.0))])
    service.set_stock("DC-NJ", {"B": (9, 0)}, "count")
    service.create_order(Order.of("x1", NYC, [("B", 2)]))
    expected = exported(service, "orders", "parquet")
    service.close()
    out = tmp_path / "orders.parquet"
    assert main(["export", "--store", url, "--what", "orders", "--out", str(out)]) == 0
    assert pq.read_table(out).to_pylist() == expected
    assert "1 orders rows" in capsys.readouterr().out
    out_csv = tmp_path / "events.csv"
    assert main(["export", "--store", url, "--what", "events", "--out", str(out_csv),
                 "--from", "2000-01-01"]) == 0  # fmt: skip
    assert [r["type"] for r in csv.DictReader(out_csv.open())][-2:] == [
        "order.created", "order.allocated"
    ]  # fmt: skip
    assert not list(tmp_path.glob("*.part"))
    code = main(["export", "--store", url, "--what", "orders", "--from", "soon", "--out", str(out)])
    assert code == 2
    assert "from: expected an ISO 8601" in capsys.readouterr().err


def test_every_column_is_documented() -> None:
    """docs/export.md has a table per kind listing its columns, in order, with their types."""
    text = (Path(__file__).parents[2] / "docs" / "export.md").read_text()
    for kind in export.KINDS.values():
        table = text.split(f"## {kind.name}\n", 1)[1].split("\n## ", 1)[0]
        documented = [ln.split("`")[1] for ln in table.splitlines() if ln.startswith("| `")]
        assert documented == [c.name for c in kind.columns], kind.name
