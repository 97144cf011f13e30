"""Exact cheapest plan of each order, under prices and what is left.

This is the single-order problem: choose for an order the shipments (content and node) and
the units left unfilled that cost least. It serves three callers: the `greedy-cost` policy
(each order against the stock left), column generation in `optimal` (each order under the
master problem's dual prices) and, later, checkout (one order, now).

For each shape the splits of the order are enumerated (solvers.shapes); a split's best
nodes are the cheapest per content, subject to the nodes being distinct. When the cheapest
nodes already differ the split's value is exact; otherwise the best assignment of distinct
nodes is searched among each content's k best nodes (k = number of shipments), which
contains an optimal assignment. All of it is vectorized over the orders of a shape.
"""

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from sourcing_engine.solvers.candidates import DEFAULT_DEPTH, ShapeGroup, build_group
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.shapes import content_pairs

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

MAX_COMBO_BLOCKS = 5
"""Splits into at most this many shipments search node combinations with arrays."""


@dataclass(frozen=True, eq=False)
class Prices:
    """Non-negative prices on scarce resources (the master problem's dual values)."""

    entry: FloatArray  # per unit taken from a stock entry
    node_ship: FloatArray  # per shipment from a node
    node_unit: FloatArray  # per unit shipped from a node


@dataclass(frozen=True, eq=False)
class Availability:
    """What is left: units per stock entry, shipments and units per node. stock may also
    be one row per order of the problem (orders that may draw on different stock, e.g. an
    order kept away from some nodes)."""

    stock: IntArray
    ships: IntArray
    units: IntArray


@dataclass(frozen=True, eq=False)
class OrderPlans:
    """The cheapest plan of each order of a group.

    value: priced cost (with prices), cost: true cost; block_node / block_content hold the
    node and content index of each shipment (-1 padded); unfilled units are what the
    contents leave of the order. every_node: the order needed nodes beyond its ranking
    (so a price change anywhere may change its plan).
    """

    group: ShapeGroup
    value: FloatArray
    cost: FloatArray
    block_node: IntArray
    block_content: IntArray
    every_node: BoolArray

    def line_units(self) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """The plans as (row in group, line, node, qty), grouped by row."""
        shape = self.group.shape
        g, b = np.nonzero(self.block_node >= 0)
        contents = shape.contents[self.block_content[g, b]]  # (n, L)
        rows, cols = np.nonzero(contents > 0)
        row = g[rows]
        line = self.group.lines[row, cols]
        node = self.block_node[row, b[rows]]
        qty = contents[rows, cols]
        return row, line, node, qty


def priced_costs(
    group: ShapeGroup, prices: Prices | None, avail: Availability | None
) -> FloatArray:
    """Cost of each ranked candidate under prices, inf where what is left cannot ship it."""
    cost = group.cost.copy()
    shape = group.shape
    valid = group.node >= 0
    node = group.node  # -1 (no node) and entry -1 (no stock) pick the zeros appended below
    entry = group.entry
    contents = shape.contents[None, :, None, :]  # (1, C, 1, L)
    units = shape.content_units[None, :, None]
    if prices is not None:
        cost += np.append(prices.node_ship, 0.0)[node]
        cost += np.append(prices.node_unit, 0.0)[node] * units
        cost += np.sum(np.append(prices.entry, 0.0)[entry] * contents, axis=3)
    if avail is not None:
        if avail.stock.ndim == 2:  # per order: the group's orders' rows
            padded = np.pad(avail.stock, ((0, 0), (0, 1)))
            stock = padded[group.orders[:, None, None, None], entry]
        else:
            stock = np.append(avail.stock, 0)[entry]
        ok = np.all(stock >= contents, axis=3)
        ok &= np.append(avail.ships, 0)[node] >= 1
        ok &= np.append(avail.units, 0)[node] >= units
        cost = np.where(ok, cost, np.inf)
    result: FloatArray = np.where(valid, cost, np.inf)
    return result


