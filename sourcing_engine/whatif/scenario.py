"""Scenario files: a base network, an order stream, a period and the variants to compare.

A scenario is a TOML file (read with the standard library's tomllib; examples in
`scenarios/`):

    name = "Warehouse closure"
    seed = 1                      # the replay's: moments orders are placed, demand draws
    [base]                        # preset = "medium" (and seed), or problem = "file.json"
    preset = "medium"
    seed = 1
    [orders]                      # count = N orders generated with the preset's demand,
    count = 20000                 # or file = "orders.csv" / "orders.jsonl" (placed_at each)
    [period]
    start = 2026-11-23
    days = 7                      # time_zone: the days' zone (default: the first warehouse's)
    [[arrivals]]                  # purchase orders and transfers arriving on their dates
    node = "DC-..."; sku = "SKU-00001"; qty = 40; at = 2026-11-25T08:00:00-05:00
    [[variants]]                  # the first variant is the base the others are compared to
    name = "today"
    policy = "greedy-cost"        # or closest, fewest-splits, optimal, lookahead
    waves_minutes = 15            # omit: order by order; else waves, time_limit s each
    hold_minutes = 60             # re-optimization: orders held this long before release
    move_threshold = 1.0          # are re-sourced jointly every 30 min (optimal, time_limit
                                  # s) when that saves more than this per order moved
    [[variants.changes]]
    change = "close"              # see changes.py for every change and its fields
    nodes = ["DC-..."]

Every error names the file and its line: a TOML syntax error, a field of the wrong type, a
change naming a node, kind, field or policy that does not exist.
"""

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sourcing_engine.lookahead.planner import LOOKAHEAD
from sourcing_engine.presets import PRESETS
from sourcing_engine.solvers import POLICIES
from sourcing_engine.whatif import changes as ch
from sourcing_engine.whatif.world import (
    Arrival,
    OrderStream,
    Period,
    World,
    file_base,
    network_time_zone,
    preset_base,
    read_orders,
    spread_over,
)

MAX_DAYS = 366
DEFAULT_TIME_LIMIT_S = 2.0
DEFAULT_MOVE_THRESHOLD = 1.0
"""Re-optimization moves orders only when it saves more than this (currency) per order
moved: a move costs a new pick list and an audit entry, and tiny savings are noise."""


class ScenarioError(ValueError):
    """A scenario that cannot be run, with the file and line it is about."""


@dataclass(frozen=True)
class Variant:
    """One way of running the network: its changes to the base, the policy, and the
    batching (order by order, or waves every waves_minutes with time_limit_s each)."""

    name: str
    changes: tuple[ch.Change, ...] = ()
    policy: str = "greedy-cost"
    waves_minutes: int | None = None
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    change_lines: tuple[int, ...] = ()
    line: int = 0
    field_lines: tuple[tuple[tuple[str, int], ...], ...] = ()
    """Per change, the line of each of its fields (errors found when applied name it)."""
    hold_minutes: int | None = None
    """Re-optimization: orders stay allocated but unreleased this long, re-sourced jointly
    (see simulate.py); None: released at once, never moved."""
    move_threshold: float = DEFAULT_MOVE_THRESHOLD
    """Least saving (currency) per order moved for a re-optimization to be applied."""

    @property
    def batching(self) -> str:
        how = "order by order" if self.waves_minutes is None else f"{self.waves_minutes}-min waves"
        return how if self.hold_minutes is None else f"{how}, {self.hold_minutes}-min hold"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    path: str
    seed: int
    preset: str | None
    base_seed: int
    problem_file: Path | None
    order_count: int | None
    orders_file: Path | None
    start: dt.date
    days: int
    time_zone: str | None
    arrivals: tuple[tuple[Mapping[str, Any], int], ...]
    variants: tuple[Variant, ...]


