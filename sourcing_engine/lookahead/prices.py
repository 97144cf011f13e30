"""Opportunity cost of stock: the dual prices of a transportation LP over the forecast.

Acimovic and Graves (M&SOM 2015): serve the forecast demand of each (region, SKU) from
the stock on hand at least cost, each unit at the cost of shipping it alone from a node to
the region's centre (carrier charge for one unit of the SKU, plus the node's handling of a
one-unit shipment), or leave it unserved at the unfilled penalty; each node ships at most
its unit capacity over the horizon. The dual value of a stock position's constraint is
what one more unit there would save the forecast demand: the cost a unit taken from it
now imposes on later orders. `lookahead` adds it to the myopic cost.

Each (region, SKU) may draw on its NEAREST stocking nodes only (the far ones are rarely
the marginal source of a region's demand when nearer ones exist). A SKU none of whose
positions the demand able to reach it could empty has every price 0 (no stock constraint
of it can bind) and is left out: on the medium network that keeps a few hundred SKUs of
five thousand. What the left-out SKUs would ship does not count against node capacity
(an approximation: it lowers the capacity prices). Solved with HiGHS (scipy's linprog).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from sourcing_engine.cost_models import handling_cost, haversine_miles
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.solvers import SourcingProblem

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

NEAREST = 6
METHOD = "highs-ds"
MIN_DEMAND = 0.1
"""(region, SKU) cells expecting fewer units than this over the horizon are left out."""


@dataclass(frozen=True, eq=False)
class StockPrices:
    """Price per unit of each stock entry of the problem priced, the LP's cost."""

    entry: FloatArray
    objective: float
    columns: int


def stock_prices(
    problem: SourcingProblem,
    demand: FloatArray,
    region_lat: FloatArray,
    region_lon: FloatArray,
    unit_capacity: IntArray,
    nearest: int = NEAREST,
) -> StockPrices:
    """Prices of the problem's stock entries against demand (regions x SKUs) over the
    horizon; unit_capacity: units each node may ship over the horizon (UNLIMITED: none)."""
    p = problem
    n_entries = len(p.stock_qty)
    cols_e, cols_c, cols_r, cols_cost = [], [], [], []
    cell_r, cell_s = np.nonzero(demand >= MIN_DEMAND)
    cell_d = demand[cell_r, cell_s]
    enabled = p.node_ship_enabled[p.stock_node]
    order = np.argsort(cell_s, kind="stable")
    cell_r, cell_s, cell_d = cell_r[order], cell_s[order], cell_d[order]
    bounds = np.searchsorted(cell_s, np.arange(p.n_skus + 1))
    for s in np.unique(cell_s).tolist():
        lo, hi = int(p.stock_sku_ptr[s]), int(p.stock_sku_ptr[s + 1])
        entries = np.arange(lo, hi)[enabled[lo:hi]]
        if not len(entries):
            continue
        cells = np.arange(bounds[s], bounds[s + 1])
        nodes = p.stock_node[entries]
        miles = haversine_miles(
            p.node_lat[nodes][None, :], p.node_lon[nodes][None, :],
            region_lat[cell_r[cells]][:, None], region_lon[cell_r[cells]][:, None],
        )  # fmt: skip
        k = min(nearest, len(entries))
        pick = np.argsort(miles, axis=1)[:, :k]
        # a position can be priced only if the demand that may draw on it can empty it
        reach = np.bincount(pick.ravel(), weights=np.repeat(cell_d[cells], k),
                            minlength=len(entries))  # fmt: skip
        if not np.any(reach >= p.stock_qty[entries]):
            continue
        d = np.take_along_axis(miles, pick, axis=1)
        node = nodes[pick]
        one = np.ones(d.shape)
        cost = p.shipping.shipment_cost(
            d, p.sku_weight_lb[s] * one, p.sku_volume_in3[s] * one, one, one > 0
        ) + handling_cost(p.node_handling_per_shipment[node], p.node_handling_per_unit[node], 1)
        cols_e.append(entries[pick].ravel())
        cols_c.append(np.repeat(cells, k))
        cols_r.append(node.ravel())
        cols_cost.append(np.asarray(cost, dtype=np.float64).ravel())
    n_cells = len(cell_d)
    e = np.concatenate(cols_e) if cols_e else np.zeros(0, np.int64)
    c = np.concatenate(cols_c) if cols_c else np.zeros(0, np.int64)
    node = np.concatenate(cols_r) if cols_r else np.zeros(0, np.int64)
    cost = np.concatenate(cols_cost) if cols_cost else np.zeros(0)
    n_x = len(e)
    if n_x == 0:
        return StockPrices(
            np.zeros(n_entries), float(p.penalties.unfilled_per_unit * cell_d.sum()), 0
        )
    # columns: x (entry -> cell), then u (cell unserved)
    obj = np.concatenate([cost, np.full(n_cells, p.penalties.unfilled_per_unit)])
    x_idx = np.arange(n_x)
    a_eq = sp.csr_matrix(
        (np.ones(n_x + n_cells), (np.concatenate([c, np.arange(n_cells)]),
                                  np.concatenate([x_idx, n_x + np.arange(n_cells)]))),
        shape=(n_cells, n_x + n_cells),
    )  # fmt: skip
    limited = np.nonzero(unit_capacity < UNLIMITED)[0]
    cap_row = np.full(p.n_nodes, -1, dtype=np.int64)
    cap_row[limited] = np.arange(len(limited))
    on_cap = cap_row[node] >= 0
    a_ub = sp.vstack([
        sp.csr_matrix((np.ones(n_x), (e, x_idx)), shape=(n_entries, n_x + n_cells)),
        sp.csr_matrix((np.ones(int(on_cap.sum())), (cap_row[node[on_cap]], x_idx[on_cap])),
                      shape=(len(limited), n_x + n_cells)),
    ]).tocsr()  # fmt: skip
    b_ub = np.concatenate([p.stock_qty, unit_capacity[limited]]).astype(np.float64)
    res = linprog(obj, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=cell_d, bounds=(0, None),
                  method=METHOD)  # fmt: skip
    if res.status != 0:
        raise RuntimeError(f"the opportunity-cost LP did not solve: {res.message}")
    prices = np.maximum(-np.asarray(res.ineqlin.marginals[:n_entries], dtype=np.float64), 0.0)
    return StockPrices(prices, float(res.fun), n_x)
