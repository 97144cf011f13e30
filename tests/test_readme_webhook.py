"""The README's webhook receiver, run as written: it accepts a real delivery from the
deliverer (signature verified) and refuses a request whose body was altered."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sourcing_engine.stores import open_store
from sourcing_engine.webhooks import signing
from sourcing_engine.webhooks.deliverer import Deliverer, DeliveryConfig, payload
from sourcing_engine.webhooks.subscriptions import Webhooks
from tests.conftest import free_port
from tests.sourcing_engine.webhooks.receiver import make_orders, stocked

README = Path(__file__).resolve().parent.parent / "README.md"


def receiver_example() -> str:
    integrating = README.read_text().split("## Integrating", 1)[1]
    found = re.search(r"```python\n(.*?)```", integrating, re.S)
    assert found, "README's Integrating section has no python block"
    return found.group(1)


def test_readme_receiver_verifies_a_real_delivery(tmp_path: Path) -> None:
    """Posted an order's events by the deliverer, the example prints each (204); a body
    changed after signing is refused 401."""
    store = open_store(f"sqlite:///{tmp_path / 'ledger.db'}")
    stocked(store)
    port = free_port()
    webhook = Webhooks(store).create(f"http://127.0.0.1:{port}/hooks", ["order.shipped"])
    script = tmp_path / "receiver.py"
    script.write_text(receiver_example())
    env = {**os.environ, "WEBHOOK_SECRET": webhook.secret, "PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    deliverer = Deliverer(store, DeliveryConfig(first_backoff_s=0.05, timeout_s=2.0))
    try:
        make_orders(store, 1)
        deadline = time.monotonic() + 20
        while (store.webhook_progress(webhook.id) or {}).get("delivered", 0) < 1:
            assert time.monotonic() < deadline, "the example did not accept the delivery"
            deliverer.step()
            time.sleep(0.05)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("evt_")
        assert '"type":"order.shipped"' in line
        assert '"subject":"o0"' in line
        msg_id = line.split()[0]
        event = store.events(int(msg_id.removeprefix("evt_")) - 1, 1)[0]
        body = payload(event)
        headers = signing.headers(webhook.secret, msg_id, int(time.time()), body)
        url = f"http://127.0.0.1:{port}/hooks"
        assert httpx.post(url, content=body, headers=headers).status_code == 204
        tampered = body.replace(b"order.shipped", b"order.cancelled")
        assert httpx.post(url, content=tampered, headers=headers).status_code == 401
    finally:
        deliverer.close()
        proc.terminate()
        proc.wait(10)
        store.close()
