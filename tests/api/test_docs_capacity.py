"""The curl session of docs/service.md ("Node capacity with curl") works as written
against `sourcing-engine serve` on the demo network: every reply as its sample shows it
(the day is the machine's, so it is compared with the node's local date today)."""

import datetime as dt
import json
import re
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.api.conftest import Served
from tests.api.test_docs_session import DOC, disagreements, replies


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
    with Served(tmp_path) as served:
        key = re.search(r"sk_[0-9a-f]{16}_[A-Za-z0-9_-]+", served.output)
        assert key is not None
        script = "\n".join(blocks[1:]).replace("KEY=sk_...", f"KEY={key[0]}")
        script = script.replace("http://127.0.0.1:8000", served.url)
        run = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    real = replies(run.stdout)[3:]  # after the node, item and snapshot replies
    day = dt.datetime.now(ZoneInfo("America/New_York")).date().isoformat()
    samples = [dated(json.loads(b), day) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 5
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
