"""Rule-based policies: what order management systems do today, one order at a time.

- closest: each line from the nearest node with stock (the default of common commerce
  platforms), the rest of a line from the next nearest;
- fewest-splits: the fewest nodes that cover the order, ties broken by distance;
- greedy-cost: orders in sequence, each given its own cheapest plan against what is left
  (myopically optimal).

Every policy respects stock, node capacity, ship-enabled flags and the cap on shipments
per order, taking orders in the batch's sequence (first come, first served).
"""

import time
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.cost_models.objective import UNLIMITED
from sourcing_engine.solvers.arrays import unique
from sourcing_engine.solvers.candidates import ShapeGroup, build_group, order_shapes
from sourcing_engine.solvers.evaluate import evaluate
from sourcing_engine.solvers.pricing import Availability, OrderPlans, Prices, price_orders
from sourcing_engine.solvers.problem import SourcingProblem
from sourcing_engine.solvers.result import Allocation, Result, Status, Termination
from sourcing_engine.solvers.shapes import supported

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

CHUNK = 256
"""Orders priced together in greedy-cost before being committed one by one."""


class Remaining:
    """Stock and capacity left while a sequential policy commits orders one after another."""

    def __init__(self, problem: SourcingProblem) -> None:
        self.problem = problem
        self.stock = problem.stock_qty.copy()
        self.ships = problem.node_ship_capacity.copy()
        self.units = problem.node_unit_capacity.copy()
        self.lines: list[int] = []
        self.nodes: list[int] = []
        self.qtys: list[int] = []

    def availability(self) -> Availability:
        return Availability(stock=self.stock, ships=self.ships, units=self.units)

    def fits(self, shipments: list[tuple[int, list[tuple[int, int]]]]) -> bool:
        """Whether shipments [(node, [(line, qty)])] fit in what is left."""
        p = self.problem
        for node, items in shipments:
            if self.ships[node] < 1 or self.units[node] < sum(q for _, q in items):
                return False
            for line, qty in items:
                e = int(p.stock_entry(np.array([node]), p.line_sku[[line]])[0])
                if e < 0 or self.stock[e] < qty:
                    return False
        return True

    def commit(self, shipments: list[tuple[int, list[tuple[int, int]]]]) -> None:
        p = self.problem
        for node, items in shipments:
            self.ships[node] -= 1
            self.units[node] -= sum(q for _, q in items)
            for line, qty in items:
                e = int(p.stock_entry(np.array([node]), p.line_sku[[line]])[0])
                self.stock[e] -= qty
                self.lines.append(line)
                self.nodes.append(node)
                self.qtys.append(qty)

    def take(self, taken: Allocation) -> None:
        """Count units already decided elsewhere as gone (they are not in this plan)."""
        p = self.problem
        np.subtract.at(self.stock, p.stock_entry(taken.node, p.line_sku[taken.line]), taken.qty)
        ship_key = unique(p.line_order[taken.line] * p.n_nodes + taken.node)
        np.subtract.at(self.ships, ship_key % p.n_nodes, 1)
        np.subtract.at(self.units, taken.node, taken.qty)

    def allocation(self) -> Allocation:
        return Allocation(
            np.array(self.lines, dtype=np.int64),
            np.array(self.nodes, dtype=np.int64),
            np.array(self.qtys, dtype=np.int64),
        )


def heuristic_result(policy: str, problem: SourcingProblem, alloc: Allocation, t0: float) -> Result:
    costs = evaluate(problem, alloc)
    return Result(
        policy=policy,
        status=Status.HEURISTIC,
        objective=costs.total,
        bound=None,
        gap=None,
        runtime_s=time.perf_counter() - t0,
        allocation=alloc,
        costs=costs,
        termination=Termination.COMPLETED,
    )


# --- greedy-cost ------------------------------------------------------------------------


Shipments = list[tuple[int, list[tuple[int, int]]]]
"""[(node, [(line, qty)])]: one order's shipments."""


def _plan_shipments(plans: OrderPlans, row: int) -> list[tuple[int, list[tuple[int, int]]]]:
    shape = plans.group.shape
    out = []
    for node, content in zip(
        plans.block_node[row].tolist(), plans.block_content[row].tolist(), strict=True
    ):
        if node < 0:
            continue
        units = shape.contents[content]
        items = [
            (int(plans.group.lines[row, ln]), int(q))
            for ln, q in enumerate(units.tolist())
            if q > 0
        ]
        out.append((node, items))
    return out


