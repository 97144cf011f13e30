"""Print the README's results tables from the recorded benchmark results.

pytest benchmarks --benchmark-json=benchmarks/results.json   # the plain suite
pytest benchmarks/test_X.py -m long --benchmark-json=benchmarks/results-X.json  # a long one
python -m benchmarks.report                  # every committed results file: the README section
python -m benchmarks.report --write-readme   # ... written between the README's markers
python -m benchmarks.report FILE...          # the tables of these files only

The README's section between REPORT_BEGIN and REPORT_END is this module's output on the
committed results (tests/test_readme_results.py fails when they differ). A table is a
function of all the results' rows that prints itself (nothing, or a bare header, when it
finds no row of its own); add it to TABLES. Figures repeated over rounds print as
"median (min-max)".
"""

import argparse
import contextlib
import io
import json
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
README = BENCHMARKS.parent / "README.md"
REPORT_BEGIN = "<!-- report:begin (python -m benchmarks.report --write-readme) -->"
REPORT_END = "<!-- report:end -->"


def _fmt(value: Any, spec: str = ".2f", scale: float = 1.0, unit: str = "") -> str:
    return "—" if value is None else format(value * scale, spec) + unit


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _runs(e: dict[str, Any], key: str) -> list[float]:
    """A figure's value in every round (extra_info["runs"], benchmarks.conftest.run_rounds),
    or its one recorded value."""
    values = [r[key] for r in e.get("runs", []) if r.get(key) is not None]
    if not values and e.get(key) is not None:
        values = [e[key]]
    return [float(v) for v in values]


def _spread(values: Sequence[float], spec: str, scale: float = 1.0, unit: str = "") -> str:
    """The median of several rounds with their range, "1.2 ms (1.1-1.4 ms)"; one value alone."""
    if not values:
        return "—"
    median = _fmt(statistics.median(values), spec, scale, unit)
    if min(values) == max(values):
        return median
    low, high = _fmt(min(values), spec, scale), _fmt(max(values), spec, scale, unit)
    return f"{median} ({low}-{high})"


def _fig(e: dict[str, Any], key: str, spec: str, scale: float = 1.0, unit: str = "") -> str:
    return _spread(_runs(e, key), spec, scale, unit)


def _times(b: dict[str, Any], spec: str, scale: float, unit: str) -> str:
    """A benchmark's timed rounds: median (min-max) when it ran more than once."""
    s = b["stats"]
    if s["rounds"] == 1:
        return _fmt(s["median"], spec, scale, unit)
    low, high = _fmt(s["min"], spec, scale), _fmt(s["max"], spec, scale, unit)
    return f"{_fmt(s['median'], spec, scale, unit)} ({low}-{high})"


def _rounds(b: dict[str, Any]) -> str:
    return str(b["stats"]["rounds"])


