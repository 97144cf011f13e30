"""The curl session of docs/service.md ("Click and collect with curl") works as written
against `sourcing-engine serve` on the demo network: every reply as its sample shows it."""

import json
import re
from pathlib import Path

from tests.api.test_docs_session import DOC, disagreements, replies, run_session


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Click and collect with curl")
    return text[start : text.index("\n## ", start + 1)]


def test_pickup_session_works_as_written(tmp_path: Path) -> None:
    """Each command runs: refused without a transfer, allocated with a leg, not ready
    until the leg shipped, not collected (the lamps sellable in Brooklyn), and a shelf
    order picked up."""
    text = section()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "sourcing-engine serve"
    real = replies(run_session(tmp_path, "\n".join(blocks[1:])))[4:]  # after the setup
    samples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 7
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
    assert real[1]["pickup"]["ready_at"] is not None
