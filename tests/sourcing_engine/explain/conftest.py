"""The batch every explanation test reads: the small-seed1 fixture with one store that does
not ship, solved with `optimal` once per session, its plan validated."""

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sourcing_engine.domain import Batch
from sourcing_engine.exchange import PlanSpec, problem_from_json
from sourcing_engine.explain.context import BatchPlan
from sourcing_engine.plan_check import validate_plan
from sourcing_engine.solvers import solve
from sourcing_engine.sourcing import compile_batch

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "small-seed1" / "problem.json"
NOT_SHIPPING = "ST-0019-Oklahoma-City"


@dataclass(frozen=True)
class Solved:
    batch: Batch
    plan: PlanSpec
    bp: BatchPlan


@pytest.fixture(scope="session")
def solved() -> Solved:
    batch = problem_from_json(FIXTURE.read_bytes())
    nodes = tuple(
        replace(n, ship_enabled=False) if n.id == NOT_SHIPPING else n for n in batch.nodes
    )
    batch = replace(batch, nodes=nodes)
    compiled = compile_batch(batch)
    plan = compiled.plan_document(solve(compiled.problem, "optimal", time_limit=20.0))
    assert validate_plan(batch, plan).errors == []
    return Solved(batch, plan, BatchPlan(compiled, plan))
