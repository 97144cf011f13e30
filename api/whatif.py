"""What-if runs (scope `planning`): start a scenario as a background job, read its progress,
then its numbers and its report. The work is `sourcing_engine.whatif.jobs`, shared with
the CLI's `sourcing-engine whatif` (the same runner and report)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from sourcing_engine.api.auth import require
from sourcing_engine.api.deps import StrictRequest
from sourcing_engine.api.errors import ApiError
from sourcing_engine.api.schemas import errors
from sourcing_engine.whatif.jobs import JobStatus, WhatifJobs

router = APIRouter(
    prefix="/v1", tags=["what-if"], dependencies=[Security(require("planning")), StrictRequest]
)


async def get_jobs(request: Request) -> WhatifJobs:
    jobs: WhatifJobs = request.app.state.whatif
    return jobs


JobsDep = Annotated[WhatifJobs, Depends(get_jobs)]


class WhatifIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: str = Field(
        min_length=1,
        description="The scenario file's TOML text (see scenarios/ and docs); its base must "
        "be a preset and its orders generated (orders.count): the API reads no server files.",
    )


class WhatifOut(BaseModel):
    id: str
    state: str = Field(description="queued, running, done or failed")
    scenario: str
    orders_done: int = Field(description="orders replayed so far, over every variant")
    orders_total: int
    created_at: float
    finished_at: float | None = None
    error: str | None = Field(None, description="why a failed run failed (names the line)")
    outcomes: dict[str, Any] | None = Field(
        None, description="when done: the numbers per variant (whatif-outcomes/1)"
    )
    report_url: str | None = Field(None, description="when done: the HTML report")

    @staticmethod
    def of(status: JobStatus, outcomes: dict[str, Any] | None = None) -> "WhatifOut":
        done = status.state == "done"
        return WhatifOut(
            **status.to_data(),
            outcomes=outcomes if done else None,
            report_url=f"/v1/whatif/{status.id}/report" if done else None,
        )


@router.post("/whatif", status_code=202, responses=errors(422), response_model=WhatifOut)
def start_whatif(body: WhatifIn, jobs: JobsDep) -> WhatifOut:
    """Start replaying the scenario's variants; answers the run's id at once (202)."""
    return WhatifOut.of(jobs.start(body.scenario))


@router.get("/whatif/{run_id}", responses=errors(404), response_model=WhatifOut)
def get_whatif(run_id: str, jobs: JobsDep) -> WhatifOut:
    """The run's progress; when done, its numbers and the address of its report."""
    status = jobs.status(run_id)
    return WhatifOut.of(status, jobs.outcomes(run_id) if status.state == "done" else None)


@router.get(
    "/whatif/{run_id}/report",
    responses={**errors(404, 409), 200: {"content": {"text/html": {}}}},
    response_class=FileResponse,
)
def get_whatif_report(run_id: str, jobs: JobsDep) -> FileResponse:
    """The run's report: one HTML file that opens without network access."""
    status = jobs.status(run_id)
    path = jobs.report_html(run_id)
    if status.state != "done" or path is None:
        raise ApiError(409, "conflict", f"what-if run {run_id} is {status.state}, no report yet")
    return FileResponse(path, media_type="text/html", filename=f"whatif-{run_id[:8]}.html")
