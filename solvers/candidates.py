"""Candidate shipments: for each order, content and node, what that shipment would cost.

Orders are grouped by shape (solvers.shapes). For every order of a group and every content,
the nodes able to ship that content (stock, capacity, ship-enabled) are ranked by cost and
the `depth` cheapest are kept, with the cost of the first one left out as a threshold.
Prices added later (dual prices, stock already taken) only raise costs, so whenever the
kept nodes still beat the threshold the ranking is exact; when they do not, the order is
rebuilt with every node (see pricing.price_orders).
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.solvers.arrays import unique
from sourcing_engine.solvers.evaluate import shipment_costs
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.shapes import Shape, shape_of

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

DEFAULT_DEPTH = 16


@dataclass(frozen=True, eq=False)
class ShapeGroup:
    """Orders of one shape and their ranked candidate nodes per content.

    node[g, c, m] is the m-th cheapest node for content c of order g (-1: none), cost[g, c, m]
    its cost (carrier price + handling + split penalty), entry[g, c, m, l] the stock entry of
    (node, line l's SKU) or -1, threshold[g, c] the cost of the best node not kept.
    """

    shape: Shape
    orders: IntArray
    lines: IntArray
    node: IntArray
    cost: FloatArray
    entry: IntArray
    threshold: FloatArray

    def __len__(self) -> int:
        return len(self.orders)

    def subset(self, rows: IntArray) -> "ShapeGroup":
        return ShapeGroup(
            shape=self.shape,
            orders=self.orders[rows],
            lines=self.lines[rows],
            node=self.node[rows],
            cost=self.cost[rows],
            entry=self.entry[rows],
            threshold=self.threshold[rows],
        )


def order_shapes(problem: SourcingProblem, orders: IntArray) -> dict[tuple[int, ...], IntArray]:
    """Group orders by the quantities of their lines (largest first)."""
    groups: dict[tuple[int, ...], list[int]] = {}
    ptr, qty = problem.order_line_ptr, problem.line_qty
    for o in orders.tolist():
        key = tuple(sorted(qty[ptr[o] : ptr[o + 1]].tolist(), reverse=True))
        groups.setdefault(key, []).append(o)
    return {k: np.array(v, dtype=np.int64) for k, v in groups.items()}


def canonical_lines(problem: SourcingProblem, orders: IntArray, n_lines: int) -> IntArray:
    """Line indices of each order, sorted by quantity (largest first), as a (G, L) array."""
    start = problem.order_line_ptr[orders]
    lines = start[:, None] + np.arange(n_lines)[None, :]
    qty = problem.line_qty[lines]
    order_ = np.argsort(-qty, axis=1, kind="stable")
    result: IntArray = np.take_along_axis(lines, order_, axis=1)
    return result


def build_group(
    problem: SourcingProblem,
    qty: tuple[int, ...],
    orders: IntArray,
    depth: int | None = DEFAULT_DEPTH,
) -> ShapeGroup:
    """Rank candidate nodes for every order and content of one shape.

    depth None keeps every feasible node (used to re-price orders exactly).
    """
    shape = shape_of(qty)
    n_lines, n_cont = shape.n_lines, shape.n_contents
    g_count = len(orders)
    lines = canonical_lines(problem, orders, n_lines)
    sku = problem.line_sku[lines]  # (G, L)

    # every (order, line, stock entry) with the SKU in stock somewhere
    lo = problem.stock_sku_ptr[sku].ravel()
    hi = problem.stock_sku_ptr[sku + 1].ravel()
    counts = hi - lo
    pair_gl = np.repeat(np.arange(g_count * n_lines), counts)
    pair_entry = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pair_entry += np.repeat(lo, counts)
    pair_g, pair_l = pair_gl // n_lines, pair_gl % n_lines
    pair_node = problem.stock_node[pair_entry]
    usable = problem.node_ship_enabled[pair_node] & (problem.node_ship_capacity[pair_node] > 0)
    usable &= problem.node_unit_capacity[pair_node] > 0
    pair_g, pair_l, pair_entry, pair_node = (
        pair_g[usable], pair_l[usable], pair_entry[usable], pair_node[usable]
    )  # fmt: skip

    # candidates: distinct (order, node) pairs
    key = pair_g * problem.n_nodes + pair_node
    cand_key, inverse = np.unique(key, return_inverse=True)
    cand_g = cand_key // problem.n_nodes
    cand_node = cand_key % problem.n_nodes
    n_cand = len(cand_key)
    cand_entry = np.full((n_cand, n_lines), -1, dtype=np.int64)
    cand_entry[inverse, pair_l] = pair_entry
    cand_stock = np.where(cand_entry >= 0, problem.stock_qty[np.maximum(cand_entry, 0)], 0)

    # cost of every content at every candidate
    contents = shape.contents  # (C, L)
    units = shape.content_units.astype(np.float64)
    weight = problem.sku_weight_lb[sku] @ contents.T  # (G, C)
    volume = problem.sku_volume_in3[sku] @ contents.T
    distance = problem.distance_miles(orders[cand_g], cand_node)

    # one order (checkout): let contents broadcast against nodes instead of copying them
    def per_cand(a: FloatArray) -> FloatArray:
        return a if g_count == 1 else a[cand_g]

    cost = shipment_costs(
        problem,
        orders[cand_g][:, None],
        cand_node[:, None],
        per_cand(weight),
        per_cand(volume),
        units[None, :],
        distance_miles=distance[:, None],
    )
    cost = cost + problem.penalties.split
    feasible = problem.node_unit_capacity[cand_node][:, None] >= units[None, :]
    for ln in range(n_lines):  # line by line: cheaper than one (cand, C, L) comparison
        feasible &= cand_stock[:, ln, None] >= contents[None, :, ln]
    cost = np.where(feasible, cost, np.inf)
    cost[:, 0] = np.inf  # the empty content is never shipped

    # rank per (order, content)
    # a split into k shipments needs the k best nodes of a content: keep at least that many
    # shapes priced by dynamic programme need every node
    keep = n_cand if depth is None or not shape.enumerated else max(depth, shape.max_blocks)
    per_order = np.bincount(cand_g, minlength=g_count)
    g_start = np.concatenate([[0], np.cumsum(per_order)[:-1]])
    width = max(1, min(keep, int(per_order.max(initial=0))))
    node_out = np.full((g_count, n_cont, width), -1, dtype=np.int64)
    cost_out = np.full((g_count, n_cont, width), np.inf)
    entry_out = np.full((g_count, n_cont, width, n_lines), -1, dtype=np.int64)
    threshold = np.full((g_count, n_cont), np.inf)
    # orders in buckets of similar candidate counts, padded to a dense (orders, slots,
    # contents) block and sorted along the slots in one call per bucket
    bucket = np.ceil(np.log2(np.maximum(per_order, 1))).astype(np.int64)
    for b in unique(bucket[per_order > 0]).tolist():
        gs = np.nonzero((bucket == b) & (per_order > 0))[0]
        slots = int(per_order[gs].max())
        slot = np.arange(slots)
        valid = slot[None, :] < per_order[gs][:, None]  # (Gb, P)
        rows = np.where(valid, g_start[gs][:, None] + slot[None, :], 0)
        # (Gb, C, P): the slots last, so partitioning and sorting run on contiguous rows
        block = np.where(valid[:, None, :], cost[rows].transpose(0, 2, 1), np.inf)
        top = min(width, slots)
        if slots > top:
            part = np.argpartition(block, top, axis=2)  # the top best first, then the next
            threshold[gs] = np.take_along_axis(block, part[:, :, top : top + 1], axis=2)[..., 0]
            part = part[:, :, :top]
        else:
            part = np.broadcast_to(slot[None, None, :], block.shape)
        part_cost = np.take_along_axis(block, part, axis=2)
        order_ = np.argsort(part_cost, axis=2, kind="stable")
        pick = np.take_along_axis(part, order_, axis=2)  # (Gb, C, top)
        picked_cost = np.take_along_axis(part_cost, order_, axis=2)
        picked_row = np.take_along_axis(rows[:, None, :], pick, axis=2)
        finite = np.isfinite(picked_cost)
        cost_out[gs, :, :top] = picked_cost
        node_out[gs, :, :top] = np.where(finite, cand_node[picked_row], -1)
        entry_out[gs, :, :top] = np.where(finite[..., None], cand_entry[picked_row], -1)
    return ShapeGroup(
        shape=shape,
        orders=orders,
        lines=lines,
        node=node_out,
        cost=cost_out,
        entry=entry_out,
        threshold=threshold,
    )
