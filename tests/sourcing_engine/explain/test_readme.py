"""The README's explanation example is what the command prints: the same two commands run
here, and the output block below them in the README compared line by line."""

from pathlib import Path

import pytest

from sourcing_engine.cli import main

REPO = Path(__file__).resolve().parents[3]
COMMAND = "sourcing-engine explain tests/fixtures/small-seed1/problem.json plan.json --order "


def documented() -> tuple[str, str]:
    """The order the README explains and the output block it shows."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    at = text.index(COMMAND)
    order = text[at + len(COMMAND) :].split("\n", 1)[0].strip()
    after = text[at:].split("```\n", 2)[2]  # past the end of the sh block and the opening
    return order, after.split("```", 1)[0]


def test_the_readme_example_is_what_explain_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = REPO / "tests" / "fixtures" / "small-seed1" / "problem.json"
    plan = tmp_path / "plan.json"
    assert main(["solve", str(problem), "--policy", "greedy-cost", "--out", str(plan)]) == 0
    order, shown = documented()
    capsys.readouterr()
    assert main(["explain", str(problem), str(plan), "--order", order]) == 0
    assert capsys.readouterr().out == shown
