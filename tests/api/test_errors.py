"""Bad input over HTTP: one error shape, the field named, 413 before parsing, never a 500."""

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import NYC, ApiServer, Stocker, new_id, order_body


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


def fields(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


def post_raw(client: httpx.Client, path: str, raw: bytes) -> httpx.Response:
    return client.post(path, content=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"id":"A","destination":{"lat":40,"lon":-74},"lines":[{"sku":"S","qty":-1}]}',
         "lines[0].qty"),
        (b'{"id":"A","destination":{"lat":40,"lon":-74},"lines":[{"sku":"S","qty":10001}]}',
         "lines[0].qty"),
        (b'{"id":"A","destination":{"lat":40,"lon":-74},"lines":[{"sku":"S","qty":"2"}]}',
         "lines[0].qty"),
        (b'{"id":"A","destination":{"lat":40,"lon":-74},"lines":[{"sku":"S","qty":1.5}]}',
         "lines[0].qty"),
        (b'{"id":"A","destination":{"lat":NaN,"lon":-74},"lines":[{"sku":"S","qty":1}]}',
         "destination.lat"),
        (b'{"id":"A","destination":{"lat":40,"lon":Infinity},"lines":[{"sku":"S","qty":1}]}',
         "destination.lon"),
        (b'{"id":"A","destination":{"lat":40,"lon":-74},"lines":[{"sku":"S","qty":1}],"x":1}',
         "x"),
        (b'{"id":"A","destination":{"lat":40,"lon":-74},"lines":[]}', "lines"),
        (b'{"id":"a/b","destination":{"lat":40,"lon":-74},"lines":[{"sku":"S","qty":1}]}',
         "id"),
        (b'{"destination":{"lat":40,"lon":-74},"lines":[{"sku":"S","qty":1}]}', "id"),
        (b'{"id":"A","destination":{"lat":95,"lon":-74},"lines":[{"sku":"S","qty":1}]}',
         "destination.lat"),
        (b'{"id":"A","destination":{"zip":"0000"},"lines":[{"sku":"S","qty":1}]}',
         "destination.zip"),
        (b'{"id":"A","destination":{"zip":"10001","lat":40.7,"lon":-74},"lines":[]}',
         "destination"),
    ],
)  # fmt: skip
def test_bad_order_is_422_naming_the_field(client: httpx.Client, raw: bytes, field: str) -> None:
    """Bad quantities, NaN, unknown fields, bad ids, coordinates and ZIPs: 422 naming the field."""
    error = assert_error(post_raw(client, "/v1/orders", raw), 422, "validation_error")
    assert field in fields(error), error
    assert field in str(error["message"])


def test_an_unknown_zip_is_422_naming_it(client: httpx.Client) -> None:
    """A well-formed ZIP that the offline table does not know is refused, naming it."""
    raw = b'{"id":"A","destination":{"zip":"00000"},"lines":[{"sku":"S","qty":1}]}'
    error = assert_error(post_raw(client, "/v1/orders", raw), 422, "invalid")
    assert "destination.zip: unknown US ZIP code '00000'" in str(error["message"])


def test_too_many_lines_is_422(client: httpx.Client) -> None:
    """More than 100 lines in one order is refused."""
    lines = [{"sku": f"S{i}", "qty": 1} for i in range(101)]
    r = client.post("/v1/orders", json={"id": "A", "destination": NYC, "lines": lines})
    assert "lines" in fields(assert_error(r, 422, "validation_error"))


def test_malformed_json_is_422(client: httpx.Client) -> None:
    """A body that is not JSON is 422, not a 500."""
    assert_error(post_raw(client, "/v1/orders", b'{"id": "A", '), 422, "validation_error")
    assert_error(post_raw(client, "/v1/orders", b"\xff\xfe"), 422, "validation_error")


def test_unknown_sku_is_422_naming_it(client: httpx.Client) -> None:
    """Ordering a SKU the network has no item for is 422 naming the SKU."""
    r = client.post(
        "/v1/orders",
        json={"id": new_id(), "destination": NYC, "lines": [{"sku": "NO-SUCH-SKU", "qty": 1}]},
    )
    error = assert_error(r, 422, "invalid")
    assert "NO-SUCH-SKU" in str(error["message"])
    assert "add the items first (PUT /v1/items)" in str(error["message"])  # the route to fix it


