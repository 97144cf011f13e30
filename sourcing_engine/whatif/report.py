"""The what-if report: one self-contained HTML file, and the numbers as JSON and CSV.

The HTML inlines plotly's JavaScript (plotly.py ships it), so the file opens without
network access and can be mailed around. The map is a plain longitude/latitude chart (not
plotly's geo maps, which fetch their outlines from a CDN): the outlines are the time-zone
borders of the network's zones, drawn from the polygons timezonefinder ships (the coast
and the zones' borders), nodes sized by what they shipped, and the largest flows.
"""

import csv
import html
import io
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from sourcing_engine.promise.calendars import zone_at
from sourcing_engine.whatif.outcomes import COST_TERMS, Outcome
from sourcing_engine.whatif.runner import Run

REPORT_HTML = "report.html"
REPORT_JSON = "outcomes.json"
REPORT_CSV = "outcomes.csv"
OUTLINE_POINTS = 600
"""Points kept per outline ring (the polygons have tens of thousands)."""
TEMPLATE = "plotly_white"
COLOURS = {"shipping": "#4c78a8", "handling": "#f58518", "split": "#e45756", "unfilled": "#72b7b2"}


def write(run: Run, out_dir: Path) -> dict[str, Path]:
    """Write report.html, outcomes.json and outcomes.csv into out_dir (made if missing);
    each file is written whole to a temporary name and moved into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        REPORT_JSON: json.dumps(to_json(run), indent=2, allow_nan=False),
        REPORT_CSV: to_csv(run),
        REPORT_HTML: to_html(run),
    }
    paths = {}
    for name, text in files.items():
        tmp = out_dir / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out_dir / name)
        paths[name] = out_dir / name
    return paths


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_json(run: Run) -> dict[str, Any]:
    sc = run.scenario
    data: dict[str, Any] = _finite({
        "format": "whatif-outcomes/1",
        "scenario": sc.name,
        "description": sc.description,
        "file": sc.path,
        "start": run.start,
        "days": run.days,
        "time_zone": run.time_zone,
        "orders": run.orders,
        "runtime_s": run.runtime_s,
        "base": run.outcomes[0].variant if run.outcomes else None,
        "variants": [o.summary() for o in run.outcomes],
    })  # fmt: skip
    return data


CSV_COLUMNS = (
    "variant", "policy", "batching", "currency", "orders", "total_cost", "shipping", "handling",
    "split", "unfilled", "cost_per_order", "saving_total", "saving_total_pct", "saving_shipping",
    "saving_handling", "saving_split", "saving_unfilled", "units_ordered", "units_shipped",
    "unfilled_units", "fill_rate", "shipments", "shipments_per_order", "split_order_share",
    "miles_per_shipment", "store_shipment_share", "utilisation_mean", "utilisation_peak",
    "on_time_share", "promised_days_mean", "runtime_s",
)  # fmt: skip


def to_csv(run: Run) -> str:
    """One row per variant; utilisation as the mean over the days of the daily mean and
    the highest daily peak."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for o in run.outcomes:
        row = o.summary()
        for k, v in o.saving.items():
            row[f"saving_{k}"] = v
        row["utilisation_mean"] = float(np.mean(o.utilisation_mean)) if o.utilisation_mean else None
        row["utilisation_peak"] = max(o.utilisation_peak) if o.utilisation_peak else None
        w.writerow(["" if row.get(c) is None else _cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


# --- charts --------------------------------------------------------------------------------


def _layout(fig: go.Figure, title: str, **kw: Any) -> go.Figure:
    kw.setdefault("height", 420)
    fig.update_layout(template=TEMPLATE, title=title, margin={"l": 60, "r": 20, "t": 50, "b": 50},
                      **kw)  # fmt: skip
    return fig


def cost_chart(outcomes: list[Outcome], currency: str) -> go.Figure:
    names = [o.variant for o in outcomes]
    fig = go.Figure([
        go.Bar(name=t, x=names, y=[getattr(o, t) for o in outcomes], marker_color=COLOURS[t])
        for t in COST_TERMS
    ])  # fmt: skip
    return _layout(fig, "Cost per variant, by term", barmode="stack",
                   yaxis_title=f"cost ({currency})")  # fmt: skip


def saving_chart(outcomes: list[Outcome], currency: str) -> go.Figure:
    others = outcomes[1:] or outcomes
    fig = go.Figure([
        go.Bar(name=t, x=[o.variant for o in others], y=[o.saving.get(t, 0.0) for o in others],
               marker_color=COLOURS[t])
        for t in COST_TERMS
    ] + [go.Scatter(name="total", x=[o.variant for o in others], mode="markers",
                    y=[o.saving.get("total", 0.0) for o in others],
                    marker={"symbol": "diamond", "size": 12, "color": "black"})])  # fmt: skip
    base = outcomes[0].variant if outcomes else ""
    return _layout(fig, f"Saving against {base!r} per cost term (above 0: cheaper)",
                   barmode="group", yaxis_title=f"saving ({currency})")  # fmt: skip


def utilisation_chart(outcomes: list[Outcome]) -> go.Figure:
    traces = []
    for k, o in enumerate(outcomes):
        days = list(range(1, len(o.utilisation_mean) + 1))
        colour = _palette(k)
        traces.append(go.Scatter(name=f"{o.variant} (mean)", x=days, y=o.utilisation_mean,
                                 mode="lines+markers", line={"color": colour}))  # fmt: skip
        traces.append(go.Scatter(name=f"{o.variant} (peak)", x=days, y=o.utilisation_peak,
                                 mode="lines", line={"color": colour, "dash": "dot"}))  # fmt: skip
    fig = go.Figure(traces)
    title = "Node utilisation per day (shipments / daily capacity)"
    return _layout(fig, title, xaxis_title="day", yaxis_title="utilisation",
                   yaxis_tickformat=".0%")  # fmt: skip


def zone_chart(outcomes: list[Outcome]) -> go.Figure:
    zones = sorted({z for o in outcomes for z in o.zone_mix}, key=int)
    fig = go.Figure([
        go.Bar(name=f"zone {z}", x=[o.variant for o in outcomes],
               y=[o.zone_mix.get(z, 0.0) for o in outcomes])
        for z in zones
    ])  # fmt: skip
    return _layout(fig, "Zone mix (share of shipments)", barmode="stack",
                   yaxis_tickformat=".0%")  # fmt: skip


def map_chart(outcomes: list[Outcome], zones: list[str]) -> go.Figure:
    """Nodes and flows of each variant on a lon/lat chart with outlines; a menu switches
    between variants."""
    traces: list[go.Scatter] = []
    lon, lat = outlines(tuple(zones))
    traces.append(go.Scatter(name="time zones", x=lon, y=lat, mode="lines", hoverinfo="skip",
                             line={"color": "#999", "width": 0.8}, showlegend=False))  # fmt: skip
    per_variant = []
    for k, o in enumerate(outcomes):
        first = len(traces)
        fx: list[float | None] = []
        fy: list[float | None] = []
        for f in o.flows:
            fx += [f["from_lon"], f["to_lon"], None]
            fy += [f["from_lat"], f["to_lat"], None]
        traces.append(go.Scatter(name="flows", x=fx, y=fy, mode="lines", visible=k == 0,
                                 line={"color": "rgba(228,87,86,0.35)", "width": 1},
                                 hoverinfo="skip"))  # fmt: skip
        top = max(o.node_shipments, default=1) or 1  # one scale for every node
        for kind, is_store, colour in (("warehouse", False, "#1f3b73"), ("store", True, "#54a24b")):
            idx = [i for i, s in enumerate(o.node_is_store) if s == is_store]
            shipped = [o.node_shipments[i] for i in idx]
            traces.append(go.Scatter(
                name=f"{kind}s", x=[o.node_lon[i] for i in idx], y=[o.node_lat[i] for i in idx],
                mode="markers", visible=k == 0,
                text=[f"{o.node_ids[i]}: {o.node_shipments[i]:,} shipments" for i in idx],
                hoverinfo="text",
                marker={"color": colour, "size": [4 + 30 * math.sqrt(s / top) for s in shipped],
                        "symbol": "square" if not is_store else "circle",
                        "line": {"width": 0.5, "color": "white"}},
            ))  # fmt: skip
        per_variant.append(range(first, len(traces)))
    buttons = []
    for k, o in enumerate(outcomes):
        visible = [True] + [False] * (len(traces) - 1)
        for t in per_variant[k]:
            visible[t] = True
        buttons.append({"label": o.variant, "method": "restyle", "args": [{"visible": visible}]})
    fig = go.Figure(traces)
    xs = [x for o in outcomes for x in o.node_lon]
    ys = [y for o in outcomes for y in o.node_lat]
    pad = 2.0
    return _layout(
        fig, "Nodes (size: shipments) and the largest flows", height=560,
        xaxis={"range": [min(xs, default=0) - pad, max(xs, default=1) + pad], "title": "longitude"},
        yaxis={"range": [min(ys, default=0) - pad, max(ys, default=1) + pad], "title": "latitude",
               "scaleanchor": "x", "scaleratio": 1.3},
        updatemenus=[{"buttons": buttons, "x": 1.0, "y": 1.12, "xanchor": "right"}],
    )  # fmt: skip


def zone_names(outcomes: list[Outcome]) -> list[str]:
    """The time zones the nodes of every variant lie in."""
    points = {(la, lo) for o in outcomes for la, lo in zip(o.node_lat, o.node_lon, strict=True)}
    return sorted({zone_at(la, lo).key for la, lo in points})


@lru_cache(maxsize=8)
def outlines(zones: tuple[str, ...]) -> tuple[list[float | None], list[float | None]]:
    """The outer rings of the time zones' polygons (timezonefinder's data), thinned to at
    most OUTLINE_POINTS points each, as one line trace (None between rings)."""
    from timezonefinder import TimezoneFinder

    finder = TimezoneFinder()
    xs: list[float | None] = []
    ys: list[float | None] = []
    for name in zones:
        try:
            polygons = finder.get_geometry(tz_name=name, coords_as_pairs=False)
        except ValueError:
            continue
        for polygon in polygons:
            ring_x, ring_y = polygon[0][0], polygon[0][1]
            if len(ring_x) < 50:  # islets
                continue
            step = max(1, len(ring_x) // OUTLINE_POINTS)
            xs += [round(float(v), 3) for v in ring_x[::step]] + [round(float(ring_x[0]), 3), None]
            ys += [round(float(v), 3) for v in ring_y[::step]] + [round(float(ring_y[0]), 3), None]
    return xs, ys


def _palette(k: int) -> str:
    colours = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6",
               "#9d755d", "#bab0ac", "#eeca3b")  # fmt: skip
    return colours[k % len(colours)]


# --- the page ------------------------------------------------------------------------------


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _table(run: Run) -> str:
    heads = ("variant", "policy, batching", "total", "per order", "saving", "shipping",
             "handling", "split", "unfilled", "ships/order", "split orders", "from stores",
             "miles/ship", "fill rate", "on time", "days to deliver", "run time")  # fmt: skip
    rows = []
    for o in run.outcomes:
        cells = (
            o.variant, f"{o.policy}, {o.batching}", _money(o.total_cost),
            "—" if o.cost_per_order is None else f"{o.cost_per_order:.2f}",
            f"{_money(o.saving.get('total'))} ({o.saving.get('total_pct', 0.0):.1f}%)",
            _money(o.shipping), _money(o.handling), _money(o.split), _money(o.unfilled),
            "—" if o.shipments_per_order is None else f"{o.shipments_per_order:.3f}",
            _pct(o.split_order_share), _pct(o.store_shipment_share),
            "—" if o.miles_per_shipment is None else f"{o.miles_per_shipment:.0f}",
            _pct(o.fill_rate), _pct(o.on_time_share),
            "—" if o.promised_days_mean is None else f"{o.promised_days_mean:.2f}",
            f"{o.runtime_s:.1f} s",
        )  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>What-if: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; }}