@lru_cache(maxsize=MAX_COMBO_BLOCKS)
def _combos(k: int) -> IntArray:
    """Every choice of one of its k best nodes for each of k shipments (read-only)."""
    combos = np.array(list(itertools.product(range(k), repeat=k)), dtype=np.int64)
    combos.setflags(write=False)
    return combos


def price_group(
    problem: SourcingProblem,
    group: ShapeGroup,
    prices: Prices | None = None,
    avail: Availability | None = None,
) -> tuple[OrderPlans, BoolArray]:
    """Cheapest plan per order of the group, and which orders' answers are proven exact.

    An answer is not proven when prices or what is left pushed the kept candidates of some
    content above the cost of the best candidate left out of the ranking.
    """
    shape = group.shape
    if not shape.enumerated:
        return _price_group_dp(problem, group, prices, avail)
    pen = problem.penalties
    g_count = len(group)
    priced = priced_costs(group, prices, avail)
    max_k = min(shape.max_blocks, pen.max_shipments)
    depth = priced.shape[2]
    top = max(1, min(max_k, depth))
    slot = np.argsort(priced, axis=2, kind="stable")[:, :, :top]  # (G, C, top)
    best_val = np.take_along_axis(priced, slot, axis=2)
    best_node = np.take_along_axis(group.node, slot, axis=2)
    exact = np.all(
        ~np.isfinite(group.threshold) | (best_val[:, :, top - 1] <= group.threshold), axis=1
    )

    total_units = sum(shape.qty)
    value = np.full(g_count, pen.unfilled_per_unit * total_units)  # ship nothing
    choice_split = np.zeros(g_count, dtype=np.int64)
    width = max(1, shape.max_blocks)
    choice_slot = np.full((g_count, width), -1, dtype=np.int64)
    rows_all = np.arange(g_count)

    for k in range(1, max_k + 1):
        split_ids = np.nonzero(shape.split_blocks == k)[0]
        if not len(split_ids):
            continue
        blocks = shape.splits[split_ids, :k]  # (S, k) content indices
        fixed = pen.unfilled_per_unit * shape.split_unfilled[split_ids] - pen.split  # (S,)
        vals = best_val[:, blocks, 0]  # (G, S, k)
        nodes = best_node[:, blocks, 0]
        lb = vals.sum(axis=2) + fixed[None, :]
        distinct = np.ones(lb.shape, dtype=bool)
        for i in range(k):
            for j in range(i + 1, k):
                distinct &= nodes[:, :, i] != nodes[:, :, j]
        # exact where the cheapest nodes differ
        cand = np.where(distinct, lb, np.inf)
        s_best = np.argmin(cand, axis=1)
        v_best = cand[rows_all, s_best]
        better = v_best < value
        value = np.where(better, v_best, value)
        choice_split = np.where(better, split_ids[s_best], choice_split)
        choice_slot[better, :] = -1
        choice_slot[better, :k] = 0
        # where they coincide, search distinct nodes among each content's k best
        gi, si = np.nonzero(~distinct & (lb < value[:, None]))
        if not len(gi):
            continue
        if k <= MAX_COMBO_BLOCKS and k <= top:
            combos = _combos(k)  # (P, k)
            b = blocks[si]  # (n, k)
            v = best_val[gi[:, None, None], b[:, None, :], combos[None, :, :]]  # (n, P, k)
            nd = best_node[gi[:, None, None], b[:, None, :], combos[None, :, :]]
            ok = np.ones(v.shape[:2], dtype=bool)
            for i in range(k):
                for j in range(i + 1, k):
                    ok &= nd[:, :, i] != nd[:, :, j]
            tot = np.where(ok, v.sum(axis=2), np.inf) + fixed[si][:, None]
            p_best = np.argmin(tot, axis=1)
            t_best = tot[np.arange(len(gi)), p_best]
            for n_, (g_, s_) in enumerate(zip(gi.tolist(), si.tolist(), strict=True)):
                if t_best[n_] < value[g_]:
                    value[g_] = t_best[n_]
                    choice_split[g_] = split_ids[s_]
                    choice_slot[g_, :] = -1
                    choice_slot[g_, :k] = combos[p_best[n_]]
        else:
            for g_, s_ in zip(gi.tolist(), si.tolist(), strict=True):
                t, slots = _assign_distinct(best_val[g_], best_node[g_], blocks[s_])
                t += fixed[s_]
                if t < value[g_]:
                    value[g_] = t
                    choice_split[g_] = split_ids[s_]
                    choice_slot[g_, :] = -1
                    choice_slot[g_, :k] = slots

    # read the chosen shipments back, with their true (unpriced) costs
    block_content = np.where(choice_slot >= 0, shape.splits[choice_split][:, :width], -1)
    bc = np.maximum(block_content, 0)
    bs = np.maximum(choice_slot, 0)
    m = slot[rows_all[:, None], bc, bs]
    used = choice_slot >= 0
    block_node = np.where(used, group.node[rows_all[:, None], bc, m], -1)
    true_cost = np.where(used, group.cost[rows_all[:, None], bc, m], 0.0).sum(axis=1)
    n_blocks = used.sum(axis=1)
    true_cost += pen.unfilled_per_unit * shape.split_unfilled[choice_split]
    true_cost -= pen.split * (n_blocks > 0)
    plans = OrderPlans(
        group=group,
        value=value,
        cost=true_cost,
        block_node=block_node,
        block_content=block_content,
        every_node=np.zeros(g_count, dtype=bool),
    )
    return plans, exact


