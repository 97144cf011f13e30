"""`solve --policy lookahead --history FILE`: the forecast comes from the file's orders
placed in the rest of the day's hours on the days before --at, and moves an order off a
node whose capacity that demand needs; a missing, unreadable or too-late history is one
`error:` line naming what to give."""

import json
from pathlib import Path

import pytest

from sourcing_engine.cli import main

NYC = {"lat": 40.71, "lon": -74.01}
# NJ ships 2 units a day and is the only node with B; A is at NJ and at the Chicago store
PROBLEM = {
    "format": "sourcing-problem/1", "name": "lookahead",
    "nodes": [{"id": "DC-NJ", "kind": "warehouse", "lat": 40.79, "lon": -74.06,
               "capacity": {"shipments": 10, "units": 2}},
              {"id": "ST-CHI", "kind": "store", "lat": 41.88, "lon": -87.63}],
    "items": [{"sku": "A", "weight_lb": 1.0}, {"sku": "B", "weight_lb": 1.0}],
    "inventory": [{"node": "DC-NJ", "sku": "A", "on_hand": 5},
                  {"node": "DC-NJ", "sku": "B", "on_hand": 5},
                  {"node": "ST-CHI", "sku": "A", "on_hand": 5}],
    "cost_model": {"type": "parcel", "rate_card": "us-ground"},
    "unfilled_penalty_per_unit": 250.0,
    "orders": [{"id": "now-1", "destination": NYC, "lines": [{"sku": "A", "qty": 1}]}],
}  # fmt: skip
# yesterday afternoon three New York orders of B (NJ's two units a day cannot ship them
# all); one morning order before that; one order after --at (the future: not read)
HISTORY = """order_id,placed_at,lat,lon,sku,qty
h0,2026-12-02T09:00:00-05:00,41.85,-87.65,A,1
h1,2026-12-02T15:00:00-05:00,40.71,-74.01,B,1
h2,2026-12-02T15:10:00-05:00,40.72,-74.00,B,1
h3,2026-12-02T15:20:00-05:00,40.73,-74.02,B,1
h4,2026-12-03T10:30:00-05:00,40.73,-74.02,B,1
"""
AT = "2026-12-03T10:00:00-05:00"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    problem, history = tmp_path / "problem.json", tmp_path / "history.csv"
    problem.write_text(json.dumps(PROBLEM))
    history.write_text(HISTORY)
    return problem, history


def _nodes(plan_path: Path) -> list[str]:
    plan = json.loads(plan_path.read_text())
    return [s["node"] for o in plan["orders"] for s in o["shipments"]]


def test_the_history_moves_the_order_off_the_node_its_demand_needs(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """greedy-cost ships the New York order from NJ; lookahead, knowing NJ's capacity
    will be short this afternoon, ships it from Chicago, says what its prices came from
    (3 orders, one day), and its plan is valid."""
    problem, history = files
    greedy, look = tmp_path / "greedy.json", tmp_path / "look.json"
    assert main(["solve", str(problem), "--policy", "greedy-cost", "--out", str(greedy)]) == 0
    argv = ["solve", str(problem), "--policy", "lookahead", "--history", str(history),
            "--at", AT, "--out", str(look)]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "lookahead: prices from 3 orders placed in the rest of the day's hours over the 1" in err
    assert (_nodes(greedy), _nodes(look)) == (["DC-NJ"], ["ST-CHI"])
    assert json.loads(look.read_text())["policy"] == "lookahead"
    assert main(["validate", str(problem), str(look)]) == 0


def test_a_history_without_those_hours_is_greedy_cost_and_says_so(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At 16:00 nothing was ordered after that hour on the day before: no prices."""
    problem, history = files
    out = tmp_path / "look.json"
    argv = ["solve", str(problem), "--policy", "lookahead", "--history", str(history),
            "--at", "2026-12-03T16:00:00-05:00", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "sourced as greedy-cost" in capsys.readouterr().err
    assert _nodes(out) == ["DC-NJ"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [([], "--policy lookahead needs --history ORDERS.csv|.jsonl"),
     (["--history", "{dir}/nope.csv"], "nope.csv: no such file"),
     (["--history", "{dir}/bad.csv"], "bad.csv, line 3: qty: expected a whole number >= 1"),
     (["--history", "{history}", "--at", "2026-12-01T10:00:00-05:00"],
      "no order placed before 2026-12-01T10:00:00-05:00"),
     (["--history", "{history}", "--policy", "closest"], "--history and --at are read by"),
     (["--at", "2026-12-03T10:00:00"], "has no UTC offset")],
)  # fmt: skip
def test_bad_or_missing_history_is_one_error(
    files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    expected: str,
) -> None:
    problem, history = files
    (tmp_path / "bad.csv").write_text(HISTORY.replace(",B,1\n", ",B,0\n", 1))
    args = [a.format(dir=tmp_path, history=history) for a in extra]
    code = main(["solve", str(problem), "--policy", "lookahead", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: "), err
    assert expected in err, err
    assert err.count("line ") <= 1  # the line is named once
    assert "Traceback" not in err
