"""The `sourcing-engine` command line: solve, validate, scenario generate, compare, promise,
serve.

Exit codes: 0 done (or a valid plan), 1 a plan that fails validation, 2 bad input. Bad input
of any kind (a file, a field, an option) is reported as one `error: ...` message on stderr
that names the file and the entry, never as a traceback. `main` only parses, calls and maps
errors; the work is done by `exchange`, `sourcing`, `solvers`, `plan_check`, `presets` and
`compare`; `promise` by the live `service` on a ledger store; `serve` by `api.serve` (which
starts the API).
"""

import argparse
import datetime as dt
import gc
import json
import math
import os
import re
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import numpy as np
from tqdm import tqdm

from sourcing_engine import __version__
from sourcing_engine.compare import (
    DEFAULT_POLICIES,
    LEGEND,
    InvalidPlanError,
    check_policies,
    compare,
    format_table,
    to_json_data,
)
from sourcing_engine.domain import Batch, Destination, Order, merge_lines
from sourcing_engine.errors import (
    DomainError,
    InputError,
    NoPostalData,
    PreconditionFailed,
    UnknownItems,
)
from sourcing_engine.exchange import (
    PLAN_FORMAT,
    ZIP_PATTERN,
    PlanSpec,
    load_json,
    plan_from_json,
    problem_from_json,
    settings_from_data,
    settings_to_data,
)
from sourcing_engine.explain.cli import add_command as add_explain_command
from sourcing_engine.geocode import destination
from sourcing_engine.lookahead.history import OrderHistory
from sourcing_engine.lookahead.planner import (
    LOOKAHEAD,
    known_orders,
    next_midnight,
    rest_of_day_sample,
    sample_prices,
    source_lookahead,
)
from sourcing_engine.plan_check import validate_plan
from sourcing_engine.presets import PRESETS, binding_stats, generate, write_scenario
from sourcing_engine.promise.calendars import zone_at
from sourcing_engine.promise.options import METHODS, Method, Option, Promise
from sourcing_engine.service import Service
from sourcing_engine.solvers import POLICIES, Result, SourcingProblem, solve
from sourcing_engine.sourcing import CompiledBatch, compile_batch
from sourcing_engine.stores import SQLITE_PREFIX, open_store
from sourcing_engine.stores.base import StoreNotDurable
from sourcing_engine.stores.sqlite import SqliteStore
from sourcing_engine.whatif.command import add_command as add_whatif_command
from sourcing_engine.whatif.world import OrderStream, network_time_zone, read_orders

PROG = "sourcing-engine"
EXIT_INVALID_PLAN = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """Bad input the user can fix; the message follows 'error: ' on stderr."""


class _Parser(argparse.ArgumentParser):
    # argparse prints usage and exits on a bad option; we want one `error:` line, exit 2,
    # and `main` to return rather than exit (tests call it in-process).
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')")


# --- option types -----------------------------------------------------------------------


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _gap(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"expected a relative gap in [0, 1) such as 0.001, got {text!r}"
        )
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"expected a number of workers 1..64, got {text!r}")
    return value