def greedy_cost(problem: SourcingProblem, groups: list[ShapeGroup] | None = None) -> Result:
    """Each order in sequence gets its cheapest plan against the stock and capacity left."""
    t0 = time.perf_counter()
    alloc = greedy_allocation(problem, groups, np.arange(problem.n_orders))
    return heuristic_result("greedy-cost", problem, alloc, t0)


def lookahead(problem: SourcingProblem, prices: Prices, margin: float = 0.0) -> Result:
    """greedy-cost with each plan charged the prices of the resources it uses on top (the
    opportunity cost of a unit of stock, of a shipment or a unit of a node's capacity, for
    later demand): each order in sequence gets the plan of least cost plus opportunity
    cost. The result's costs are the true costs. Orders too large to price exactly get the
    rule plan, as in greedy-cost.

    A unit is never left unfilled for its price: a sale now is certain, the later demand
    the price stands for is a forecast. So while choosing, an unfilled unit costs the
    penalty plus the highest price a unit can be charged, and every plan that ships what
    greedy-cost would ships it.

    margin: an order leaves its myopic plan (greedy-cost's, on what is left) only if the
    prices say that saves at least `margin` net of the extra cost it pays now for sure;
    else it keeps its myopic plan (0: the priced plan as it is)."""
    t0 = time.perf_counter()
    alloc = greedy_allocation(
        problem, None, np.arange(problem.n_orders), prices=prices, margin=margin
    )
    return heuristic_result("lookahead", problem, alloc, t0)


def _top_price(prices: Prices) -> float:
    """The most a unit can be charged: stock, a node's unit and a shipment of it alone."""
    top = sum(float(a.max()) if len(a) else 0.0 for a in (prices.entry, prices.node_unit))
    return top + (float(prices.node_ship.max()) if len(prices.node_ship) else 0.0)


def greedy_allocation(
    problem: SourcingProblem,
    groups: list[ShapeGroup] | None,
    orders: IntArray,
    taken: Allocation | None = None,
    prices: Prices | None = None,
    margin: float = 0.0,
) -> Allocation:
    """The order-by-order greedy plan of `orders` (in that sequence), on what `taken` leaves
    (prices: charged on top of each plan's cost when choosing it, and margin: what a priced
    plan must save over the myopic one, see `lookahead`).

    Orders are priced in chunks against what is left before the chunk; a plan that still
    fits when its turn comes is still the order's cheapest (what is left only shrinks), so
    it is committed as is; one that no longer fits is priced again. The result is exactly
    the order-by-order greedy.
    """
    real, top = problem, 0.0
    if prices is not None:  # never a unit left unfilled for its price (see `lookahead`)
        pen, top = problem.penalties, _top_price(prices)
        problem = replace(
            problem, penalties=replace(pen, unfilled_per_unit=pen.unfilled_per_unit + top)
        )
    ledger = Remaining(problem)
    if taken is not None:
        ledger.take(taken)
    plans_by_order = _group_index(problem, groups)
    exact = plans_by_order[1] >= 0
    for start in range(0, len(orders), CHUNK):
        chunk = orders[start : start + CHUNK]
        avail = ledger.availability()
        priced = _price_subset(problem, plans_by_order, chunk[exact[chunk]], avail, prices)
        myopic = (  # greedy-cost's plans, on the true penalties
            _price_subset(real, plans_by_order, chunk[exact[chunk]], avail)
            if prices is not None and margin > 0
            else {}
        )
        for o in chunk.tolist():
            if not exact[o]:
                ledger.commit(rule_shipments(ledger, o))
                continue
            shipments, cost = priced[o]
            if not ledger.fits(shipments):
                shipments, cost = _price_subset(
                    problem, plans_by_order, np.array([o]), ledger.availability(), prices
                )[o]
            if o in myopic:
                assert prices is not None
                mine, my_cost = myopic[o]
                if not ledger.fits(mine):
                    mine, my_cost = _price_subset(
                        real, plans_by_order, np.array([o]), ledger.availability()
                    )[o]
                cost -= top * _unfilled(real, o, shipments)  # its cost on the true penalty
                saving = _charge(real, prices, mine) - _charge(real, prices, shipments)
                if saving - (cost - my_cost) < margin:
                    shipments = mine
            ledger.commit(shipments)
    return ledger.allocation()


