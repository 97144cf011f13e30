"""The master problem: scarce rows, columns, the LP and its duals, the integer master."""

import numpy as np
import pytest

from sourcing_engine.cost_models import LinearCost, OrderPenalties
from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.solvers.master import (
    Columns,
    MasterLP,
    prices_of,
    resource_use,
    scarce_rows,
)
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation
from tests.solvers.brute_force import stock_entries
from tests.solvers.problems import MILES_PER_DEGREE, ORDER_AT, make_problem, north, random_problem


def _scarce_case() -> SourcingProblem:
    """Demand 3 x SKU0 and 1 x SKU1 over nodes A, B, C.

    Entries: (A, SKU0) 5, (B, SKU0) 2, (B, SKU1) 1, (C, SKU1) 9. Two orders could ship from
    A (1 shipment allowed) and from B (2 allowed, 3 units for 4 reachable units)."""
    return make_problem(
        [north(1.0), north(2.0), north(3.0)],
        {(0, 0): 5, (1, 0): 2, (1, 1): 1, (2, 1): 9},
        [[(0, 2), (1, 1)], [(0, 1)]],
        ship_capacity=[1, 2, UNLIMITED],
        unit_capacity=[10, 3, UNLIMITED],
    )


def test_scarce_rows_by_hand() -> None:
    """Rows only for (B, SKU0), A's shipments and B's units: the others cannot run out."""
    rows = scarce_rows(_scarce_case())
    assert rows.entry_row.tolist() == [-1, 0, -1, -1]
    assert rows.ship_row.tolist() == [1, -1, -1]
    assert rows.unit_row.tolist() == [-1, 2, -1]
    assert rows.capacity.tolist() == [2.0, 1.0, 3.0]
    assert rows.n_rows == 3


@pytest.mark.parametrize("seed", range(20))
def test_scarce_rows_exactly_the_exhaustible_resources(seed: int) -> None:
    """A resource has a row iff the batch's demand could exceed it, with its capacity."""
    problem = random_problem(seed, n_nodes=5, n_orders=8, max_qty=3)
    rows = scarce_rows(problem)
    entries = stock_entries(problem)
    lines = range(problem.n_lines)
    for (_, s), e in entries.items():
        demand = sum(int(problem.line_qty[ln]) for ln in lines if problem.line_sku[ln] == s)
        assert (rows.entry_row[e] >= 0) == (demand > problem.stock_qty[e])
        if rows.entry_row[e] >= 0:
            assert rows.capacity[rows.entry_row[e]] == problem.stock_qty[e]
    for n in range(problem.n_nodes):
        reach = [ln for ln in lines if (n, int(problem.line_sku[ln])) in entries]
        orders = len({int(problem.line_order[ln]) for ln in reach})
        units = sum(int(problem.line_qty[ln]) for ln in reach)
        for row, cap, need in (
            (rows.ship_row[n], problem.node_ship_capacity[n], orders),
            (rows.unit_row[n], problem.node_unit_capacity[n], units),
        ):
            assert (row >= 0) == (cap < UNLIMITED and cap < need)
            if row >= 0:
                assert rows.capacity[row] == cap
    used = np.concatenate([rows.entry_row, rows.ship_row, rows.unit_row])
    assert sorted(used[used >= 0].tolist()) == list(range(rows.n_rows))


def _competition() -> tuple[SourcingProblem, float, float, float]:
    """Two one-unit orders, one unit in stock at A; order 0 is 1 degree away, order 1 3."""
    problem = make_problem(
        [north(1.0)], {(0, 0): 1}, [[(0, 1)], [(0, 1)]],
        order_at=[ORDER_AT, (ORDER_AT[0] - 2.0, ORDER_AT[1])],
        shipping=LinearCost(per_shipment=5.0, per_unit_mile=0.01),
        penalties=OrderPenalties(unfilled_per_unit=100.0),
    )  # fmt: skip
    c0 = 5.0 + 0.01 * MILES_PER_DEGREE
    c1 = 5.0 + 0.01 * 3 * MILES_PER_DEGREE
    return problem, c0, c1, 100.0


def _competition_columns(problem: SourcingProblem, c0: float, c1: float, u: float) -> Columns:
    """Columns 0: order 0 ships, 1: order 0 unfilled, 2: order 1 ships, 3: order 1 unfilled."""
    columns = Columns(problem, scarce_rows(problem))
    ids = columns.add(
        np.array([0, 0, 1, 1]), np.array([c0, u, c1, u]),
        np.array([0, 2]), np.array([0, 1]), np.array([0, 0]), np.array([1, 1]),
    )  # fmt: skip
    assert ids.tolist() == [0, 1, 2, 3]
    return columns


