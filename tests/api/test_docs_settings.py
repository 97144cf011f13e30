"""The curl session of docs/service.md ("Network settings with curl") works as written
against `sourcing-engine serve --scenario italy`: every reply as its sample shows it."""

import json
import re
import subprocess
from pathlib import Path

from tests.api.conftest import Served
from tests.api.test_docs_session import DOC, disagreements, replies


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Network settings with curl")
    return text[start : text.index("\n## ", start + 1)]


def test_settings_session_works_as_written(tmp_path: Path) -> None:
    """Each command runs; each reply agrees with the sample shown after it (EUR, the
    express rate after the change, 412 for the stale version)."""
    text = section()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].startswith("sourcing-engine serve --scenario italy")
    with Served(tmp_path, "--scenario", "italy") as served:
        key = re.search(r"sk_[0-9a-f]{16}_[A-Za-z0-9_-]+", served.output)
        assert key is not None
        script = "\n".join(blocks[1:]).replace("KEY=sk_...", f"KEY={key[0]}")
        script = script.replace("http://127.0.0.1:8000", served.url)
        run = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    real = replies(run.stdout)
    samples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 5
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
