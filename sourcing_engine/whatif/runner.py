"""Run a scenario's variants: in parallel processes (concurrent.futures), one variant per
task, each process building the base once (deterministic by seed, so every process has
the same one). The CLI and the API both call `run`.
"""

import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from sourcing_engine.whatif.outcomes import Outcome, outcome, with_savings
from sourcing_engine.whatif.scenario import Base, Scenario, build_base, check, variant_inputs
from sourcing_engine.whatif.simulate import replay


class RayUnavailable(RuntimeError):
    """--ray was asked for but Ray is not installed, or the cluster cannot be reached."""


Progress = Callable[[int, int], None]
"""progress(orders done over every variant, orders in total)."""


@dataclass(frozen=True)
class Run:
    """A scenario's outcomes, the first the base, each with its saving against it."""

    scenario: Scenario
    outcomes: list[Outcome]
    orders: int
    days: int
    start: str
    time_zone: str
    runtime_s: float


_base_cache: dict[str, Base] = {}


def _base(scenario: Scenario) -> Base:
    """The scenario's base, built once per process."""
    key = repr(scenario)
    if key not in _base_cache:
        _base_cache.clear()
        _base_cache[key] = build_base(scenario)
    return _base_cache[key]


def run_variant(scenario: Scenario, index: int, check_plans: bool, updates: Any = None) -> Outcome:
    """One variant's replay and figures (updates: a queue that gets (index, orders done))."""
    base = _base(scenario)
    variant = scenario.variants[index]
    world, stream = variant_inputs(base, variant)

    def progress(done: int) -> None:
        if updates is not None:
            updates.put((index, done))

    return outcome(replay(world, stream, base.period, variant, check=check_plans,
                          progress=progress))  # fmt: skip


def variant_orders(base: Base) -> list[int]:
    """Orders each variant replays (demand changes change them)."""
    return [len(variant_inputs(base, v)[1]) for v in base.scenario.variants]


def run(
    scenario: Scenario,
    *,
    workers: int | None = None,
    check_plans: bool = False,
    progress: Progress | None = None,
    spawn: bool = False,
    ray_address: str | None = None,
) -> Run:
    """Every variant of the scenario, the base first (ScenarioError before any runs when a
    change does not fit the base). workers: processes (default: one per core, at most one
    per variant; 1 runs in this process); spawn: start them fresh rather than forked (from
    a threaded server); ray_address: run the variants as tasks on that Ray cluster instead
    ("local": a Ray instance started for this run), each task building the base itself."""
    t0 = time.perf_counter()
    base = _base(scenario)
    check(base)
    sizes = variant_orders(base)
    total = sum(sizes)
    n = len(scenario.variants)
    workers = min(n, workers or os.cpu_count() or 1)
    done = [0] * n
    if ray_address is not None:
        outcomes = _on_ray(scenario, ray_address, check_plans, sizes, progress)
    elif workers <= 1:
        outcomes = []
        for i in range(n):

            def step(d: int, i: int = i) -> None:
                done[i] = d
                if progress is not None:
                    progress(sum(done), total)

            world, stream = variant_inputs(base, scenario.variants[i])
            outcomes.append(outcome(replay(world, stream, base.period, scenario.variants[i],
                                           check=check_plans, progress=step)))  # fmt: skip
    else:
        context = multiprocessing.get_context("spawn" if spawn else None)
        with context.Manager() as manager, ProcessPoolExecutor(workers, context) as pool:
            updates = manager.Queue()
            futures: list[Future[Outcome]] = [
                pool.submit(run_variant, scenario, i, check_plans, updates) for i in range(n)
            ]
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.2)
                for f in finished:
                    f.result()  # a failed variant fails the run now
                _drain(updates, done)
                if progress is not None:
                    progress(sum(done), total)
            outcomes = [f.result() for f in futures]
    if progress is not None:
        progress(total, total)
    return Run(
        scenario=scenario,
        outcomes=with_savings(outcomes),
        orders=len(base.stream),
        days=base.period.days,
        start=base.period.start.isoformat(),
        time_zone=base.period.time_zone,
        runtime_s=time.perf_counter() - t0,
    )


def _on_ray(
    scenario: Scenario,
    address: str,
    check_plans: bool,
    sizes: list[int],
    progress: Progress | None,
) -> list[Outcome]:
    """The variants as Ray tasks; progress moves as each variant finishes."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            "--ray needs Ray: pip install 'sourcing-engine[ray]' (here and on the cluster)"
        ) from None
    try:
        ray.init(address=address, log_to_driver=False, include_dashboard=False,
                 configure_logging=False)  # fmt: skip
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise RayUnavailable(f"--ray {address}: cannot reach the Ray cluster ({exc})") from None
    try:
        task = ray.remote(run_variant)
        refs = [task.remote(scenario, i, check_plans) for i in range(len(sizes))]
        index = {ref: i for i, ref in enumerate(refs)}
        pending, finished = list(refs), 0
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            finished += sum(sizes[index[r]] for r in ready)
            if progress is not None:
                progress(finished, sum(sizes))
        outcomes: list[Outcome] = ray.get(refs)
        return outcomes
    finally:
        ray.shutdown()


def _drain(updates: Any, done: list[int]) -> None:
    while True:
        try:
            i, d = updates.get_nowait()
        except queue.Empty:
            return
        done[i] = max(done[i], d)
