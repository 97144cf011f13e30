"""The curl session of docs/service.md ("A lifecycle with curl") works as written against
`sourcing-engine serve` on the demo network."""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.api.conftest import Served

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def session_script() -> str:
    """The section's shell blocks after the first (which starts the server)."""
    text = DOC.read_text()
    section = text[text.index("## A lifecycle with curl") :]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return "\n".join(blocks[1:])


def replies(out: str) -> list[dict[str, Any]]:
    """The JSON documents curl printed, one after another."""
    decoder = json.JSONDecoder()
    found, i = [], 0
    while (start := out.find("{", i)) >= 0:
        value, i = decoder.raw_decode(out, start)
        found.append(value)
    return found


VARYING = {
    "id",
    "created_at",
    "updated_at",
    "expires_at",
    "at",
    "seq",
    "subject",
    "reservation_id",
    "order_id",
    "next_after",
}
"""Fields whose values differ every run (ids made of the time, times, cursors)."""


def documented_replies() -> list[Any]:
    """The JSON samples the section shows, in order."""
    text = DOC.read_text()
    section = text[text.index("## A lifecycle with curl") :]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]


def disagreements(documented: Any, real: Any, where: str = "") -> list[str]:
    """Where a documented sample says other than the real reply ("..." stands for what the
    sample leaves out; VARYING fields are not compared)."""
    if isinstance(documented, dict):
        out = []
        for k, v in documented.items():
            if k == "..." or k in VARYING:
                continue
            if not isinstance(real, dict) or k not in real:
                out.append(f"{where}.{k}: documented, not in the reply")
            else:
                out += disagreements(v, real[k], f"{where}.{k}")
        return out
    if isinstance(documented, list):
        shown = [x for x in documented if x != "..."]
        if (
            not isinstance(real, list)
            or len(real) < len(shown)
            or ("..." not in documented and len(real) != len(shown))
        ):
            return [f"{where}: documented {len(shown)} entries, the reply has {real!r}"]
        return [e for i, x in enumerate(shown) for e in disagreements(x, real[i], f"{where}[{i}]")]
    if documented != real:
        return [f"{where}: documented {documented!r}, the reply says {real!r}"]
    return []


def run_session(tmp_path: Path, script: str, *serve_args: str) -> str:
    """Run a documented curl script against a real `sourcing-engine serve` (with the
    documented key and address replaced by the server's own); its standard output."""
    with Served(tmp_path, *serve_args) as served:
        key = re.search(r"sk_[0-9a-f]{16}_[A-Za-z0-9_-]+", served.output)
        assert key is not None
        script = script.replace("KEY=sk_...", f"KEY={key[0]}")
        script = script.replace("http://127.0.0.1:8000", served.url)
        run = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_curl_session_works_as_written(tmp_path: Path) -> None:
    """Every command of the docs' curl session runs and replies as the text says, down to
    the figures its samples show (stock, nodes, plans and their costs)."""
    script = session_script()
    assert "KEY=sk_..." in script
    assert "http://127.0.0.1:8000" in script
    (snapshot, stock, created, stored, released, shipped, refused, hold, committed, events) = (
        replies(run_session(tmp_path, script))
    )
    assert snapshot == {"node": "DC-New-York-City", "counted": 2}
    assert set(stock) == {"sku", "nodes", "totals"}
    assert created["state"] == "allocated"
    assert created["plan"]["cost"] > 0
    assert {k: stored[k] for k in created} == created
    assert [e["type"] for e in stored["history"]] == ["order.created", "order.allocated"]
    assert released["state"] == "released"
    assert shipped["state"] == "shipped"
    assert refused["error"]["details"] == [{"current_state": "shipped"}]
    assert hold["state"] == "active"
    assert committed["state"] == "allocated"
    assert committed["reservation_id"] == hold["id"]
    assert events["next_after"] == events["events"][-1]["seq"]
    samples = documented_replies()
    assert len(samples) == 5
    found = [
        e
        for sample, real in zip(samples, (stock, created, stored, hold, committed), strict=True)
        for e in disagreements(sample, real)
    ]
    assert found == [], "\n".join(found)
