"""Scenario files: the ready examples load and fit their base; every mistake is one error
that names the file's line and the field."""

from pathlib import Path

import pytest

from sourcing_engine.whatif.scenario import ScenarioError, build_base, check, load, loads

SCENARIOS = sorted((Path(__file__).parents[3] / "scenarios").glob("*.toml"))

HEAD = """name = "t"
[base]
preset = "small"
[orders]
count = 50
[period]
start = 2026-11-23
days = 2
[[variants]]
name = "base"
"""


def test_ready_scenarios_load_and_every_change_fits_the_base() -> None:
    """Each file in scenarios/ reads, and each variant's changes apply to its base."""
    assert len(SCENARIOS) >= 4
    for path in SCENARIOS:
        sc = load(path)
        assert len(sc.variants) >= 2, path
        check(build_base(sc))


def _load_and_check(text: str) -> None:
    check(build_base(loads(text, "my.toml")))


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        _load_and_check(text)
    return str(info.value)


V = '[[variants]]\nname = "x"\n'
C = V + "[[variants.changes]]\n"


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (C + 'change = "close"\nnodes = ["DC-Nowhere"]\n',
         "my.toml, line 15: variant 'x': nodes: no node 'DC-Nowhere' in the network"),
        (C + 'change = "capacity"\nkind = "store"\nship_fcator = 2\n',
         "my.toml, line 16: variants.1.changes.0.ship_fcator: not a field of a capacity change"),
        (C + 'change = "ship_from"\nkind = "depot"\nenabled = true\n',
         "my.toml, line 15: variants.1.changes.0.kind: expected one of warehouse, store"),
        (V + 'policy = "cheapest"\n',
         "my.toml, line 13: variants.1.policy: expected one of closest, fewest-splits"),
        (V + 'policy = "optimal"\n',
         "my.toml, line 13: variants.1.policy: optimal sources orders jointly: give waves_minutes"),
        (C + 'change = "rates"\nscale = 1.1\nzones = [9]\n',
         "my.toml, line 16: variant 'x': zones: the rate card has zones 2..8, not 9"),
        (C + 'change = "move"\n',
         "my.toml, line 14: variants.1.changes.0.change: expected one of ship_from, close"),
        (C + 'change = "demand"\nscale = 2.0\ndays = [5]\n',
         "my.toml, line 16: variant 'x': days: expected days 1..2, got [5]"),
        (C + 'change = "cutoff"\nkind = "store"\ncutoff = "25:00"\n',
         "my.toml, line 16: variants.1.changes.0.cutoff: expected a local time as HH:MM"),
        ('[[variants]]\nname = "base"\n',
         "my.toml, line 12: variants.1.name: two variants are called 'base'"),
        (V + 'batch = 3\n',
         "my.toml, line 13: variants.1.batch: unknown field"),
        ("[[variants]]\nname = x\n",
         "my.toml: not valid TOML: Invalid value (at line 12, column 8)"),
    ],
)  # fmt: skip
def test_a_mistake_names_its_line_and_field(tail: str, expected: str) -> None:
    """A change naming a node, field, kind, policy, zone or day that does not exist, and a
    TOML syntax error, are one message with the file's line."""
    assert expected in _error(HEAD + tail)


def test_base_and_orders_mistakes_name_their_line() -> None:
    """The base's preset, a missing orders file and an arrival at an unknown node."""
    assert "my.toml, line 3: base.preset: expected one of small" in _error(
        HEAD.replace('preset = "small"', 'preset = "tiny"')
    )
    assert "line 5: orders.file: no file" in _error(HEAD.replace("count = 50", 'file = "no.csv"'))
    arrival = (
        '[[arrivals]]\nnode = "DC-X"\nsku = "SKU-000001"\nqty = 1\nat = 2026-11-23T10:00:00Z\n'
    )
    assert "my.toml, line 11: arrivals.0.node: no node 'DC-X'" in _error(HEAD + arrival)
