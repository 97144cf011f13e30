"""Re-optimization of the hold window (scope `orders`): run one now, read a run's report.
The schedule that runs it every period lives in the API's lifespan (api/app.py); what a run
does is sourcing_engine/reoptimization.py."""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Security
from fastapi.responses import Response
from pydantic import Field

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import ServiceDep, StrictRequest
from sourcing_engine.api.idempotency import IdempotencyDep, answer
from sourcing_engine.api.render import json_response
from sourcing_engine.api.schemas import Request, UnitOut, errors
from sourcing_engine.api.schemas import Response as Out
from sourcing_engine.domain import MAX_HOLD_MINUTES
from sourcing_engine.exchange import Whole
from sourcing_engine.reoptimization import Run, get_run, reoptimize_keyed

router = APIRouter(
    prefix="/v1", tags=["orders"], dependencies=[Security(require("orders")), StrictRequest]
)

RunId = Annotated[str, Path(pattern=r"^ro_[0-9a-f]{32}$")]


class ReoptimizationIn(Request):
    """Every field defaults to the network settings (time_limit_s: the service's)."""

    hold_minutes: Annotated[int, Field(ge=1, le=MAX_HOLD_MINUTES, strict=True), Whole] | None = None
    """The hold window: orders allocated (never released) within this many minutes."""
    move_threshold: Annotated[float, Field(ge=0, le=1e9, strict=True)] | None = None
    """What an order's new plan must save to move it (the network's currency)."""
    time_limit_s: Annotated[float, Field(gt=0, le=60, strict=True)] | None = None
    """The joint solve's time limit (the `optimal` policy; default the service's
    `reoptimize_time_limit_s`, 5 s)."""


class MoveOut(Out):
    order_id: str
    saving: float
    shipping_saving: float
    """Of the saving: shipments (carrier charges and handling)."""
    penalty_saving: float
    """Of the saving: the split penalty (and any other penalty)."""
    shipments_before: int
    shipments_after: int
    released: list[UnitOut]
    units: list[UnitOut]
    version: int


KeptReason = Literal[
    "same_plan", "saving_below_threshold", "changed", "stock_taken", "capacity_taken", "short",
    "pickup", "rejected_before", "promised", "nothing_allocated",
]  # fmt: skip


class KeptOut(Out):
    order_id: str
    reason: KeptReason
    saving: float | None
    detail: str


class SavingOut(Out):
    total: float
    shipping: float
    penalties: float
    shipments: int
    """Shipments fewer after the moves."""


class ReoptimizationOut(Out):
    id: str
    started_at: float
    finished_at: float
    hold_minutes: int
    move_threshold: float
    policy: str
    time_limit_s: float
    status: str | None
    """The joint solve's (null: no order to solve)."""
    runtime_s: float
    currency: str
    held: int
    """Orders in the hold window (moved, kept and left out)."""
    moved: list[MoveOut]
    kept: list[KeptOut]
    joint_cost: float | None
    bound: float | None
    gap: float | None
    saving: SavingOut


def _render(run: Run) -> dict[str, object]:
    data = run.to_data()
    del data["request_hash"]
    return data


@router.post("/reoptimizations", responses=errors(409, 422), response_model=ReoptimizationOut)
def run_reoptimization(
    service: ServiceDep,
    idem: IdempotencyDep,
    body: Annotated[ReoptimizationIn | None, Body()] = None,
) -> Response:
    """Re-optimize the hold window now: the orders still `allocated` (never released, nothing
    shipped) placed within `hold_minutes` are sourced again in one joint `optimal` solve,
    their own units counted free, and each whose new plan saves more than `move_threshold`
    moves to it in one atomic step (`order.reallocated` with its `saving` and this run's
    id), if it has not changed since. Answers what moved (savings by term), what was kept
    and why. 409 while another run is in progress, or when no hold window is set."""
    body = body or ReoptimizationIn()
    done = reoptimize_keyed(
        service, idem.key_for(body), hold_minutes=body.hold_minutes,
        move_threshold=body.move_threshold,
        time_limit_s=body.time_limit_s,
    )  # fmt: skip
    return answer(done, _render, 200)


@router.get("/reoptimizations/{run_id}", responses=errors(404, 422),
            response_model=ReoptimizationOut)  # fmt: skip
def read_reoptimization(run_id: RunId, service: ServiceDep) -> Response:
    """A run's report, as its POST answered it."""
    return json_response(_render(get_run(service, run_id)))
