"""`sourcing-engine whatif SCENARIO.toml --out DIR`: run a scenario's variants and write the
report (report.html, outcomes.json, outcomes.csv), with a progress bar (tqdm: already the
CLI's progress bar for `compare`, it writes to stderr and stays out of redirected output).
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sourcing_engine.whatif import report
from sourcing_engine.whatif.runner import RayUnavailable, run
from sourcing_engine.whatif.scenario import ScenarioError, load
from sourcing_engine.whatif.simulate import ReplayCheckError


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_command(commands: "argparse._SubParsersAction[Any]") -> None:
    p = commands.add_parser(
        "whatif",
        help="replay demand through changed networks and compare them in a report",
        description="Replay a scenario's order stream through each of its variants (the "
        "first is the base) with the live service's sourcing, and write report.html (opens "
        "without network), outcomes.json and outcomes.csv to DIR. Scenario files: scenarios/.",
    )
    p.add_argument("scenario", type=Path, metavar="SCENARIO.toml")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--workers", type=_workers, metavar="N",
                   help="variants run in N processes (default: one per core)")  # fmt: skip
    p.add_argument("--check", action="store_true",
                   help="every plan through the independent plan checker (slower)")  # fmt: skip
    p.add_argument("--ray", metavar="ADDRESS",
                   help="run the variants on this Ray cluster (host:port, or 'local' for a "
                   "Ray instance of this run); needs the extra: pip install "
                   "'sourcing-engine[ray]'")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_whatif)


def cmd_whatif(args: argparse.Namespace) -> int:
    from sourcing_engine.cli import CliError  # cli.py imports this module

    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out: {args.out} is a file, expected a directory")
    try:
        scenario = load(args.scenario)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    bar = tqdm(total=0, unit=" orders", disable=args.quiet, file=sys.stderr,
               desc=f"{len(scenario.variants)} variants")  # fmt: skip

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        result = run(scenario, workers=args.workers, check_plans=args.check, progress=progress,
                     ray_address=args.ray)  # fmt: skip
    except (ScenarioError, RayUnavailable) as exc:
        raise CliError(str(exc)) from None
    except ReplayCheckError as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    paths = report.write(result, args.out)
    base = result.outcomes[0]
    print(f"{scenario.name}: {result.orders:,} orders over {result.days} days, "
          f"{len(result.outcomes)} variants in {result.runtime_s:.1f} s")  # fmt: skip
    width = max(len(o.variant) for o in result.outcomes)
    for o in result.outcomes:
        pct = o.saving.get("total_pct", 0.0)
        versus = "base" if o is base else f"{abs(pct):.1f}% {'cheaper' if pct >= 0 else 'dearer'}"
        print(f"  {o.variant:<{width}} {o.total_cost:>14,.0f} {o.currency}  {versus}")
    print(f"report: {paths[report.REPORT_HTML]}")
    return 0
