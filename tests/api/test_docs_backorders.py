"""The curl session of docs/service.md ("Backorders, reallocation and returns anywhere with
curl") works as written against `sourcing-engine serve` on the demo network: every reply
as its sample shows it."""

import json
import re
from pathlib import Path

from tests.api.test_docs_session import DOC, disagreements, replies, run_session


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Backorders, reallocation and returns anywhere with curl")
    return text[start : text.index("\n## ", start + 1)]


def test_backorder_session_works_as_written(tmp_path: Path) -> None:
    """Each command runs; the order is refused without backorder and backordered with it,
    the purchase order shows the waiting units, its receipt allocates them, a return at a
    store restocks only the restocked unit there, and a reallocation moves the mug order
    to New York."""
    text = section()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "sourcing-engine serve"
    stdout = run_session(tmp_path, "\n".join(blocks[1:]))
    real = replies(stdout)[3:]  # after the item, snapshot and inbound replies
    samples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 9
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
    history = real[4]["history"]
    assert [e["type"] for e in history] == [
        "order.created", "order.allocated", "order.backordered", "order.backorder_received",
    ]  # fmt: skip
