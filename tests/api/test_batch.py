"""POST /v1/orders/batch as a planning call over a real server: the policy and time limit
are the caller's, the answer carries the joint plan's status, cost, bound and gap next to
each order's outcome."""

from typing import Any

import pytest

from tests.api.conftest import ApiServer, Stocker, order_body

CITIES: list[dict[str, Any]] = [{"lat": 40.71, "lon": -74.01}, {"lat": 41.85, "lon": -87.65},
          {"lat": 34.10, "lon": -118.30}, {"lat": 39.95, "lon": -75.17}]  # fmt: skip


def batch(skus: list[str]) -> list[dict[str, object]]:
    """Eight orders of one or two units to four cities."""
    return [
        order_body({skus[k % 2]: 1 + k % 2, skus[(k + 1) % 2]: 1}, **CITIES[k % 4])
        for k in range(8)
    ]


def test_the_plan_is_answered_with_each_outcome(server: ApiServer, stock: Stocker) -> None:
    """optimal: status, cost equal to what the allocated orders cost, a bound at most the
    cost and its gap; closest on the same orders and stock costs no less and has no bound."""
    with server.client() as c:
        answers = {}
        for policy in ("optimal", "closest"):
            skus = [stock({"DC-NJ": 12, "ST-CHI": 6, "ST-LA": 6}) for _ in range(2)]
            body = {"orders": batch(skus), "policy": policy, "time_limit_s": 5}
            r = c.post("/v1/orders/batch", json=body)
            assert r.status_code == 200, r.text
            answers[policy] = r.json()
        best, rule = answers["optimal"], answers["closest"]
        for answer in (best, rule):
            assert (answer["allocated"], answer["refused"]) == (8, 0)
            assert answer["allocated_cost"] == pytest.approx(
                sum(r["order"]["plan"]["cost"] for r in answer["results"]), abs=1e-6
            )
            assert answer["plan"]["cost"] == pytest.approx(answer["allocated_cost"], abs=1e-4)
            assert answer["plan"]["currency"] == "USD"
        plan = best["plan"]
        assert (plan["policy"], plan["status"]) == ("optimal", "optimal")
        assert plan["bound"] <= plan["cost"] + 1e-6
        assert plan["gap"] <= 1e-4
        assert plan["runtime_s"] < 5
        assert (rule["plan"]["policy"], rule["plan"]["bound"], rule["plan"]["gap"]) == (
            "closest", None, None,
        )  # fmt: skip
        assert rule["plan"]["cost"] >= plan["cost"] - 1e-6


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"policy": "cheapest"}, "policy"), ({"time_limit_s": 0}, "time_limit_s"),
     ({"time_limit_s": 301}, "time_limit_s"), ({"time_limit_s": "5"}, "time_limit_s")],
)  # fmt: skip
def test_bad_policy_or_limit_is_named(
    server: ApiServer, stock: Stocker, extra: dict[str, object], field: str
) -> None:
    """An unknown policy or a limit out of (0, 300] s is 422 naming the field."""
    sku = stock({"DC-NJ": 2})
    with server.client() as c:
        r = c.post("/v1/orders/batch", json={"orders": [order_body({sku: 1})], **extra})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["field"] == field
    assert stock.available(sku) == {"DC-NJ": 2}


def test_lookahead_is_a_batch_policy(server: ApiServer, stock: Stocker) -> None:
    """policy "lookahead" allocates the batch with a heuristic plan and no bound (this
    store has no order history of earlier days: its prices are none, greedy-cost's plan)."""
    skus = [stock({"DC-NJ": 12, "ST-CHI": 6, "ST-LA": 6}) for _ in range(2)]
    with server.client() as c:
        body = {"orders": batch(skus), "policy": "lookahead"}
        r = c.post("/v1/orders/batch", json=body)
        assert r.status_code == 200, r.text
    answer, plan = r.json(), r.json()["plan"]
    assert (answer["allocated"], answer["refused"]) == (8, 0)
    assert (plan["policy"], plan["status"], plan["bound"], plan["gap"]) == (
        "lookahead", "heuristic", None, None,
    )  # fmt: skip
    assert plan["cost"] == pytest.approx(answer["allocated_cost"], abs=1e-4)
