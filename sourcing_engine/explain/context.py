"""What one order's explanation is computed against: the order alone, on the stock and
capacity its plan could use.

In a batch that is what the batch's stock and capacity leave once every *other* order of
the plan has taken its units (the order's own are given back), so every alternative is a
plan the order could really have had with the rest of the plan unchanged, and every "taken
by other orders" names them. A live order is explained on the ledger's available stock now
with the order's own units given back (see `live_context`).
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from sourcing_engine.domain import Item, Order, Plan, Position, Unit
from sourcing_engine.errors import Invalid
from sourcing_engine.exchange import PlanSpec
from sourcing_engine.solvers import Allocation, SourcingProblem
from sourcing_engine.sourcing import CompiledBatch, Network, SourcingConfig, build_problem

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class StockFact:
    """One SKU at one node as the order saw it: on hand, safety stock, the units others
    took (order id -> units; a live ledger gives counts under "allocated to other orders"
    and "held for carts"), and what was left for this order."""

    on_hand: int
    safety_stock: int
    taken: tuple[tuple[str, int], ...]
    left: int

    @property
    def sourceable(self) -> int:
        return max(0, self.on_hand - self.safety_stock)


@dataclass(frozen=True)
class CapacityFact:
    """A node's shipment (or unit) capacity, what other orders used of it (order id ->
    shipments or units) and what was left (None: no limit)."""

    capacity: int | None
    taken: tuple[tuple[str, int], ...]
    left: int | None


@dataclass(frozen=True, eq=False)
class OrderContext:
    """One order alone (order 0 of `problem`, its lines in the order's line order) on what
    it could use; `chosen` is its plan (lines local, nodes of the network)."""

    order: Order
    problem: SourcingProblem
    node_ids: Sequence[str]
    node_kinds: Sequence[str]
    skus: Sequence[str]  # the problem's SKU index -> SKU
    chosen: Allocation
    currency: str
    facts: "Facts"
    excluded: frozenset[int] = frozenset()
    basis: str = "batch"
    """"batch": the batch's stock less the other orders of the plan; "live": the ledger's
    available stock now, with this order's units given back."""

    @property
    def line_skus(self) -> list[str]:
        return [self.skus[s] for s in self.problem.line_sku.tolist()]


@dataclass(eq=False)
class Facts:
    """Stock and capacity facts per node, for the reasons given for unused nodes."""

    stock: Mapping[tuple[int, str], StockFact]
    ships: Mapping[int, CapacityFact] = field(default_factory=dict)
    units: Mapping[int, CapacityFact] = field(default_factory=dict)

    def stock_at(self, node: int, sku: str) -> StockFact:
        return self.stock.get((node, sku), StockFact(0, 0, (), 0))


# --- a batch and its plan ---------------------------------------------------------------


class BatchPlan:
    """A batch, its plan as solver arrays, and per resource which orders use it: built once,
    then any order is explained in a few milliseconds."""

    def __init__(self, compiled: CompiledBatch, plan: PlanSpec) -> None:
        self.compiled = compiled
        batch, problem = compiled.batch, compiled.problem
        self.node_index = {n.id: i for i, n in enumerate(batch.nodes)}
        self.order_index = {o.id: i for i, o in enumerate(batch.orders)}
        self.order_ids = [o.id for o in batch.orders]
        self.plans = {p.id: p for p in plan.orders}
        lines, nodes, qtys = [], [], []
        for order_id, p in self.plans.items():
            o = self.order_index.get(order_id)
            if o is None:
                raise Invalid(f'plan: order "{order_id}" is not an order of the batch')
            first = int(problem.order_line_ptr[o])
            line_of = {ln.sku: first + k for k, ln in enumerate(batch.orders[o].lines)}
            for s in p.shipments:
                for ln in s.lines:
                    lines.append(line_of[ln.sku])
                    nodes.append(self.node_index[s.node])
                    qtys.append(ln.qty)
        self.allocation = Allocation(
            np.array(lines, dtype=np.int64), np.array(nodes, dtype=np.int64),
            np.array(qtys, dtype=np.int64),
        )  # fmt: skip
        alloc = self.allocation
        self.alloc_order = problem.line_order[alloc.line]
        self.alloc_entry = problem.stock_entry(alloc.node, problem.line_sku[alloc.line])
        self.used_entry = np.bincount(self.alloc_entry, alloc.qty, minlength=len(problem.stock_qty))
        ship_key = np.unique(self.alloc_order * problem.n_nodes + alloc.node)
        self.used_ships = np.bincount(ship_key % problem.n_nodes, minlength=problem.n_nodes)
        self.used_units = np.bincount(alloc.node, alloc.qty, minlength=problem.n_nodes)
        # the allocation's entries sorted by order, for one order's own units
        self.by_order = np.argsort(self.alloc_order, kind="stable")
        self.order_ptr = np.searchsorted(
            self.alloc_order[self.by_order], np.arange(problem.n_orders + 1)
        )
        # per stock entry and per node: which allocation entries use it
        self.by_entry = np.argsort(self.alloc_entry, kind="stable")
        self.entry_ptr = np.searchsorted(
            self.alloc_entry[self.by_entry], np.arange(len(problem.stock_qty) + 1)
        )
        self.by_node = np.argsort(alloc.node, kind="stable")
        self.node_ptr = np.searchsorted(alloc.node[self.by_node], np.arange(problem.n_nodes + 1))
        inv = batch.inventory
        self.position = {
            (int(n), int(i)): k
            for k, (n, i) in enumerate(zip(inv.node.tolist(), inv.item.tolist(), strict=True))
        }

    def order_context(self, order_id: str) -> OrderContext:
        o = self.order_index.get(order_id)
        if o is None or order_id not in self.plans:
            raise Invalid(f'order "{order_id}" is not an order of the batch and its plan')
        batch, problem = self.compiled.batch, self.compiled.problem
        mine = self.by_order[self.order_ptr[o] : self.order_ptr[o + 1]]
        alloc = self.allocation
        own_entry = np.bincount(self.alloc_entry[mine], alloc.qty[mine],
                                minlength=len(problem.stock_qty))  # fmt: skip
        own_nodes = np.unique(alloc.node[mine])
        own_ships = np.bincount(own_nodes, minlength=problem.n_nodes)
        own_units = np.bincount(alloc.node[mine], alloc.qty[mine], minlength=problem.n_nodes)
        sub, _ = problem.restricted(
            np.array([o]), self.used_entry - own_entry, self.used_ships - own_ships,
            self.used_units - own_units,
        )  # fmt: skip
        first = int(problem.order_line_ptr[o])
        chosen = Allocation(alloc.line[mine] - first, alloc.node[mine], alloc.qty[mine])
        order = batch.orders[o]
        return OrderContext(
            order=order, problem=sub, node_ids=[n.id for n in batch.nodes],
            node_kinds=[n.kind for n in batch.nodes], skus=[it.sku for it in batch.items],
            chosen=chosen, currency=batch.currency, facts=self._facts(o, order),
        )  # fmt: skip

    def _facts(self, o: int, order: Order) -> Facts:
        """Stock facts of the order's SKUs at every node stocking them, and every node's
        capacity facts, with the other orders named."""
        batch, problem = self.compiled.batch, self.compiled.problem
        inv = batch.inventory
        sku_index = {it.sku: i for i, it in enumerate(batch.items)}
        alloc = self.allocation
        ids = self.order_ids
        stock: dict[tuple[int, str], StockFact] = {}
        for ln in order.lines:
            s = sku_index[ln.sku]
            lo, hi = int(problem.stock_sku_ptr[s]), int(problem.stock_sku_ptr[s + 1])
            positions = self._positions_of(s)
            for n, k in positions:
                on_hand, safety = int(inv.on_hand[k]), int(inv.safety_stock[k])
                e = lo + int(np.searchsorted(problem.stock_node[lo:hi], n))
                taken: list[tuple[str, int]] = []
                left = 0
                if e < hi and int(problem.stock_node[e]) == n:
                    users = self.by_entry[self.entry_ptr[e] : self.entry_ptr[e + 1]]
                    taken = [
                        (ids[int(self.alloc_order[u])], int(alloc.qty[u]))
                        for u in users.tolist()
                        if int(self.alloc_order[u]) != o
                    ]
                    left = int(problem.stock_qty[e]) - sum(q for _, q in taken)
                stock[(n, ln.sku)] = StockFact(on_hand, safety, tuple(taken), left)
        return Facts(stock=stock, ships=_LazyCapacity(self, o, "ships"),
                     units=_LazyCapacity(self, o, "units"))  # fmt: skip

    def _positions_of(self, sku: int) -> list[tuple[int, int]]:
        """(node, inventory row) of every position of a SKU."""
        cache = getattr(self, "_sku_positions", None)
        if cache is None:
            cache = {}
            for (n, i), k in self.position.items():
                cache.setdefault(i, []).append((n, k))
            self._sku_positions = cache
        found: list[tuple[int, int]] = cache.get(sku, [])
        return found


class _LazyCapacity(Mapping[int, CapacityFact]):
    """A node's capacity fact, computed when a reason asks for it."""

    def __init__(self, plan: BatchPlan, order: int, what: str) -> None:
        self.plan, self.order, self.what = plan, order, what

    def __getitem__(self, node: int) -> CapacityFact:
        bp = self.plan
        batch_node = bp.compiled.batch.nodes[node]
        cap = batch_node.ship_capacity if self.what == "ships" else batch_node.unit_capacity
        users = bp.by_node[bp.node_ptr[node] : bp.node_ptr[node + 1]]
        per_order: dict[int, int] = {}
        for u in users.tolist():
            oo = int(bp.alloc_order[u])
            if oo != self.order:
                amount = 1 if self.what == "ships" else int(bp.allocation.qty[u])
                per_order[oo] = 1 if self.what == "ships" else per_order.get(oo, 0) + amount
        taken = tuple((bp.order_ids[oo], q) for oo, q in sorted(per_order.items()))
        left = None if cap is None else cap - sum(q for _, q in taken)
        return CapacityFact(cap, taken, left)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.plan.compiled.problem.n_nodes))

    def __len__(self) -> int:
        return self.plan.compiled.problem.n_nodes


