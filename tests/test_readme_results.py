"""The README's results section is the report of the committed benchmark results."""

import json
from pathlib import Path

import pytest

from benchmarks import report

ROOT = Path(__file__).resolve().parent.parent


def test_readme_results_are_the_reports() -> None:
    """The section between the report markers equals `python -m benchmarks.report` on
    benchmarks/results.json and every results-*.json (fix: --write-readme)."""
    readme = (ROOT / "README.md").read_text()
    expected = report.render(report.default_files())
    assert report.readme_section(readme) == expected, (
        "README.md's results differ from the recorded results: run "
        "`python -m benchmarks.report --write-readme`"
    )


def test_every_results_file_names_its_commit() -> None:
    """Each results file records the commit it measured and whether the tree was clean."""
    files = report.default_files()
    assert files[0].name == "results.json"
    for path in files:
        info = json.loads(path.read_text())["commit_info"]
        assert len(info["id"]) == 40, path
        assert isinstance(info["dirty"], bool), path


def test_report_prints_median_and_spread_of_rounds(tmp_path: Path) -> None:
    """A batch solved three times prints its median time and gap with their min-max, and
    the file's commit and dirty tree."""
    runs = [{"gap": 0.004}, {"gap": 0.001}, {"gap": 0.002}]
    row = {
        "name": "test_batch[1000o-200n-2000s-5s]",
        "param": "1000o-200n-2000s-5s",
        "stats": {"rounds": 3, "median": 5.2, "min": 5.1, "max": 5.9},
        "extra_info": {"runs": runs, "gap": 0.002, "status": "feasible", "saving_vs_greedy": 0.03},
    }
    path = tmp_path / "results-x.json"
    commit = {"id": "a" * 40, "dirty": True, "dirty_files": ["x.py"]}
    path.write_text(
        json.dumps({"commit_info": commit, "datetime": "2026-12-03T12:00:00", "benchmarks": [row]})
    )
    text = report.render([path])
    assert "commit aaaaaaa, run on 2026-12-03, dirty tree (1 uncommitted files)" in text
    assert "| 1000o-200n-2000s-5s | 5.2 s (5.1-5.9 s) | feasible | 0.200% (0.100-0.400%) |" in text
    assert "gap 0.200% (0.100-0.400%) at 5 s (time 5.2 s (5.1-5.9 s))" in text


def test_write_readme_replaces_only_the_section() -> None:
    """--write-readme keeps the text around the markers; missing markers are an error."""
    readme = f"intro\n{report.REPORT_BEGIN}\nold\n{report.REPORT_END}\noutro\n"
    written = report.with_section(readme, "new\n")
    assert written == f"intro\n{report.REPORT_BEGIN}\nnew\n{report.REPORT_END}\noutro\n"
    assert report.readme_section(written) == "new\n"
    with pytest.raises(ValueError, match="report:begin"):
        report.with_section("no markers\n", "new\n")