def _unfilled(problem: SourcingProblem, order: int, shipments: Shipments) -> int:
    """Units of the order a plan leaves unfilled."""
    lo, hi = int(problem.order_line_ptr[order]), int(problem.order_line_ptr[order + 1])
    return int(problem.line_qty[lo:hi].sum()) - sum(q for _, items in shipments for _, q in items)


def _charge(problem: SourcingProblem, prices: Prices, shipments: Shipments) -> float:
    """What a plan's resources are priced at (its opportunity cost under prices)."""
    total = 0.0
    for node, items in shipments:
        total += float(prices.node_ship[node])
        total += float(prices.node_unit[node]) * sum(q for _, q in items)
        for line, qty in items:
            e = int(problem.stock_entry(np.array([node]), problem.line_sku[[line]])[0])
            total += float(prices.entry[e]) * qty
    return total


def cheapest_alone(problem: SourcingProblem, orders: IntArray, stock: IntArray) -> Allocation:
    """Each of `orders` given its own cheapest plan on `stock`, none taking from another,
    node capacities not applying: what each order would get alone, now (checkout asks this
    for several destinations, or several views of the stock, at once). stock: units per
    stock entry, or one such row per order of the problem. An order too large to price
    exactly gets the cheaper rule plan, as in greedy-cost."""
    unlimited = np.full(problem.n_nodes, UNLIMITED, dtype=np.int64)
    avail = Availability(stock=stock, ships=unlimited, units=unlimited)
    groups, big = [], []
    for qty, members in order_shapes(problem, orders).items():
        if supported(qty):
            groups.append(build_group(problem, qty, members))
        else:
            big += members.tolist()
    parts = [plans.line_units()[1:] for plans in price_orders(problem, groups, avail=avail)]
    for o in big:
        ledger = Remaining(problem)
        ledger.stock = (stock[o] if stock.ndim == 2 else stock).copy()
        ledger.ships, ledger.units = unlimited.copy(), unlimited.copy()
        ledger.commit(rule_shipments(ledger, o))
        taken = ledger.allocation()
        parts.append((taken.line, taken.node, taken.qty))
    if not parts:
        return Allocation(*(np.zeros(0, dtype=np.int64) for _ in range(3)))
    lines, nodes, qtys = zip(*parts, strict=True)
    return Allocation(
        np.concatenate(lines).astype(np.int64),
        np.concatenate(nodes).astype(np.int64),
        np.concatenate(qtys).astype(np.int64),
    )


GroupIndex = tuple[list[ShapeGroup], IntArray, IntArray]


def shape_groups(problem: SourcingProblem) -> list[ShapeGroup]:
    """Every order of the batch that exact pricing takes, in its shape group, candidates
    ranked (orders too large to price exactly are in none: see `oversized`)."""
    return [
        build_group(problem, qty, orders)
        for qty, orders in order_shapes(problem, np.arange(problem.n_orders)).items()
        if supported(qty)
    ]


def oversized(problem: SourcingProblem) -> IntArray:
    """Orders too large to price exactly (too many ways to split; shapes.supported)."""
    found = [
        orders
        for qty, orders in order_shapes(problem, np.arange(problem.n_orders)).items()
        if not supported(qty)
    ]
    return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


def _group_index(problem: SourcingProblem, groups: list[ShapeGroup] | None) -> GroupIndex:
    """Shape groups of all orders, with each order's group and row (group -1: an order
    too large to price exactly)."""
    groups = groups if groups is not None else shape_groups(problem)
    group_of = np.full(problem.n_orders, -1, dtype=np.int64)
    row_of = np.zeros(problem.n_orders, dtype=np.int64)
    for k, g in enumerate(groups):
        group_of[g.orders] = k
        row_of[g.orders] = np.arange(len(g))
    return groups, group_of, row_of


def _price_subset(
    problem: SourcingProblem,
    index: GroupIndex,
    orders: IntArray,
    avail: Availability,
    prices: Prices | None = None,
) -> dict[int, tuple[Shipments, float]]:
    groups, group_of, row_of = index
    subsets = []
    for k in unique(group_of[orders]).tolist():
        mine = orders[group_of[orders] == k]
        subsets.append(groups[k].subset(row_of[mine]))
    out: dict[int, tuple[Shipments, float]] = {}
    for plans in price_orders(problem, subsets, prices=prices, avail=avail):
        for row, o in enumerate(plans.group.orders.tolist()):
            out[o] = (_plan_shipments(plans, row), float(plans.cost[row]))
    return out


