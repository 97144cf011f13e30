"""`sourcing-engine whatif --ray ADDRESS` on a real Ray cluster (a head started here with
`ray start --head --block`, stopped by its own process id): the same figures as the run in
processes on this machine."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sourcing_engine.cli import main
from sourcing_engine.whatif.runner import run
from sourcing_engine.whatif.scenario import loads
from tests.conftest import free_port
from tests.sourcing_engine.whatif.test_command import SCENARIO

READY = "will now block forever"


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    ray = Path(sys.executable).with_name("ray")
    head = subprocess.Popen(
        [str(ray), "start", "--head", f"--port={port}", "--num-cpus=2", "--block",
         "--include-dashboard=false", "--disable-usage-stats"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert head.stdout is not None
    deadline = time.monotonic() + 90
    seen = []
    for line in head.stdout:
        seen.append(line)
        if READY in line:
            break
        if time.monotonic() > deadline:
            break
    try:
        if not any(READY in line for line in seen):
            pytest.fail("the Ray head did not start: " + "".join(seen[-20:]))
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # --block: the head stops its own processes
        head.communicate(timeout=90)


def test_variants_on_a_ray_cluster_give_the_same_figures(
    ray_head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    (tmp_path / "s.toml").write_text(SCENARIO)
    out = tmp_path / "out"
    code = main(["whatif", str(tmp_path / "s.toml"), "--out", str(out), "--ray", ray_head,
                 "--quiet"])  # fmt: skip
    assert code == 0
    on_ray = {v["variant"]: v for v in json.loads((out / "outcomes.json").read_text())["variants"]}
    here = run(loads(SCENARIO), workers=1)
    assert list(on_ray) == [o.variant for o in here.outcomes]
    for o in here.outcomes:
        assert on_ray[o.variant]["total_cost"] == pytest.approx(o.total_cost, rel=1e-9)
        assert on_ray[o.variant]["shipments"] == o.shipments
    assert (out / "report.html").stat().st_size > 1_000_000
