"""Batch allocations as background jobs: a batch too large to answer within one request is
allocated by a thread of the API process that accepted it, while its progress and then its
result are kept in the store, so that every API process (every machine, on Redis) answers
the same.

A job is one document: its state (queued, running, succeeded, failed), the phase (sourcing:
the joint solve; allocating: the orders one by one), orders done of the total, when it was
created and last written, the request's hash, and once finished the result (what the
synchronous call would have answered) or the error. While a job runs, its process rewrites
the document every heartbeat_s; a process that died mid-job leaves a document that stops
moving, which reads as failed ("interrupted"). Posting the same request again with the same
Idempotency-Key runs a failed job again under the same id: the orders it allocated already
are replayed from their own keys, so no order is allocated twice.
"""

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

from sourcing_engine.errors import IdempotencyMismatch, NotFound, StoreUnavailable
from sourcing_engine.stores.base import Store

log = logging.getLogger("sourcing_engine.batch_jobs")

HEARTBEAT_S = 2.0
STALE_AFTER_S = 30.0  # a running job whose document did not move for this long was interrupted
PROGRESS_EVERY_S = 0.5  # progress is written at most this often (and at the last order)

Progress = Callable[[int, int], None]
"""progress(done, total): orders allocated so far."""


class JobFailed(Exception):
    """What a job's run raises to fail with an error body of the API's shape."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.error = error


@dataclass(frozen=True)
class Job:
    id: str
    state: str  # queued, running, succeeded, failed
    phase: str  # queued, sourcing, allocating, done
    done: int
    total: int
    created_at: float
    updated_at: float
    request_hash: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_data(data: dict[str, Any]) -> "Job":
        return Job(**data)

    def as_seen(self, now: float) -> "Job":
        """The job as a reader should see it: one whose process stopped writing failed."""
        if self.state in ("queued", "running") and now - self.updated_at > STALE_AFTER_S:
            message = (
                f"interrupted: the API process running it stopped (no progress for "
                f"{now - self.updated_at:.0f} s); post the same batch with the same "
                "Idempotency-Key to finish it (orders allocated already are replayed)"
            )
            return replace(self, state="failed", error={"code": "interrupted", "message": message})
        return self


def job_id(idempotency_key: str | None) -> str:
    """The job of a request: derived from its idempotency key (a retry finds its job), else
    new."""
    if idempotency_key is None:
        return f"bj_{uuid.uuid4().hex}"
    return "bj_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


class BatchJobs:
    """The jobs of one API process: run one at a time (a joint solve takes a core), in a
    thread; read from the store."""

    def __init__(self, store: Store, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.store = store
        self.heartbeat_s = heartbeat_s
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="batch-job")

    def get(self, job: str) -> Job:
        found = self.store.get_job(job)
        if found is None:
            raise NotFound(f"job {job} not found")
        return Job.from_data(found).as_seen(self.store.now())

    def start(
        self, job: str, request_hash: str, total: int, run: Callable[[Progress], dict[str, Any]]
    ) -> Job:
        """Start `run` as job `job` unless that job exists for this request and has not
        failed (then it is answered as it is); IdempotencyMismatch if the job is another
        request's."""
        found = self.store.get_job(job)
        if found is not None:
            existing = Job.from_data(found).as_seen(self.store.now())
            if existing.request_hash != request_hash:
                raise IdempotencyMismatch(
                    "the idempotency key was used before with another batch; use a new key "
                    "for a new request"
                )
            if existing.state != "failed":
                return existing
        now = self.store.now()
        queued = Job(job, "queued", "queued", 0, total, now, now, request_hash)
        self.store.save_job(job, queued.to_data())
        self._pool.submit(self._run, queued, run)
        return queued

    def close(self) -> None:
        """Stop taking jobs; queued ones read as interrupted once stale (a retry runs them),
        a running one finishes before the process exits."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, queued: Job, run: Callable[[Progress], dict[str, Any]]) -> None:
        current = [replace(queued, state="running", phase="sourcing")]
        lock = threading.Lock()
        stop = threading.Event()
        written = [0.0]

        def save(**changes: Any) -> None:
            with lock:
                current[0] = replace(current[0], updated_at=self.store.now(), **changes)
                try:
                    self.store.save_job(queued.id, current[0].to_data())
                except StoreUnavailable as exc:  # the next write tells the truth again
                    log.warning("job %s: progress not saved: %s", queued.id, exc)

        def beat() -> None:
            while not stop.wait(self.heartbeat_s):
                save()

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - written[0] >= PROGRESS_EVERY_S:
                written[0] = now
                save(phase="allocating", done=done, total=total)

        save()
        threading.Thread(target=beat, name=f"{queued.id}-heartbeat", daemon=True).start()
        try:
            result = run(progress)
            save(state="succeeded", phase="done", result=result)
        except JobFailed as exc:
            save(state="failed", error=exc.error)
        except Exception as exc:  # a crashed run is reported, never left running
            log.exception("job %s failed", queued.id)
            save(
                state="failed",
                error={"code": "internal_error", "message": f"the job failed: {exc}"},
            )
        finally:
            stop.set()
