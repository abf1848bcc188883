"""Typed service settings from `ETA_*` environment variables; built by the app factory and passed in."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from features.alerts import AlertRules

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    """The project's `var/` (git-ignored), created on first use rather than at import."""
    path = PROJECT_ROOT / "var"
    path.mkdir(exist_ok=True)
    return path


def _default_database_url() -> str:
    return f"sqlite:///{var_dir() / 'eta.db'}"


def _default_tracking_uri() -> str:
    """The store `python -m training` writes to when `MLFLOW_TRACKING_URI` is unset."""
    return f"sqlite:///{var_dir() / 'mlflow.db'}"


def _default_secret_key() -> str:
    """A random secret kept in `var/secret_key` (created once, owner-only), so that the service, its
    command-line tools and restarts share it. Set `ETA_SECRET_KEY` on a multi-replica deployment."""
    path = var_dir() / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _split_origins(value: Any) -> Any:
    """`ETA_CORS_ORIGINS` as a JSON list or as comma-separated origins."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)
    return [origin.strip() for origin in value.split(",") if origin.strip()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ETA_", extra="ignore", validate_by_name=True)

    model_uri: str = Field(default="models:/eta@champion", min_length=1)
    database_url: str = Field(default_factory=_default_database_url)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    access_log: bool = Field(default=True, description="a log line per request (costs ~20% of throughput)")
    webhook_allow_loopback: bool = False
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(_split_origins)] = Field(
        default_factory=list
    )
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    model_poll_seconds: float = Field(default=30.0, ge=0, description="0 disables polling for a new model")
    window_levels_seconds: float = Field(
        default=10.0, ge=0, description="how often quotes re-read the online calibration levels; 0: never"
    )
    history_seconds: float = Field(
        default=300.0,
        ge=0,
        description="how often the model's lane and carrier history re-reads the shipments the service "
        "recorded after the model's data; 0: never (the model's own history only)",
    )
    weather_path: FilePath | None = None
    default_coverage: float = Field(default=0.8, ge=0.5, le=0.99)
    secret_key: SecretStr = Field(
        default_factory=lambda: SecretStr(_default_secret_key()),
        min_length=32,
        description="signs ops session cookies and customer tracking links",
    )
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    session_cookie_secure: bool | None = Field(
        default=None, description="the session cookie's Secure flag; unset: Secure when the request is HTTPS"
    )
    tracking_link_days: int = Field(default=60, ge=1, le=365)
    mlflow_tracking_uri: str = Field(
        default_factory=_default_tracking_uri, validation_alias="MLFLOW_TRACKING_URI"
    )
    # delay alerts (features.alerts.AlertRules)
    alert_raise_risk: float = Field(default=0.5, ge=0, le=1, description="late risk that raises an alert")
    alert_clear_risk: float = Field(default=0.35, ge=0, le=1, description="late risk below which it clears")
    alert_clear_margin_hours: float = Field(default=6.0, ge=0, le=240)
    alert_eta_change_hours: float = Field(default=12.0, gt=0, le=720)
    # webhook delivery (python -m serving dispatch, or in the API process)
    dispatch_in_process: bool = Field(default=False, description="run the dispatcher inside the API")
    dispatch_batch: int = Field(default=100, ge=1, le=10_000, description="deliveries claimed at once")
    dispatch_concurrency: int = Field(default=8, ge=1, le=256, description="requests in flight")
    dispatch_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    dispatch_lease_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="a claimed delivery is retried after this if unrecorded"
    )
    stall_sweep_seconds: float = Field(default=300.0, ge=0, description="0 turns the stall sweep off")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_backoff_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    webhook_max_age_hours: float = Field(
        default=72.0, gt=0, le=24 * 30, description="a delivery still failing after this is dead-lettered"
    )

    @model_validator(mode="after")
    def _risk_thresholds_ordered(self) -> Settings:
        if self.alert_clear_risk > self.alert_raise_risk:
            raise ValueError(
                "ETA_ALERT_CLEAR_RISK must not exceed ETA_ALERT_RAISE_RISK (that is the hysteresis)"
            )
        return self

    def alert_rules(self) -> AlertRules:
        return AlertRules(
            raise_risk=self.alert_raise_risk,
            clear_risk=self.alert_clear_risk,
            clear_margin_hours=self.alert_clear_margin_hours,
            eta_change_hours=self.alert_eta_change_hours,
        )

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a SQLAlchemy database URL: {exc}") from None
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_have_no_path(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS origin {origin!r} must be '*' or start with http:// or https://")
        return [origin.rstrip("/") for origin in value]
