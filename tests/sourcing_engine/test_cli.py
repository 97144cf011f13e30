"""The command line, run in-process through `main` on the committed small-seed1 scenario."""

import datetime as dt
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sourcing_engine import __version__
from sourcing_engine.cli import main
from sourcing_engine.exchange import problem_from_json

SMALL = Path(__file__).parents[1] / "fixtures" / "small-seed1" / "problem.json"
POLICIES = ("optimal", "closest", "fewest-splits", "greedy-cost")
TIME_LIMIT = "10"
METRIC_COLUMNS = ("total cost (USD)", "shipping", "handling", "split pen.", "unfilled pen.",
                  "fill", "ship+hand/unit", "ships/order", "split orders", "unfilled units",
                  "miles/ship", "runtime", "status", "gap", "vs closest", "unit vs closest",
                  "unit vs greedy")  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _solve(capsys: pytest.CaptureFixture[str], policy: str, out: Path) -> str:
    code, _, err = _run(
        capsys, "solve", SMALL, "--policy", policy, "--time-limit", TIME_LIMIT, "--out", out
    )
    assert code == 0, err
    return err


@pytest.mark.parametrize("policy", POLICIES)
def test_solve_writes_a_plan_that_validate_accepts(
    policy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each policy's plan file passes `validate`, and the summary names policy and currency."""
    plan = tmp_path / "plan.json"
    summary = _solve(capsys, policy, plan)
    assert summary.startswith(f"{policy}: ")
    for part in ("USD", "bound", "gap"):
        assert part in summary
    assert len(summary.strip().splitlines()) == 1
    assert json.loads(plan.read_text())["policy"] == policy

    code, out, err = _run(capsys, "validate", SMALL, plan)
    assert (code, err) == (0, "")
    assert out.startswith("valid: objective ")


def test_solve_without_out_writes_the_plan_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --out the plan document is stdout and the summary stays on stderr."""
    code, out, err = _run(capsys, "solve", SMALL, "--policy", "closest")
    assert code == 0
    plan = json.loads(out)
    assert plan["format"] == "sourcing-plan/1"
    assert len(plan["orders"]) == 300
    assert err.startswith("closest: heuristic, objective ")


def test_validate_rejects_an_oversold_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shipment raised beyond the node's stock and the order makes `validate` exit 1."""
    plan_path = tmp_path / "plan.json"
    _solve(capsys, "closest", plan_path)
    plan = json.loads(plan_path.read_text())
    order = next(o for o in plan["orders"] if o["shipments"])
    shipment = order["shipments"][0]
    shipment["lines"][0]["qty"] = 500
    plan_path.write_text(json.dumps(plan))

    code, out, _ = _run(capsys, "validate", SMALL, plan_path)
    assert code == 1
    assert out.startswith("invalid: ")
    assert f'node "{shipment["node"]}"' in out
    assert "may be sourced" in out
    assert f'order "{order["id"]}"' in out


def test_scenario_generate_writes_a_loadable_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scenario generate` writes DIR/problem.json that the reader loads, and summarises it."""
    code, out, _ = _run(
        capsys, "scenario", "generate", "--preset", "small", "--seed", "2", "--out", tmp_path
    )
    assert code == 0
    path = tmp_path / "problem.json"
    assert out.splitlines()[0] == str(path)
    batch = problem_from_json(path.read_bytes())
    assert batch.name == "small-seed2"
    assert f"{len(batch.orders)} orders" in out
    assert "stock positions" in out
    assert "binding:" in out


def test_compare_prints_every_metric_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table has a row per policy with every metric and savings, and its legend;
    --json parses and holds the cost terms and fill rate."""
    out_json = tmp_path / "compare.json"
    code, out, err = _run(
        capsys, "compare", SMALL, "--policies", ",".join(POLICIES),
        "--time-limit", TIME_LIMIT, "--json", out_json,
    )  # fmt: skip
    assert code == 0
    assert err == ""  # no progress bar when stderr is not a terminal
    header = next(line for line in out.splitlines() if line.startswith("policy"))
    for column in METRIC_COLUMNS:
        assert column in header
    rows = {line.split()[0]: line for line in out.splitlines() if line.split()[0] in POLICIES}
    assert set(rows) == set(POLICIES)
    assert rows["closest"].split()[-3:-1] == ["0.0%", "0.0%"]  # total, per unit vs closest
    assert rows["greedy-cost"].split()[-1] == "0.0%"  # per unit vs greedy-cost
    assert "%" in rows["optimal"].split("optimal", 2)[2]  # the gap, after the status
    assert "fill = units shipped / units ordered" in out

    data = json.loads(out_json.read_text())
    figures = {p["policy"]: p for p in data["policies"]}
    assert set(figures) == set(POLICIES)
    assert figures["closest"]["savings_vs_closest_pct"] == 0.0
    optimal = figures["optimal"]
    assert optimal["gap"] is not None
    assert optimal["bound"] is not None
    assert optimal["total_cost"] <= figures["greedy-cost"]["total_cost"] + 1e-6
    assert optimal["savings_vs_closest_pct"] > 0
    for row in figures.values():
        parts = ("shipping_cost", "handling_cost", "split_penalty", "unfilled_penalty")
        assert sum(row[k] for k in parts) == pytest.approx(row["total_cost"])
        assert row["fill_rate"] == pytest.approx(row["units_shipped"] / row["units_ordered"])


def test_compare_preset_without_closest_shows_no_savings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A generated batch compares too; without closest its savings columns are "—"."""
    code, out, _ = _run(
        capsys, "compare", "--preset", "small", "--seed", "1", "--policies", "greedy-cost"
    )
    assert code == 0
    assert out.startswith("small-seed1: ")
    row = next(line for line in out.splitlines() if line.startswith("greedy-cost"))
    assert row.split()[-3:] == ["—", "—", "0.0%"]


@pytest.mark.parametrize("argv", [[], ["--help"], ["scenario"]])
def test_no_command_or_help_prints_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """No command, --help, or a command group alone prints usage and exits 0."""
    code, out, _ = _run(capsys, *argv)
    assert code == 0
    assert out.startswith("usage: sourcing-engine")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version."""
    code, out, _ = _run(capsys, "--version")
    assert (code, out.strip()) == (0, f"sourcing-engine {__version__}")


# --- bad input: one `error:` message naming the file and the entry, exit 2 ----------------

Mutation = Callable[[dict[str, Any]], None]


def _problem(tmp_path: Path, mutate: Mutation) -> Path:
    data = json.loads(SMALL.read_text())
    mutate(data)
    path = tmp_path / "bad-problem.json"
    path.write_text(json.dumps(data))  # NaN is written as the NaN literal, as a tool might
    return path


def _line(data: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = data["orders"][3]["lines"][0]
    return line


def _two_problems(data: dict[str, Any]) -> None:
    _line(data).update(sku="NOPE")
    data["inventory"][5].update(node="X")


BAD_PROBLEMS: dict[str, tuple[Mutation, list[str]]] = {
    "unknown SKU": (lambda d: _line(d).update(sku="NOPE"),
                    ['orders[3] (id "O-0000004").lines[0].sku', 'unknown SKU "NOPE"']),
    "unknown node": (lambda d: d["inventory"][5].update(node="NOPE"),
                     ['inventory[5] (node "NOPE"', 'unknown node "NOPE"']),
    "negative qty": (lambda d: _line(d).update(qty=-2), ['orders[3] (id "O-0000004")', "-2"]),
    "fractional qty": (lambda d: _line(d).update(qty=1.5), ["lines[0]", "1.5"]),
    "NaN": (lambda d: d["orders"][0]["destination"].update(lat=float("nan")),
            ['orders[0] (id "O-0000001").destination.lat', "finite"]),
    "missing coordinates": (lambda d: d["nodes"][2].pop("lat"),
                            ["nodes[2] (id ", ".lat: Field required"]),
    "duplicate id": (lambda d: d["nodes"][1].update(id=d["nodes"][0]["id"]),
                     ["nodes[1] (id ", "already used by nodes[0]"]),
    "two problems": (_two_problems,
                     ["2 problems in the input", 'unknown SKU "NOPE"', 'unknown node "X"']),
}  # fmt: skip


def _assert_one_error(code: int, out: str, err: str, expected: list[str]) -> None:
    assert code == 2
    assert err.startswith("error: ")
    assert err.count("error: ") == 1
    for text in expected:
        assert text in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("case", list(BAD_PROBLEMS))
def test_bad_problem_is_one_error_naming_file_and_entry(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each reader problem gives exit 2 and an `error:` naming the file and the entry."""
    mutate, expected = BAD_PROBLEMS[case]
    path = _problem(tmp_path, mutate)
    for argv in (["solve", path], ["validate", path, SMALL], ["compare", path]):
        code, out, err = _run(capsys, *argv)
        _assert_one_error(code, out, err, [f"error: {path}: ", *expected])


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


BAD_FILES_AND_OPTIONS: dict[str, Callable[[Path], tuple[list[object], list[str]]]] = {
    "missing file": lambda t: (["solve", t / "nope.json"], [f"{t / 'nope.json'}: no such file"]),
    "directory": lambda t: (["solve", t], [f"{t}: is a directory"]),
    "invalid JSON": lambda t: (["solve", _write(t, "bad.json", '{"format": ')],
                               ["bad.json: not valid JSON (line 1"]),
    "not UTF-8": lambda t: (["solve", _write(t, "bin.json", b"\xff\xfe{")],
                            ["bin.json: not valid JSON (not UTF-8"]),
    "problem as plan": lambda t: (["validate", SMALL, SMALL],
                                  [f"{SMALL}: format: ", '"sourcing-plan/1"']),
    "plan missing fields": lambda t: (["validate", SMALL, _write(t, "p.json", '{"policy": "x"}')],
                                      ["p.json: ", "status: Field required"]),
    "missing plan": lambda t: (["validate", SMALL, t / "none.json"], ["none.json: no such file"]),
    "unknown preset": lambda t: (["scenario", "generate", "--preset", "huge", "--out", t],
                                 ["--preset", "'huge'"]),
    "unknown preset (compare)": lambda t: (["compare", "--preset", "huge"], ["--preset", "huge"]),
    "unknown policy": lambda t: (["solve", SMALL, "--policy", "fastest"], ["--policy", "fastest"]),
    "unknown policy (compare)": lambda t: (["compare", SMALL, "--policies", "closest,fastest"],
                                           ["--policies", "unknown policy 'fastest'"]),
    "zero time limit": lambda t: (["solve", SMALL, "--time-limit", "0"], ["--time-limit", "'0'"]),
    "negative time limit": lambda t: (["compare", SMALL, "--time-limit", "-5"],
                                      ["--time-limit", "'-5'"]),
    "file and preset": lambda t: (["compare", SMALL, "--preset", "small"], ["--preset"]),
    "seed with a file": lambda t: (["compare", SMALL, "--seed", "3"], ["--seed"]),
    "unwritable plan": lambda t: (["solve", SMALL, "--policy", "closest", "--out", t / "no/p.json"],
                                  ["no/p.json: cannot write"]),
    "unwritable scenario": lambda t: (
        ["scenario", "generate", "--preset", "small", "--out", _write(t, "f", "")],
        ["cannot write the scenario"],
    ),
    "unknown command": lambda t: (["frobnicate"], ["'frobnicate'"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_FILES_AND_OPTIONS))
def test_bad_file_or_option_is_one_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad file or option gives exit 2 and one `error:` line naming it, no traceback."""
    argv, expected = BAD_FILES_AND_OPTIONS[case](tmp_path)
    code, out, err = _run(capsys, *argv)
    _assert_one_error(code, out, err, expected)


@pytest.mark.parametrize("policy", POLICIES)
def test_orders_too_large_to_price_exactly_are_sourced_by_every_policy(
    policy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch with an order of 12 single-unit lines and one of 2,000 units (too many ways
    to split to price exactly) is solved by every policy, and its plan is valid."""
    doc = json.loads(SMALL.read_text())
    skus = [i["sku"] for i in doc["items"]]
    dest = doc["orders"][0]["destination"]
    twelve = [{"sku": s, "qty": 1} for s in skus[:12]]
    doc["orders"] += [
        {"id": "BIG-LINES", "destination": dest, "lines": twelve},
        {"id": "BIG-QTY", "destination": dest, "lines": [{"sku": "BULK", "qty": 2000}]},
    ]
    doc["items"].append({"sku": "BULK", "weight_lb": 0.5})
    doc["inventory"].append({"node": doc["nodes"][0]["id"], "sku": "BULK", "on_hand": 2500})
    doc["nodes"][0].pop("capacity", None)  # room to ship it all
    problem = tmp_path / "problem.json"
    problem.write_text(json.dumps(doc))
    plan = tmp_path / "plan.json"
    code, _, err = _run(capsys, "solve", problem, "--policy", policy, "--time-limit", TIME_LIMIT,
                        "--out", plan)  # fmt: skip
    assert code == 0, err
    orders = {o["id"]: o for o in json.loads(plan.read_text())["orders"]}
    assert sum(ln["qty"] for s in orders["BIG-QTY"]["shipments"] for ln in s["lines"]) == 2000
    code, out, _ = _run(capsys, "validate", problem, plan)
    assert (code, out.startswith("valid")) == (0, True)


def test_console_script_and_module_entry_points(tmp_path: Path) -> None:
    """The installed `sourcing-engine` script solves, and `python -m sourcing_engine` runs."""
    script = Path(sys.executable).parent / "sourcing-engine"
    plan = tmp_path / "plan.json"
    done = subprocess.run(
        [script, "solve", SMALL, "--policy", "closest", "--out", plan],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("closest: heuristic")
    assert json.loads(plan.read_text())["format"] == "sourcing-plan/1"

    bad = subprocess.run(
        [sys.executable, "-m", "sourcing_engine", "validate", SMALL, tmp_path / "none.json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr


# --- promise: the delivery options of a cart ----------------------------------------------

CART = "SKU-000021:2,SKU-000094:1"
AFTER_CUTOFF = "2026-12-24T15:00:00-05:00"  # Christmas Eve, 15:00 in New York
MILAN = "45.4642,9.1900"


def _promise(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    return _run(capsys, "promise", *argv)


def _rows(out: str) -> dict[str, str]:
    """The table's rows by option id (the line under the header's rule up to a blank)."""
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("-  ---")) + 1
    rows = {}
    for line in lines[start:]:
        if not line.strip():
            break
        rows[line.split()[1]] = line
    return rows


@pytest.mark.parametrize(
    ("at", "ground", "next_day", "ready"),
    [
        # before the 14:00 cut-off: released and shipped Thu 24; one transit day on the
        # carrier's working days skips Christmas (Fri 25) and the weekend: Mon 28; the
        # ground window ends one working day later (Tue 29); the store puts the parcel out
        # one open day after it arrives, at its 10:00 opening (Tue 29)
        ("2026-12-24T13:59:00-05:00", "Mon 2026-12-28 - Tue 2026-12-29", "Mon 2026-12-28",
         "Tue 2026-12-29 10:00 EST"),
        # at the cut-off: released on the next open day of the warehouse (Mon-Fri, not on
        # Christmas), Mon 28; delivered a working day later, Tue 29; window to Wed 30;
        # ready at the store one open day after delivery, Wed 30 at 10:00
        ("2026-12-24T14:00:00-05:00", "Tue 2026-12-29 - Wed 2026-12-30", "Tue 2026-12-29",
         "Wed 2026-12-30 10:00 EST"),
    ],
)  # fmt: skip
def test_promise_prints_the_options_with_hand_computed_dates(
    at: str, ground: str, next_day: str, ready: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the small preset (DC-New-York-City, a warehouse 4 miles from ZIP 10001, is the
    cheapest; ground and next-day both take 1 day in zone 2), the table's dates are those
    computed by hand from the rules of promise/calendars.py, either side of the cut-off."""
    code, out, err = _promise(capsys, "--scenario", "small", "--cart", CART, "--to", "10001:US",
                              "--at", at)  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        "promise for 3 units of 2 SKUs to ZIP 10001 (40.7484,-73.9967), time zone "
        f"America/New_York, at Thu 2026-12-24 {at[11:16]} EST; costs to us in USD"
    )
    rows = _rows(out)
    assert f"{ground} by 20:00" in rows["ship:ground"]
    assert "DC-New-York-City" in rows["ship:ground"]
    assert f"  {next_day} by 20:00" in rows["ship:next_day"]
    store = rows["ship_to_store:ST-0012-New-York-City"]
    assert f"ready {ready}" in store
    assert "DC-New-York-City -> ST-0012-New-York-City" in store
    assert " USD " in rows["ship:ground"]
    marks = [r.split("  ")[-1] for r in rows.values()]
    assert sum("cheapest" in m for m in marks) == sum("fastest" in m for m in marks) == 1
    assert [line.split()[0] for line in rows.values()] == [str(k) for k in range(1, len(rows) + 1)]
    why = out.split("\nwhy:\n")[1].split("\n\n")[0].splitlines()
    assert len(why) == len(rows)
    assert "the cheapest plan over" in why[list(rows).index("ship:ground")]
    not_offered = out.split("\nnot offered:\n")[1].splitlines()
    short = "(short: SKU-000021 x2, SKU-000094 x1)"
    assert f"  pickup:ST-0014-New-York-City: not the whole cart on its shelf {short}" in not_offered


def test_promise_json_is_the_promise_document(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the promise document (as the API answers it), the same options in the
    same order as the table."""
    argv = ["--scenario", "small", "--cart", CART, "--to", "40.75,-73.99", "--at", AFTER_CUTOFF]
    code, out, err = _promise(capsys, *argv, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["at"] == "2026-12-24T20:00:00+00:00"
    assert data["currency"] == "USD"
    assert data["destination"] == {"lat": 40.75, "lon": -73.99, "residential": True}
    ground = next(o for o in data["options"] if o["id"] == "ship:ground")
    assert ground["delivery"] == {"earliest": "2026-12-29", "latest": "2026-12-30", "by": "20:00",
                                  "time_zone": "America/New_York"}  # fmt: skip
    assert ground["shipments"][0]["ships_on"] == "2026-12-28"
    code, table, _ = _promise(capsys, *argv)
    assert code == 0
    assert list(_rows(table)) == [o["id"] for o in data["options"]]


def test_promise_on_the_italy_network_answers_in_eur_with_italian_holidays(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The italy preset answers in EUR: at 15:00 on Christmas Eve in Milan a store nearby
    hands the cart over at 16:00; the warehouse, past its cut-off, ships on Monday 28
    (Christmas, St Stephen's Day and Sunday closed) and standard (2 days in zone 3)
    delivers Wednesday 30, window to Thursday 31."""
    code, out, err = _promise(capsys, "--scenario", "italy", "--cart", "SKU-000038:1,SKU-000103:1",
                              "--to", MILAN, "--at", "2026-12-24T15:00:00+01:00")  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines()[0].endswith("time zone Europe/Rome, at Thu 2026-12-24 15:00 CET; "
                                        "costs to us in EUR")  # fmt: skip
    rows = _rows(out)
    assert all(" EUR " in row and " USD " not in row for row in rows.values())
    pickup = rows["pickup:ST-0049-Milan"]
    assert "ready Thu 2026-12-24 16:00 CET" in pickup
    assert pickup.endswith("cheapest, fastest")
    assert "Wed 2026-12-30 - Thu 2026-12-31 by 20:00  DC-Rome" in rows["ship:standard"]
    assert "ready Thu 2026-12-31 10:00 CET" in rows["ship_to_store:ST-0049-Milan"]

    code, data, _ = _promise(capsys, "--scenario", "italy", "--cart", "SKU-000038:1", "--to",
                             MILAN, "--at", "2026-12-24T15:00:00+01:00", "--json")  # fmt: skip
    assert code == 0
    assert json.loads(data)["currency"] == "EUR"


def _ledger(store: str, tmp_path: Path, redis_url: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return f"{redis_url}?namespace=cli-{tmp_path.name}"


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_promise_on_a_ledger_reads_its_live_stock_and_changes_nothing(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    """--store promises on the ledger's live stock (a SKU with none on hand backordered from
    its purchase order, one held in safety stock named as such), answers a cart on stock
    it did not touch as the same preset loaded by --scenario does, and writes nothing."""
    from sourcing_engine.domain import Inbound
    from sourcing_engine.presets import generate
    from sourcing_engine.service import Service
    from sourcing_engine.stores import open_store

    url = _ledger(store, tmp_path, request.getfixturevalue("redis_url") if store == "redis" else "")
    service = Service(open_store(url))
    try:
        service.load_network(generate("small", seed=0))
        for p in service.store.positions(["SKU-000021"]):
            service.set_stock(p.node, {"SKU-000021": (0, 0)}, "count")
        for p in service.store.positions(["SKU-000094"]):
            service.set_stock(p.node, {"SKU-000094": (p.safety_stock, p.safety_stock)}, "count")
        arrives = dt.datetime.fromisoformat("2027-01-04T09:00:00-05:00").timestamp()
        service.add_inbound([Inbound("PO-1", "DC-New-York-City", "SKU-000021", 5, arrives)])
        before = service.events(0, 100_000)
    finally:
        service.close()

    cart = "SKU-000021:2,SKU-000094:1,SKU-000001:1"
    code, out, err = _promise(capsys, "--store", url, "--cart", cart, "--to", "10001",
                              "--at", AFTER_CUTOFF)  # fmt: skip
    assert (code, err) == (0, "")
    rows = _rows(out)
    # the purchase order arrives Mon Jan 4 at 09:00, before the cut-off: shipped that day,
    # delivered Tue 5 (ground, zone 2), window to Wed 6
    backorder = "Tue 2027-01-05 - Wed 2027-01-06 by 20:00  DC-New-York-City (PO-1)  partial"
    assert backorder in rows["backorder"]
    assert rows["ship:ground"].endswith("cheapest, partial")
    assert "  5. SKU-000021 x2: not on hand: on order, the last to arrive is PO-1" in out
    assert out.endswith(
        "cannot be promised:\n  SKU-000094 x1: safety_stock (7 on hand, 7 of it safety stock)\n"
    )

    untouched = ["--cart", "SKU-000001:1,SKU-000002:1", "--to", "10001", "--at", AFTER_CUTOFF,
                 "--json"]  # fmt: skip
    code, on_ledger, _ = _promise(capsys, "--store", url, *untouched)
    assert code == 0
    code, on_preset, _ = _promise(capsys, "--scenario", "small", *untouched)
    assert code == 0
    assert json.loads(on_ledger) == json.loads(on_preset)

    service = Service(open_store(url))
    try:
        assert service.events(0, 100_000) == before
    finally:
        service.close()


QTY = "argument --cart: SKU-000021: quantity"
BAD_PROMISES: dict[str, tuple[list[str | None], list[str]]] = {
    "unknown SKU": (["--cart", "NOPE:1"], ["argument --cart: unknown SKU NOPE: no item record"]),
    "zero quantity": (["--cart", "SKU-000021:0"],
                      [f"{QTY} '0': expected a whole number 1..10,000"]),
    "negative quantity": (["--cart", "SKU-000021:-2"], [f"{QTY} '-2'"]),
    "fractional quantity": (["--cart", "SKU-000021:1.5"], [f"{QTY} '1.5'"]),
    "quantity too large": (["--cart", "SKU-000021:10001"], [f"{QTY} '10001'", "1..10,000"]),
    "no quantity": (["--cart", "SKU-000021"], ["argument --cart: 'SKU-000021': expected SKU:QTY"]),
    "empty entry": (["--cart", "SKU-000021:1,,SKU-000094:1"], ["argument --cart: an empty entry"]),
    "bad SKU": (["--cart", "SKU 21:1"], ["argument --cart: SKU 'SKU 21': expected letters"]),
    "unknown preset": (["--scenario", "huge"],
                       ["argument --scenario: 'huge' is neither a preset (small, medium, large, "
                        "italy) nor a file"]),
    "Italian postal code": (["--scenario", "italy", "--cart", "SKU-000038:1", "--to", "20121:IT"],
                            ["argument --to: '20121' is a postal code of IT",
                             "no postal data for IT",
                             "give the destination's lat and lon instead (--to LAT,LON)"]),
    "postal code of the network's country": (
        ["--scenario", "italy", "--cart", "SKU-000038:1", "--to", "20121"],
        ["argument --to: '20121' is a postal code of IT"]),
    "unknown ZIP": (["--to", "00000:US"], ["argument --to: unknown US ZIP code '00000'"]),
    "short ZIP": (["--to", "1234:US"], ["argument --to: '1234': expected a 5-digit US ZIP"]),
    "latitude out of range": (["--to", "91,0"], ["argument --to: latitude '91': expected -90..90"]),
    "not coordinates": (["--to", "40.7,east"], ["argument --to: expected LAT,LON", "'40.7,east'"]),
    "long country code": (["--to", "10001:USA"], ["argument --to: expected", "'10001:USA'"]),
    "time without offset": (["--at", "2026-12-24T10:00"],
                            ["argument --at: '2026-12-24T10:00' has no UTC offset"]),
    "not a time": (["--at", "Christmas"],
                   ["argument --at: expected an ISO 8601 time", "'Christmas'"]),
    "unknown method": (["--methods", "ship,drone"],
                       ["argument --methods: unknown method 'drone'"]),
    "method twice": (["--methods", "ship,ship"],
                     ["argument --methods: method 'ship' is given twice"]),
    "no ledger file": (["--scenario", None, "--store", "sqlite:///{tmp}/none.db"],
                       ["argument --store: sqlite:///", "no ledger file at"]),
    "unsupported store": (["--scenario", None, "--store", "postgres://db"],
                          ["argument --store: postgres://db: cannot be used as the ledger"]),
    "scenario and store": (["--store", "sqlite:///{tmp}/l.db"], ["argument --store: not allowed"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_PROMISES))
def test_bad_promise_input_is_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad argument gives exit 2 and one `error:` line naming it, never a traceback."""
    given, expected = BAD_PROMISES[case]
    options: dict[str, str | None] = {
        "--scenario": "small", "--cart": CART, "--to": "10001:US", "--at": AFTER_CUTOFF
    }  # fmt: skip
    for name, value in zip(given[::2], given[1::2], strict=True):  # None: leave it out
        assert name is not None
        options[name] = None if value is None else value.replace("{tmp}", str(tmp_path))
    argv = [a for k, v in options.items() if v is not None for a in (k, v)]
    code, out, err = _promise(capsys, *argv)
    _assert_one_error(code, out, err, expected)
    assert out == ""
    assert err.count("\n") == 1


def test_promise_stops_quietly_when_its_reader_does(tmp_path: Path) -> None:
    """The real command, its output piped to a reader that has gone (as `| head` does):
    exit 0, no traceback."""
    script = Path(sys.executable).parent / "sourcing-engine"
    proc = subprocess.Popen(
        [script, "promise", "--scenario", "small", "--cart", CART, "--to", "10001",
         "--at", AFTER_CUTOFF],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # before the promise is computed (loading the preset takes longer)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err.decode()) == (0, "")


def _blocks(doc: Path, heading: str, fence: str) -> list[str]:
    text = doc.read_text()
    section = text[text.index(heading) :]
    return re.findall(rf"```{fence}\n(.*?)```", section, re.S)


def test_documented_promise_examples_are_what_the_command_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The two promise runs docs/service.md shows (the italy network on Christmas Eve; the
    calendars and carrier of docs/exchange-format.md's example file) print as documented."""
    docs = Path(__file__).parents[2] / "docs"
    problem = tmp_path / "problem.json"
    problem.write_text(_blocks(docs / "exchange-format.md", "### Calendars and the carrier",
                               "json")[0])  # fmt: skip
    runs = [b for b in _blocks(docs / "service.md", "## Promise:", "") if b.startswith("$ ")]
    assert len(runs) == 2
    for run in runs:
        command, *shown = run.rstrip("\n").split("\n")
        argv = shlex.split(command.removeprefix("$ sourcing-engine "))
        argv = [str(problem) if a == "problem.json" else a for a in argv]
        code, out, err = _run(capsys, *argv)
        assert (code, err) == (0, "")
        if shown[-1] == "...":  # the first lines only
            assert out.splitlines()[: len(shown) - 1] == shown[:-1]
        else:
            assert out.splitlines() == shown
