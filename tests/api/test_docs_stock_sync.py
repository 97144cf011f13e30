"""The curl session of docs/service.md ("Stock sync with curl") works as written against
`sourcing-engine serve` on the demo network: every reply as its sample shows it."""

import json
import re
from pathlib import Path

from tests.api.test_docs_session import DOC, disagreements, replies, run_session


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Stock sync with curl")
    return text[start : text.index("\n## ", start + 1)]


def test_stock_sync_session_works_as_written(tmp_path: Path) -> None:
    """Each command runs; the count taken before a shipment leaves 9 on hand, not 12, with
    the safety stock kept; the late message is refused as stale; the bulk adjustment names
    its unknown SKU."""
    text = section()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "sourcing-engine serve"
    stdout = run_session(tmp_path, "\n".join(blocks[1:]))
    real = replies(stdout)[3:]  # after the snapshot, order and ship replies
    samples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 3
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
