"""Settings: typed, from ETA_* variables, validated; nothing is built at import time."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import serving.settings
from serving.settings import PROJECT_ROOT, Settings


def test_the_defaults_follow_the_service_contract() -> None:
    settings = Settings()
    assert settings.model_uri == "models:/eta@champion"
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT / 'var' / 'eta.db'}"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.webhook_allow_loopback is False and settings.cors_origins == []
    assert settings.default_coverage == 0.8 and settings.weather_path is None


def test_settings_are_read_from_eta_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    weather = tmp_path / "weather.parquet"
    weather.touch()
    monkeypatch.setenv("ETA_PORT", "9001")
    monkeypatch.setenv("ETA_WEBHOOK_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("ETA_CORS_ORIGINS", "https://shop.example, http://localhost:3000/")
    monkeypatch.setenv("ETA_WEATHER_PATH", str(weather))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    settings = Settings()
    assert settings.port == 9001 and settings.webhook_allow_loopback is True
    assert settings.cors_origins == ["https://shop.example", "http://localhost:3000"]
    assert settings.weather_path == weather
    assert settings.mlflow_tracking_uri == "sqlite:///elsewhere.db"


def test_cors_origins_may_be_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETA_CORS_ORIGINS", '["https://a.example"]')
    assert Settings().cors_origins == ["https://a.example"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("port", 0),
        ("default_coverage", 0.3),
        ("max_body_bytes", 0),
        ("model_poll_seconds", -1),
        ("database_url", "not a url"),
        ("cors_origins", ["shop.example"]),
        ("weather_path", "/no/such/weather.parquet"),
    ],
)
def test_invalid_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings.model_validate({field: value})


def test_no_settings_object_exists_at_import() -> None:
    assert not any(isinstance(value, Settings) for value in vars(serving.settings).values())
