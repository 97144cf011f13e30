"""The curl session of docs/service.md ("Network settings with curl") works as written
against `sourcing-engine serve --scenario italy`: every reply as its sample shows it."""

import json
import re
from pathlib import Path

from tests.api.test_docs_session import DOC, disagreements, replies, run_session


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
    stdout = run_session(tmp_path, "\n".join(blocks[1:]), "--scenario", "italy")
    real = replies(stdout)
    samples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 5
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
