"""The textbook split-shipment model, for comparison with `optimal`.

x[o, l, n] units of order o's line l from node n, y[o, n] = 1 if o ships from n, with
x <= q * y to charge the shipment. Exact for the linear cost model (per shipment + per unit
+ per unit-mile), which is the only one it can express; this is the formulation the
literature starts from and whose weak relaxation makes capacity-bound batches slow to prove.
"""

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from sourcing_engine.cost_models import LinearCost
from sourcing_engine.solvers.mip import MipSolution, solve_mip
from sourcing_engine.solvers.problem import UNLIMITED, SourcingProblem


def solve_textbook(
    problem: SourcingProblem, time_limit_s: float, gap: float = 1e-4
) -> MipSolution | None:
    """Solve the textbook model with SCIP; the problem must use the linear cost model."""
    if not isinstance(problem.shipping, LinearCost):
        raise ValueError("the textbook model prices shipments linearly: use a LinearCost")
    lin, pen = problem.shipping, problem.penalties
    # one x per (line, node stocking its SKU) and one y per (order, node) among them
    lo = problem.stock_sku_ptr[problem.line_sku]
    counts = problem.stock_sku_ptr[problem.line_sku + 1] - lo
    x_line = np.repeat(np.arange(problem.n_lines), counts)
    x_entry = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    x_entry += np.repeat(lo, counts)
    x_node = problem.stock_node[x_entry]
    ok = problem.node_ship_enabled[x_node]
    x_line, x_entry, x_node = x_line[ok], x_entry[ok], x_node[ok]
    x_order = problem.line_order[x_line]
    y_key, x_y = np.unique(x_order * problem.n_nodes + x_node, return_inverse=True)
    y_order, y_node = y_key // problem.n_nodes, y_key % problem.n_nodes
    nx, ny, nl, no = len(x_line), len(y_key), problem.n_lines, problem.n_orders
    # variables: x, y, u (unfilled per line), z (order ships at all)
    xi, yi, ui, zi = 0, nx, nx + ny, nx + ny + nl
    n_var = zi + no
    miles = problem.distance_miles(x_order, x_node)
    cost = np.concatenate(
        [
            lin.per_unit + lin.per_unit_mile * miles + problem.node_handling_per_unit[x_node],
            lin.per_shipment + problem.node_handling_per_shipment[y_node] + pen.split,
            np.full(nl, pen.unfilled_per_unit),
            np.full(no, -pen.split),
        ]
    )
    upper = np.concatenate(
        [
            np.minimum(problem.line_qty[x_line], problem.stock_qty[x_entry]),
            np.ones(ny),
            problem.line_qty.astype(np.float64),
            np.ones(no),
        ]
    ).astype(np.float64)
    rows: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]] = []
    lower: list[NDArray[np.float64]] = []
    upper_rows: list[NDArray[np.float64]] = []
    n_rows = 0

    def add(r: NDArray[np.int64], v: NDArray[np.int64], c: NDArray[np.float64],
            lo_: NDArray[np.float64], hi_: NDArray[np.float64]) -> None:  # fmt: skip
        nonlocal n_rows
        rows.append((r + n_rows, v, c))
        lower.append(lo_)
        upper_rows.append(hi_)
        n_rows += len(lo_)

    qty = problem.line_qty.astype(np.float64)
    inf = np.inf
    # cover: sum_n x + u = q
    x_ids, y_ids, u_ids, z_ids = (
        xi + np.arange(nx),
        yi + np.arange(ny),
        ui + np.arange(nl),
        zi + np.arange(no),
    )
    add(np.concatenate([x_line, np.arange(nl)]), np.concatenate([x_ids, u_ids]),
        np.ones(nx + nl), qty, qty)  # fmt: skip
    # x <= q * y (the textbook link)
    add(np.concatenate([np.arange(nx)] * 2), np.concatenate([xi + np.arange(nx), yi + x_y]),
        np.concatenate([np.ones(nx), -problem.line_qty[x_line].astype(np.float64)]),
        np.full(nx, -inf), np.zeros(nx))  # fmt: skip
    # stock per entry
    add(x_entry, xi + np.arange(nx), np.ones(nx), np.full(len(problem.stock_qty), -inf),
        problem.stock_qty.astype(np.float64))  # fmt: skip
    # node capacity: shipments and units
    cap_s = np.minimum(problem.node_ship_capacity, 10**12).astype(np.float64)
    cap_u = np.minimum(problem.node_unit_capacity, 10**12).astype(np.float64)
    add(y_node, yi + np.arange(ny), np.ones(ny), np.full(problem.n_nodes, -inf), cap_s)
    add(x_node, xi + np.arange(nx), np.ones(nx), np.full(problem.n_nodes, -inf), cap_u)
    # shipments per order, and z <= sum y
    if pen.max_shipments < UNLIMITED:
        add(y_order, yi + np.arange(ny), np.ones(ny), np.full(no, -inf),
            np.full(no, float(pen.max_shipments)))  # fmt: skip
    add(np.concatenate([y_order, np.arange(no)]), np.concatenate([y_ids, z_ids]),
        np.concatenate([-np.ones(ny), np.ones(no)]), np.full(no, -inf), np.zeros(no))  # fmt: skip

    matrix = sp.csr_matrix(
        (np.concatenate([c for _, _, c in rows]),
         (np.concatenate([r for r, _, _ in rows]), np.concatenate([v for _, v, _ in rows]))),
        shape=(n_rows, n_var),
    )  # fmt: skip
    return solve_mip(
        cost, upper, matrix, np.concatenate(lower), np.concatenate(upper_rows), {},
        time_limit_s=time_limit_s, gap=gap, backend="scip",  # as published: SCIP
    )  # fmt: skip