def _policy_list(text: str) -> list[str]:
    try:
        return check_policies(p.strip() for p in text.split(",") if p.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


MAX_CART_LINES = 100
MAX_LINE_QTY = 10_000
"""A cart as the API takes it: up to 100 lines of 1..10,000 units."""
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")
"""A SKU as the API takes it: letters, digits and . _ : - (a SKU may hold a colon: the
quantity is after the last one)."""
CART_EXAMPLE = "SKU-000021:2,SKU-000094:1"


def _cart(text: str) -> dict[str, int]:
    """SKU:QTY,SKU:QTY,... -> sku -> units (a SKU given twice is one line, summed)."""
    entries = [e.strip() for e in text.split(",")]
    if not any(entries):
        raise argparse.ArgumentTypeError(f"expected SKU:QTY,... such as {CART_EXAMPLE}")
    if len(entries) > MAX_CART_LINES:
        raise argparse.ArgumentTypeError(f"{len(entries)} lines: expected at most {MAX_CART_LINES}")
    lines = []
    for entry in entries:
        sku, sep, qty = entry.rpartition(":")
        if not entry:
            raise argparse.ArgumentTypeError(f"an empty entry in {text!r} (a comma too many?)")
        if not sep or not sku.strip():
            raise argparse.ArgumentTypeError(
                f"{entry!r}: expected SKU:QTY such as SKU-000021:2 (a SKU, a colon, its units)"
            )
        sku, qty = sku.strip(), qty.strip()
        if not SKU_PATTERN.fullmatch(sku) or len(sku) > 128:
            raise argparse.ArgumentTypeError(
                f"SKU {sku!r}: expected letters, digits and . _ : - (at most 128)"
            )
        if not qty.isascii() or not qty.isdigit() or not 1 <= int(qty) <= MAX_LINE_QTY:
            raise argparse.ArgumentTypeError(
                f"{sku}: quantity {qty!r}: expected a whole number 1..{MAX_LINE_QTY:,}"
            )
        lines.append((sku, int(qty)))
    return merge_lines(lines)


@dataclass(frozen=True)
class Place:
    """Where --to points: a point, or a postal code with its country (None: the
    network's)."""

    lat: float | None = None
    lon: float | None = None
    postal: str | None = None
    country: str | None = None


TO_FORMS = "LAT,LON such as 40.75,-73.99, or POSTAL:COUNTRY such as 10001:US"


def _place(text: str) -> Place:
    if "," in text:
        parts = text.split(",")
        try:
            lat, lon = (float(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {TO_FORMS}, got {text!r}") from None
        if not (math.isfinite(lat) and -90 <= lat <= 90):
            raise argparse.ArgumentTypeError(f"latitude {parts[0]!r}: expected -90..90")
        if not (math.isfinite(lon) and -180 <= lon <= 180):
            raise argparse.ArgumentTypeError(f"longitude {parts[1]!r}: expected -180..180")
        return Place(lat=lat, lon=lon)
    postal, sep, country = (p.strip() for p in text.partition(":"))
    if not postal or (sep and not re.fullmatch(r"[A-Za-z]{2}", country)):
        raise argparse.ArgumentTypeError(
            f"expected {TO_FORMS} (an ISO 3166 country code), got {text!r}"
        )
    return Place(postal=postal, country=country.upper() if sep else None)


def destination_of(place: Place, network_country: str) -> Destination:
    """The destination --to names, its postal code placed (CliError naming --to)."""
    if place.postal is None:
        assert place.lat is not None
        assert place.lon is not None
        return Destination(place.lat, place.lon)
    country = place.country or network_country
    try:
        if country == "US" and not re.fullmatch(ZIP_PATTERN, place.postal):
            raise CliError(
                f"argument --to: {place.postal!r}: expected a 5-digit US ZIP code or ZIP+4 "
                "such as 10001"
            )
        found = destination(None, None, place.postal, True, country)
    except NoPostalData as exc:  # the API's words, without its field name
        why = str(exc).removeprefix("destination.zip: ")
        raise CliError(f"argument --to: {why} (--to LAT,LON)") from None
    if found is None:
        raise CliError(
            f"argument --to: unknown US ZIP code {place.postal!r} (expected a known 5-digit "
            "ZIP or ZIP+4 such as 10001)"
        )
    return found


def _moment(text: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time with its UTC offset such as 2026-12-24T10:00:00+01:00, "
            f"got {text!r}"
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset: add one (such as +01:00, -05:00 or Z), so that the "
            "time is not read in this machine's zone"
        )
    if not 2000 <= at.year <= 2099:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a moment in the years 2000..2099")
    return at


def _method_list(text: str) -> list[str]:
    names: list[str] = []
    for name in (m.strip() for m in text.split(",")):
        if name not in METHODS:
            raise argparse.ArgumentTypeError(
                f"unknown method {name!r}; choose from {', '.join(METHODS)}"
            )
        if name in names:
            raise argparse.ArgumentTypeError(f"method {name!r} is given twice")
        names.append(name)
    return names


# --- reading and writing files ----------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, expected a JSON file") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _file_error(path: Path, exc: InputError) -> CliError:
    """'PATH: problem' or 'PATH: N problems ...' with each problem naming its entry."""
    problems = [p.removeprefix(f"{path}: ") for p in exc.problems]
    return CliError(f"{path}: {InputError(problems)}")


def read_problem(path: Path) -> Batch:
    """Read a `sourcing-problem/1` file; CliError naming the file and every bad entry."""
    text = _read_bytes(path)
    try:
        return problem_from_json(text, what=str(path))
    except InputError as exc:
        raise _file_error(path, exc) from None


def read_plan(path: Path) -> PlanSpec:
    """Read a `sourcing-plan/1` file; CliError naming the file and every bad entry."""
    text = _read_bytes(path)
    try:
        return plan_from_json(text, what=str(path))
    except InputError as exc:
        raise _file_error(path, _wrong_format(text) or exc) from None


def compile_for(batch: Batch, source: str) -> CompiledBatch:
    """Compile a batch; what the solvers cannot take (say an order with too many ways to
    split) is bad input too, named with its source (a file or a preset)."""
    try:
        return compile_batch(batch)
    except InputError as exc:
        raise CliError(f"{source}: {exc}") from None


def _wrong_format(text: bytes) -> InputError | None:
    """One clear problem for a document of another format (say the problem file given as
    the plan), instead of one complaint per unexpected field."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    found = data.get("format") if isinstance(data, dict) else None
    if found is None or found == PLAN_FORMAT:
        return None
    return InputError(
        f'format: expected "{PLAN_FORMAT}", got {json.dumps(found)} (is this a plan file?)'
    )


def _write_text(path: Path | None, text: str) -> None:
    """Write to the file, or to stdout without one."""
    if path is None:
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{path}: cannot write ({exc.strerror or exc})") from None


# --- commands ---------------------------------------------------------------------------


def _optional(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def plan_summary(plan: PlanSpec) -> str:
    """One line: policy, status, objective with currency, bound, gap, runtime."""
    gap = None if plan.gap is None else 100.0 * plan.gap
    return (
        f"{plan.policy}: {plan.status}, objective {plan.objective:,.2f} {plan.currency}, "
        f"bound {_optional(plan.bound, ',.2f')}, gap {_optional(gap, '.3f')}"
        f"{'' if gap is None else '%'}, {plan.runtime_s:.2f} s"
    )


def cmd_solve(args: argparse.Namespace) -> int:
    batch = read_problem(args.problem)
    compiled = compile_for(batch, str(args.problem))
    note = None
    if args.policy == LOOKAHEAD:
        result, note = _solve_lookahead(batch, compiled, args)
    elif args.history is not None or args.at is not None:
        raise CliError("--history and --at are read by --policy lookahead only")
    else:
        result = solve(
            compiled.problem, args.policy, time_limit=args.time_limit, gap_tolerance=args.gap
        )
    plan = compiled.plan_document(result)
    _write_text(args.out, plan.model_dump_json(indent=2) + "\n")
    print(plan_summary(plan), file=sys.stderr)
    if note is not None:
        print(note, file=sys.stderr)
    return 0


def _solve_lookahead(
    batch: Batch, compiled: CompiledBatch, args: argparse.Namespace
) -> tuple[Result, str]:
    """The batch sourced by `lookahead` at --at (default now), its prices forecast from the
    --history file's orders placed before then; and a line saying what they came from."""
    if args.history is None:
        raise CliError(
            "--policy lookahead needs --history ORDERS.csv|.jsonl: past orders with their "
            "placed_at (the format of a scenario's order file), to forecast the rest of the day"
        )
    try:
        orders, placed = read_orders(args.history)
    except FileNotFoundError:
        raise CliError(f"{args.history}: no such file") from None
    except OSError as exc:
        raise CliError(f"{args.history}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    when = args.at or dt.datetime.now(dt.UTC)
    at = when.timestamp()
    before = int(np.searchsorted(placed, at, side="left"))
    if before == 0:
        raise CliError(
            f"{args.history}: no order placed before {when.isoformat()}; lookahead forecasts "
            "from the orders placed before the batch is sourced (see --at)"
        )
    history = OrderHistory(OrderStream(orders[:before], placed[:before]), float(placed[0]))
    tz = ZoneInfo(network_time_zone(batch.nodes))
    sample = rest_of_day_sample(history, at, next_midnight(at, tz))
    items = {i.sku for i in batch.items}

    def scenario(orders: Sequence[Order]) -> SourcingProblem:
        return compile_batch(replace(batch, orders=tuple(known_orders(orders, items)))).problem

    day = None if sample is None else sample_prices(sample, scenario)
    result = source_lookahead(compiled.problem, day)
    if day is None:
        return result, (
            f"lookahead: {args.history} has no order in the rest of the day's hours on the "
            "days it covers before: sourced as greedy-cost"
        )
    return result, (
        f"lookahead: prices from {len(day.sample.orders)} orders placed in the rest of the "
        f"day's hours over the {day.sample.days} day(s) before"
    )


def cmd_validate(args: argparse.Namespace) -> int:
    batch = read_problem(args.problem)
    report = validate_plan(batch, read_plan(args.plan))
    if report.ok:
        print(f"valid: objective {report.objective:.2f} {batch.currency}")
        return 0
    print(f"invalid: {len(report.errors)} error{'s' if len(report.errors) > 1 else ''}")
    print("\n".join(f"  - {e}" for e in report.errors))
    return EXIT_INVALID_PLAN


def batch_summary(batch: Batch) -> str:
    warehouses = sum(n.kind == "warehouse" for n in batch.nodes)
    return (
        f"{len(batch.nodes)} nodes ({warehouses} warehouses, {len(batch.nodes) - warehouses} "
        f"stores), {len(batch.items)} SKUs, {len(batch.orders)} orders, "
        f"{len(batch.inventory)} stock positions"
    )


def cmd_scenario_generate(args: argparse.Namespace) -> int:
    batch = generate(args.preset, seed=args.seed)
    try:
        path = write_scenario(batch, args.out)
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write the scenario ({exc.strerror or exc})") from None
    stats = binding_stats(batch)
    print(path)
    print(f"{batch.name}: {batch_summary(batch)}")
    print(
        f"binding: sourceable stock / demand {stats.stock_ratio:.2f}, "
        f"{stats.nearest_lacks_stock:.0%} of lines' nearest node lacks stock, "
        f"{stats.over_capacity:.0%} of nodes over capacity if all go to nearest, "
        f"shipment capacity / orders {stats.capacity_ratio:.2f}"
    )
    return 0


def _progress(policies: Sequence[str], enabled: bool) -> Iterator[str]:
    """The policies, driving a progress bar on stderr that names the one running."""
    with tqdm(
        total=len(policies), file=sys.stderr, disable=not enabled, unit="policy", leave=False
    ) as bar:
        for name in policies:
            bar.set_postfix_str(name)
            yield name
            bar.update()


def cmd_compare(args: argparse.Namespace) -> int:
    if args.preset is not None:
        seed = args.seed if args.seed is not None else 0
        batch, source = generate(args.preset, seed=seed), f"preset {args.preset} seed {seed}"
    elif args.seed is not None:
        raise CliError("argument --seed: applies to --preset only, not to a problem file")
    else:
        batch, source = read_problem(args.problem), str(args.problem)
    compiled = compile_for(batch, source)
    show_bar = not args.quiet and sys.stderr.isatty()
    try:
        rows = compare(
            compiled,
            _progress(args.policies, show_bar),
            time_limit=args.time_limit,
            gap_tolerance=args.gap,
        )
    except InvalidPlanError as exc:  # a solver bug: say so, print no figures
        print(f"invalid plan: {exc}", file=sys.stderr)
        return EXIT_INVALID_PLAN
    print(f"{batch.name or source}: {batch_summary(batch)}")
    print(format_table(rows))
    print("\n".join(LEGEND))
    if args.json is not None:
        data = to_json_data(rows, problem_name=batch.name)
        _write_text(args.json, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return 0


def _scenario(text: str) -> tuple[Batch, str]:
    """A preset (seed 0, as serve loads it) or a sourcing-problem/1 file, and its name."""
    if text in PRESETS:
        return generate(text, seed=0), f"preset {text}"
    path = Path(text)
    if not path.exists():
        raise CliError(
            f"argument --scenario: {text!r} is neither a preset ({', '.join(PRESETS)}) nor a file"
        )
    return read_problem(path), str(path)


def _open_ledger(url: str, need_network: bool = True) -> Service:
    """The service on an existing ledger (one line saying why it cannot be used)."""
    where = f"argument --store: {url}"
    if url.startswith(SQLITE_PREFIX):
        path = Path(url[len(SQLITE_PREFIX) :])
        if not path.is_file():  # never create an empty ledger to read from
            raise CliError(
                f"{where}: no ledger file at {path} (--scenario loads a network into a "
                "temporary one)"
            )
    try:
        service = Service(open_store(url))
    except (StoreNotDurable, DomainError) as exc:
        raise CliError(f"{where}: {exc}") from None
    except (ValueError, OSError, sqlite3.Error) as exc:
        raise CliError(f"{where}: cannot be used as the ledger ({exc})") from None
    try:
        if need_network and not service.list_nodes():
            raise CliError(f"{where}: the ledger has no network (no nodes) to promise from")
    except BaseException:
        service.close()
        raise
    return service


@contextmanager
def _promise_service(args: argparse.Namespace) -> Iterator[Service]:
    """The service on the --store ledger (read only), or on a temporary embedded ledger
    holding the --scenario's network (removed after)."""
    if args.store is not None:
        service = _open_ledger(args.store)
        try:
            yield service
        finally:
            service.close()
        return
    batch, source = _scenario(args.scenario)
    with tempfile.TemporaryDirectory(prefix="sourcing-engine-promise-") as tmp:
        service = Service(SqliteStore(Path(tmp) / "ledger.db"))
        try:
            service.load_network(batch, reason=source)
            yield service
        finally:
            service.close()


def cmd_promise(args: argparse.Namespace) -> int:
    place: Place = args.to
    destination = None
    if place.postal is None or place.country is not None:  # placed before any loading
        destination = destination_of(place, "US")
    at = args.at or dt.datetime.now(dt.UTC)
    methods: list[Method] = args.methods or list(METHODS)
    with _promise_service(args) as service:
        try:
            if destination is None:
                destination = destination_of(place, service.postal_country())
            found = service.promise(args.cart, destination, at, methods)
        except UnknownItems as exc:
            raise CliError(f"argument --cart: {exc}") from None
        except DomainError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(found.to_data(), indent=2, ensure_ascii=False))
    else:
        print(format_promise(found, args.cart, at))
    return 0


# --- the promise as text ----------------------------------------------------------------


def _when(option: Option) -> str:
    """A delivery window in the customer's local dates, or a ready time at the store."""
    if option.delivery is not None:
        w = option.delivery
        first = f"{w.earliest:%a %Y-%m-%d}"
        days = first if w.latest == w.earliest else f"{first} - {w.latest:%a %Y-%m-%d}"
        return f"{days} by {w.by:%H:%M}"
    assert option.ready_at is not None
    return f"ready {option.ready_at:%a %Y-%m-%d %H:%M %Z}"


def _ships_from(option: Option) -> str:
    if option.method == "pickup":
        return f"{option.store} (its shelf)"
    nodes = ", ".join(
        s.node if s.inbound is None else f"{s.node} ({s.inbound})" for s in option.shipments
    )
    return f"{nodes} -> {option.store}" if option.method == "ship_to_store" else nodes


def _marks(option: Option) -> str:
    found = [m for m, on in (("cheapest", option.cheapest), ("fastest", option.fastest)) if on]
    if not option.complete:
        found.append("partial")
    return ", ".join(found)


def _lines_text(lines: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{sku} x{qty}" for sku, qty in lines)


PROMISE_COLUMNS = (
    "#",
    "option",
    "cost",
    "delivery (customer's dates) / ready",
    "ships from",
    "mark",
)


def format_promise(found: Promise, cart: dict[str, int], at: dt.datetime) -> str:
    """The options as a table (ranked, cheapest and fastest marked), each option's reason
    (with its lines if it carries part of the cart), then the options not offered and the
    units nothing can promise, with their reasons."""
    d = found.destination
    tz = zone_at(d.lat, d.lon)
    to = f"ZIP {d.zip} ({d.lat:.4f},{d.lon:.4f})" if d.zip else f"{d.lat:.4f},{d.lon:.4f}"
    units = sum(cart.values())
    out = [
        f"promise for {units} unit{'s' * (units != 1)} of {len(cart)} SKU"
        f"{'s' * (len(cart) != 1)} to {to}, time zone {tz.key}, at "
        f"{at.astimezone(tz):%a %Y-%m-%d %H:%M %Z}; costs to us in {found.currency}"
    ]
    rows = [
        [str(k), o.id, f"{o.cost:,.2f} {o.currency}", _when(o), _ships_from(o), _marks(o)]
        for k, o in enumerate(found.options, 1)
    ]
    if rows:
        table = [list(PROMISE_COLUMNS), *rows]
        widths = [max(len(r[c]) for r in table) for c in range(len(PROMISE_COLUMNS))]

        def render(row: list[str]) -> str:
            return "  ".join(
                cell.rjust(w) if c in (0, 2) else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()

        out += ["", render(table[0]), "  ".join("-" * w for w in widths).rstrip()]
        out += [render(r) for r in rows]
        out += ["", "why:"]
        for k, o in enumerate(found.options, 1):
            part = "" if o.complete else f"{_lines_text([(ln.sku, ln.qty) for ln in o.lines])}: "
            out.append(f"  {k}. {part}{o.reason}")
    else:
        out += ["", "no option can be offered for this cart here"]
    if found.not_offered:
        out += ["", "not offered:"]
        for n in found.not_offered:
            short = f" (short: {_lines_text([(ln.sku, ln.qty) for ln in n.lines])})"
            out.append(f"  {n.id}: {n.reason}{short if n.lines else ''}")
    if found.unpromisable:
        out += ["", "cannot be promised:"]
        out += [f"  {u.sku} x{u.qty}: {u.reason} ({u.detail})" for u in found.unpromisable]
    return "\n".join(out)


def cmd_settings_export(args: argparse.Namespace) -> int:
    """The ledger's network settings as a JSON document (the one GET /v1/settings answers)."""
    service = _open_ledger(args.store, need_network=False)
    try:
        text = json.dumps(settings_to_data(service.network_settings()), indent=2) + "\n"
    except InputError as exc:
        raise CliError(f"argument --store: {args.store}: {exc}") from None
    finally:
        service.close()
    _write_text(None if args.out is None else Path(args.out), text)
    return 0


def cmd_settings_import(args: argparse.Namespace) -> int:
    """Replace the ledger's network settings with a document's, if the ledger's are still
    at the version the document was exported at (any version with --force)."""
    path = Path(args.file)
    try:
        data = load_json(path.read_bytes(), str(path))
        settings, version = settings_from_data(data, str(path))
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except InputError as exc:
        raise CliError(str(exc)) from None
    service = _open_ledger(args.store, need_network=False)
    try:
        done = service.put_network_settings(settings, None if args.force else version)
    except PreconditionFailed as exc:
        raise CliError(f"{exc} (export them again, or --force to replace them)") from None
    except DomainError as exc:
        raise CliError(f"{path}: {exc}") from None
    finally:
        service.close()
    print(
        f"settings of {args.store}: version {done.version}, {done.currency}, default service "
        f"level {done.service_level.name}, postal codes of {done.postal}"
    )
    return 0


def _usage(parser: argparse.ArgumentParser) -> int:
    """A command group run without a command: its help, exit 2."""
    parser.print_help()
    return EXIT_BAD_INPUT


def cmd_export(args: argparse.Namespace) -> int:
    """Orders, shipments, allocations or events of a time range to a CSV or Parquet file,
    written a batch at a time to FILE.part and renamed to FILE when complete."""
    out = Path(args.out)
    fmt = args.format or ("parquet" if out.suffix == ".parquet" else "csv")
    service = _open_ledger(args.store, need_network=False)
    part = out.with_name(out.name + ".part")
    # an export makes millions of short-lived objects: without this, every full collection
    # walks all the modules' objects too (a third of the CPU of a million-order export)
    gc.freeze()
    try:
        req = service.export_request(args.what, args.start, args.end, fmt)
        with part.open("wb") as sink:
            rows = service.export_to(req, sink)
        part.replace(out)
    except DomainError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"argument --out: {out}: cannot write ({exc.strerror or exc})") from None
    finally:
        gc.unfreeze()
        part.unlink(missing_ok=True)
        service.close()
    print(f"{rows} {args.what} rows to {out} ({fmt})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    # the command line is the composition root: the one place the domain package reaches up
    # to the HTTP layer, lazily, to start it (the other commands do not need the server)
    from sourcing_engine.api.serve import ServeError, serve

    try:
        return serve(
            args.host,
            args.port,
            args.store,
            args.scenario,
            args.workers,
            args.access_log,
            deliverer=not args.no_deliverer,
        )
    except ServeError as exc:
        raise CliError(str(exc)) from None


def cmd_deliver(args: argparse.Namespace) -> int:
    # the store is opened as serve opens it (one error line for a store that cannot be used)
    from sourcing_engine.api.serve import ServeError, open_checked
    from sourcing_engine.settings import Settings
    from sourcing_engine.webhooks.deliverer import run_until_signalled

    try:
        store = open_checked(args.store)
    except ServeError as exc:
        raise CliError(str(exc)) from None
    print(f"delivering webhooks from {args.store}", flush=True)
    try:
        run_until_signalled(store, Settings().delivery_config(), args.parent)
    finally:
        store.close()
    return 0


# --- parser -----------------------------------------------------------------------------


def _add_solver_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--time-limit",
        type=_positive_seconds,
        default=60.0,
        metavar="S",
        help="seconds for the optimal policy (default 60)",
    )
    p.add_argument(
        "--gap",
        type=_gap,
        default=1e-4,
        metavar="G",
        help="relative gap at which optimal stops (default 0.0001)",
    )


def _help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show(_: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    return show


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Decide which nodes ship which units of each order, at least cost.",
        epilog="Exit codes: 0 done, 1 plan invalid (validate), 2 bad input.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.set_defaults(run=_help(parser))
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = commands.add_parser("solve", help="source a batch and write its plan")
    p.add_argument("problem", type=Path, metavar="PROBLEM.json")
    p.add_argument("--policy", choices=[*POLICIES, LOOKAHEAD], default="optimal")
    _add_solver_options(p)
    p.add_argument(
        "--history",
        type=Path,
        metavar="ORDERS",
        help="lookahead: past orders with placed_at (CSV or JSON lines, as a scenario's "
        "order file), to forecast the rest of the day from",
    )
    p.add_argument(
        "--at",
        type=_moment,
        metavar="ISO-TIME",
        help="lookahead: when the batch is sourced, with its UTC offset (default now)",
    )
    p.add_argument("--out", type=Path, metavar="PLAN.json", help="plan file (default stdout)")
    p.set_defaults(run=cmd_solve)

    p = commands.add_parser("validate", help="check a plan against its problem")
    p.add_argument("problem", type=Path, metavar="PROBLEM.json")
    p.add_argument("plan", type=Path, metavar="PLAN.json")
    p.set_defaults(run=cmd_validate)

    p = commands.add_parser("scenario", help="generated scenarios")
    p.set_defaults(run=_help(p))
    scenario = p.add_subparsers(title="commands", metavar="COMMAND")
    g = scenario.add_parser("generate", help="write a generated problem to DIR/problem.json")
    g.add_argument("--preset", choices=list(PRESETS), required=True)
    g.add_argument("--seed", type=_seed, default=0, metavar="N", help="default 0")
    g.add_argument("--out", type=Path, required=True, metavar="DIR")
    g.set_defaults(run=cmd_scenario_generate)

    p = commands.add_parser("compare", help="run several policies on one batch and compare")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("problem", type=Path, nargs="?", metavar="PROBLEM.json")
    source.add_argument("--preset", choices=list(PRESETS))
    p.add_argument("--seed", type=_seed, metavar="N", help="with --preset (default 0)")
    p.add_argument(
        "--policies",
        type=_policy_list,
        default=list(DEFAULT_POLICIES),
        metavar="P1,P2,...",
        help=f"default {','.join(DEFAULT_POLICIES)}",
    )
    _add_solver_options(p)
    p.add_argument("--json", type=Path, metavar="OUT.json", help="also write the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_compare)

    p = commands.add_parser(
        "promise",
        help="the delivery options of a cart at a destination, with dates and costs",
        description="Every delivery option of a cart at a destination (ship per service "
        "level, pickup, ship-to-store, backorder), ranked, with dates and our cost, on a "
        "scenario's network or on a ledger's live stock (nothing is held or changed).",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--scenario",
        metavar="PRESET_OR_PROBLEM.json",
        help=f"a preset ({', '.join(PRESETS)}; seed 0) or a problem file, loaded into a "
        "temporary embedded ledger",
    )
    source.add_argument(
        "--store", metavar="URL", help="an existing ledger: sqlite:///path or redis://host:port/db"
    )
    p.add_argument(
        "--cart", type=_cart, required=True, metavar="SKU:QTY,...", help=f"e.g. {CART_EXAMPLE}"
    )
    p.add_argument(
        "--to",
        type=_place,
        required=True,
        metavar="LAT,LON|POSTAL:COUNTRY",
        help="coordinates, or a postal code with its country (only US ZIP codes are placed; "
        "without :COUNTRY, the network's country)",
    )
    p.add_argument(
        "--at",
        type=_moment,
        metavar="ISO-TIME",
        help="the moment of the request, with its UTC offset, e.g. 2026-12-24T10:00:00+01:00 "
        "(default now)",
    )
    p.add_argument(
        "--methods",
        type=_method_list,
        metavar="M1,M2,...",
        help=f"which to consider: {','.join(METHODS)} (default all)",
    )
    p.add_argument("--json", action="store_true", help="print the promise document instead")
    p.set_defaults(run=cmd_promise)

    add_explain_command(commands)
    add_whatif_command(commands)

    settings = commands.add_parser("settings", help="export or import a ledger's network settings")
    settings.set_defaults(run=lambda _: _usage(settings))
    sub = settings.add_subparsers(title="commands", metavar="COMMAND")
    e = sub.add_parser("export", help="print (or --out write) the settings document")
    e.add_argument("--store", required=True, metavar="URL", help="sqlite:///path or redis://...")
    e.add_argument("--out", metavar="FILE", help="write the document there instead")
    e.set_defaults(run=cmd_settings_export)
    i = sub.add_parser("import", help="replace the settings with a document's")
    i.add_argument("file", metavar="FILE", help="a settings document (as export writes it)")
    i.add_argument("--store", required=True, metavar="URL", help="sqlite:///path or redis://...")
    i.add_argument(
        "--force", action="store_true",
        help="replace them whatever their version (default: only if unchanged since the export)",
    )  # fmt: skip
    i.set_defaults(run=cmd_settings_import)

    p = commands.add_parser(
        "serve",
        help="run the order-lifecycle API (embedded store and a demo network by default)",
        epilog="Set SOURCING_ENGINE_ADMIN_KEY to choose the admin key; without it a "
        "development key is created and printed.",
    )
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    p.add_argument("--port", type=_port, default=8000, help="default 8000")
    p.add_argument(
        "--store",
        default="sqlite:///data/ledger.db",
        metavar="URL",
        help="sqlite:///path/ledger.db (default sqlite:///data/ledger.db) or redis://host:port/db",
    )
    p.add_argument(
        "--scenario",
        metavar="PRESET_OR_PROBLEM.json",
        help=f"network loaded into an empty store (default: preset small; presets: "
        f"{', '.join(PRESETS)})",
    )
    p.add_argument("--workers", type=_workers, default=1, metavar="N", help="default 1")
    p.add_argument(
        "--access-log",
        action="store_true",
        help="log every request as a JSON line: request id, method, path, status, duration, "
        "API key id (off by default: it costs a tenth of a small request's CPU; /metrics "
        "counts requests by route and status)",
    )
    p.add_argument(
        "--no-deliverer",
        action="store_true",
        help="do not start the webhook deliverer (run one per store: on the other machines "
        "of a shared Redis store, or with 'sourcing-engine deliver' apart)",
    )
    p.set_defaults(run=cmd_serve)

    p = commands.add_parser(
        "export",
        help="write orders, shipments, allocations or events of a time range as CSV or Parquet",
        epilog="Columns: docs/export.md. Times are ISO 8601, UTC unless they name a zone.",
    )
    p.add_argument("--store", required=True, metavar="URL", help="sqlite:///path or redis://...")
    p.add_argument(
        "--what",
        required=True,
        choices=("orders", "shipments", "allocations", "events"),  # export.KINDS (lazy: pyarrow)
        help="the table (orders by their creation time, events by their time)",
    )
    p.add_argument("--from", dest="start", metavar="TIME", help="included (default: the start)")
    p.add_argument("--to", dest="end", metavar="TIME", help="excluded (default: now)")
    p.add_argument("--format", choices=("csv", "parquet"),
                   help="default: parquet for a FILE ending in .parquet, else csv")  # fmt: skip
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    p.set_defaults(run=cmd_export)

    p = commands.add_parser(
        "deliver",
        help="post the store's events to its webhooks until stopped (serve starts one)",
        epilog="Retries: SOURCING_ENGINE_WEBHOOK_RETRY_PERIOD_S (default 3 days), "
        "SOURCING_ENGINE_WEBHOOK_TIMEOUT_S (10), SOURCING_ENGINE_WEBHOOK_FIRST_BACKOFF_S (1).",
    )
    p.add_argument(
        "--store",
        default="sqlite:///data/ledger.db",
        metavar="URL",
        help="the ledger the API writes (default sqlite:///data/ledger.db)",
    )
    p.add_argument(
        "--parent",
        type=int,
        metavar="PID",
        help="stop when process PID exits (serve passes its own)",
    )
    p.set_defaults(run=cmd_deliver)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        code: int = args.run(args)
        return code
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help and --version exit 0 through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader stopped reading (`| head`): nothing is wrong
        _discard_stdout()
        return 0


def _discard_stdout() -> None:
    """Send what is left of stdout to /dev/null, so that the flush at exit does not fail
    on the closed pipe again (the recipe of Python's `signal` documentation)."""
    with suppress(OSError, ValueError):  # no file descriptor: stdout captured in memory
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