def _find(rows: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((b for b in rows if b["name"] == name), None)


def single_order_table(rows: list[dict[str, Any]]) -> None:
    found = [b for b in rows if b["name"].startswith("test_single_order")]
    if not found:
        return
    header = ["single order, 1,000 stocked nodes (units per line)", "median", "IQR", "rounds"]
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in found:
        s = b["stats"]
        iqr = f"{_fmt(s['q1'], '.2f', 1e3)}-{_fmt(s['q3'], '.2f', 1e3, ' ms')}"
        print(_row([b["param"], _fmt(s["median"], ".2f", 1e3, " ms"), iqr, _rounds(b)]))


def batch_table(rows: list[dict[str, Any]]) -> None:
    found = [b for b in rows if b["name"].startswith(("test_batch", "test_peak_memory"))]
    if not found:
        return
    header = ["batch (orders-nodes-SKUs-limit)", "time", "status", "gap", "below greedy-cost"]
    header += ["rounds"]
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in found:
        e = b["extra_info"]
        if b["name"].startswith("test_batch"):
            cells = [
                b["param"],
                _times(b, ".1f", 1, " s"),
                e["status"],
                _fig(e, "gap", ".3f", 100, "%"),
                _fig(e, "saving_vs_greedy", ".1f", 100, "%"),
                _rounds(b),
            ]
            print(_row(cells))
        else:
            cells = ["10,000 orders: peak memory", f"{e['peak_gib']:.2f} GiB", "", "", ""]
            print(_row([*cells, _rounds(b)]))


def savings_table(rows: list[dict[str, Any]]) -> None:
    """Every policy's cost split into its terms, its fill rate, and its savings: total cost
    against closest, shipping plus handling per shipped unit against closest and greedy-cost
    (figures a results file recorded before they existed print as "—")."""
    header = ["preset", "policy", "total cost", "shipping", "handling", "split pen."]
    header += ["unfilled pen.", "fill", "ship+hand/unit", "ships/order", "split orders"]
    header += ["miles/ship", "runtime", "gap", "total vs closest", "unit vs closest"]
    header += ["unit vs greedy-cost"]
    found = [b for b in rows if b["name"].startswith("test_savings")]
    if not found:
        return
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in found:
        for policy in ("closest", "fewest-splits", "greedy-cost", "optimal"):
            m = b["extra_info"][policy]
            cells = [
                b["param"],
                policy,
                f"{m['total_cost']:,.0f}",
                _fmt(m.get("shipping_cost"), ",.0f"),
                _fmt(m.get("handling_cost"), ",.0f"),
                _fmt(m.get("split_penalty"), ",.0f"),
                _fmt(m.get("unfilled_penalty"), ",.0f"),
                _fmt(m.get("fill_rate"), ".1f", 100, "%"),
                _fmt(m.get("shipping_handling_per_unit")),
                _fmt(m["shipments_per_order"], ".3f"),
                _fmt(m["split_order_share"], ".1f", 100, "%"),
                _fmt(m["avg_miles_per_shipment"], ".0f"),
                _fig(b["extra_info"], "optimal_runtime_s", ".1f", 1, " s")
                if policy == "optimal" and "runs" in b["extra_info"]
                else f"{m['runtime_s']:.1f} s",
                _fmt(m["gap"], ".3f", 100, "%"),
                _fmt(m["savings_vs_closest_pct"], ".1f", 1, "%"),
                _fmt(m.get("per_unit_savings_vs_closest_pct"), ".1f", 1, "%"),
                _fmt(m.get("per_unit_savings_vs_greedy_cost_pct"), ".1f", 1, "%"),
            ]
            print(_row(cells))
    print()
    print(
        "total cost = shipping (carrier charges) + handling (the nodes' pick and pack) + split "
        "and unfilled penalties; fill = units shipped / units ordered; ship+hand/unit = "
        "(shipping + handling) / units shipped; unit vs closest, unit vs greedy-cost: "
        "ship+hand/unit saved against that policy (negative: dearer). optimal's runtime: "
        "median (min-max) where the preset was compared several times."
    )


def service_load_table(rows: list[dict[str, Any]]) -> None:
    header = ["API load (store, workers)", "reserve+commit/s", "target", "HTTP req/s"]
    header += ["pair p50", "pair p99", "single-order p99", "API CPU/request", "violations"]
    header += ["carts refused (stock)", "workers reached", "rounds"]
    found = [b for b in rows if b["name"].startswith("test_service_load")]
    if not found:
        return
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in found:
        e = b["extra_info"]
        cells = [
            b["param"],
            _fig(e, "reserve_commit_per_s", ",.0f"),
            f"{e['target_reserve_commit_per_s']:,.0f}",
            _fig(e, "http_requests_per_s", ",.0f"),
            _fig(e, "pair_p50_ms", ".0f", 1, " ms"),
            _fig(e, "pair_p99_ms", ".0f", 1, " ms"),
            _fig(e, "single_order_p99_ms", ".0f", 1, " ms") + " (target 50 ms)",
            _fig(e, "api_cpu_ms_per_request", ".2f", 1, " ms"),
            f"{sum(_runs(e, 'invariant_violations')):.0f}",
            _fig(e, "refused_for_stock", ",.0f"),
            _fig(e, "workers_reached", ".0f"),
            _rounds(b),
        ]
        print(_row(cells))


def mixed_load_table(rows: list[dict[str, Any]]) -> None:
    header = ["mixed lifecycle load (store, workers, clients)", "requests/s", "p50", "p99",
              "API CPU/request", "violations", "rounds"]  # fmt: skip
    found = [b for b in rows if b["name"] == "test_service_mixed_load"]
    if not found:
        return
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in found:
        e = b["extra_info"]
        cells = [
            f"{e['store']}, {e['api_workers']} workers, {e['clients']} clients",
            _fig(e, "requests_per_s", ",.0f"),
            _fig(e, "request_p50_ms", ".0f", 1, " ms"),
            _fig(e, "request_p99_ms", ".0f", 1, " ms") + " (target 250 ms)",
            _fig(e, "api_cpu_ms_per_request", ".2f", 1, " ms") + " (target 1.5 ms)",
            f"{sum(_runs(e, 'invariant_violations')):.0f}",
            _rounds(b),
        ]
        print(_row(cells))


def textbook_table(rows: list[dict[str, Any]]) -> None:
    found = {
        (b["name"].split("[")[0], b["param"]): b["extra_info"]
        for b in rows
        if "textbook" in b["name"]
    }
    labels = sorted({param for _, param in found})
    if not labels:
        return
    header = ["linear-cost batch, limit", "textbook model (SCIP)", "optimal", "",
              "bound: textbook", "bound: optimal"]  # fmt: skip
    print(_row(header))
    print(_row(["---"] * len(header)))
    for label in labels:
        text = found.get(("test_textbook_model", label))
        ours = found.get(("test_optimal_on_textbook_batch", label))
        if text is None or ours is None:
            continue
        bound = text["bound"]
        text_gap = _fmt(text["gap"], ".2f", 100, "%") if bound > 0 else "no bound"
        print(
            _row(
                [
                    label,
                    f"{text['objective']:,.2f} (gap {text_gap})",
                    f"{ours['objective']:,.2f} (gap {_fmt(ours['gap'], '.3f', 100, '%')})",
                    f"{100 * (1 - ours['objective'] / text['objective']):.1f}% cheaper",
                    f"{bound:,.2f}" if bound > 0 else "none",
                    _fmt(ours["bound"], ",.2f"),
                ]
            )
        )
    print()
    print(
        "Each side solved once per batch, to the limit; a bound is the lowest cost any plan "
        "could have that its solver proved within the limit."
    )


def promise_table(rows: list[dict[str, Any]]) -> None:
    header = ["promise, 5-line carts (where, how)", "p50", "p90", "p99", "rate", "errors",
              "target"]  # fmt: skip
    found = [b for b in rows if b["name"].startswith("test_promise")]
    if not found:
        return
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in found:
        e = b["extra_info"]
        if b["name"].startswith("test_promise_http_load"):
            where = f"HTTP, {e.get('preset', 'large')} ({e.get('lines', 5)} lines), 2 workers"
            rate = f"{e['achieved_per_s']:,.0f}/s of {e['target_rate_per_s']:,.0f}/s"
            errors, target = str(e["errors"]), f"p99 <= {e['target_p99_ms']:g} ms"
        else:
            where = (
                "engine, stock in memory"
                if e["store"] == "memory"
                else f"service, embedded store, stock cache {e['stock_cache_s']:g} s"
            )
            rate, errors = "", ""
            target = f"p50 <= {e['target_p50_ms']:g} ms, p99 <= {e['target_p99_ms']:g} ms"
        cells = [where, _fmt(e["p50_ms"], ".1f", 1, " ms"), _fmt(e["p90_ms"], ".1f", 1, " ms"),
                 _fmt(e["p99_ms"], ".1f", 1, " ms"), rate, errors, target]  # fmt: skip
        print(_row(cells))


def explain_table(rows: list[dict[str, Any]]) -> None:
    """Explanations on a 1,000-order batch once its plan exists (issue 13)."""
    print(_row(["explanation, 1,000 orders, 200 nodes", "median", "p99", "max", "target"]))
    print(_row(["---"] * 5))
    for b in rows:
        s, e = b["stats"], b["extra_info"]
        if b["name"].startswith("test_explain_one_order"):
            times = [_fmt(x, ".1f", 1e3, " ms") for x in (s["median"], e["p99_ms"] / 1e3, s["max"])]
            print(_row(["one order (with its summary)", *times, f"{e['target_ms']:g} ms"]))
        elif b["name"].startswith("test_shadow_price_listing"):
            what = f"shadow prices (top {e['listed']}, {e['exact']} duals exact)"
            median, top = _fmt(s["median"], ".2f", 1, " s"), _fmt(s["max"], ".2f", 1, " s")
            print(_row([what, median, "—", top, f"{e['target_s']:g} s"]))


def anytime_tables(rows: list[dict[str, Any]]) -> None:
    """Issue 15 (benchmarks/test_anytime.py): per family, each limit's plan above the best
    bound of the family's solves (the proven optimum once one proves it), with the gap the
    solve certified itself in brackets; then the other targets. Prints nothing without
    those rows."""
    solves = [b["extra_info"] for b in rows if b["name"].startswith("test_anytime")]
    if not solves:
        return
    best_bound: dict[tuple[str, int], float] = {}
    for e in solves:
        key = (e["family"], e["orders"])
        best_bound[key] = max(best_bound.get(key, float("-inf")), e["bound"])

    def above(e: dict[str, Any]) -> str:
        bound = best_bound[(e["family"], e["orders"])]
        own = _fmt(e["gap"], ".3f", 100, "%")
        return f"{100 * (e['objective'] - bound) / e['objective']:.3f}% ({own})"

    curve = [
        (b["extra_info"], b["param"]) for b in rows if b["name"].startswith("test_anytime_curve")
    ]
    limits = sorted({e["limit_s"] for e, _ in curve})
    header = ["family, 1,000 orders (nodes)", *(f"{t:g} s" for t in limits), "proven in",
              "vs greedy-cost at 30 s"]  # fmt: skip
    print(_row(header))
    print(_row(["---"] * len(header)))
    for family in dict.fromkeys(e["family"] for e, _ in curve):
        mine = {e["limit_s"]: e for e, _ in curve if e["family"] == family}
        proven = [e["runtime_s"] for e in mine.values() if e["status"] == "optimal"]
        any_e = next(iter(mine.values()))
        cells = [f"{family} ({any_e['nodes']})"]
        cells += [above(mine[t]) if t in mine else "—" for t in limits]
        cells.append(f"{min(proven):.1f} s" if proven else "not proven")
        at30 = mine.get(30.0)
        cells.append(_fmt(at30["saving_vs_greedy"], ".1f", 100, "% cheaper") if at30 else "—")
        print(_row(cells))
    print()
    print(_row(["target", "measured", "runtime", "status"]))
    print(_row(["---"] * 4))
    for b in rows:
        if b["name"].startswith("test_anytime_target"):
            e = b["extra_info"]
            print(_row([e["target"], f"gap {_fmt(e['gap'], '.3f', 100, '%')}",
                        f"{e['runtime_s']:.1f} s", e["status"]]))  # fmt: skip


def whatif_table(rows: list[dict[str, Any]], long_path: Path | None = None) -> None:
    """What-if planning (issue 10); the waves come from their own long run's file."""
    if long_path is not None and long_path.exists():
        rows = rows + json.loads(long_path.read_text())["benchmarks"]
    print(_row(["what-if (medium network)", "measured", "target", ""]))
    print(_row(["---"] * 4))
    for b in rows:
        e = b["extra_info"]
        if b["name"].startswith("test_whatif_order_by_order"):
            what = f"{e['orders']:,} orders, {e['days']} days, order by order (greedy-cost)"
            cells = [f"{e['seconds']:.1f} s ({e['ms_per_order']:.2f} ms/order)",
                     f"{e['target_s']:g} s", _met(e["seconds"] <= e["target_s"])]  # fmt: skip
        elif b["name"].startswith("test_whatif_waves"):
            what = f"{e['orders']:,} orders, {e['days']} days, 15-min waves (optimal, 2 s)"
            cells = [f"{e['seconds']:.0f} s, {e['saved_pct']:.2f}% below order by order",
                     f"{e['target_s']:g} s", _met(e["seconds"] <= e["target_s"])]  # fmt: skip
        elif b["name"].startswith("test_whatif_two_variants"):
            what = f"two variants on two cores vs one ({e['orders']:,} orders each)"
            times = f"{e['one_variant_s']:.1f} s, {e['two_variants_s']:.1f} s"
            if "machine_ratio" in e:  # two plain loops on the machine at that moment
                times += f"; machine {e['machine_ratio']:.2f}x"
            cells = [f"{e['ratio']:.2f}x ({times})", f"<= {e['target_ratio']:g}x",
                     _met(e["ratio"] <= e["target_ratio"])]  # fmt: skip
        elif b["name"].startswith("test_whatif_report"):
            what = f"report of {e['variants']} variants open in Chromium ({e['size_mb']:.1f} MB)"
            cells = [f"{e['median_s']:.2f} s (max {e['max_s']:.2f} s)", f"{e['target_s']:g} s",
                     _met(e["max_s"] <= e["target_s"])]  # fmt: skip
        else:
            continue
        print(_row([what, *cells]))


def export_table(rows: list[dict[str, Any]]) -> None:
    """BI export (issue 11): a million order rows to Parquet, time and peak memory."""
    print(_row(["BI export (SQLite ledger)", "measured", "target", ""]))
    print(_row(["---"] * 4))
    for b in rows:
        if not b["name"].startswith("test_export_a_million_orders"):
            continue
        e = b["extra_info"]
        what = f"{e['rows']:,} order rows to Parquet ({e['file_mb']:.0f} MB file), the command"
        took = f"{e['seconds']:.1f} s"
        if "cpu_s" in e:  # the shared machine's load stretches the wall time
            took += f" ({e['cpu_s']:.1f} s CPU, load average {e['load_average']:g})"
        print(_row([what, took, f"{e['target_s']:g} s", _met(e["seconds"] <= e["target_s"])]))
        print(_row(["its peak resident memory (interpreter and pyarrow included)",
                    f"{e['peak_rss_mb']:.0f} MB", f"{e['target_mb']:g} MB",
                    _met(e["peak_rss_mb"] <= e["target_mb"])]))  # fmt: skip


def peak_day_table(rows: list[dict[str, Any]]) -> None:
    """A peak day through the API (issue 9): the online plan against the batch optimum."""
    b = _find(rows, "test_peak_day_through_the_api")
    if b is None:
        return
    e = b["extra_info"]
    on, best = e["online"], e["optimal"]
    print(_row(["peak day, medium network (SQLite ledger)", "orders one at a time through the API",
                "the same orders, one optimal batch plan"]))  # fmt: skip
    print(_row(["---"] * 3))
    refused = ", ".join(f"{n:,} {code}" for code, n in sorted(e["refused"].items())) or "none"
    gap = _fmt(best["gap"], ".2f", 100, "%")
    print(_row(["orders", f"{e['orders']:,}: {e['allocated']:,} allocated ({refused}), "
                f"{e['orders_per_s']:g} a second",
                f"{best['status']}, gap {gap} after {best['runtime_s']:.0f} s"]))  # fmt: skip
    for label, key in (("shipping", "shipping_cost"), ("handling", "handling_cost"),
                       ("split penalty", "split_penalty"), ("unfilled penalty", "unfilled_penalty"),
                       ("total", "total_cost")):  # fmt: skip
        print(_row([label, f"{on[key]:,.0f}", f"{best[key]:,.0f}"]))
    print(_row(["fill rate, shipments per order", f"{100 * on['fill_rate']:.2f}%, "
                f"{on['shipments_per_order']:.3f}", f"{100 * best['fill_rate']:.2f}%, "
                f"{best['shipments_per_order']:.3f}"]))  # fmt: skip
    print()
    ratio, target = e["cost_ratio"], e["target_cost_ratio"]
    print(
        f"Capacity overruns {e['capacity_overruns']}, units oversold {e['oversold_units']} "
        f"({e['nodes_full_at_close']} nodes full at the close). Target: the online cost within "
        f"{100 * (target - 1):.0f}% of the optimal plan's: {100 * (ratio - 1):+.1f}%, "
        f"{_met(ratio <= target)} (shipping and handling alone "
        f"{100 * (e['shipping_handling_ratio'] - 1):+.1f}%)."
    )


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def _median(e: dict[str, Any], key: str) -> float | None:
    values = _runs(e, key)
    return statistics.median(values) if values else None


def _medium_savings(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The headline's figures: medium's policies side by side (test_savings[medium])."""
    b = _find(rows, "test_savings[medium]")
    return None if b is None else dict(b["extra_info"])


def headline(rows: list[dict[str, Any]]) -> None:
    """One sentence on what optimal saves on `medium`: shipping plus handling per shipped
    unit (savings at equal fill), with the fill rates and the penalties' effect apart."""
    m = _medium_savings(rows)
    if m is None:
        return
    best, closest, greedy = m["optimal"], m["closest"], m["greedy-cost"]
    total = (
        f"its total cost, penalties for unfilled units and split orders included (shown apart "
        f"in the savings table), is {closest_pct(best, closest):.1f}% below closest's and "
        f"{closest_pct(best, greedy):.1f}% below greedy-cost's."
    )
    if best.get("per_unit_savings_vs_closest_pct") is None:
        print(
            "On `medium` (5,000 orders) these results predate the split of costs into "
            f"shipping, handling and penalties (re-run the benchmarks); {total}"
        )
        return
    print(
        f"On `medium` (5,000 orders) `optimal` ships for "
        f"{best['per_unit_savings_vs_closest_pct']:.1f}% less than `closest` and "
        f"{best['per_unit_savings_vs_greedy_cost_pct']:.1f}% less than `greedy-cost` in "
        f"shipping plus handling per shipped unit, while filling "
        f"{_fmt(best['fill_rate'], '.1f', 100, '%')} of the units ordered (closest "
        f"{_fmt(closest['fill_rate'], '.1f', 100, '%')}, greedy-cost "
        f"{_fmt(greedy['fill_rate'], '.1f', 100, '%')}); {total}"
    )


def closest_pct(policy: dict[str, Any], base: dict[str, Any]) -> float:
    """Total cost saved against a base policy, in percent."""
    return float(100.0 * (1.0 - policy["total_cost"] / base["total_cost"]))


def targets_table(rows: list[dict[str, Any]]) -> None:
    """The issues' targets, each with what the results measured and whether it is met
    (medians where a benchmark ran several rounds); a target without results says so."""
    print(_row(["target", "measured", ""]))
    print(_row(["---"] * 3))

    def row(target: str, measured: str | None, ok: bool | None) -> None:
        if measured is None:
            print(_row([target, "not in these results", "—"]))
        else:
            print(_row([target, measured, "—" if ok is None else _met(ok)]))

    five, six = (_find(rows, f"test_single_order[{s}]") for s in ("1+1+1+1+1", "2+1+1+1+1"))
    if five and six:
        m5, m6 = five["stats"]["median"], six["stats"]["median"]
        text = f"{m5 * 1e3:.2f} ms (5 lines), {m6 * 1e3:.2f} ms (6 units)"
        row("single order, up to 5 lines, 1,000 nodes: 2 ms median", text, max(m5, m6) <= 2e-3)
    else:
        row("single order, up to 5 lines, 1,000 nodes: 2 ms median", None, None)

    at5, at60 = (_find(rows, f"test_batch[1000o-200n-2000s-{t}s]") for t in (5, 60))
    target = "1,000 orders over 200 nodes proven optimal (gap <= 0.01%) in 5 s"
    if at5:
        gap5 = _median(at5["extra_info"], "gap")
        text = f"gap {_fig(at5['extra_info'], 'gap', '.3f', 100, '%')} at 5 s "
        text += f"(time {_times(at5, '.1f', 1, ' s')})"
        if at60:
            text += f", {_fig(at60['extra_info'], 'gap', '.3f', 100, '%')} at 60 s"
        ok = gap5 is not None and gap5 <= 1e-4 and at5["stats"]["median"] <= 5.0
        row(target, text, ok)
    else:
        row(target, None, None)

    big, memory = (
        _find(rows, "test_batch[10000o-1000n-20000s-30s]"),
        _find(rows, "test_peak_memory_10k"),
    )
    target = "10,000 orders, 1,000 nodes, 20,000 SKUs: gap <= 0.5% in 30 s, < 4 GiB"
    if big and memory:
        gap = _median(big["extra_info"], "gap")
        peak = memory["extra_info"]["peak_gib"]
        text = f"{_fig(big['extra_info'], 'gap', '.2f', 100, '%')} at 30 s, {peak:.2f} GiB peak"
        row(target, text, gap is not None and gap <= 5e-3 and peak < 4.0)
    else:
        row(target, None, None)

    m = _medium_savings(rows)
    target = (
        "`medium`: optimal's shipping + handling per shipped unit >= 5% below closest's, "
        "fewer shipments per order"
    )
    if m:
        best, closest, greedy = m["optimal"], m["closest"], m["greedy-cost"]
        fewer = best["shipments_per_order"] < closest["shipments_per_order"]
        ships = f"{best['shipments_per_order']:.2f} vs {closest['shipments_per_order']:.2f}"
        penalties = (
            f"with penalties (total cost) {closest_pct(best, closest):.1f}% below closest, "
            f"{closest_pct(best, greedy):.1f}% below greedy-cost"
        )
        unit = best.get("per_unit_savings_vs_closest_pct")
        if unit is None:
            text = f"per shipped unit: not in these results; {ships} shipments/order; {penalties}"
            row(target, text, None)
        else:
            text = (
                f"per shipped unit {unit:.1f}% below closest, "
                f"{best['per_unit_savings_vs_greedy_cost_pct']:.1f}% below greedy-cost, "
                f"fill {_fmt(best['fill_rate'], '.1f', 100, '%')} (closest "
                f"{_fmt(closest['fill_rate'], '.1f', 100, '%')}, greedy-cost "
                f"{_fmt(greedy['fill_rate'], '.1f', 100, '%')}); {ships} shipments/order; "
                f"{penalties}"
            )
            row(target, text, unit >= 5.0 and fewer)
    else:
        row(target, None, None)

    loads = {
        p: _find(rows, f"test_service_load[{p}]")
        for p in ("redis-3-workers", "sqlite-1-worker", "sqlite-3-workers")
    }
    redis, sqlite1, sqlite3 = loads.values()
    target = "API on Redis, 3 processes, 64 clients: 3,000 reserve-and-commit/s"
    if redis:
        e = redis["extra_info"]
        rate = _median(e, "reserve_commit_per_s") or 0.0
        text = f"{_fig(e, 'reserve_commit_per_s', ',.0f')}/s, "
        text += f"{sum(_runs(e, 'invariant_violations')):.0f} violations"
        row(target, text, rate >= 3000)
    else:
        row(target, None, None)
    target = "API on the embedded store: 1,000/s"
    if sqlite1 and sqlite3:
        rates = [
            _median(b["extra_info"], "reserve_commit_per_s") or 0.0 for b in (sqlite1, sqlite3)
        ]
        text = f"{_fig(sqlite1['extra_info'], 'reserve_commit_per_s', ',.0f')}/s (1 process), "
        text += f"{_fig(sqlite3['extra_info'], 'reserve_commit_per_s', ',.0f')}/s (3)"
        row(target, text, max(rates) >= 1000)
    else:
        row(target, None, None)
    target = "p99 of a single-order allocate under that load: 50 ms"
    if redis and sqlite1 and sqlite3:
        p99 = {k: _median(b["extra_info"], "single_order_p99_ms") for k, b in loads.items() if b}
        text = f"{_fig(redis['extra_info'], 'single_order_p99_ms', '.0f', 1, ' ms')} on Redis, "
        text += ", ".join(
            _fig(b["extra_info"], "single_order_p99_ms", ".0f", 1, " ms")
            for b in (sqlite1, sqlite3)
        )
        text += " on the embedded store (1, 3 processes)"
        met = [k for k, v in p99.items() if v is not None and v <= 50.0]
        verdict = (
            "met" if len(met) == 3 else ("met on Redis" if met == ["redis-3-workers"] else None)
        )
        print(
            _row([target, text, verdict or ("not met" if not met else "met on " + ", ".join(met))])
        )
    else:
        row(target, None, None)
    mixed = _find(rows, "test_service_mixed_load")
    target = (
        "mixed lifecycle load (Redis, 3 processes, 32 clients): API CPU <= 1.5 ms a request, "
        "p99 <= 250 ms"
    )
    if mixed:
        e = mixed["extra_info"]
        cpu, mixed_p99 = _median(e, "api_cpu_ms_per_request"), _median(e, "request_p99_ms")
        text = f"{_fig(e, 'api_cpu_ms_per_request', '.2f', 1, ' ms')}, p99 "
        text += _fig(e, "request_p99_ms", ".0f", 1, " ms")
        cpu_ok = cpu is not None and cpu <= 1.5
        p99_ok = mixed_p99 is not None and mixed_p99 <= 250.0
        verdict = (
            "met"
            if cpu_ok and p99_ok
            else "p99 met"
            if p99_ok
            else "CPU met"
            if cpu_ok
            else "not met"
        )
        print(_row([target, text, verdict]))
    else:
        row(target, None, None)


@dataclass(frozen=True)
class Results:
    """One results file: where it is, the commit it was measured on, its benchmarks."""

    path: Path
    commit_info: dict[str, Any]
    datetime: str
    rows: list[dict[str, Any]]

    @classmethod
    def read(cls, path: Path) -> "Results":
        data = json.loads(path.read_text())
        return cls(path, data.get("commit_info", {}), data.get("datetime", ""), data["benchmarks"])

    def provenance(self) -> str:
        """`benchmarks/results.json`: commit 1234567 on 2026-12-03, clean tree."""
        info = self.commit_info
        commit = str(info.get("id", "unknown"))[:7]
        when = self.datetime[:10] if self.datetime else "an unknown date"
        if info.get("dirty"):
            files = info.get("dirty_files")
            state = f"dirty tree ({len(files)} uncommitted files)" if files else "dirty tree"
        else:
            state = "clean tree"
        name = (
            self.path.relative_to(BENCHMARKS.parent)
            if self.path.is_relative_to(BENCHMARKS.parent)
            else self.path
        )
        return f"`{name}`: commit {commit}, run on {when}, {state}"


def default_files() -> list[Path]:
    """results.json, then every results-*.json (the long suites) by name: those git tracks
    (the committed results, not a file a run is still writing), or every one outside git."""
    found = [BENCHMARKS / "results.json", *sorted(BENCHMARKS.glob("results-*.json"))]
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--", "results.json", "results-*.json"],
            cwd=BENCHMARKS, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return [p for p in found if p.exists()]
    tracked = {BENCHMARKS / name for name in listed}
    return [p for p in found if p in tracked and p.exists()]


def provenance(files: Sequence[Results]) -> None:
    print("Recorded by the benchmark suites (medians and, in brackets, min-max over rounds):")
    print()
    for f in files:
        print(f"- {f.provenance()}")


def reference_large_table(rows: list[dict[str, Any]]) -> None:
    """Issue 14 (benchmarks/test_reference_large.py, -m long): optimal against the
    independent reference MIP on large batches; prints nothing without those rows."""
    found = [b["extra_info"] for b in rows if b["name"].startswith("test_optimal_vs_reference")]
    if not found:
        return
    header = ["family, orders (nodes)", "optimal: cost, gap, time", "reference MIP: cost, bound",
              "optimal - reference", "objectives match", "bounds valid"]  # fmt: skip
    print(_row(header))
    print(_row(["---"] * len(header)))
    for e in found:
        proven = (
            "proven" if e["reference_proven"] else f"bound {_fmt(e['reference_bound'], ',.2f')}"
        )
        match = e["objectives_match"]
        bounds_ok = e["optimal_bound_valid"] and e["reference_bound_valid"]
        cells = [
            f"{e['family']}, {e['orders']:,} ({e['nodes']})",
            f"{e['optimal_objective']:,.2f}, {_fmt(e['optimal_gap'], '.3f', 100, '%')}, "
            f"{e['optimal_s']:.0f} s",
            f"{e['reference_objective']:,.2f}, {proven}, {e['reference_s']:.0f} s",
            f"{e['difference_pct']:+.4f}%",
            "—" if match is None else ("yes" if match else "NO"),
            "yes" if bounds_ok else "NO",
        ]
        print(_row(cells))
    print()
    print(
        "objectives match: where both proved optimality; bounds valid: neither side's proven "
        "bound above the other side's plan (optimal's plan through the plan checker too)."
    )


def lookahead_table(rows: list[dict[str, Any]]) -> None:
    """Lookahead over a 7-day period (issue 12): per preset and policy the period's cost,
    its terms, split share and the share of the greedy-to-hindsight gap closed."""
    found = [b["extra_info"] for b in rows if b["name"].startswith("test_lookahead")]
    if not found:
        return
    header = ["preset (orders, 7 days), policy", "cost", "carrier + handling", "penalties",
              "unfilled units", "split share", "gap closed (to bound)",
              "extra shipments (removed)"]  # fmt: skip
    print(_row(header))
    print(_row(["---"] * len(header)))
    for e in found:
        what = f"{e['preset']} ({e['orders']:,}" + (f", seed {e['seed']})" if "seed" in e else ")")
        for name, f in e["policies"].items():
            extra = "—"
            if "extra_shipments" in f:
                removed = f.get("extra_removed")
                extra = f"{f['extra_shipments']:,}" + (
                    "" if removed is None else f" ({100 * removed:+.0f}%)"
                )
            closed = "—" if f["gap_closed"] is None else f"{100 * f['gap_closed']:+.1f}%"
            if f.get("gap_closed_to_bound") is not None:
                closed += f" ({100 * f['gap_closed_to_bound']:+.1f}%)"
            print(_row([f"{what}, {name}", f"{f['total']:,.0f}",
                        f"{f['carrier'] + f['handling']:,.0f}",
                        f"{f['split_penalty'] + f['unfilled_penalty']:,.0f}",
                        f"{f['unfilled_units']:,}", f"{100 * f['split_share']:.1f}%",
                        closed, extra]))  # fmt: skip
        h = e["hindsight"]
        bound = "" if h["bound"] is None else f" (bound {h['bound']:,.0f})"
        terms = ["", "", "", ""]
        if "penalties" in h:
            terms = [f"{h['total'] - h['penalties']:,.0f}", f"{h['penalties']:,.0f}",
                     f"{h['unfilled_units']:,}", f"{100 * h['split_share']:.1f}%"]  # fmt: skip
        print(_row([f"{what}, perfect hindsight ({h['runtime_s']:.0f} s)",
                    f"{h['total']:,.0f}{bound}", *terms, "100%",
                    f"{h['extra_shipments']:,}" if "extra_shipments" in h else "—"]))  # fmt: skip
    look = [e for e in found if e["preset"] == "medium"]
    if look:
        closed = look[0]["policies"]["lookahead"]["gap_closed"]
        target = look[0]["target_gap_closed"]
        print()
        shown = "—" if closed is None else f"{100 * closed:+.1f}%"
        print(
            f"Target: lookahead closes >= {100 * target:.0f}% of the gap on medium: {shown}, "
            f"{_met(closed is not None and closed >= target)}. Hindsight pools each node's "
            "capacity over the 7 days, so part of the gap is out of any policy's reach."
        )
    reopt = [f for e in found for n, f in e["policies"].items() if "re-optimization" in n]
    if reopt:
        worst = min(f.get("extra_removed") or 0.0 for f in reopt)
        target = found[0].get("target_extra_removed", 0.4)
        print(
            f"Target: re-optimization removes >= {100 * target:.0f}% of the extra shipments "
            f"(beyond one per order, less hindsight's): least {100 * worst:+.0f}%, "
            f"{_met(worst >= target)}."
        )
    dearer = [  # over the runs with re-optimization (older records predate it)
        f"{e['preset']} seed {e.get('seed', 1)}: {n}"
        for e in found
        if any("re-optimization" in n for n in e["policies"])
        for n, f in e["policies"].items()
        if ("lookahead" in n or "re-optimization" in n)
        and f["total"] > e["policies"]["greedy-cost"]["total"] + 1e-6
    ]
    if reopt:
        print(
            "Target: neither lookahead nor re-optimization ever dearer than greedy-cost: "
            + (_met(True) if not dearer else f"{_met(False)} ({'; '.join(dearer)})")
            + "."
        )


Table = Callable[[list[dict[str, Any]]], None]

# The README's section, in order: each table prints itself from all the results' rows.
TABLES: list[Table] = [
    headline,
    targets_table,
    single_order_table,
    batch_table,
    savings_table,
    textbook_table,
    service_load_table,
    mixed_load_table,
    promise_table,
    explain_table,
    whatif_table,
    lookahead_table,
    export_table,
    peak_day_table,
    anytime_tables,
    reference_large_table,
]


def render(paths: Sequence[Path]) -> str:
    """The report on these results files: their provenance, then every table that finds
    rows of its own, separated by blank lines."""
    files = [Results.read(p) for p in paths]
    rows = [b for f in files for b in f.rows]
    parts = []
    with io.StringIO() as out, contextlib.redirect_stdout(out):
        provenance(files)
        parts.append(out.getvalue().strip())
    for table in TABLES:
        with io.StringIO() as out, contextlib.redirect_stdout(out):
            table(rows)
            text = out.getvalue().strip()
        # a table with a header and no row of its own is left out
        if text and (text.count("\n") > 1 or not text.startswith("|")):
            parts.append(text)
    return "\n\n".join(parts) + "\n"


def readme_section(readme: str) -> str:
    """The README's text between the report's markers; ValueError when they are missing."""
    begin, end = readme.find(REPORT_BEGIN), readme.find(REPORT_END)
    if begin < 0 or end < begin:
        raise ValueError(f"README.md has no {REPORT_BEGIN!r} ... {REPORT_END!r} section")
    return readme[begin + len(REPORT_BEGIN) : end].strip("\n") + "\n"


def with_section(readme: str, report: str) -> str:
    """The README with its report section replaced by this report."""
    readme_section(readme)  # the markers are there
    head, rest = readme.split(REPORT_BEGIN, 1)
    _, tail = rest.split(REPORT_END, 1)
    return f"{head}{REPORT_BEGIN}\n{report}{REPORT_END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the README's results tables.")
    parser.add_argument(
        "files", nargs="*", type=Path, help="results files (default: results.json, results-*.json)"
    )
    parser.add_argument(
        "--write-readme", action="store_true", help="write the report into README.md's section"
    )
    args = parser.parse_args(argv)
    paths = args.files or default_files()
    report = render(paths)
    if args.write_readme:
        README.write_text(with_section(README.read_text(), report))
        print(f"wrote {len(report.splitlines())} lines between the report markers of {README}")
    else:
        print(report, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
