"""Perfect hindsight over a period: every order of the stream known in advance and
sourced as one batch with `optimal` on the same stock.

Each node ships over the period at most its daily capacity times the period's days (it
may use in one day what another leaves unused), and supply arriving during the period
counts from the start (a transfer's units at both its ends): these only relax
the replay's constraints, so the result's bound is a lower bound on what any policy can
achieve on the stream, and the plan's cost the best the solver found within its time.
"""

from dataclasses import replace

import numpy as np

from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.solvers import Result, solve
from sourcing_engine.sourcing import Network, build_problem
from sourcing_engine.whatif.world import OrderStream, Period, World


def hindsight(world: World, stream: OrderStream, period: Period, time_limit_s: float) -> Result:
    """The whole period's orders sourced jointly with `optimal` (see the module's doc)."""
    network = Network(world.nodes)
    days = period.days
    n = len(world.nodes)
    nidx, sidx = world.node_index(), world.sku_index()
    units = dict(
        zip((world.stock_sku * n + world.stock_node).tolist(),
            np.maximum(world.on_hand - world.safety_stock, 0).tolist(), strict=True)
    )  # fmt: skip
    for a in world.arrivals:
        k = sidx[a.sku] * n + nidx[a.node]
        if a.from_node is None:
            units[k] = units.get(k, 0) + a.qty
        else:  # a transfer may go either way: its units at both ends
            units.setdefault(k, 0)
            units[k] += units.get(sidx[a.sku] * n + nidx[a.from_node], 0)
    key = np.array(sorted(units), dtype=np.int64)
    sku_of, node_of = key // n, key % n
    sourceable = np.array([units[k] for k in key.tolist()], dtype=np.int64)
    problem = build_problem(
        network, world.items, (sku_of, node_of, sourceable), stream.orders, world.shipping,
        world.penalties,
    )  # fmt: skip

    def over_period(daily: np.ndarray) -> np.ndarray:
        return np.where(daily >= UNLIMITED, UNLIMITED, np.minimum(daily * days, UNLIMITED))

    problem = replace(
        problem,
        node_ship_capacity=over_period(network.ship_capacity),
        node_unit_capacity=over_period(network.unit_capacity),
    )
    return solve(problem, "optimal", time_limit=time_limit_s)
