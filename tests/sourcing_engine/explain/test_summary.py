"""The language of a summary from Accept-Language (or --lang): English and Italian by
preference and weight, English for anything else (and the caller is told so)."""

import pytest

from sourcing_engine.explain.summary import negotiate


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ("en", True)),
        ("", ("en", True)),
        ("it", ("it", True)),
        ("it-IT,it;q=0.9,en;q=0.8", ("it", True)),
        ("en-GB,it;q=0.5", ("en", True)),
        ("fr-FR, it;q=0.4, en;q=0.6", ("en", True)),  # by weight, not by position
        ("de, it_IT;q=0.3", ("it", True)),
        ("it;q=0, en;q=0.1", ("en", True)),  # q=0: not acceptable
        ("*", ("en", True)),
        ("fr-FR, de;q=0.5", ("en", False)),  # none we speak: English, and it says so
        ("it;q=abc, fr", ("en", False)),  # an unreadable weight counts as not acceptable
    ],
)
def test_negotiate(header: str | None, expected: tuple[str, bool]) -> None:
    assert negotiate(header) == expected