# --- a live order ------------------------------------------------------------------------


def live_context(
    order: Order,
    plan: Plan,
    allocated: Sequence[Unit],
    shipped: Sequence[Unit],
    network: Network,
    node_kinds: Sequence[str],
    items: Mapping[str, Item],
    positions: Sequence[Position],
    config: SourcingConfig,
    excluded: Sequence[str],
) -> OrderContext:
    """A live order on the ledger's available stock now, with its own units (those of its
    recorded plan) given back: the stock it would be sourced on if it came in again now.
    Live sourcing does not count node capacity (one order at a time), so neither does this.
    """
    own_allocated = {(u.node, u.sku): u.qty for u in allocated}
    own_shipped = {(u.node, u.sku): u.qty for u in shipped}
    skus = sorted({ln.sku for ln in order.lines})
    sku_index = {s: i for i, s in enumerate(skus)}
    stock_cols: tuple[list[int], list[int], list[int]] = ([], [], [])
    facts: dict[tuple[int, str], StockFact] = {}
    for p in positions:
        n = network.index.get(p.node)
        if n is None or p.sku not in sku_index:
            continue
        # as if this order had not come: its allocated units free, its shipped ones on hand
        on_hand = p.on_hand + own_shipped.get((p.node, p.sku), 0)
        others = p.allocated - own_allocated.get((p.node, p.sku), 0)
        left = max(0, on_hand - p.safety_stock - others - p.reserved)
        taken = []
        if others > 0:
            taken.append(("allocated to other orders", others))
        if p.reserved > 0:
            taken.append(("held for carts", p.reserved))
        facts[(n, p.sku)] = StockFact(on_hand, p.safety_stock, tuple(taken), left)
        stock_cols[0].append(sku_index[p.sku])
        stock_cols[1].append(n)
        stock_cols[2].append(left)
    items_list = [items[s] for s in skus]
    sku_col, node_col, qty_col = (np.array(c, dtype=np.int64) for c in stock_cols)
    problem = build_problem(
        network, items_list, (sku_col, node_col, qty_col),
        [order], config.shipping, config.penalties, capacities=False,
    )  # fmt: skip
    excluded_idx = frozenset(network.index[n] for n in excluded if n in network.index)
    if excluded_idx:
        cap = problem.node_ship_capacity.copy()
        cap[list(excluded_idx)] = 0
        problem = replace(problem, node_ship_capacity=cap)
    line_of = {ln.sku: k for k, ln in enumerate(order.lines)}
    units = [Unit(s.node, ln.sku, ln.qty) for s in plan.shipments for ln in s.lines]
    chosen = Allocation(
        np.array([line_of[u.sku] for u in units], dtype=np.int64),
        np.array([network.index[u.node] for u in units], dtype=np.int64),
        np.array([u.qty for u in units], dtype=np.int64),
    )
    return OrderContext(
        order=order, problem=problem, node_ids=network.ids, node_kinds=node_kinds, skus=skus,
        chosen=chosen, currency=config.shipping.currency, facts=Facts(stock=facts),
        excluded=excluded_idx, basis="live",
    )  # fmt: skip
