"""Perfect hindsight over a period: every order of the stream known in advance and
sourced as one batch with `optimal` on the same stock.

Each node ships over the period at most its daily capacity times the period's days (it
may use in one day what another leaves unused), and supply arriving during the period
counts from the start (none may be on the way when an order needs it): both only relax
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
    on_hand = world.on_hand.copy()
    sku_of, node_of = world.stock_sku, world.stock_node
    nidx, sidx = world.node_index(), world.sku_index()
    key = sku_of * len(world.nodes) + node_of
    for a in world.arrivals:
        if a.from_node is not None:
            continue  # a transfer moves stock already counted
        k = sidx[a.sku] * len(world.nodes) + nidx[a.node]
        at = np.nonzero(key == k)[0]
        if len(at):
            on_hand[at[0]] += a.qty
    sourceable = np.maximum(on_hand - world.safety_stock, 0)
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
