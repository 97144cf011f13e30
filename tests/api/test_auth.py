"""API keys and scopes over HTTP: the route-by-scope matrix, revocation, key management."""

import re

import httpx
import pytest

from tests.api.conftest import ApiServer

SCOPE_OF: dict[tuple[str, str], str] = {
    ("PUT", "/v1/nodes"): "inventory",
    ("GET", "/v1/nodes"): "inventory",
    ("PUT", "/v1/items"): "inventory",
    ("POST", "/v1/stock/snapshots"): "inventory",
    ("POST", "/v1/stock/adjustments"): "inventory",
    ("POST", "/v1/stock/adjustments/batch"): "inventory",
    ("POST", "/v1/stock/counts"): "inventory",
    ("POST", "/v1/inbound"): "inventory",
    ("POST", "/v1/inbound/{inbound_id}/receive"): "inventory",
    ("POST", "/v1/transfers"): "inventory",
    ("GET", "/v1/transfers/{transfer_id}"): "inventory",
    ("POST", "/v1/transfers/{transfer_id}/ship"): "inventory",
    ("POST", "/v1/transfers/{transfer_id}/receive"): "inventory",
    ("POST", "/v1/transfers/{transfer_id}/cancel"): "inventory",
    ("GET", "/v1/inbound/{inbound_id}"): "inventory",
    ("GET", "/v1/stock/{sku}"): "inventory",
    ("POST", "/v1/orders"): "orders",
    ("POST", "/v1/orders/batch"): "orders",
    ("GET", "/v1/jobs/{job_id}"): "orders",
    ("GET", "/v1/orders/{order_id}"): "orders",
    ("GET", "/v1/orders"): "orders",
    ("GET", "/v1/orders/{order_id}/history"): "orders",
    ("GET", "/v1/orders/{order_id}/explanation"): "orders",
    ("POST", "/v1/orders/{order_id}/release"): "orders",
    ("POST", "/v1/orders/{order_id}/ready"): "orders",
    ("POST", "/v1/orders/{order_id}/pick-up"): "orders",
    ("POST", "/v1/orders/{order_id}/not-collected"): "orders",
    ("POST", "/v1/orders/{order_id}/ship"): "orders",
    ("POST", "/v1/orders/{order_id}/cancel"): "orders",
    ("POST", "/v1/orders/{order_id}/reject"): "orders",
    ("POST", "/v1/orders/{order_id}/reallocate"): "orders",
    ("POST", "/v1/orders/{order_id}/return"): "orders",
    ("POST", "/v1/reoptimizations"): "orders",
    ("GET", "/v1/reoptimizations/{run_id}"): "orders",
    ("GET", "/v1/events"): "orders",
    ("POST", "/v1/whatif"): "planning",
    ("GET", "/v1/whatif/{run_id}"): "planning",
    ("GET", "/v1/whatif/{run_id}/report"): "planning",
    ("GET", "/v1/exports/{kind}"): "planning",
    ("POST", "/v1/reservations"): "promise",
    ("GET", "/v1/reservations/{reservation_id}"): "promise",
    ("POST", "/v1/reservations/{reservation_id}/commit"): "promise",
    ("POST", "/v1/reservations/{reservation_id}/release"): "promise",
    ("POST", "/v1/promise"): "promise",
    ("GET", "/v1/availability"): "promise",
    ("POST", "/v1/keys"): "admin",
    ("GET", "/v1/keys"): "admin",
    ("DELETE", "/v1/keys/{key_id}"): "admin",
    ("POST", "/v1/webhooks"): "admin",
    ("GET", "/v1/webhooks"): "admin",
    ("GET", "/v1/webhooks/{webhook_id}"): "admin",
    ("DELETE", "/v1/webhooks/{webhook_id}"): "admin",
    ("POST", "/v1/webhooks/{webhook_id}/replay"): "admin",
    ("GET", "/v1/settings"): "admin",
    ("PUT", "/v1/settings"): "admin",
    ("GET", "/v1/capacity"): "inventory",
}
PUBLIC = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")]
SCOPES = ["promise", "orders", "inventory", "planning", "admin"]


@pytest.fixture(scope="module")
def tokens(server: ApiServer) -> dict[str, str]:
    """One key per scope, created through the API with the admin key."""
    out = {}
    with server.client() as c:
        for scope in SCOPES:
            r = c.post("/v1/keys", json={"name": f"only {scope}", "scopes": [scope]})
            assert r.status_code == 201, r.text
            out[scope] = r.json()["token"]
    return out