class _Lines:
    """Where each table and key of a TOML text is (1-based lines), for error messages."""

    HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
    KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.at: dict[tuple[object, ...], int] = {}
        counts: dict[tuple[object, ...], int] = {}
        table: tuple[object, ...] = ()
        for k, line in enumerate(text.splitlines(), start=1):
            header = self.HEADER.match(line)
            if header:
                parts = header.group(2).split(".")
                if header.group(1) == "[[":
                    parent = self._parent(table, parts[:-1])
                    key = (*parent, parts[-1])
                    counts[key] = counts.get(key, -1) + 1
                    table = (*key, counts[key])
                else:
                    table = tuple(parts)
                self.at.setdefault(table, k)
                continue
            key_match = self.KEY.match(line)
            if key_match:
                self.at.setdefault((*table, key_match.group(1)), k)

    @staticmethod
    def _parent(table: tuple[object, ...], names: list[str]) -> tuple[object, ...]:
        # [[variants.changes]] belongs to the last [[variants]] table: keep its index
        out: list[object] = []
        rest = list(table)
        for name in names:
            out.append(name)
            if rest and rest[0] == name:
                rest.pop(0)
                if rest and isinstance(rest[0], int):
                    out.append(rest.pop(0))
        return tuple(out)

    def of(self, *path: object) -> int:
        """The line of a key or table, else of the nearest enclosing table (0: unknown)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.at:
                return self.at[path[:end]]
        return 0


def load(path: Path | str) -> Scenario:
    """Read and check a scenario file (ScenarioError naming the file's line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file ({exc.strerror})") from None
    return loads(text, str(path), base_dir=path.parent)


def loads(text: str, name: str = "scenario.toml", base_dir: Path | None = None) -> Scenario:
    """A scenario from its TOML text (name: the file it came from, in errors; files it
    names are relative to base_dir)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{name}: not valid TOML: {exc}") from None
    return _Reader(data, _Lines(text), name, base_dir or Path(".")).scenario()


class _Reader:
    def __init__(self, data: dict[str, Any], lines: _Lines, name: str, base_dir: Path) -> None:
        self.data, self.lines, self.name, self.base_dir = data, lines, name, base_dir

    def fail(self, message: str, *path: object) -> ScenarioError:
        line = self.lines.of(*path)
        where = f"{self.name}, line {line}" if line else self.name
        return ScenarioError(f"{where}: {'.'.join(str(p) for p in path)}: {message}")

    def table(self, name: str, required: bool = True) -> dict[str, Any]:
        value = self.data.get(name, {} if not required else None)
        if not isinstance(value, dict):
            raise self.fail(f"expected a [{name}] table", name)
        return value

    def known(self, table: Mapping[str, Any], allowed: set[str], *path: object) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"unknown field (expected {', '.join(sorted(allowed))})", *path, key
                )

    def whole(self, table: Mapping[str, Any], key: str, low: int, *path: object) -> int:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(f"expected a whole number >= {low}, got {value!r}", *path, key)
        return value

    def scenario(self) -> Scenario:
        d = self.data
        self.known(d, {"name", "description", "seed", "base", "orders", "period", "arrivals",
                       "variants"})  # fmt: skip
        base = self.table("base")
        self.known(base, {"preset", "seed", "problem"}, "base")
        preset = base.get("preset")
        problem = base.get("problem")
        if (preset is None) == (problem is None):
            raise self.fail("give preset (a name) or problem (a sourcing-problem/1 file)", "base")
        if preset is not None and preset not in PRESETS:
            raise self.fail(
                f"expected one of {', '.join(PRESETS)}, got {preset!r}", "base", "preset"
            )
        problem_file = None
        if problem is not None:
            problem_file = self.base_dir / str(problem)
            if not problem_file.is_file():
                raise self.fail(f"no file {str(problem_file)!r}", "base", "problem")
        orders = self.table("orders")
        self.known(orders, {"count", "file"}, "orders")
        count = self.whole(orders, "count", 1, "orders") if "count" in orders else None
        orders_file = None
        if "file" in orders:
            orders_file = self.base_dir / str(orders["file"])
            if not orders_file.is_file():
                raise self.fail(f"no file {str(orders_file)!r}", "orders", "file")
        if count is not None and orders_file is not None:
            raise self.fail("give count or file, not both", "orders")
        if count is None and orders_file is None and preset is not None:
            raise self.fail("give count (orders generated by the preset) or file", "orders")
        period = self.table("period")
        self.known(period, {"start", "days", "time_zone"}, "period")
        start = period.get("start")
        if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
            raise self.fail(f"expected a date (2026-11-23), got {start!r}", "period", "start")
        days = self.whole(period, "days", 1, "period")
        if days > MAX_DAYS:
            raise self.fail(f"at most {MAX_DAYS} days, got {days}", "period", "days")
        tz = period.get("time_zone")
        if tz is not None:
            from sourcing_engine.promise.calendars import check_time_zone

            if not isinstance(tz, str) or check_time_zone(tz):
                raise self.fail(f"expected an IANA name, got {tz!r}", "period", "time_zone")
        arrivals = d.get("arrivals", [])
        if not isinstance(arrivals, list):
            raise self.fail("expected [[arrivals]] tables", "arrivals")
        variants = d.get("variants")
        if not isinstance(variants, list) or not variants:
            raise self.fail("expected at least one [[variants]] table (the first is the base)",
                            "variants")  # fmt: skip
        country = "IT" if preset == "italy" else "US"
        read = tuple(self.variant(v, i, country) for i, v in enumerate(variants))
        names = [v.name for v in read]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise self.fail(f"two variants are called {n!r}", "variants", i, "name")
        seed = d.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise self.fail(f"expected a whole number >= 0, got {seed!r}", "seed")
        base_seed = base.get("seed", 0)
        if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
            raise self.fail(f"expected a whole number >= 0, got {base_seed!r}", "base", "seed")
        return Scenario(
            name=str(d.get("name") or Path(self.name).stem),
            description=str(d.get("description", "")),
            path=self.name, seed=seed, preset=preset, base_seed=base_seed,
            problem_file=problem_file, order_count=count, orders_file=orders_file,
            start=start, days=days, time_zone=tz,
            arrivals=tuple((a, self.lines.of("arrivals", k)) for k, a in enumerate(arrivals)),
            variants=read,
        )  # fmt: skip

    def variant(self, v: Any, i: int, country: str) -> Variant:
        at = ("variants", i)
        if not isinstance(v, dict):
            raise self.fail("expected a table", *at)
        self.known(v, {"name", "policy", "waves_minutes", "time_limit", "changes",
                       "hold_minutes", "move_threshold"}, *at)  # fmt: skip
        name = v.get("name")
        if not isinstance(name, str) or not name:
            raise self.fail(f"expected a name, got {name!r}", *at, "name")
        policy = v.get("policy", "greedy-cost")
        allowed = [*POLICIES, LOOKAHEAD]  # lookahead needs the period's history: replay only
        if policy not in allowed:
            raise self.fail(f"expected one of {', '.join(allowed)}, got {policy!r}", *at, "policy")
        waves = self.whole(v, "waves_minutes", 1, *at) if "waves_minutes" in v else None
        if policy == "optimal" and waves is None:
            raise self.fail(
                "optimal sources orders jointly: give waves_minutes (order by order, "
                "greedy-cost is each order's optimum)", *at, "policy",
            )  # fmt: skip
        hold = self.whole(v, "hold_minutes", 1, *at) if "hold_minutes" in v else None
        threshold = v.get("move_threshold", DEFAULT_MOVE_THRESHOLD)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold < 0:
            raise self.fail(f"expected an amount >= 0, got {threshold!r}", *at, "move_threshold")
        if "move_threshold" in v and hold is None:
            raise self.fail("move_threshold needs hold_minutes (re-optimization)", *at,
                            "move_threshold")  # fmt: skip
        limit = v.get("time_limit", DEFAULT_TIME_LIMIT_S)
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
            raise self.fail(f"expected seconds > 0, got {limit!r}", *at, "time_limit")
        raw = v.get("changes", [])
        if not isinstance(raw, list):
            raise self.fail("expected [[variants.changes]] tables", *at, "changes")
        changes, lines = [], []
        fields: list[tuple[tuple[str, int], ...]] = []
        for j, c in enumerate(raw):
            here = (*at, "changes", j)
            if not isinstance(c, dict):
                raise self.fail("expected a table", *here)
            try:
                changes.append(ch.parse(c, country))
            except ch.ChangeError as exc:
                raise self.fail(str(exc).split(": ", 1)[1], *here, exc.field) from None
            lines.append(self.lines.of(*here))
            fields.append(tuple((k, self.lines.of(*here, k)) for k in c))
        return Variant(name, tuple(changes), policy, waves, float(limit), tuple(lines),
                       self.lines.of(*at), tuple(fields), hold, float(threshold))  # fmt: skip


# --- from a scenario to what the replay runs --------------------------------------------


@dataclass(frozen=True, eq=False)
class Base:
    """A scenario's base network, order stream and period, built once for all variants."""

    scenario: Scenario
    world: World
    stream: OrderStream
    period: Period


def build_base(sc: Scenario) -> Base:
    """The base world and order stream of a scenario (ScenarioError naming the line)."""
    if sc.preset is not None:
        n = sc.order_count if sc.order_count is not None else len(read_orders(sc.orders_file)[0])  # type: ignore[arg-type]
        world, generated = preset_base(sc.preset, sc.base_seed, n, sc.days)
    else:
        assert sc.problem_file is not None
        try:
            world, generated = file_base(sc.problem_file, sc.days)
        except ValueError as exc:
            raise ScenarioError(f"{sc.path}: base.problem: {exc}") from None
    period = Period(sc.start, sc.days, sc.time_zone or network_time_zone(world.nodes))
    if sc.orders_file is not None:
        try:
            orders, placed = read_orders(sc.orders_file)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
        known = world.sku_index()
        for o in orders:
            for ln in o.lines:
                if ln.sku not in known:
                    raise ScenarioError(f"{sc.orders_file}: order {o.id!r}: no item {ln.sku!r} "
                                        "in the base network")  # fmt: skip
        inside = (placed >= period.begin) & (placed < period.end)
        keep = np.flatnonzero(inside).tolist()
        stream = OrderStream(tuple(orders[i] for i in keep), placed[inside])
    else:
        stream = spread_over(generated, period, sc.seed)
    world = _with_arrivals(sc, world)
    return Base(sc, world, stream, period)


def _with_arrivals(sc: Scenario, world: World) -> World:
    from dataclasses import replace

    nodes, skus = world.node_index(), world.sku_index()
    out = []
    for k, (a, line) in enumerate(sc.arrivals):
        where = f"{sc.path}, line {line}: arrivals.{k}"
        if not isinstance(a, dict):
            raise ScenarioError(f"{where}: expected a table")
        allowed = {"node", "sku", "qty", "at", "from_node", "sent_at"}
        unknown = sorted(set(a) - allowed)
        if unknown:
            raise ScenarioError(f"{where}.{unknown[0]}: unknown field (expected "
                                f"{', '.join(sorted(allowed))})")  # fmt: skip
        for key in ("node", "from_node"):
            if key in a and a[key] not in nodes:
                raise ScenarioError(f"{where}.{key}: no node {a[key]!r} in the network")
        if "node" not in a:
            raise ScenarioError(f"{where}.node: expected a node id")
        if a.get("sku") not in skus:
            raise ScenarioError(f"{where}.sku: no item {a.get('sku')!r} in the network")
        qty = a.get("qty")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            raise ScenarioError(f"{where}.qty: expected a whole number >= 1, got {qty!r}")
        moments = {}
        for key in ("at", "sent_at"):
            value = a.get(key)
            if key == "sent_at" and value is None:
                continue
            if not isinstance(value, dt.datetime) or value.tzinfo is None:
                raise ScenarioError(
                    f"{where}.{key}: expected a date and time with its UTC offset "
                    f"(2026-11-25T08:00:00-05:00), got {value!r}"
                )
            moments[key] = value.timestamp()
        if "from_node" in a and "sent_at" not in moments:
            raise ScenarioError(f"{where}.sent_at: a transfer needs the moment it is sent")
        out.append(Arrival(a["node"], a["sku"], qty, moments["at"], a.get("from_node"),
                           moments.get("sent_at")))  # fmt: skip
    return replace(world, arrivals=tuple(out))


def variant_inputs(base: Base, variant: Variant) -> tuple[World, OrderStream]:
    """The base with the variant's changes applied (ScenarioError naming the change's
    line: a node, kind or field that does not exist)."""
    world, stream = base.world, base.stream
    for j, (change, line) in enumerate(zip(variant.changes, variant.change_lines, strict=True)):
        try:
            if isinstance(change, ch.Demand):
                stream = change.apply_stream(stream, base.period, base.scenario.seed)
            else:
                world = change.apply(world)
        except ch.ChangeError as exc:
            fields = dict(variant.field_lines[j]) if j < len(variant.field_lines) else {}
            line = fields.get(exc.field, line)
            raise ScenarioError(f"{base.scenario.path}, line {line}: variant "
                                f"{variant.name!r}: {exc}") from None  # fmt: skip
    return world, stream


def check(base: Base) -> None:
    """Apply every variant's changes once, so that a bad change fails before any runs."""
    for v in base.scenario.variants:
        variant_inputs(base, v)
