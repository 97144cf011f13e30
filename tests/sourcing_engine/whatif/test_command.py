"""`sourcing-engine whatif`: the report, its numbers as JSON and CSV, and the HTML opened in
a real headless Chromium (every chart drawn with data, no console error, nothing fetched
from the network); bad input is one error line and exit 2, nothing written."""

import csv
import json
import re
from pathlib import Path

import pytest

from sourcing_engine.cli import main
from tests.sourcing_engine.whatif.browser import CHART_STATE, chromium, open_report

SCENARIO = """name = "Test roll-out"
description = "small network."
seed = 2
[base]
preset = "small"
seed = 1
[orders]
count = 400
[period]
start = 2026-11-23
days = 2
[[variants]]
name = "warehouses only"
[[variants.changes]]
change = "ship_from"
kind = "store"
enabled = false
[[variants]]
name = "stores ship"
[[variants]]
name = "stores ship, hourly optimal waves"
policy = "optimal"
waves_minutes = 60
time_limit = 0.5
"""


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("whatif")
    (tmp / "s.toml").write_text(SCENARIO)
    out = tmp / "out"
    assert main(["whatif", str(tmp / "s.toml"), "--out", str(out), "--quiet", "--check"]) == 0
    return out


def test_numbers_as_json_and_csv(report_dir: Path) -> None:
    """JSON and CSV hold every variant; cost terms add up to the total; the saving is the
    difference with the first variant, per term."""
    data = json.loads((report_dir / "outcomes.json").read_text())
    variants = data["variants"]
    assert [v["variant"] for v in variants] == [
        "warehouses only", "stores ship", "stores ship, hourly optimal waves"]  # fmt: skip
    base = variants[0]
    for v in variants:
        assert v["checked"]
        assert v["orders"] == data["orders"] == 400
        terms = v["shipping"] + v["handling"] + v["split"] + v["unfilled"]
        assert abs(terms - v["total_cost"]) < 1e-6 * v["total_cost"]
        for t in ("shipping", "handling", "split", "unfilled"):
            assert abs(v["saving"][t] - (base[t] - v[t])) < 1e-6
        assert len(v["utilisation_mean"]) == 2
    assert variants[1]["store_shipment_share"] > 0 == variants[0]["store_shipment_share"]
    rows = list(csv.DictReader((report_dir / "outcomes.csv").open()))
    assert [r["variant"] for r in rows] == [v["variant"] for v in variants]
    assert float(rows[1]["total_cost"]) == pytest.approx(variants[1]["total_cost"])


def test_the_report_opens_in_chromium_with_every_chart_drawn(report_dir: Path) -> None:
    with chromium() as driver:
        open_report(driver, report_dir / "report.html")
        charts = {c["id"]: c for c in driver.execute_script(CHART_STATE)}
        assert set(charts) == {"cost", "saving", "utilisation", "zones", "map"}
        for c in charts.values():
            assert min(c["traces"], c["points"], c["drawn"], c["marks"]) > 0, c
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert [u for u in fetched if u.startswith(("http:", "https:"))] == []
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []


def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENARIO.replace('kind = "store"', 'nodes = ["ST-9999"]'))
    out = tmp_path / "out"
    assert main(["whatif", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}, line 16: variant 'warehouses only': nodes: no node")
    assert not out.exists()


def test_the_readme_s_whatif_run_prints_as_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's command on scenarios/warehouse-closure.toml prints its block (but the
    seconds it took)."""
    root = Path(__file__).parents[3]
    readme = (root / "README.md").read_text()
    start = readme.index("Warehouse closure: 20,000 orders")
    shown = readme[start : readme.index("```", start)].rstrip("\n")
    out = tmp_path / "closure"
    scenario = root / "scenarios" / "warehouse-closure.toml"
    assert main(["whatif", str(scenario), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out.rstrip("\n").replace(str(out), "/tmp/closure")

    def timeless(text: str) -> str:
        return re.sub(r"in [0-9.]+ s", "in N s", text)

    assert timeless(printed) == timeless(shown)
