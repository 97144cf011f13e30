"""A property-based fuzz of the live API from its own OpenAPI document (schemathesis)."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok

from sourcing_engine.api.app import create_app
from sourcing_engine.settings import Settings
from tests.api.conftest import ADMIN_KEY, ApiServer, sqlite_url, start_server

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
# Positive data is schema-valid, not valid: an unknown SKU, lat without lon, a node that
# does not exist are refused with 422 as the API documents. Every other default check runs.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    srv = start_server(sqlite_url(tmp_path_factory.mktemp("fuzz")))
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
    """Valid and invalid requests: never a 5xx; every reply matches the documented schema."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(base_url=fuzz_server.url, excluded_checks=EXCLUDED)

    check()
