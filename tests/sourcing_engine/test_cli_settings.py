"""`sourcing-engine settings export/import` on SQLite and Redis ledgers, in-process."""

import json
import uuid
from pathlib import Path

import pytest

from sourcing_engine.cli import main
from sourcing_engine.presets import generate
from sourcing_engine.service import Service
from sourcing_engine.stores import open_store


@pytest.fixture(params=["sqlite", "redis"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger holding the italy network (its carrier: EUR, Italian levels)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = f"{request.getfixturevalue('redis_url')}?namespace=cli-{uuid.uuid4().hex}"
    service = Service(open_store(url))
    service.load_network(generate("italy", 0))
    service.close()
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def settings_of(url: str) -> tuple[int, float, str]:
    service = Service(open_store(url))
    try:
        found = service.network_settings()
        return found.version, found.split_penalty, found.currency
    finally:
        service.close()


def test_export_edit_import(
    capsys: pytest.CaptureFixture[str], ledger: str, tmp_path: Path
) -> None:
    """Export prints the document (EUR on italy); an edited export imports as the next
    version; importing the same file again is refused as stale (exit 2, nothing changed)
    unless --force."""
    code, out, _ = run(capsys, "settings", "export", "--store", ledger)
    assert code == 0
    doc = json.loads(out)
    assert (doc["currency"], doc["carrier"], doc["default_service_level"]) == (
        "EUR", {"country": "IT"}, "standard",
    )  # fmt: skip
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({**doc, "split_penalty": 1.5}))
    code, out, _ = run(capsys, "settings", "import", path, "--store", ledger)
    assert code == 0
    assert f"version {doc['version'] + 1}, EUR" in out
    assert settings_of(ledger) == (doc["version"] + 1, 1.5, "EUR")
    code, _, err = run(capsys, "settings", "import", path, "--store", ledger)
    assert code == 2
    assert f"version is {doc['version'] + 1}, not {doc['version']}" in err
    assert "--force" in err
    assert run(capsys, "settings", "import", path, "--store", ledger, "--force")[0] == 0
    assert settings_of(ledger)[0] == doc["version"] + 2
    code, _, _ = run(capsys, "settings", "export", "--store", ledger, "--out", tmp_path / "x.json")
    assert json.loads((tmp_path / "x.json").read_text())["version"] == doc["version"] + 2


def test_bad_documents_are_named(
    capsys: pytest.CaptureFixture[str], ledger: str, tmp_path: Path
) -> None:
    """A document that cannot be used is one error naming the file and field, exit 2,
    and the ledger's settings stay as they were."""
    before = settings_of(ledger)
    path = tmp_path / "bad.json"
    for text, message in [
        ('{"cost_model": {"type": "parcel", "rate_card": "it-express"}, '
         '"carrier": {"country": "IT"}, "default_service_level": "ground"}',
         "default_service_level: 'ground' is not a service level"),
        ('{"cost_model": {"type": "parcel"}}', "cost_model"),
        ("{not json", "not valid JSON"),
    ]:  # fmt: skip
        path.write_text(text)
        code, _, err = run(capsys, "settings", "import", path, "--store", ledger)
        assert code == 2
        assert str(path) in err
        assert message in err
    code, _, err = run(capsys, "settings", "import", tmp_path / "none.json", "--store", ledger)
    assert (code, "cannot read" in err) == (2, True)
    assert settings_of(ledger) == before