# --- closest and fewest-splits ---------------------------------------------------------


class _OrderDraft:
    """Shipments of one order being drafted against a ledger, before they are committed."""

    def __init__(self, ledger: Remaining, order: int) -> None:
        self.ledger = ledger
        p = ledger.problem
        self.lines = list(range(int(p.order_line_ptr[order]), int(p.order_line_ptr[order + 1])))
        self.left = {ln: int(p.line_qty[ln]) for ln in self.lines}
        self.shipments: dict[int, list[tuple[int, int]]] = {}
        self.max_shipments = p.penalties.max_shipments
        # per line, the stock entry of every node (-1: none), from the SKU's slice of stock
        self.entry: dict[int, IntArray] = {}
        for ln in self.lines:
            sku = int(p.line_sku[ln])
            lo, hi = int(p.stock_sku_ptr[sku]), int(p.stock_sku_ptr[sku + 1])
            entry = np.full(p.n_nodes, -1, dtype=np.int64)
            entry[p.stock_node[lo:hi]] = np.arange(lo, hi)
            self.entry[ln] = entry
        # miles to the nodes that stock any line (others are never used)
        stocking = unique(np.concatenate([np.nonzero(e >= 0)[0] for e in self.entry.values()]))
        self.distance = np.full(p.n_nodes, np.inf)
        self.distance[stocking] = p.distance_miles(np.full(len(stocking), order), stocking)

    def can_open(self, node: int) -> bool:
        """Whether the order may get a shipment from this node."""
        if node in self.shipments:
            return True
        p, led = self.ledger.problem, self.ledger
        return (
            bool(p.node_ship_enabled[node])
            and led.ships[node] >= 1
            and led.units[node] >= 1
            and len(self.shipments) < self.max_shipments
        )

    def units_free(self, node: int) -> int:
        taken = sum(q for _, q in self.shipments.get(node, []))
        return int(self.ledger.units[node]) - taken

    def stock_free(self, line: int, node: int) -> int:
        e = int(self.entry[line][node])
        if e < 0:
            return 0
        taken = sum(q for ln, q in self.shipments.get(node, []) if ln == line)
        return int(self.ledger.stock[e]) - taken

    def take(self, line: int, node: int, qty: int) -> int:
        """Take up to qty units of a line from a node; returns what was taken."""
        if qty <= 0 or not self.can_open(node):
            return 0
        qty = min(qty, self.stock_free(line, node), self.units_free(node))
        if qty > 0:
            self.shipments.setdefault(node, []).append((line, qty))
            self.left[line] -= qty
        return qty

    def coverage(self, nodes: IntArray) -> IntArray:
        """Units of what is left of the order that each node alone could ship (arrays: the
        per-node loop dominated fewest-splits on large batches)."""
        p, led = self.ledger.problem, self.ledger
        opened = np.isin(nodes, np.fromiter(self.shipments, dtype=np.int64))
        can = opened | (
            p.node_ship_enabled[nodes]
            & (led.ships[nodes] >= 1)
            & (led.units[nodes] >= 1)
            & (len(self.shipments) < self.max_shipments)
        )
        taken_units = np.zeros(len(nodes), dtype=np.int64)
        taken: dict[tuple[int, int], int] = {}
        for node, items in self.shipments.items():
            taken_units[nodes == node] = sum(q for _, q in items)
            for ln, q in items:
                taken[(ln, node)] = taken.get((ln, node), 0) + q
        units = np.zeros(len(nodes), dtype=np.int64)
        for ln, q in self.left.items():
            entry = self.entry[ln][nodes]
            stock = np.where(entry >= 0, led.stock[np.maximum(entry, 0)], 0)
            for (t_ln, node), qty in taken.items():
                if t_ln == ln:
                    stock[nodes == node] -= qty
            units += np.minimum(q, stock)
        result: IntArray = np.where(can, np.minimum(units, led.units[nodes] - taken_units), 0)
        return result

    def allocation(self) -> Allocation:
        """The draft's units, as an allocation of this order alone."""
        entries = [(ln, n, q) for n, items in self.shipments.items() for ln, q in items]
        if not entries:
            return Allocation.empty()
        line, node, qty = (np.array(c, dtype=np.int64) for c in zip(*entries, strict=True))
        return Allocation(line, node, qty)

    def finish(self) -> None:
        self.ledger.commit(list(self.shipments.items()))


