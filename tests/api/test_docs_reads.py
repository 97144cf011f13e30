"""The curl session of docs/service.md ("Finding orders and their history with curl") works
as written against `sourcing-engine serve` on the demo network: every reply as its sample
shows it."""

import json
import re
from pathlib import Path

from tests.api.test_docs_session import DOC, disagreements, replies, run_session


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Finding orders and their history with curl")
    return text[start : text.index("\n## ", start + 1)]


def test_reads_session_works_as_written(tmp_path: Path) -> None:
    """The customer's orders page newest first by cursor and the last page says so; the
    shop's number and the postal code find their order; the history gives each step's
    reason and the order after it."""
    text = section()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "sourcing-engine serve"
    real = replies(run_session(tmp_path, "\n".join(blocks[1:])))
    samples = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(real) == len(samples) == 4
    for sample, reply in zip(samples, real, strict=True):  # a cursor and a link vary by run
        if isinstance(sample.get("next_cursor"), str):
            assert isinstance(reply["next_cursor"], str)
            sample["next_cursor"] = reply["next_cursor"]
        if "explanation" in sample:
            assert reply["explanation"] == f"/v1/orders/{reply['order_id']}/explanation"
            sample["explanation"] = reply["explanation"]
    found = [e for s, r in zip(samples, real, strict=True) for e in disagreements(s, r)]
    assert found == [], "\n".join(found)
    first_page, second_page, _, history = real
    assert first_page["orders"][0]["id"].endswith("-2")
    assert second_page["orders"][0]["id"].endswith("-1")
    assert history["events"][-1]["resource"]["id"] == history["order_id"]
