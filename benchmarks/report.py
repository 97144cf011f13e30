"""Print the README's results tables from a pytest-benchmark JSON file.

pytest benchmarks --benchmark-json=benchmarks/results.json
python -m benchmarks.report benchmarks/results.json
"""

import json
import sys
from pathlib import Path
from typing import Any


def _fmt(value: Any, spec: str = ".2f", scale: float = 1.0, unit: str = "") -> str:
    return "—" if value is None else format(value * scale, spec) + unit


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def single_order_table(rows: list[dict[str, Any]]) -> None:
    print(_row(["single order, 1,000 stocked nodes (units per line)", "median", "mean", "max"]))
    print(_row(["---"] * 4))
    for b in rows:
        if b["name"].startswith("test_single_order"):
            s = b["stats"]
            times = [_fmt(s[k], ".2f", 1e3, " ms") for k in ("median", "mean", "max")]
            print(_row([b["param"], *times]))


def batch_table(rows: list[dict[str, Any]]) -> None:
    print(_row(["batch (orders-nodes-SKUs-limit)", "time", "status", "gap", "vs greedy-cost"]))
    print(_row(["---"] * 5))
    for b in rows:
        e = b["extra_info"]
        if b["name"].startswith("test_batch"):
            print(
                _row(
                    [
                        b["param"],
                        f"{b['stats']['max']:.1f} s",
                        e["status"],
                        _fmt(e["gap"], ".3f", 100, "%"),
                        _fmt(e["saving_vs_greedy"], ".1f", 100, "% cheaper"),
                    ]
                )
            )
        elif b["name"].startswith("test_peak_memory"):
            print(_row(["10,000 orders: peak memory", f"{e['peak_gib']:.2f} GiB", "", "", ""]))


def savings_table(rows: list[dict[str, Any]]) -> None:
    """Every policy's cost split into its terms, its fill rate, and its savings: total cost
    against closest, shipping plus handling per shipped unit against closest and greedy-cost
    (figures a results file recorded before they existed print as "—")."""
    header = ["preset", "policy", "total cost", "shipping", "handling", "split pen."]
    header += ["unfilled pen.", "fill", "ship+hand/unit", "ships/order", "split orders"]
    header += ["miles/ship", "runtime", "gap", "total vs closest", "unit vs closest"]
    header += ["unit vs greedy-cost"]
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in rows:
        if not b["name"].startswith("test_savings"):
            continue
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
                f"{m['runtime_s']:.1f} s",
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
        "ship+hand/unit saved against that policy (negative: dearer)."
    )


def service_load_table(rows: list[dict[str, Any]]) -> None:
    header = ["API load (store, workers)", "reserve+commit/s", "target", "HTTP req/s"]
    header += ["pair p50", "pair p99", "single-order p99", "API CPU/request", "violations"]
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in rows:
        if not b["name"].startswith("test_service_load"):
            continue
        e = b["extra_info"]
        cells = [
            b["param"],
            f"{e['reserve_commit_per_s']:,.0f}",
            f"{e['target_reserve_commit_per_s']:,.0f}",
            f"{e['http_requests_per_s']:,.0f}",
            _fmt(e["pair_p50_ms"], ".0f", 1, " ms"),
            _fmt(e["pair_p99_ms"], ".0f", 1, " ms"),
            _fmt(e["single_order_p99_ms"], ".0f", 1, " ms") + " (target 50 ms)",
            _fmt(e["api_cpu_ms_per_request"], ".2f", 1, " ms"),
            str(e["invariant_violations"]),
        ]
        print(_row(cells))


def mixed_load_table(rows: list[dict[str, Any]]) -> None:
    header = ["mixed lifecycle load (store, workers, clients)", "requests/s", "p50", "p99",
              "API CPU/request", "violations"]  # fmt: skip
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in rows:
        if b["name"] != "test_service_mixed_load":
            continue
        e = b["extra_info"]
        cells = [
            f"{e['store']}, {e['api_workers']} workers, {e['clients']} clients",
            f"{e['requests_per_s']:,.0f}",
            _fmt(e["request_p50_ms"], ".0f", 1, " ms"),
            _fmt(e["request_p99_ms"], ".0f", 1, " ms") + " (target 250 ms)",
            _fmt(e["api_cpu_ms_per_request"], ".2f", 1, " ms") + " (target 1.5 ms)",
            str(e["invariant_violations"]),
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
    print(_row(["linear-cost batch, limit", "textbook model (SCIP)", "optimal", ""]))
    print(_row(["---"] * 4))
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
                ]
            )
        )


def promise_table(rows: list[dict[str, Any]]) -> None:
    header = ["promise, 5-line carts (where, how)", "p50", "p90", "p99", "rate", "errors",
              "target"]  # fmt: skip
    print(_row(header))
    print(_row(["---"] * len(header)))
    for b in rows:
        if not b["name"].startswith("test_promise"):
            continue
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


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def main(path: str) -> None:
    with open(path) as f:
        rows = json.load(f)["benchmarks"]
    single_order_table(rows)
    print()
    batch_table(rows)
    print()
    savings_table(rows)
    print()
    textbook_table(rows)
    print()
    service_load_table(rows)
    print()
    mixed_load_table(rows)
    print()
    promise_table(rows)
    print()
    explain_table(rows)
    print()
    whatif_table(rows, Path(path).parent / "results-whatif.json")
    if any(b["name"].startswith("test_anytime") for b in rows):
        print()
        anytime_tables(rows)


if __name__ == "__main__":
    main(sys.argv[1])