def closest(problem: SourcingProblem) -> Result:
    """Each line from the nearest node that has it, the rest from the next nearest."""
    t0 = time.perf_counter()
    ledger = Remaining(problem)
    for o in range(problem.n_orders):
        _draft_closest(ledger, o).finish()
    return heuristic_result("closest", problem, ledger.allocation(), t0)


def _draft_closest(ledger: Remaining, o: int) -> _OrderDraft:
    draft = _OrderDraft(ledger, o)
    for line in draft.lines:
        stocked = np.nonzero(draft.entry[line] >= 0)[0]
        for node in stocked[np.argsort(draft.distance[stocked], kind="stable")].tolist():
            if draft.left[line] == 0:
                break
            draft.take(line, node, draft.left[line])
    return draft


PAIR_POOL = 30
"""fewest-splits looks for covering pairs among this many best-covering nodes."""


def fewest_splits(problem: SourcingProblem) -> Result:
    """The fewest nodes that ship the whole order (nearest first among equals).

    One node if any can ship everything; else the nearest pair that can (searched among the
    nodes covering most); else nodes covering the most remaining units, one at a time.
    """
    t0 = time.perf_counter()
    ledger = Remaining(problem)
    for o in range(problem.n_orders):
        _draft_fewest_splits(ledger, o).finish()
    return heuristic_result("fewest-splits", problem, ledger.allocation(), t0)


def _draft_fewest_splits(ledger: Remaining, o: int) -> _OrderDraft:
    draft = _OrderDraft(ledger, o)
    total = sum(draft.left.values())
    nodes = unique(np.concatenate([np.nonzero(e >= 0)[0] for e in draft.entry.values()]))
    nodes = nodes[np.argsort(draft.distance[nodes], kind="stable")]  # nearest first
    covers = draft.coverage(nodes)
    whole = np.nonzero(covers == total)[0]
    if len(whole):
        _ship_all(draft, int(nodes[whole[0]]))
    elif not _ship_pair(
        draft, nodes.tolist(), dict(zip(nodes.tolist(), covers.tolist(), strict=True)), total
    ):
        while any(draft.left.values()) and len(nodes):
            gains = draft.coverage(nodes)
            best = int(np.argmax(gains))  # the first (nearest) of the largest
            if gains[best] == 0:
                break
            _ship_all(draft, int(nodes[best]))
    return draft


def rule_shipments(ledger: Remaining, o: int) -> Shipments:
    """For an order too large to price exactly: the cheaper of the closest and the
    fewest-splits plan on what is left (fewest unfilled units first, as the unfilled
    penalty dominates)."""
    drafts = [_draft_fewest_splits(ledger, o), _draft_closest(ledger, o)]
    costs = [evaluate(ledger.problem, d.allocation()).order_cost[o] for d in drafts]
    return list(drafts[int(np.argmin(costs))].shipments.items())


def _ship_all(draft: _OrderDraft, node: int) -> None:
    for line in draft.lines:
        draft.take(line, node, draft.left[line])


def _ship_pair(
    draft: _OrderDraft, by_distance: list[int], cover: dict[int, int], total: int
) -> bool:
    """Ship the order from the nearest pair of nodes that covers it all, if there is one."""
    if draft.max_shipments < 2:
        return False
    pool = sorted(by_distance, key=lambda n: -cover[n])[:PAIR_POOL]
    pool = [n for n in pool if cover[n] > 0]
    best: tuple[float, int, int] | None = None
    for i, a in enumerate(pool):
        for b in pool[i + 1 :]:
            if cover[a] + cover[b] < total:
                continue
            dist = float(draft.distance[a] + draft.distance[b])
            if (best is None or dist < best[0]) and _pair_covers(draft, a, b):
                best = (dist, a, b)
    if best is None:
        return False
    near, far = sorted(best[1:], key=lambda n: draft.distance[n])
    _ship_all(draft, near)
    _ship_all(draft, far)
    return True


def _pair_covers(draft: _OrderDraft, a: int, b: int) -> bool:
    """Whether nodes a then b, each taking what it can, ship the whole order."""
    ua, ub = draft.units_free(a), draft.units_free(b)
    for line, qty in draft.left.items():
        from_a = min(qty, draft.stock_free(line, a), ua)
        ua -= from_a
        from_b = min(qty - from_a, draft.stock_free(line, b), ub)
        ub -= from_b
        if from_a + from_b < qty:
            return False
    return True
