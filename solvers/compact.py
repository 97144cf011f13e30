"""Closing the gap: a shipment-level model over the candidates that can still matter.

Once column generation has converged, the prices of the linear relaxation give every
possible plan a reduced cost, and any plan of total cost below the incumbent's uses only
order plans whose reduced cost is at most the gap (incumbent - bound). A candidate shipment
(order, node, content) can appear in such a plan only if the cheapest completion of the
order around it passes that test, which a small dynamic programme over the order's
contents bounds from below. Candidates that fail are dropped without losing any better
plan; the rest form a compact integer model with exact shipment costs, whose optimum over
them is the optimum of the whole batch, and whose bound is therefore a valid bound.
"""

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from sourcing_engine.solvers.candidates import ShapeGroup, build_group
from sourcing_engine.solvers.master import ScarceRows
from sourcing_engine.solvers.mip import solve_mip
from sourcing_engine.solvers.pricing import Prices, priced_costs
from sourcing_engine.solvers.problem import UNLIMITED, SourcingProblem
from sourcing_engine.solvers.result import Allocation
from sourcing_engine.solvers.shapes import Shape, content_pairs

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def completion_costs(shape: Shape, best: FloatArray, unfilled_per_unit: float) -> FloatArray:
    """rem[g, r]: least priced cost of covering content r of order g with any shipments
    (nodes may repeat: a relaxation) or leaving units unfilled."""
    r_idx, b_idx, rest = content_pairs(shape.qty)
    rem = np.zeros_like(best)
    rem[:, :] = unfilled_per_unit * shape.content_units[None, :]
    bounds = np.searchsorted(r_idx, np.arange(shape.n_contents + 1))
    for r in range(1, shape.n_contents):
        lo, hi = bounds[r], bounds[r + 1]
        if hi > lo:
            via = best[:, b_idx[lo:hi]] + rem[:, rest[lo:hi]]
            rem[:, r] = np.minimum(rem[:, r], via.min(axis=1))
    return rem


@dataclass(frozen=True, eq=False)
class Candidates:
    """Shipments kept for the compact model: order, node, cost, and units per line."""

    order: IntArray
    node: IntArray
    cost: FloatArray
    line: IntArray  # (n, L) line index per content position, -1 beyond the order's lines
    units: IntArray  # (n, L)


def prune(
    problem: SourcingProblem,
    groups: list[ShapeGroup],
    prices: Prices,
    sigma: FloatArray,
    slack: FloatArray,
) -> Candidates:
    """Candidate shipments whose order could have a plan of reduced cost <= slack[order]."""
    parts: list[Candidates] = []
    for group in groups:
        part, redo = _prune_group(problem, group, prices, sigma, slack)
        parts.append(part)
        if len(redo):
            full = build_group(problem, group.shape.qty, group.orders[redo], depth=None)
            parts.append(_prune_group(problem, full, prices, sigma, slack)[0])
    return _concat(parts)


def _prune_group(
    problem: SourcingProblem,
    group: ShapeGroup,
    prices: Prices,
    sigma: FloatArray,
    slack: FloatArray,
) -> tuple[Candidates, IntArray]:
    shape = group.shape
    pen = problem.penalties
    priced = priced_costs(group, prices, None)  # (G, C, M)
    best = priced.min(axis=2)
    rem = completion_costs(shape, best, pen.unfilled_per_unit)
    complement = shape.n_contents - 1 - np.arange(shape.n_contents)  # index of q - c
    base = rem[:, complement] - pen.split - sigma[group.orders][:, None]  # (G, C)
    limit = (
        slack[group.orders][:, None] + 1e-7 * np.maximum(1.0, np.abs(sigma[group.orders]))[:, None]
    )
    keep = (priced + base[:, :, None]) <= limit[:, :, None]
    keep &= np.isfinite(priced)
    # nodes left out of the ranking cost at least the threshold: are any still in reach?
    redo = np.nonzero(np.any(group.threshold + base <= limit, axis=1))[0]
    keep[redo] = False
    g, c, m = np.nonzero(keep)
    return (
        Candidates(
            order=group.orders[g],
            node=group.node[g, c, m],
            cost=group.cost[g, c, m],
            line=group.lines[g],
            units=shape.contents[c],
        ),
        redo,
    )


def ranked_candidates(groups: list[ShapeGroup], orders: IntArray) -> Candidates:
    """Every ranked candidate shipment of these orders (no pruning: for heuristics)."""
    wanted = np.zeros(max((int(g.orders.max()) for g in groups if len(g)), default=0) + 1, bool)
    wanted[orders] = True
    parts = []
    for group in groups:
        rows_ = np.nonzero(wanted[group.orders])[0]
        if not len(rows_):
            continue
        g, c, m = np.nonzero(np.isfinite(group.cost[rows_]))
        g = rows_[g]
        parts.append(
            Candidates(
                order=group.orders[g],
                node=group.node[g, c, m],
                cost=group.cost[g, c, m],
                line=group.lines[g],
                units=group.shape.contents[c],
            )
        )
    return _concat(parts)


