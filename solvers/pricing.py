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

from sourcing_engine.solvers.arrays import unique
from sourcing_engine.solvers.candidates import DEFAULT_DEPTH, ShapeGroup, build_group
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.shapes import content_pairs, shape_of

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

MAX_COMBO_BLOCKS = 5
"""Splits into at most this many shipments search node combinations with arrays."""
FEW_ORDERS = 8
"""Up to this many orders the relaxation leaves open are priced one by one over nodes."""


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

    Most orders are settled by the relaxation (`_relaxed`): its plan is optimal whenever
    its shipments come from distinct nodes. The others are priced by listing their splits
    (vectorized over many orders), or by the dynamic programme over nodes (a few orders,
    or shapes with too many splits to list).
    """
    priced = priced_costs(group, prices, avail)
    plans, settled, proven = _relaxed(problem, group, priced)
    if settled.all():
        return plans, proven
    rows = np.nonzero(~settled)[0]
    sub = group.subset(rows)
    if group.shape.enumerated and len(rows) > FEW_ORDERS:
        fixed, fixed_exact = _price_group_splits(problem, sub, priced[rows])
    else:  # a few orders: the programme over nodes costs less than listing every split
        fixed, _ = _price_group_dp(problem, sub, priced[rows])
        fixed_exact = _ranking_holds(problem, sub, priced[rows])
    exact = proven.copy()
    exact[rows] = fixed_exact
    return _with_rows(plans, rows, fixed), exact


@lru_cache(maxsize=512)
def _levels(qty: tuple[int, ...]) -> tuple[tuple[IntArray, IntArray, IntArray], ...]:
    """The content pairs (whole, part, rest) by the units of `whole`, one level per unit
    count: (pair indices grouped by whole, the wholes, where each whole's pairs start)."""
    whole, _, _ = content_pairs(qty)
    units = shape_of(qty).content_units
    out = []
    for u in range(1, int(sum(qty)) + 1):
        pairs = np.nonzero(units[whole] == u)[0]
        wholes, starts = np.unique(whole[pairs], return_index=True)
        out.append((pairs, wholes, starts))
    return tuple(out)


def _relaxed(
    problem: SourcingProblem, group: ShapeGroup, priced: FloatArray
) -> tuple[OrderPlans, BoolArray, BoolArray]:
    """The relaxation that lets two shipments of an order come from one node.

    f[t], the least cost of shipping content t in shipments each at its content's cheapest
    node, is a dynamic programme over contents (t = part + rest, by units). It is a lower
    bound on every plan, so its best plan is optimal whenever its shipments' nodes differ
    (`settled`), which is the common case: merging two shipments at one node is usually
    cheaper than sending both. `proven`: every content's cheapest kept candidate is no
    dearer than the best one the ranking left out, so the bound holds over all nodes.
    """
    shape = group.shape
    pen = problem.penalties
    g_count, n_cont = len(group), shape.n_contents
    rows = np.arange(g_count)
    slot = np.argmin(priced, axis=2)  # (G, C): each content's cheapest kept candidate
    best = np.take_along_axis(priced, slot[:, :, None], axis=2)[:, :, 0]
    _, part, rest = content_pairs(shape.qty)
    f = np.full((g_count, n_cont), np.inf)
    f[:, 0] = 0.0
    choice = np.zeros((g_count, n_cont), dtype=np.int64)  # the pair that made f[t]
    for pairs, wholes, starts in _levels(shape.qty):
        cand = f[:, rest[pairs]] + best[:, part[pairs]]  # (G, P): rests are done
        low = np.minimum.reduceat(cand, starts, axis=1)
        hit = cand == np.repeat(low, np.diff(np.append(starts, len(pairs))), axis=1)
        pos = np.where(hit, np.arange(len(pairs))[None, :], len(pairs))
        f[:, wholes] = low
        choice[:, wholes] = pairs[np.minimum.reduceat(pos, starts, axis=1)]
    total_units = int(sum(shape.qty))
    unfilled = pen.unfilled_per_unit * (total_units - shape.content_units)
    final = f + unfilled[None, :] - pen.split * (np.arange(n_cont) > 0)[None, :]
    t = np.argmin(final, axis=1)
    value = final[rows, t]

    width = max(1, shape.max_blocks)
    block_content = np.full((g_count, width), -1, dtype=np.int64)
    cur = t.copy()
    for b in range(width):  # walk the choices back: one shipment per step
        active = cur > 0
        if not active.any():
            break
        p = choice[rows, cur]
        block_content[active, b] = part[p[active]]
        cur = np.where(active, rest[p], 0)
    used = block_content >= 0
    bc = np.maximum(block_content, 0)
    m = slot[rows[:, None], bc]
    block_node = np.where(used, group.node[rows[:, None], bc, m], -1)
    settled = np.ones(g_count, dtype=bool)
    for i in range(width):
        for j in range(i + 1, width):
            settled &= ~(used[:, i] & used[:, j] & (block_node[:, i] == block_node[:, j]))
    settled &= used.sum(axis=1) <= pen.max_shipments
    cost = np.where(used, group.cost[rows[:, None], bc, m], 0.0).sum(axis=1)
    cost += unfilled[t] - pen.split * (t > 0)
    proven = np.all(~np.isfinite(group.threshold) | (best <= group.threshold), axis=1)
    plans = OrderPlans(group, value, cost, block_node, block_content, np.zeros(g_count, bool))
    return plans, settled, proven


def _ranking_holds(problem: SourcingProblem, group: ShapeGroup, priced: FloatArray) -> BoolArray:
    """Per order: each content keeps as many candidates as a plan has shipments, each no
    dearer than the best one left out, so an optimal plan needs no node beyond them (one
    that used a node left out could swap it for a kept one that no other shipment uses)."""
    shape = group.shape
    top = max(1, min(shape.max_blocks, problem.penalties.max_shipments, priced.shape[2]))
    kth = np.partition(priced, top - 1, axis=2)[:, :, top - 1]
    result: BoolArray = np.all(~np.isfinite(group.threshold) | (kth <= group.threshold), axis=1)
    return result


def _with_rows(plans: OrderPlans, rows: IntArray, fixed: OrderPlans) -> OrderPlans:
    """The plans with some orders' replaced (same group, same block width)."""
    value, cost = plans.value.copy(), plans.cost.copy()
    node, content = plans.block_node.copy(), plans.block_content.copy()
    value[rows], cost[rows] = fixed.value, fixed.cost
    w = fixed.block_node.shape[1]
    node[rows], content[rows] = -1, -1
    node[rows, :w], content[rows, :w] = fixed.block_node, fixed.block_content
    return OrderPlans(plans.group, value, cost, node, content, plans.every_node)


def _price_group_splits(
    problem: SourcingProblem, group: ShapeGroup, priced: FloatArray
) -> tuple[OrderPlans, BoolArray]:
    """Cheapest plans by listing every split of the shape (see the module docstring)."""
    shape = group.shape
    pen = problem.penalties
    g_count = len(group)
    max_k = min(shape.max_blocks, pen.max_shipments)
    depth = priced.shape[2]
    top = max(1, min(max_k, depth))
    slot = np.argsort(priced, axis=2, kind="stable")[:, :, :top]  # (G, C, top)
    best_val = np.take_along_axis(priced, slot, axis=2)
    best_node = np.take_along_axis(group.node, slot, axis=2)
    exact = _ranking_holds(problem, group, priced)

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
    problem: SourcingProblem, group: ShapeGroup, priced: FloatArray
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
    g_count, n_cont = len(group), shape.n_contents
    width = max(1, max_k)
    block_node = np.full((g_count, width), -1, dtype=np.int64)
    block_content = np.full((g_count, width), -1, dtype=np.int64)
    value = np.zeros(g_count)
    cost = np.zeros(g_count)
    unfilled = pen.unfilled_per_unit * (sum(shape.qty) - shape.content_units)
    for g in range(g_count):
        nodes = unique(group.node[g][group.node[g] >= 0])
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
    cols = unique(node[blocks, :k].ravel())
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