def test_snapshot_for_unknown_node_is_404(client: httpx.Client) -> None:
    """Stock counted at a node that does not exist is refused, naming the route to add it."""
    r = client.post(
        "/v1/stock/snapshots", json={"node": "NOPE", "counts": [{"sku": "S", "on_hand": 1}]}
    )
    error = assert_error(r, 404, "not_found")
    assert (
        str(error["message"]) == "node NOPE: unknown; add it to the network first (PUT /v1/nodes)"
    )


def test_adjustment_below_zero_is_422(client: httpx.Client, stock: Stocker) -> None:
    """An adjustment that would take on hand below zero is refused, naming the SKU."""
    sku = stock({"DC-NJ": 1})
    r = client.post(
        "/v1/stock/adjustments", json={"node": "DC-NJ", "sku": sku, "delta": -2, "reason": "x"}
    )
    assert sku in str(assert_error(r, 422, "invalid")["message"])


def test_huge_body_is_413(client: httpx.Client) -> None:
    """A body over 5 MB is refused with 413 in the error shape, before it is parsed."""
    raw = b'{"orders": [' + b" " * (6 * 1024 * 1024) + b"]}"
    assert_error(post_raw(client, "/v1/orders/batch", raw), 413, "payload_too_large")


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"nodes": ['
    for _ in range(total // 65536):
        yield b" " * 65536


def test_huge_streamed_body_is_413(client: httpx.Client) -> None:
    """A body streamed without Content-Length is cut off at the limit with 413."""
    r = client.put("/v1/nodes", content=_chunks(8 * 1024 * 1024))
    assert_error(r, 413, "payload_too_large")


def test_lying_content_length_is_refused(server: ApiServer) -> None:
    """A declared length over the limit is refused without reading the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 999999999\r\n\r\n{"
        )
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


def test_unknown_route_and_method(client: httpx.Client) -> None:
    """Unknown paths are 404 and wrong methods 405, in the error shape; Allow lists every
    method of the path (GET and PUT for /v1/nodes, not only the first route's)."""
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.delete("/v1/orders"), 405, "method_not_allowed")
    r = client.delete("/v1/nodes")
    assert_error(r, 405, "method_not_allowed")
    assert set(r.headers["Allow"].split(", ")) == {"GET", "PUT"}


def test_a_body_on_a_route_that_takes_none_is_422(client: httpx.Client, stock: Stocker) -> None:
    """A release with a body is refused (nothing released), not taken as a plain release."""
    sku = stock({"DC-NJ": 2})
    oid = client.post("/v1/orders", json=order_body({sku: 1})).json()["id"]
    r = client.post(f"/v1/orders/{oid}/release", json={"node": "bogus"})
    assert "body" in fields(assert_error(r, 422, "validation_error"))
    assert client.get(f"/v1/orders/{oid}").json()["state"] == "allocated"


def test_an_integral_number_is_an_integer(client: httpx.Client, stock: Stocker) -> None:
    """qty 2.0 is the integer 2 (as JSON Schema says); 2.5 is refused naming the field."""
    sku = stock({"DC-NJ": 5})
    body = order_body({sku: 1})
    body["lines"][0]["qty"] = 2.0
    r = client.post("/v1/orders", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["lines"] == [{"sku": sku, "qty": 2}]
    body = order_body({sku: 1})
    body["lines"][0]["qty"] = 2.5
    assert "lines[0].qty" in fields(assert_error(client.post("/v1/orders", json=body), 422,
                                                 "validation_error"))  # fmt: skip


def test_bad_query_and_header_name_the_field(client: httpx.Client) -> None:
    """Out-of-range query parameters and a malformed Idempotency-Key are 422 naming them."""
    r = client.get("/v1/events", params={"limit": 0})
    assert "query.limit" in fields(assert_error(r, 422, "validation_error"))
    r = client.post("/v1/orders/x1/release", headers={"Idempotency-Key": "has space"})
    assert "header.Idempotency-Key" in fields(assert_error(r, 422, "validation_error"))


def test_unknown_query_parameter_is_422(client: httpx.Client) -> None:
    """A misspelt query parameter is refused, not ignored."""
    r = client.get("/v1/events", params={"afterr": 10})
    assert fields(assert_error(r, 422, "validation_error")) == ["query.afterr"]


def test_metrics_count_requests_by_route_template(client: httpx.Client) -> None:
    """/metrics counts requests by route template and status, and allocations."""
    client.get("/v1/orders/some-order-id")
    text = client.get("/metrics").text
    assert 'route="/v1/orders/{order_id}",status="404"' in text
    assert "some-order-id" not in text
    assert "http_request_duration_seconds_bucket" in text
    assert "allocations_total" in text
    assert "shortages_total" in text
