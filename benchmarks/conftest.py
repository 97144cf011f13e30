"""Shared fixtures of the benchmark suites (run: pytest benchmarks, see README)."""

import numpy as np
import pytest

from sourcing_engine.cost_models import OrderPenalties, default_us_ground
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.presets import generate, sized
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.sourcing import compile_batch


def dense_one_order(qty: tuple[int, ...], n_nodes: int = 1000, seed: int = 0) -> SourcingProblem:
    """One order whose every SKU is stocked at every one of n_nodes nodes: the worst case of
    checkout sourcing (no node can be skipped for lack of stock)."""
    rng = np.random.default_rng(seed)
    n_lines = len(qty)
    return SourcingProblem(
        node_lat=rng.uniform(26.0, 48.0, n_nodes),
        node_lon=rng.uniform(-123.0, -70.0, n_nodes),
        node_ship_capacity=np.full(n_nodes, UNLIMITED),
        node_unit_capacity=np.full(n_nodes, UNLIMITED),
        node_handling_per_shipment=rng.uniform(1.0, 4.0, n_nodes),
        node_handling_per_unit=rng.uniform(0.2, 1.2, n_nodes),
        node_ship_enabled=np.ones(n_nodes, dtype=bool),
        sku_weight_lb=rng.uniform(0.3, 10.0, n_lines),
        sku_volume_in3=rng.uniform(50.0, 2000.0, n_lines),
        stock_sku_ptr=np.arange(0, n_nodes * n_lines + 1, n_nodes),
        stock_node=np.tile(np.arange(n_nodes), n_lines),
        stock_qty=rng.integers(1, 4, n_nodes * n_lines),
        order_lat=np.array([39.1]),
        order_lon=np.array([-94.6]),
        order_residential=np.array([True]),
        order_line_ptr=np.array([0, n_lines]),
        line_sku=np.arange(n_lines),
        line_qty=np.array(qty),
        shipping=default_us_ground(),
        penalties=OrderPenalties(unfilled_per_unit=250.0, split=1.0),
    )


_CACHE: dict[tuple[int, int, int, int], SourcingProblem] = {}


def batch_problem(n_orders: int, n_nodes: int, n_skus: int, seed: int = 1) -> SourcingProblem:
    """A generated batch of the given size (scenarios.sized), compiled once per session."""
    key = (n_orders, n_nodes, n_skus, seed)
    if key not in _CACHE:
        _CACHE[key] = compile_batch(generate(sized(n_orders, n_nodes, n_skus), seed)).problem
    return _CACHE[key]


@pytest.fixture(scope="session")
def problem_factory() -> object:
    return batch_problem


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the opt-in `long` benchmarks out of a plain `pytest benchmarks` (deselected, not
    skipped); `-m long` (or any -m expression naming it) runs them."""
    if "long" in (config.getoption("-m") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("long") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
