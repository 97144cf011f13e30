"""The `sourcing-engine` command line: solve, validate, scenario generate, compare, serve.

Exit codes: 0 done (or a valid plan), 1 a plan that fails validation, 2 bad input. Bad input
of any kind (a file, a field, an option) is reported as one `error: ...` message on stderr
that names the file and the entry, never as a traceback. `main` only parses, calls and maps
errors; the work is done by `exchange`, `sourcing`, `solvers`, `plan_check`, `presets` and
`compare`; `serve` by `api.serve` (which starts the API).
"""

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

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
from sourcing_engine.domain import Batch
from sourcing_engine.errors import InputError
from sourcing_engine.exchange import (
    PLAN_FORMAT,
    PlanSpec,
    plan_from_json,
    problem_from_json,
)
from sourcing_engine.plan_check import validate_plan
from sourcing_engine.presets import PRESETS, binding_stats, generate, write_scenario
from sourcing_engine.solvers import POLICIES, solve
from sourcing_engine.sourcing import CompiledBatch, compile_batch

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
    compiled = compile_for(read_problem(args.problem), str(args.problem))
    result = solve(
        compiled.problem, args.policy, time_limit=args.time_limit, gap_tolerance=args.gap
    )
    plan = compiled.plan_document(result)
    _write_text(args.out, plan.model_dump_json(indent=2) + "\n")
    print(plan_summary(plan), file=sys.stderr)
    return 0


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


def cmd_serve(args: argparse.Namespace) -> int:
    # the command line is the composition root: the one place the domain package reaches up
    # to the HTTP layer, lazily, to start it (the other commands do not need the server)
    from sourcing_engine.api.serve import ServeError, serve

    try:
        return serve(args.host, args.port, args.store, args.scenario, args.workers, args.access_log)
    except ServeError as exc:
        raise CliError(str(exc)) from None


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
    p.add_argument("--policy", choices=list(POLICIES), default="optimal")
    _add_solver_options(p)
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
        help="log every request (off by default: it costs a tenth of a small request's CPU; "
        "/metrics counts requests by route and status)",
    )
    p.set_defaults(run=cmd_serve)
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


if __name__ == "__main__":
    sys.exit(main())