def test_lp_value_and_dual_price_by_hand() -> None:
    """The LP ships to the nearer order, prices the unit between the savings, rc >= 0."""
    problem, c0, c1, u = _competition()
    columns = _competition_columns(problem, c0, c1, u)
    lp = MasterLP(problem, columns.rows)
    lp.sync(columns)
    solution = lp.solve(10.0)
    assert solution is not None
    assert solution.value == pytest.approx(c0 + u)
    assert solution.x.tolist() == pytest.approx([1.0, 0.0, 0.0, 1.0])
    (price,) = solution.price.tolist()
    assert u - c1 - 1e-9 <= price <= u - c0 + 1e-9
    use = columns.resource_matrix().toarray()
    rc = np.array([c0, u, c1, u]) + price * use[0] - solution.sigma[[0, 0, 1, 1]]
    assert np.all(rc >= -1e-9)


def test_lp_grows_with_new_columns() -> None:
    """Columns added after a solve enter the same LP and lower its value from 2u to c0 + u."""
    problem, c0, c1, u = _competition()
    columns = Columns(problem, scarce_rows(problem))
    empty = np.zeros(0, dtype=np.int64)
    columns.add(np.array([0, 1]), np.array([u, u]), empty, empty, empty, empty)
    lp = MasterLP(problem, columns.rows)
    lp.sync(columns)
    first = lp.solve(10.0)
    assert first is not None
    assert first.value == pytest.approx(2 * u)
    columns.add(
        np.array([0, 1]), np.array([c0, c1]),
        np.array([0, 1]), np.array([0, 1]), np.array([0, 0]), np.array([1, 1]),
    )  # fmt: skip
    lp.sync(columns)
    second = lp.solve(10.0)
    assert second is not None
    assert second.value == pytest.approx(c0 + u)


def test_columns_deduplicate_plans() -> None:
    """Adding a plan already present returns its id and adds nothing."""
    problem, c0, c1, u = _competition()
    columns = _competition_columns(problem, c0, c1, u)
    ids = columns.add(
        np.array([1, 0]), np.array([c1, u]), np.array([0]), np.array([1]), np.array([0]),
        np.array([1]),
    )  # fmt: skip
    assert ids.tolist() == [2, 1]
    assert columns.size == 4
    order, _cost, col, line, _node, _qty = columns.flat()
    assert order.tolist() == [0, 0, 1, 1]
    assert col.tolist() == [0, 2]
    assert line.tolist() == [0, 1]


def test_columns_deduplicate_a_plan_listed_in_another_order() -> None:
    """The same plan with its units listed in another order is the same column (HiGHS
    1.16 misread a start using the second of two identical columns)."""
    problem = _scarce_case()  # order 0: lines 0 (SKU0 x2) and 1 (SKU1 x1)
    columns = Columns(problem, scarce_rows(problem))
    first = columns.add(
        np.array([0]), np.array([7.0]), np.array([0, 0]), np.array([0, 1]), np.array([1, 1]),
        np.array([2, 1]),
    )  # fmt: skip
    again = columns.add(
        np.array([0]), np.array([7.0]), np.array([0, 0]), np.array([1, 0]), np.array([1, 1]),
        np.array([1, 2]),
    )  # fmt: skip
    assert again.tolist() == first.tolist() == [0]
    assert columns.size == 1


def test_resource_use_and_prices_of() -> None:
    """resource_use counts each scarce row's use; prices_of gives rowless resources price 0."""
    problem = _scarce_case()
    rows = scarce_rows(problem)
    # order 0: 2 x SKU0 from B, 1 x SKU1 from B (one shipment, 3 units); order 1: A
    alloc = Allocation(np.array([0, 1, 2]), np.array([1, 1, 0]), np.array([2, 1, 1]))
    assert resource_use(problem, rows, alloc).tolist() == [2.0, 1.0, 3.0]
    prices = prices_of(problem, rows, np.array([7.0, 8.0, 9.0]))
    assert prices.entry.tolist() == [0.0, 7.0, 0.0, 0.0]
    assert prices.node_ship.tolist() == [8.0, 0.0, 0.0]
    assert prices.node_unit.tolist() == [0.0, 9.0, 0.0]