def _call(server: ApiServer, key: str | None, method: str, path: str) -> httpx.Response:
    url = re.sub(r"\{[a-z_]+\}", "x1", path)
    body: dict[str, object] | None = {} if method in ("POST", "PUT") else None
    with server.client(key) as c:
        return c.request(method, url, json=body)


def test_matrix_covers_every_route(server: ApiServer) -> None:
    """The scope matrix lists every operation of the OpenAPI document."""
    with server.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    ops = {(m.upper(), p) for p, item in paths.items() for m in item}
    assert ops == set(SCOPE_OF) | set(PUBLIC)


@pytest.mark.parametrize(("method", "path"), sorted(SCOPE_OF))
def test_route_needs_a_key_with_its_scope(
    server: ApiServer, tokens: dict[str, str], method: str, path: str
) -> None:
    """No key: 401; a key without the route's scope: 403; with it (or admin): neither."""
    scope = SCOPE_OF[(method, path)]
    r = _call(server, None, method, path)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    for other in SCOPES:
        r = _call(server, tokens[other], method, path)
        if other in (scope, "admin"):
            assert r.status_code not in (401, 403), (other, r.text)
        else:
            assert r.status_code == 403, (other, r.text)
            assert r.json()["error"]["details"] == [{"required_scope": scope}]


@pytest.mark.parametrize(("method", "path"), PUBLIC)
def test_health_and_metrics_need_no_key(server: ApiServer, method: str, path: str) -> None:
    """Liveness, readiness and metrics answer without a key."""
    assert _call(server, None, method, path).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer sk_0000000000000000_not-the-right-secret-at-all",
        "Bearer short",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "a" * 5000,
    ],
)
def test_bad_keys_are_401(server: ApiServer, header: str) -> None:
    """Unknown keys, wrong schemes and oversized tokens answer 401."""
    with httpx.Client(base_url=server.url, headers={"Authorization": header}) as c:
        r = c.get("/v1/nodes")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_revoked_key_is_401_and_secret_is_not_stored(server: ApiServer) -> None:
    """A revoked key stops working; listing keys never shows a token."""
    with server.client() as admin:
        issued = admin.post("/v1/keys", json={"name": "temp", "scopes": ["orders"]}).json()
        assert issued["token"].startswith(f"sk_{issued['id']}_")
        listed = admin.get("/v1/keys").json()["keys"]
        assert all("token" not in k for k in listed)
        assert issued["token"] not in admin.get("/v1/keys").text
        with server.client(issued["token"]) as c:
            assert c.get("/v1/events").status_code == 200
            r = admin.delete(f"/v1/keys/{issued['id']}")
            assert r.status_code == 200
            assert r.json()["revoked"] is True
            assert c.get("/v1/events").status_code == 401
        assert admin.delete("/v1/keys/ffffffffffffffff").status_code == 404


def test_key_creation_with_idempotency_key_creates_one_key(server: ApiServer) -> None:
    """Retrying a key creation with its Idempotency-Key cannot create a second key."""
    with server.client() as admin:
        headers = {"Idempotency-Key": "make-key-1"}
        body = {"name": "ci", "scopes": ["promise"]}
        assert admin.post("/v1/keys", json=body, headers=headers).status_code == 201
        again = admin.post("/v1/keys", json=body, headers=headers)
        assert again.status_code == 409
        assert sum(k["name"] == "ci" for k in admin.get("/v1/keys").json()["keys"]) == 1


def test_admins_cannot_lock_themselves_out(server: ApiServer) -> None:
    """The environment's admin key cannot be revoked through the API (409), so admins can
    never revoke every admin key; another admin key can be, and the first keeps working."""
    with server.client() as admin:
        keys = admin.get("/v1/keys").json()["keys"]
        (env_key,) = [k for k in keys if k["name"] == "admin (SOURCING_ENGINE_ADMIN_KEY)"]
        r = admin.delete(f"/v1/keys/{env_key['id']}")
        assert r.status_code == 409
        assert "SOURCING_ENGINE_ADMIN_KEY" in r.json()["error"]["message"]
        other = admin.post("/v1/keys", json={"name": "ops admin", "scopes": ["admin"]}).json()
        assert admin.delete(f"/v1/keys/{other['id']}").status_code == 200  # the env key stays
        assert admin.get("/v1/keys").status_code == 200