def _price_group_dp(
    problem: SourcingProblem,
    group: ShapeGroup,
    prices: Prices | None,
    avail: Availability | None,
) -> tuple[OrderPlans, BoolArray]:
    """Cheapest plans of large orders, node by node over the contents covered so far.

    best[k, t]: least priced cost of shipping content t in k shipments from the nodes seen
    so far, each node shipping at most once. When the cap on shipments cannot bind, the
    count is not tracked (one layer). Exact for any shape; slower than enumerating splits,
    so kept for orders with too many splits to list.
    """
    shape = group.shape
    pen = problem.penalties
    whole, part, rest = content_pairs(shape.qty)
    bounds = np.searchsorted(whole, np.arange(shape.n_contents + 1))
    has_pairs = bounds[1:] > bounds[:-1]
    starts = bounds[:-1][has_pairs]
    targets = np.nonzero(has_pairs)[0]
    seg_len = np.diff(np.append(starts, len(part)))
    counted = pen.max_shipments < shape.max_blocks  # does the cap on shipments bind?
    max_k = int(min(shape.max_blocks, pen.max_shipments))
    layers = max_k + 1 if counted else 1
    priced = priced_costs(group, prices, avail)
    g_count, n_cont = len(group), shape.n_contents
    width = max(1, max_k)
    block_node = np.full((g_count, width), -1, dtype=np.int64)
    block_content = np.full((g_count, width), -1, dtype=np.int64)
    value = np.zeros(g_count)
    cost = np.zeros(g_count)
    unfilled = pen.unfilled_per_unit * (sum(shape.qty) - shape.content_units)
    for g in range(g_count):
        nodes = np.unique(group.node[g][group.node[g] >= 0])
        local = np.full((len(nodes), n_cont), np.inf)
        true = np.full((len(nodes), n_cont), np.inf)
        c_idx, m_idx = np.nonzero(group.node[g] >= 0)
        at = np.searchsorted(nodes, group.node[g][c_idx, m_idx])
        local[at, c_idx] = priced[g][c_idx, m_idx]
        true[at, c_idx] = group.cost[g][c_idx, m_idx]
        best = np.full((layers, n_cont), np.inf)
        best[0, 0] = 0.0
        # one more shipment goes from layer k to k + 1, or stays in the single layer
        src, dst = (best[:-1], best[1:]) if counted else (best, best)
        chosen = np.full((len(nodes), layers, n_cont), -1, dtype=np.int64)
        for i in range(len(nodes)):
            step = src[:, rest] + local[i, part][None, :]  # computed before dst changes
            low = np.minimum.reduceat(step, starts, axis=1)  # (layers, targets)
            improves = low < dst[:, targets]
            if not improves.any():
                continue
            hit = step == np.repeat(low, seg_len, axis=1)
            pos = np.where(hit, np.arange(len(part))[None, :], len(part))
            first = np.minimum.reduceat(pos, starts, axis=1)
            k_i, t_i = np.nonzero(improves)
            dst[k_i, targets[t_i]] = low[k_i, t_i]
            chosen[i, k_i + (1 if counted else 0), targets[t_i]] = part[first[k_i, t_i]]
        # close the plan: leave what is not shipped unfilled, one split penalty less
        shipped_any = (np.arange(layers) > 0)[:, None] if counted else (np.arange(n_cont) > 0)
        total = best + unfilled[None, :] - pen.split * shipped_any
        k, t = np.unravel_index(int(np.argmin(total)), total.shape)
        value[g] = total[k, t]
        cost[g] = unfilled[t]
        b = 0
        for i in range(len(nodes) - 1, -1, -1):  # walk back through the nodes
            c = chosen[i, k, t]
            if t == 0 or c < 0:
                continue
            block_node[g, b], block_content[g, b] = nodes[i], c
            cost[g] += true[i, c]
            t, b = t - c, b + 1
            k -= 1 if counted else 0
        cost[g] -= pen.split * (b > 0)
    plans = OrderPlans(group, value, cost, block_node, block_content, np.zeros(g_count, bool))
    return plans, np.ones(g_count, dtype=bool)


