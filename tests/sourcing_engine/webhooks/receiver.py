"""A real webhook receiver on the loopback (http.server in a thread), for the tests and the
benchmark: it verifies each delivery's signature, records what it accepted, and answers as
its `behaviour` says (ok, fail with 500, or hang past the deliverer's timeout)."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import orjson

from sourcing_engine.domain import Item, Node, Unit
from sourcing_engine.stores.base import Store
from sourcing_engine.webhooks import signing

Answer = Literal["ok", "fail", "hang"]


@dataclass
class Receiver:
    secret: str = ""
    behaviour: Callable[[int], Answer] = lambda attempt: "ok"
    hang_s: float = 2.0
    accepted: list[dict[str, Any]] = field(default_factory=list)  # bodies, in arrival order
    received_at: list[float] = field(default_factory=list)
    attempts: int = 0
    bad_signatures: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
        if not signing.verify(self.secret, headers, body, time.time()):
            self.bad_signatures += 1
            return 401
        answer = self.behaviour(attempt)
        if answer == "hang":
            time.sleep(self.hang_s)
            return 200  # too late: the deliverer has given up on this attempt
        if answer == "fail":
            return 500
        with self.lock:
            self.accepted.append(orjson.loads(body))
            self.received_at.append(time.time())
        return 200


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would

        def do_POST(self) -> None:
            length = int(self.headers["content-length"])
            body = self.rfile.read(length)
            if len(body) < length:  # the sender died mid-request: cut off, not forged
                self.close_connection = True
                return
            status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def stocked(store: Store) -> None:
    """One node with plenty of one SKU, for orders that make events."""
    store.upsert_nodes([Node("N1", "warehouse", 40.0, -75.0)])
    store.upsert_items([Item("A", 1.0, (10.0, 10.0, 10.0))])
    store.set_stock("N1", {"A": (10**7, 0)}, "test")


def make_orders(store: Store, count: int, prefix: str = "o") -> None:
    """count orders, each created (order.created, order.allocated) then shipped
    (order.shipped), interleaved: o0 created, o1 created, o0 shipped, ..."""
    for i in range(count):
        store.create_order(f"{prefix}{i}", {"A": 1}, [Unit("N1", "A", 1)], {})
        if i:
            store.transition(f"{prefix}{i - 1}", "ship", node="N1")
    if count:
        store.transition(f"{prefix}{count - 1}", "ship", node="N1")


def order_events(bodies: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per order id, the event types received, in arrival order."""
    per: dict[str, list[str]] = {}
    for b in bodies:
        per.setdefault(b["subject"], []).append(b["type"])
    return per