def _concat(parts: list[Candidates]) -> Candidates:
    width = max((p.line.shape[1] for p in parts), default=1)

    def pad(a: IntArray, fill: int) -> IntArray:
        out = np.full((len(a), width), fill, dtype=np.int64)
        out[:, : a.shape[1]] = a
        return out

    return Candidates(
        order=np.concatenate([p.order for p in parts] or [np.zeros(0, np.int64)]),
        node=np.concatenate([p.node for p in parts] or [np.zeros(0, np.int64)]),
        cost=np.concatenate([p.cost for p in parts] or [np.zeros(0)]),
        line=np.concatenate([pad(p.line, -1) for p in parts] or [np.zeros((0, 1), np.int64)]),
        units=np.concatenate([pad(p.units, 0) for p in parts] or [np.zeros((0, 1), np.int64)]),
    )


@dataclass(frozen=True)
class CompactOutcome:
    allocation: Allocation
    objective: float
    bound: float
    proven: bool
    n_candidates: int


def solve_compact(
    problem: SourcingProblem,
    rows: ScarceRows,
    cands: Candidates,
    incumbent: Allocation,
    time_limit_s: float,
    backend: str = "highs",
    gap: float = 1e-4,
    orders: IntArray | None = None,
    capacity: FloatArray | None = None,
    presolve: bool = True,
) -> CompactOutcome:
    """The shipment-level integer model over the kept candidates, hinted with the incumbent.

    orders: the orders to decide (default all; every candidate must belong to one of them);
    capacity: what is left of each scarce resource for them (default all of it);
    presolve: False for the whole batch's model (tens of thousands of candidates), where
    HiGHS's presolve took most of a 30 s limit (probing; once twice the limit it was given)
    and left no bound, while without it the root's LP and cuts proved the sized family's
    1,000 orders x 200 nodes in 33 s on a loaded machine. Returns the allocation of those
    orders only.
    """
    t0 = time.perf_counter()
    pen = problem.penalties
    open_orders = np.arange(problem.n_orders) if orders is None else np.sort(orders)
    capacity = rows.capacity if capacity is None else capacity
    order_pos = np.full(problem.n_orders, -1, dtype=np.int64)
    order_pos[open_orders] = np.arange(len(open_orders))
    starts, ends = problem.order_line_ptr[open_orders], problem.order_line_ptr[open_orders + 1]
    open_lines = np.concatenate(
        [np.arange(a, b) for a, b in zip(starts, ends, strict=True)] or [np.zeros(0, np.int64)]
    )
    line_pos = np.full(problem.n_lines, -1, dtype=np.int64)
    line_pos[open_lines] = np.arange(len(open_lines))
    line_qty = problem.line_qty[open_lines].astype(np.float64)
    n_x, n_lines, n_orders = len(cands.order), len(open_lines), len(open_orders)
    cand_order = order_pos[cands.order]
    # variables: x (shipments), u (unfilled units per line), z (order ships at all)
    use_z = pen.split > 0
    n_z = n_orders if use_z else 0
    n_var = n_x + n_lines + n_z
    x_ids = np.arange(n_x)
    u_ids = n_x + np.arange(n_lines)
    z_ids = n_x + n_lines + np.arange(n_z)

    blocks: list[tuple[IntArray, IntArray, FloatArray]] = []  # (row, var, coef)
    lower: list[FloatArray] = []
    upper: list[FloatArray] = []
    n_rows = 0

    def add_rows(
        row: IntArray, var: IntArray, coef: FloatArray, lo: FloatArray, hi: FloatArray
    ) -> None:
        nonlocal n_rows
        blocks.append((row + n_rows, var, coef))
        lower.append(lo)
        upper.append(hi)
        n_rows += len(lo)

    # cover each line: sum of shipped units + unfilled = ordered
    xi, li = np.nonzero(cands.line >= 0)
    line_of = cands.line[xi, li]
    qty = cands.units[xi, li]
    sel = qty > 0
    add_rows(
        np.concatenate([line_pos[line_of[sel]], np.arange(n_lines)]),
        np.concatenate([x_ids[xi[sel]], u_ids]),
        np.concatenate([qty[sel], np.ones(n_lines)]).astype(np.float64),
        line_qty,
        line_qty,
    )
    # at most one shipment per (order, node)
    _, pair_inv, pair_n = np.unique(
        cands.order * problem.n_nodes + cands.node, return_inverse=True, return_counts=True
    )
    multi = pair_n[pair_inv] > 1
    if multi.any():
        _, mi = np.unique(pair_inv[multi], return_inverse=True)
        add_rows(
            mi, x_ids[multi], np.ones(int(multi.sum())),
            np.full(mi.max() + 1, -np.inf), np.ones(mi.max() + 1),
        )  # fmt: skip
    # shipments per order
    if pen.max_shipments < UNLIMITED:
        add_rows(
            cand_order, x_ids, np.ones(n_x),
            np.full(n_orders, -np.inf), np.full(n_orders, float(pen.max_shipments)),
        )  # fmt: skip
    if use_z:  # z_o <= number of shipments of o
        add_rows(
            np.concatenate([cand_order, np.arange(n_orders)]),
            np.concatenate([x_ids, z_ids]),
            np.concatenate([-np.ones(n_x), np.ones(n_orders)]),
            np.full(n_orders, -np.inf),
            np.zeros(n_orders),
        )
    # scarce resources
    entry = problem.stock_entry(cands.node[xi[sel]], problem.line_sku[line_of[sel]])
    e_row = rows.entry_row[entry]
    s_row = rows.ship_row[cands.node]
    u_row = rows.unit_row[cands.node]
    units_total = cands.units.sum(axis=1).astype(np.float64)
    r_row = np.concatenate([e_row, s_row, u_row])
    r_var = np.concatenate([x_ids[xi[sel]], x_ids, x_ids])
    r_coef = np.concatenate([qty[sel].astype(np.float64), np.ones(n_x), units_total])
    ok = r_row >= 0
    add_rows(r_row[ok], r_var[ok], r_coef[ok], np.full(rows.n_rows, -np.inf), capacity)

    row = np.concatenate([b[0] for b in blocks])
    var = np.concatenate([b[1] for b in blocks])
    coef = np.concatenate([b[2] for b in blocks])
    matrix = sp.csr_matrix((coef, (row, var)), shape=(n_rows, n_var))
    objective = np.concatenate(
        [cands.cost, np.full(n_lines, pen.unfilled_per_unit), np.full(n_z, -pen.split)]
    )
    var_upper = np.concatenate([np.ones(n_x), line_qty, np.ones(n_z)])
    solution = solve_mip(
        objective,
        var_upper,
        matrix,
        np.concatenate(lower),
        np.concatenate(upper),
        _hint(problem, cands, incumbent, open_lines, x_ids, u_ids, z_ids, order_pos),
        time_limit_s=time_limit_s - (time.perf_counter() - t0),
        gap=gap,
        backend=backend,
        presolve=presolve,
    )
    values = solution.values
    picked = np.nonzero(values[:n_x] > 0.5)[0]
    pi, pl = np.nonzero((cands.line[picked] >= 0) & (cands.units[picked] > 0))
    alloc = Allocation(
        cands.line[picked[pi], pl], cands.node[picked[pi]], cands.units[picked[pi], pl]
    )
    return CompactOutcome(
        allocation=alloc,
        objective=solution.objective,
        bound=solution.bound,
        proven=solution.proven,
        n_candidates=n_x,
    )


