"""A property-based fuzz of the live API from its own OpenAPI document (schemathesis), on
both stores, with every check schemathesis has.

One check is replaced by a stricter-in-spirit one of ours (docs/service.md, "Fuzzing"):
`positive_data_acceptance` expects every schema-valid request to succeed, but a valid
request may name an order that does not exist (404), meet a state or stock that refuses
it (409), or name a SKU, node or ZIP the service does not know (422 `invalid`). What must
never happen is the API refusing a schema-valid request *as malformed* (422
`validation_error`): that would mean the document leaves out a rule the API enforces.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.core.result import Ok

from sourcing_engine.api.app import create_app
from sourcing_engine.settings import Settings
from tests.api.conftest import (
    ADMIN_KEY,
    ApiServer,
    redis_namespace_url,
    sqlite_url,
    start_server,
)

MAX_EXAMPLES = 30
"""Per operation and mode: the whole fuzz stays within about half a minute."""

# The document as the app publishes it at /openapi.json (no store is opened to build it),
# with the admin key for its bearer scheme: negative cases may drop it (and expect a 401).
SCHEMA = schemathesis.openapi.from_dict(
    create_app(Settings(store="sqlite:///-")).openapi(),
    config=SchemathesisConfig.from_dict({"auth": {"openapi": {"ApiKey": {"bearer": ADMIN_KEY}}}}),
)
_RESULTS = list(SCHEMA.get_all_operations())
OPERATIONS = [result.ok() for result in _RESULTS if isinstance(result, Ok)]
assert len(OPERATIONS) == len(_RESULTS), "every operation of the document can be fuzzed"
CASES = [
    pytest.param(op, mode, id=f"{op.label} {mode.value}")
    for op in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # an operation without parameters or body has nothing to make invalid
    if mode == GenerationMode.POSITIVE or list(op.iter_parameters()) or op.body
]


def schema_valid_is_never_malformed(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request is never refused as malformed (422 validation_error)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 422 and response.json()["error"]["code"] == "validation_error":
        raise Failure(
            operation=case.operation.label,
            title="Schema-valid request refused as malformed",
            message=f"the API enforces a rule its document leaves out: {response.text[:500]}",
        )
    return None


CHECKED = [
    *(c for c in CHECKS.get_all() if c.__name__ != "positive_data_acceptance"),
    schema_valid_is_never_malformed,
]


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("fuzz"))
    else:
        url = redis_namespace_url(request.getfixturevalue("redis_url"))
    srv = start_server(url)
    yield srv
    srv.stop()


def test_published_document_is_the_fuzzed_one(fuzz_server: ApiServer) -> None:
    """The server's /openapi.json is the document the fuzz below is generated from."""
    with fuzz_server.client() as c:
        assert c.get("/openapi.json").json() == SCHEMA.raw_schema


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_api_never_fails_and_matches_its_schema(
    operation: Any, mode: GenerationMode, fuzz_server: ApiServer
) -> None:
    """Valid and invalid requests: every check passes (never a 5xx, every reply as
    documented, invalid requests refused, valid ones never refused as malformed)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(base_url=fuzz_server.url, checks=CHECKED)

    check()
