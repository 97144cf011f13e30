"""`sourcing-engine explain` in-process through `main`: an order's explanation as text and
JSON, in English and Italian (amounts in the network's currency, formatted for the
language), the batch's listing, and every bad input as one error line with exit code 2."""

import json
from pathlib import Path

import pytest
from babel.numbers import format_currency, format_decimal

from sourcing_engine.cli import main
from sourcing_engine.presets import generate, sized, write_scenario

SMALL = Path(__file__).parents[2] / "fixtures" / "small-seed1" / "problem.json"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def italy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small Italian batch (EUR) and its greedy-cost plan."""
    out = tmp_path_factory.mktemp("italy")
    problem = write_scenario(generate(sized(40, 8, 12, country="IT"), 2), out)
    plan = out / "plan.json"
    assert main(["solve", str(problem), "--policy", "greedy-cost", "--out", str(plan)]) == 0
    return problem, plan


def test_an_order_explained_in_english_and_italian_in_the_networks_currency(
    italy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    problem, plan = italy
    document = json.loads(plan.read_text())
    first = next(o for o in document["orders"] if o["shipments"])
    code, out, err = run(capsys, "explain", problem, plan, "--order", first["id"], "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["currency"] == "EUR"
    assert body["plan"]["cost"] == pytest.approx(first["cost"], abs=1e-6)
    money = format_currency(body["plan"]["cost"], "EUR", locale="en_US")
    assert body["summary"].startswith(f"Ships from {first['shipments'][0]['node']}")
    assert f"for {money}." in body["summary"]
    code, out, _ = run(capsys, "explain", problem, plan, "--order", first["id"], "--lang", "it")
    assert code == 0
    lines = out.splitlines()
    italian = format_currency(body["plan"]["cost"], "EUR", locale="it_IT")  # "12,34 €"
    assert lines[0].startswith("Spedito da ")
    assert f"per {italian}." in lines[0]
    assert lines[2] == f"plan: {format_decimal(body['plan']['cost'], '#,##0.00', locale='en')} EUR"
    assert "next best:" in lines
    assert "rules on the same stock:" in lines


def test_the_batch_listing(italy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    problem, plan = italy
    code, out, err = run(capsys, "explain", problem, plan, "--batch", "--top", "3", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert len(body["shadow_prices"]) <= 3
    assert body["relaxation"] <= body["objective"] + 1e-6
    for s in body["shadow_prices"]:
        assert s["exact"] == (abs(s["dual"] - s["resolved"]) <= 1e-6)
    code, out, _ = run(capsys, "explain", problem, plan, "--batch", "--top", "3")
    assert code == 0
    assert "one more unit is worth" in out
    assert "against greedy-cost" in out


def test_bad_input_is_one_line_and_exit_2(
    italy: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem, plan = italy
    code, _, err = run(capsys, "explain", problem, plan, "--order", "NOPE")
    assert code == 2
    assert err.strip() == f'error: argument --order: order "NOPE" is not in {plan}'
    document = json.loads(plan.read_text())
    document["orders"][0]["cost"] += 1.0
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    code, _, err = run(capsys, "explain", problem, tampered, "--order", document["orders"][0]["id"])
    assert code == 2
    assert err.startswith(f"error: {tampered}: the plan does not hold against {problem}")
    code, _, err = run(capsys, "explain", SMALL, plan, "--batch")
    assert code == 2
    assert "the plan does not hold" in err
    code, _, err = run(capsys, "explain", problem, plan, "--batch", "--top", "0")
    assert code == 2
    assert "--top" in err
    code, _, err = run(capsys, "explain", problem, plan)
    assert code == 2
    assert "one of the arguments --order --batch is required" in err