def _hint(
    problem: SourcingProblem,
    cands: Candidates,
    incumbent: Allocation,
    open_lines: IntArray,
    x_ids: IntArray,
    u_ids: IntArray,
    z_ids: IntArray,
    order_pos: IntArray,
) -> dict[int, float]:
    """The incumbent as a hint: the candidates holding its shipments, its unfilled units."""
    shipped = np.bincount(incumbent.line, incumbent.qty, minlength=problem.n_lines)
    inc_order = problem.line_order[incumbent.line]
    wanted: dict[tuple[int, int], dict[int, int]] = {}
    for o, n, ln, q in zip(
        inc_order.tolist(), incumbent.node.tolist(), incumbent.line.tolist(),
        incumbent.qty.tolist(), strict=True,
    ):  # fmt: skip
        wanted.setdefault((o, n), {})[ln] = q
    hint: dict[int, float] = {}
    for j in range(len(cands.order)):
        want = wanted.get((int(cands.order[j]), int(cands.node[j])))
        have = {
            int(ln): int(q)
            for ln, q in zip(cands.line[j].tolist(), cands.units[j].tolist(), strict=True)
            if ln >= 0 and q > 0
        }
        hint[int(x_ids[j])] = 1.0 if want is not None and have == want else 0.0
    for k, ln in enumerate(open_lines.tolist()):
        hint[int(u_ids[k])] = float(problem.line_qty[ln] - shipped[ln])
    ships = np.bincount(order_pos[inc_order][order_pos[inc_order] >= 0], minlength=len(z_ids))
    for k in range(len(z_ids)):
        hint[int(z_ids[k])] = 1.0 if ships[k] > 0 else 0.0
    return hint
