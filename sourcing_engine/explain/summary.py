"""A plain-language summary of an explanation, to read aloud, in English or Italian.

Every figure comes from the explanation (nothing is computed here); amounts are in the
network's currency, formatted for the language by Babel (CLDR data: "$1,234.50" in
English, "1.234,50 €" in Italian); distances in miles in English, kilometres in Italian.
"""

from babel.numbers import format_currency, format_decimal

from sourcing_engine.explain.alternatives import Alternative
from sourcing_engine.explain.order import Explanation
from sourcing_engine.explain.reasons import Reason, UnusedNode

LANGUAGES = {"en": "en_US", "it": "it_IT"}
DEFAULT_LANGUAGE = "en"
KM_PER_MILE = 1.609344


def negotiate(accept_language: str | None) -> tuple[str, bool]:
    """The language of an Accept-Language header (or a plain code such as "it"), and
    whether it was one asked for (False: none of those asked for is known; English)."""
    if not accept_language:
        return DEFAULT_LANGUAGE, True
    ranked: list[tuple[float, int, str]] = []
    for k, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag.strip() and q > 0:
            ranked.append((-q, k, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        base = tag.replace("_", "-").split("-")[0]
        if base in LANGUAGES:
            return base, True
        if base == "*":
            return DEFAULT_LANGUAGE, True
    return DEFAULT_LANGUAGE, False


REASONS: dict[str, dict[str, str]] = {
    "en": {
        "excluded": "it rejected this order",
        "shipping_disabled": "it does not ship to customers",
        "no_stock": "it has no {sku}",
        "safety_stock": "its last {on_hand} units of {sku} are kept as safety stock",
        "safety_stock_one": "its last unit of {sku} is kept as safety stock",
        "taken_by_orders": "its {sku} went to other orders ({who})",
        "short": "it had only {left} of the {needed} {sku} needed",
        "shipment_capacity_taken": "its {capacity} shipments were all taken by other orders",
        "unit_capacity_taken": "its capacity of {capacity} units was taken by other orders",
        "dearer": "shipping from it would cost {cost_from_here} instead of {cost_in_plan}",
        "cheaper_not_taken": "it would have cost {cost_from_here}, less, but the plan left it",
        "partial": "it holds only part of the order, so it would add a box",
    },
    "it": {
        "excluded": "ha rifiutato questo ordine",
        "shipping_disabled": "non spedisce ai clienti",
        "no_stock": "non ha {sku}",
        "safety_stock": "le sue ultime {on_hand} unità di {sku} sono scorta di sicurezza",
        "safety_stock_one": "la sua ultima unità di {sku} è scorta di sicurezza",
        "taken_by_orders": "il suo {sku} è andato ad altri ordini ({who})",
        "short": "aveva solo {left} delle {needed} unità di {sku} richieste",
        "shipment_capacity_taken": "le sue {capacity} spedizioni erano già prese da altri ordini",
        "unit_capacity_taken": "la sua capacità di {capacity} unità era già presa da altri ordini",
        "dearer": "spedire da lì costerebbe {cost_from_here} invece di {cost_in_plan}",
        "cheaper_not_taken": "sarebbe costato {cost_from_here}, meno, ma il piano non l'ha usato",
        "partial": "ha solo una parte dell'ordine, quindi servirebbe un pacco in più",
    },
}

SENTENCES: dict[str, dict[str, str]] = {
    "en": {
        "nothing": "Nothing could be shipped; the order's cost is its unfilled penalty, {cost}.",
        "ships": "Ships from {nodes} in {boxes} for {cost}",
        "unfilled": "; {units} unit(s) cannot be filled",
        "nearer": "{node} was {distance} nearer, but {reason}.",
        "cheaper": "{node} would have shipped for less, but {reason}.",
        "rule_same": "The closest locations would have shipped the same way.",
        "rule": "Shipping from the closest locations would have cost {amount} {more} in {boxes}.",
        "more": "more",
        "less": "less",
        "next": "The next best plan, from {nodes}, costs {amount} more.",
        "next_unfilled": "The next best plan, from {nodes}, costs {amount} more and leaves "
        "{units} unit(s) unfilled.",
        "next_none": "Without {nodes} the order could not be filled ({amount} more).",
        "and": " and ",
        "one_box": "one box",
        "boxes": "{n} boxes",
    },
    "it": {
        "nothing": "Non si è potuto spedire nulla; l'ordine costa la penale delle unità "
        "mancanti, {cost}.",
        "ships": "Spedito da {nodes} in {boxes} per {cost}",
        "unfilled": "; {units} unità non si possono evadere",
        "nearer": "{node} era {distance} più vicino, ma {reason}.",
        "cheaper": "{node} avrebbe spedito per meno, ma {reason}.",
        "rule_same": "Dai punti più vicini la spedizione sarebbe stata la stessa.",
        "rule": "Spedire dai punti più vicini sarebbe costato {amount} {more} in {boxes}.",
        "more": "in più",
        "less": "in meno",
        "next": "Il miglior piano alternativo, da {nodes}, costa {amount} in più.",
        "next_unfilled": "Il miglior piano alternativo, da {nodes}, costa {amount} in più e "
        "lascia {units} unità non evase.",
        "next_none": "Senza {nodes} l'ordine non si sarebbe potuto evadere ({amount} in più).",
        "and": " e ",
        "one_box": "un solo pacco",
        "boxes": "{n} pacchi",
    },
}


class _Words:
    """One language's phrases, amounts and distances."""

    def __init__(self, language: str, currency: str) -> None:
        self.language = language
        self.locale = LANGUAGES[language]
        self.currency = currency
        self.says = SENTENCES[language]

    def money(self, amount: float) -> str:
        return str(format_currency(amount, self.currency, locale=self.locale))

    def distance(self, miles: float) -> str:
        if self.language == "en":
            return f"{format_decimal(round(miles), locale=self.locale)} miles"
        return f"{format_decimal(round(miles * KM_PER_MILE), locale=self.locale)} km"

    def boxes(self, n: int) -> str:
        return self.says["one_box"] if n == 1 else self.says["boxes"].format(n=n)

    def nodes(self, names: tuple[str, ...]) -> str:
        if len(names) == 1:
            return names[0]
        return ", ".join(names[:-1]) + self.says["and"] + names[-1]

    def ships(self, e: Explanation) -> str:
        plan = e.plan
        if not plan.shipments:
            return self.says["nothing"].format(cost=self.money(plan.cost))
        text = self.says["ships"].format(
            nodes=self.nodes(plan.nodes), boxes=self.boxes(len(plan.shipments)),
            cost=self.money(plan.cost),
        )  # fmt: skip
        unfilled = sum(ln.qty for ln in plan.unfilled)
        if unfilled:
            text += self.says["unfilled"].format(units=unfilled)
        return text + "."

    def reason(self, r: Reason) -> str:
        figures: dict[str, object] = {**r.figures, "sku": r.sku, "who": _who(r.figures)}
        for key in ("cost_from_here", "cost_in_plan"):
            if key in figures:
                figures[key] = self.money(float(figures[key]))  # type: ignore[arg-type]
        code = (
            "safety_stock_one" if r.code == "safety_stock" and r.figures["on_hand"] == 1 else r.code
        )
        return REASONS[self.language][code].format(**figures)

    def unused(self, u: UnusedNode, plan_miles: float) -> str:
        if u.nearer:
            return self.says["nearer"].format(
                node=u.node, distance=self.distance(plan_miles - u.miles),
                reason=self.reason(u.reasons[0]),
            )  # fmt: skip
        return self.says["cheaper"].format(node=u.node, reason=self.reason(u.reasons[0]))

    def rule(self, a: Alternative) -> str:
        if abs(a.extra) < 0.005:
            return self.says["rule_same"]
        return self.says["rule"].format(
            amount=self.money(abs(a.extra)), more=self.says["more" if a.extra > 0 else "less"],
            boxes=self.boxes(len(a.items.shipments)),
        )  # fmt: skip

    def next_best(self, a: Alternative) -> str:
        if not a.items.shipments:
            return self.says["next_none"].format(
                nodes=self.nodes(a.without), amount=self.money(a.extra)
            )
        unfilled = sum(ln.qty for ln in a.items.unfilled)
        return self.says["next_unfilled" if unfilled else "next"].format(
            nodes=self.nodes(a.items.nodes), amount=self.money(a.extra), units=unfilled
        )


def _who(figures: dict[str, object]) -> str:
    taken = figures.get("taken") or []
    if not isinstance(taken, list):
        return ""
    names = [str(t["by"]) for t in taken]
    return ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")


def summary(e: Explanation, language: str = DEFAULT_LANGUAGE) -> str:
    """Three or four sentences: where it ships from and for how much; the nearest node
    that was nearer (or cheaper) and why it did not ship; what the closest locations would
    have cost; the next best plan."""
    words = _Words(language if language in LANGUAGES else DEFAULT_LANGUAGE, e.currency)
    parts = [words.ships(e)]
    if e.unused and e.plan.shipments:
        farthest = max(s.miles for s in e.plan.shipments)
        first = next((u for u in e.unused if u.reasons), None)
        if first is not None:
            parts.append(words.unused(first, farthest))
    parts.append(words.rule(e.rules["closest"]))
    if e.alternatives:
        parts.append(words.next_best(e.alternatives[0]))
    return " ".join(parts)
