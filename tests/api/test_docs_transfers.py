"""The curl session of docs/service.md ("Transfers between nodes with curl") works as
written against `sourcing-engine serve` on the demo network: every reply as its sample
shows it."""

import json
import re
from pathlib import Path

from tests.api.test_docs_session import DOC, disagreements, replies, run_session


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Transfers between nodes with curl")
    return text[start : text.index("\n## ", start + 1)]


def test_transfer_session_works_as_written(tmp_path: Path) -> None:
    """Each command runs: the transfer is reserved, a second is refused naming the short
    line, shipped it is incoming at Brooklyn, received in two parts, and a cancel after
    that conflicts."""
    text = section()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "sourcing-engine serve"
    real = replies(run_session(tmp_path, "\n".join(blocks[1:])))[3:]  # after the setup
    samples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 7
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
    assert (
        real[3]["skus"][0]["incoming"][0]["inbound"][0]["id"] == f"transfer:{real[0]['id']}:TR-MUG"
    )
