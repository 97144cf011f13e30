"""Settings from SOURCING_ENGINE_* variables: typed, validated, each problem named."""

import pytest
from pydantic import ValidationError

from sourcing_engine.settings import Settings, env_name


def test_settings_come_from_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each setting is read from SOURCING_ENGINE_<NAME>; unset ones keep their defaults."""
    monkeypatch.setenv(env_name("store"), "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("SOURCING_ENGINE_THREADS", "3")
    monkeypatch.setenv("SOURCING_ENGINE_BATCH_TIME_LIMIT_S", "2.5")
    settings = Settings()
    assert (settings.store, settings.threads) == ("redis://127.0.0.1:6379/0", 3)
    assert settings.service_config().batch_time_limit_s == 2.5
    assert settings.admin_key is None


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("SOURCING_ENGINE_THREADS", "0", "threads"),
        ("SOURCING_ENGINE_THREADS", "many", "threads"),
        ("SOURCING_ENGINE_ADMIN_KEY", "short", "admin_key"),
        ("SOURCING_ENGINE_REAPER_INTERVAL_S", "-1", "reaper_interval_s"),
    ],
)
def test_a_bad_value_names_its_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    """A value that is not what the setting takes is refused, naming the setting."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=field):
        Settings()
