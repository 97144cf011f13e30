"""What-if runs as background jobs, for the API: start one from a scenario's text, read its
progress, then its numbers and report.

A job lives in a directory of its own (status.json, then outcomes.json, outcomes.csv and
report.html), each file replaced whole, so that every API worker process on the machine
reads the same state whichever started the job. The run itself is `runner.run`, as the
CLI's; its variants run in spawned processes (forking a threaded server is unsafe).
"""

import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sourcing_engine.errors import Invalid, NotFound
from sourcing_engine.whatif import report
from sourcing_engine.whatif.runner import run
from sourcing_engine.whatif.scenario import Scenario, ScenarioError, loads

MAX_ORDERS = 1_000_000
STATUS = "status.json"


@dataclass(frozen=True)
class JobStatus:
    id: str
    state: str  # queued, running, done, failed
    scenario: str
    orders_done: int
    orders_total: int
    created_at: float
    finished_at: float | None = None
    error: str | None = None

    def to_data(self) -> dict[str, Any]:
        return dict(self.__dict__)


class WhatifJobs:
    """The jobs under `root` (one directory each)."""

    def __init__(self, root: Path, workers: int | None = None) -> None:
        self.root = root
        self.workers = workers

    def start(self, text: str) -> JobStatus:
        """Check the scenario (Invalid naming its line) and start running it; files
        named by a scenario are refused (the API reads no server files)."""
        try:
            scenario = loads(text, "scenario")
        except ScenarioError as exc:
            raise Invalid(str(exc)) from None
        if scenario.problem_file is not None or scenario.orders_file is not None:
            raise Invalid("scenario: base.problem and orders.file read server files; "
                             "over the API give base.preset and orders.count")  # fmt: skip
        if (scenario.order_count or 0) > MAX_ORDERS:
            raise Invalid(f"scenario: orders.count: at most {MAX_ORDERS:,} over the API")
        job = uuid.uuid4().hex
        folder = self.root / job
        folder.mkdir(parents=True)
        status = JobStatus(job, "queued", scenario.name, 0, 0, time.time())
        self._write(status)
        threading.Thread(target=self._run, args=(scenario, status), daemon=True,
                         name=f"whatif-{job[:8]}").start()  # fmt: skip
        return status

    def status(self, job: str) -> JobStatus:
        path = self._folder(job) / STATUS
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise NotFound(f"what-if run {job}: unknown") from None
        return JobStatus(**data)

    def outcomes(self, job: str) -> dict[str, Any] | None:
        path = self._folder(job) / report.REPORT_JSON
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def report_html(self, job: str) -> Path | None:
        path = self._folder(job) / report.REPORT_HTML
        return path if path.exists() else None

    def _folder(self, job: str) -> Path:
        if len(job) != 32 or any(c not in "0123456789abcdef" for c in job):
            raise NotFound(f"what-if run {job}: unknown")
        return self.root / job

    def _write(self, status: JobStatus) -> None:
        folder = self.root / status.id
        tmp = folder / f".{STATUS}.tmp"
        tmp.write_text(json.dumps(status.to_data()))
        tmp.replace(folder / STATUS)

    def _run(self, scenario: Scenario, status: JobStatus) -> None:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.5 or done == total:
                last[0] = now
                self._write(_with(status, state="running", orders_done=done, orders_total=total))

        self._write(_with(status, state="running"))
        try:
            result = run(scenario, workers=self.workers, progress=progress, spawn=True)
            report.write(result, self.root / status.id)
            orders = sum(o.orders for o in result.outcomes)
            self._write(_with(status, state="done", orders_done=orders, orders_total=orders,
                              finished_at=time.time()))  # fmt: skip
        except ScenarioError as exc:
            self._write(_with(status, state="failed", error=str(exc), finished_at=time.time()))
        except Exception as exc:  # a run that crashed is reported, never left "running"
            self._write(_with(status, state="failed", error=f"the run failed: {exc}",
                              finished_at=time.time()))  # fmt: skip


def _with(status: JobStatus, **changes: Any) -> JobStatus:
    data = status.to_data() | changes
    return JobStatus(**data)
