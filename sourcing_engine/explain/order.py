"""One order's explanation: its plan itemized, the plans it did not get, why the nearer or
cheaper nodes did not ship, and what the common rules would have cost."""

from dataclasses import dataclass

from sourcing_engine.explain.alternatives import COST_TOLERANCE, Alternative, Alternatives
from sourcing_engine.explain.context import OrderContext
from sourcing_engine.explain.itemize import PlanItems, itemize
from sourcing_engine.explain.reasons import UnusedNode, unused_nodes


@dataclass(frozen=True)
class Explanation:
    order_id: str
    currency: str
    basis: str
    plan: PlanItems
    alternatives: tuple[Alternative, ...]
    rules: dict[str, Alternative]
    unused: tuple[UnusedNode, ...]

    @property
    def best_alone(self) -> Alternative:
        """The order's cheapest plan on the same stock (the greedy-cost rule's)."""
        return self.rules["greedy-cost"]

    @property
    def is_best(self) -> bool:
        """Whether no plan on the same stock is cheaper than the chosen one."""
        return self.best_alone.extra >= -COST_TOLERANCE

    def to_data(self) -> dict[str, object]:
        return {
            "order_id": self.order_id,
            "currency": self.currency,
            "basis": self.basis,
            "plan": self.plan.to_data(),
            "is_cheapest_on_same_stock": self.is_best,
            "next_best": [a.to_data() for a in self.alternatives],
            "rules": {
                name: {"plan": a.items.to_data(), "saving": round(a.extra, 6)}
                for name, a in self.rules.items()
            },
            "unused_nodes": [u.to_data() for u in self.unused],
        }


def explain(ctx: OrderContext) -> Explanation:
    chosen = itemize(ctx.problem, ctx.chosen, ctx.node_ids, ctx.skus)
    alts = Alternatives(ctx, chosen)
    return Explanation(
        order_id=ctx.order.id,
        currency=ctx.currency,
        basis=ctx.basis,
        plan=chosen,
        alternatives=tuple(alts.next_best()),
        rules=alts.rules(),
        unused=tuple(unused_nodes(ctx, chosen)),
    )
