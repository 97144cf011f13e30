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

from solvers.evaluate import shipment_costs
from solvers.problem import SourcingProblem
from solvers.shapes import Shape, shape_of

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
    cost = shipment_costs(
        problem,
        orders[cand_g][:, None],
        cand_node[:, None],
        weight[cand_g],
        volume[cand_g],
        units[None, :],
        distance_miles=distance[:, None],
    )
    cost = cost + problem.penalties.split
    feasible = np.all(cand_stock[:, None, :] >= contents[None, :, :], axis=2)
    feasible &= problem.node_unit_capacity[cand_node][:, None] >= units[None, :]
    cost = np.where(feasible, cost, np.inf)
    cost[:, 0] = np.inf  # the empty content is never shipped

    # rank per (order, content)
    # a split into k shipments needs the k best nodes of a content: keep at least that many
    # shapes priced by dynamic programme need every node
    keep = n_cand if depth is None or not shape.enumerated else max(depth, shape.max_blocks)
    g_start = np.searchsorted(cand_g, np.arange(g_count))
    width = max(1, min(keep, int(np.bincount(cand_g, minlength=g_count).max(initial=0))))
    node_out = np.full((g_count, n_cont, width), -1, dtype=np.int64)
    cost_out = np.full((g_count, n_cont, width), np.inf)
    entry_out = np.full((g_count, n_cont, width, n_lines), -1, dtype=np.int64)
    threshold = np.full((g_count, n_cont), np.inf)
    for c in range(1, n_cont):
        order_ = np.lexsort((cost[:, c], cand_g))
        rank = np.arange(n_cand) - g_start[cand_g[order_]]
        ranked_cost = cost[order_, c]
        sel = (rank < width) & np.isfinite(ranked_cost)
        rows = order_[sel]
        node_out[cand_g[rows], c, rank[sel]] = cand_node[rows]
        cost_out[cand_g[rows], c, rank[sel]] = ranked_cost[sel]
        entry_out[cand_g[rows], c, rank[sel]] = cand_entry[rows]
        nxt = rank == width
        threshold[cand_g[order_[nxt]], c] = ranked_cost[nxt]
    return ShapeGroup(
        shape=shape,
        orders=orders,
        lines=lines,
        node=node_out,
        cost=cost_out,
        entry=entry_out,
        threshold=threshold,
    )