h1 {{ margin-bottom: 4px; }} .meta {{ color: #555; margin-bottom: 16px; }}
table {{ border-collapse: collapse; font-size: 13px; margin: 12px 0 24px; }}
th, td {{ border: 1px solid #ddd; padding: 4px 8px; text-align: right; }}
th {{ background: #f4f4f4; }} td:first-child, td:nth-child(2) {{ text-align: left; }}
.grid {{ display: grid; grid-template-columns: minmax(0, 1fr); gap: 12px; max-width: 1200px; }}
.chart {{ border: 1px solid #eee; }}
</style>
<script>{plotly}</script>
</head><body>
<h1>What-if: {title}</h1>
<div class="meta">{meta}</div>
{table}
<div class="grid">{charts}</div>
</body></html>
"""


def to_html(run: Run) -> str:
    outcomes = run.outcomes
    currency = outcomes[0].currency if outcomes else ""
    figures = {
        "cost": cost_chart(outcomes, currency),
        "saving": saving_chart(outcomes, currency),
        "utilisation": utilisation_chart(outcomes),
        "zones": zone_chart(outcomes),
        "map": map_chart(outcomes, zone_names(outcomes)),
    }
    config = {"displaylogo": False, "responsive": True}
    charts = "".join(
        '<div class="chart">'
        + fig.to_html(full_html=False, include_plotlyjs=False, div_id=name, config=config)
        + "</div>"
        for name, fig in figures.items()
    )
    sc = run.scenario
    meta = html.escape(
        f"{sc.description} {run.orders:,} orders over {run.days} days from {run.start} "
        f"({run.time_zone}); scenario file {sc.path}; costs in {currency}; run in "
        f"{run.runtime_s:.1f} s."
    )
    return PAGE.format(title=html.escape(sc.name), meta=meta, table=_table(run), charts=charts,
                       plotly=get_plotlyjs())  # fmt: skip
