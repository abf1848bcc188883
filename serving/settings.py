"""Typed service settings from `ETA_*` environment variables; built by the app factory and passed in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, FilePath, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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
    webhook_allow_loopback: bool = False
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(_split_origins)] = Field(
        default_factory=list
    )
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    model_poll_seconds: float = Field(default=30.0, ge=0, description="0 disables polling for a new model")
    weather_path: FilePath | None = None
    default_coverage: float = Field(default=0.8, ge=0.5, le=0.99)
    mlflow_tracking_uri: str = Field(
        default_factory=_default_tracking_uri, validation_alias="MLFLOW_TRACKING_URI"
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
