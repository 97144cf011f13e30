"""The curl session of docs/service.md ("Node capacity with curl") works as written
against `sourcing-engine serve` on the demo network: every reply as its sample shows it
(the day is the machine's, so it is compared with the node's local date today)."""

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.test_docs_session import DOC, disagreements, replies, run_session


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Node capacity with curl")
    return text[start : text.index("\n## ", start + 1)]


def dated(sample: Any, day: str) -> Any:
    """The sample with its documented day replaced by today's."""
    return json.loads(json.dumps(sample).replace('"2026-12-03"', json.dumps(day)))


def test_capacity_session_works_as_written(tmp_path: Path) -> None:
    """Each command runs; Hoboken takes the first order, the second goes to New York,
    GET /v1/capacity shows Hoboken full, the lamp only it stocks is refused naming it,
    and after a cancel the lamp ships from Hoboken."""
    text = section()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "sourcing-engine serve"
    stdout = run_session(tmp_path, "\n".join(blocks[1:]))
    real = replies(stdout)[3:]  # after the node, item and snapshot replies
    day = dt.datetime.now(ZoneInfo("America/New_York")).date().isoformat()
    samples = [dated(json.loads(b), day) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 5
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
