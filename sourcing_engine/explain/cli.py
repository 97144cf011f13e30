"""`sourcing-engine explain`: one order of a plan, or the whole batch, explained."""

import argparse
import json
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal

from sourcing_engine.explain.batch import BatchExplanation, explain_batch
from sourcing_engine.explain.context import BatchPlan
from sourcing_engine.explain.order import Explanation, explain
from sourcing_engine.explain.summary import LANGUAGES, summary

UNUSED_SHOWN = 8


def add_command(commands: "argparse._SubParsersAction[Any]") -> None:
    p = commands.add_parser(
        "explain",
        help="why a plan sources an order as it does, or what the batch's resources are worth",
        description="Explain one order of a plan (its cost term by term, the next best plans, "
        "why nearer or cheaper nodes did not ship, what the closest and greedy-cost rules "
        "would have cost) or the whole batch (shadow prices of stock and capacity, the "
        "orders sourced away from their own cheapest plan). The plan is validated first.",
    )
    p.add_argument("problem", type=Path, metavar="PROBLEM.json")
    p.add_argument("plan", type=Path, metavar="PLAN.json")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--order", metavar="ID", help="the order to explain")
    what.add_argument("--batch", action="store_true", help="the batch's shadow prices")
    p.add_argument("--lang", choices=list(LANGUAGES), default="en",
                   help="language of the summary (default en)")  # fmt: skip
    p.add_argument("--top", type=int, default=10, metavar="N",
                   help="with --batch: resources listed (default 10)")  # fmt: skip
    p.add_argument("--check", choices=["relaxation", "integer"], default="relaxation",
                   help="with --batch: re-solve the relaxation (default) or also the whole "
                   "batch with optimal per listed resource (small batches)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the explanation as JSON")
    p.set_defaults(run=cmd_explain)


def cmd_explain(args: argparse.Namespace) -> int:
    # the command line's readers and errors (imported here: cli.py imports this module)
    from sourcing_engine.cli import CliError, compile_for, read_plan, read_problem
    from sourcing_engine.plan_check import validate_plan

    if args.top < 1:
        raise CliError(f"argument --top: expected a whole number >= 1, got {args.top}")
    batch = read_problem(args.problem)
    plan = read_plan(args.plan)
    report = validate_plan(batch, plan)
    if report.errors:
        raise CliError(
            f"{args.plan}: the plan does not hold against {args.problem} "
            f"({len(report.errors)} problem(s), first: {report.errors[0]}; see validate)"
        )
    bp = BatchPlan(compile_for(batch, str(args.problem)), plan)
    if args.batch:
        found = explain_batch(bp, top=args.top, check=args.check)
        print(json.dumps(found.to_data(), indent=1) if args.json else format_batch(found))
        return 0
    if args.order not in bp.plans:
        raise CliError(f'argument --order: order "{args.order}" is not in {args.plan}')
    e = explain(bp.order_context(args.order))
    text = summary(e, args.lang)
    if args.json:
        print(json.dumps({**e.to_data(), "language": args.lang, "summary": text}, indent=1))
    else:
        print(format_order(e, text))
    return 0


def _money(value: float, currency: str) -> str:
    """As the summary rounds it (Babel: the decimal written, half to even); float noise
    around zero is 0.00, not -0.00."""
    value = round(value, 6) + 0.0
    return f"{format_decimal(value, '#,##0.00', locale='en_US')} {currency}"


def format_order(e: Explanation, text: str) -> str:
    c = e.currency
    out = [text, "", f"plan: {_money(e.plan.cost, c)}"]
    for s in e.plan.shipments:
        lines = ", ".join(f"{ln.sku} x{ln.qty}" for ln in s.lines)
        where = f"{s.miles:,.0f} mi" + (f", zone {s.zone}" if s.zone is not None else "")
        weight = f", {s.billable_lb} lb billable" if s.billable_lb is not None else ""
        out.append(f"  {s.node} ({where}{weight}): {lines}: {_money(s.cost, c)}")
        out.append("    " + ", ".join(f"{k} {v:.2f}" for k, v in s.terms if abs(v) > 1e-9))
    if e.plan.split_penalty:
        out.append(f"  split penalty: {_money(e.plan.split_penalty, c)}")
    if e.plan.unfilled:
        lines = ", ".join(f"{ln.sku} x{ln.qty}" for ln in e.plan.unfilled)
        out.append(f"  unfilled {lines}: {_money(e.plan.unfilled_penalty, c)}")
    out.append("next best:")
    for a in e.alternatives:
        label = "in one shipment" if a.kind == "one_shipment" else "without " + ", ".join(a.without)
        nodes = ", ".join(a.items.nodes) or "nothing shipped"
        lost = ", ".join(f"{k} {v:+.2f}" for k, v in a.lost_by.items() if abs(v) > 1e-9)
        out.append(f"  {label}: from {nodes}: {_money(a.items.cost, c)} (+{a.extra:.2f}: {lost})")
    out.append("rules on the same stock:")
    for name, a in e.rules.items():
        nodes = ", ".join(a.items.nodes) or "nothing shipped"
        out.append(f"  {name}: from {nodes}: {_money(a.items.cost, c)} (saving {a.extra:.2f})")
    out.append(f"nodes nearer or cheaper, not used ({len(e.unused)}):")
    for u in e.unused[:UNUSED_SHOWN]:
        reasons = "; ".join(r.code + (f" {r.sku}" if r.sku else "") for r in u.reasons)
        out.append(f"  {u.node} ({u.miles:,.0f} mi): {reasons}")
    if len(e.unused) > UNUSED_SHOWN:
        out.append(f"  ... {len(e.unused) - UNUSED_SHOWN} more (--json lists every one)")
    return "\n".join(out)


def format_batch(b: BatchExplanation) -> str:
    c = b.currency
    out = [
        f"plan {_money(b.objective, c)}; relaxation {_money(b.relaxation, c)}"
        + ("" if b.converged else " (not converged)"),
        "one more unit is worth (relaxation re-solved; dual; exact when they agree):",
    ]
    for s in b.shadow_prices:
        what = f"{s.sku} at {s.node}" if s.kind == "stock" else f"{s.kind} capacity at {s.node}"
        resolved = "?" if s.resolved is None else f"{s.resolved:.2f}"
        extra = "" if s.integer is None else f", batch re-solved {s.integer:.2f}"
        out.append(f"  {what}: {resolved} (dual {s.dual:.2f}{', exact' if s.exact else ''}{extra})")
    out.append(
        f"orders sourced away from their own cheapest plan: {len(b.redirected)}, "
        f"{_money(b.redirect_cost, c)} more for them; the batch saves "
        f"{_money(b.gained_vs_greedy, c)} against greedy-cost"
    )
    for r in b.redirected[:UNUSED_SHOWN]:
        out.append(f"  {r.order_id}: {_money(r.cost, c)} instead of {_money(r.alone, c)}")
    return "\n".join(out)
