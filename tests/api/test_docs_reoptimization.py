"""The curl session of docs/service.md ("Re-optimization of the hold window with curl")
works as written against `sourcing-engine serve` on the demo network: every reply as its
sample shows it."""

import json
import re
from pathlib import Path

from tests.api.test_docs_session import DOC, disagreements, replies, run_session


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Re-optimization of the hold window with curl")
    return text[start : text.index("\n## ", start + 1)]


def test_reoptimization_session_works_as_written(tmp_path: Path) -> None:
    """Each command runs; the run moves both held teapot orders to New York, the larger
    saving first, and the moved order's history records the move with the run's id."""
    text = section()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "sourcing-engine serve"
    run, order = replies(run_session(tmp_path, "\n".join(blocks[1:])))
    samples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(samples) == 2
    moved = order["history"][-1]["data"]
    assert moved["reoptimization"] == run["id"]
    moved["reoptimization"] = samples[1]["history"][-1]["data"]["reoptimization"]  # an id
    found = [e for s, r in zip(samples, (run, order), strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
