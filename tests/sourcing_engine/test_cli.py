"""The command line, run in-process through `main` on the committed small-seed1 scenario."""

import json
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