def _assign_distinct(val: FloatArray, node: IntArray, blocks: IntArray) -> tuple[float, IntArray]:
    """Cheapest assignment of distinct nodes to the shipments `blocks` (one order)."""
    k = len(blocks)
    cols = np.unique(node[blocks, :k].ravel())
    cols = cols[cols >= 0]
    if len(cols) < k:
        return float("inf"), np.zeros(k, dtype=np.int64)
    big = 1e18
    matrix = np.full((k, len(cols)), big)
    slot_of = np.zeros((k, len(cols)), dtype=np.int64)
    for i, c in enumerate(blocks.tolist()):
        for j in range(k - 1, -1, -1):  # best slot last, so it wins for a repeated node
            n = node[c, j]
            if n >= 0 and np.isfinite(val[c, j]):
                col = int(np.searchsorted(cols, n))
                matrix[i, col] = val[c, j]
                slot_of[i, col] = j
    r, c_ = linear_sum_assignment(matrix)
    total = float(matrix[r, c_].sum())
    if total >= big:
        return float("inf"), np.zeros(k, dtype=np.int64)
    return total, slot_of[r, c_]


def price_orders(
    problem: SourcingProblem,
    groups: list[ShapeGroup],
    prices: Prices | None = None,
    avail: Availability | None = None,
) -> list[OrderPlans]:
    """Exact cheapest plans for every order of every group.

    Orders whose ranking was too shallow under these prices are re-priced with every node.
    """
    out: list[OrderPlans] = []
    for group in groups:
        plans, exact = price_group(problem, group, prices, avail)
        if not exact.all():
            redo = np.nonzero(~exact)[0]
            full = build_group(problem, group.shape.qty, group.orders[redo], depth=None)
            fixed, _ = price_group(problem, full, prices, avail)
            plans = _merge(plans, redo, fixed)
        out.append(plans)
    return out


def _merge(plans: OrderPlans, rows: IntArray, fixed: OrderPlans) -> OrderPlans:
    """Replace the plans of some orders with re-priced ones (the group keeps its ranking)."""
    value = plans.value.copy()
    cost = plans.cost.copy()
    node = plans.block_node.copy()
    content = plans.block_content.copy()
    value[rows], cost[rows] = fixed.value, fixed.cost
    node[rows], content[rows] = fixed.block_node, fixed.block_content
    every_node = plans.every_node.copy()
    every_node[rows] = True
    return OrderPlans(plans.group, value, cost, node, content, every_node)


__all__ = [
    "DEFAULT_DEPTH",
    "Availability",
    "OrderPlans",
    "Prices",
    "price_group",
    "price_orders",
]
