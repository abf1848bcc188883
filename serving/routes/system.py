"""Liveness, readiness, Prometheus metrics and the model in service.

Readiness means the database answers: without a model the service still quotes from the history fallback,
so a missing model is reported in the body, not turned into a 503. `/v1/model` is public and read-only: the
model's name, version, training windows and headline test metrics, never paths or credentials.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from serving.db.tables import WindowLevel
from serving.deps import MetricsDep, ModelDep, SessionDep
from serving.errors import Unavailable
from serving.model_store import LoadedModel

router = APIRouter(tags=["system"])
logger = logging.getLogger(__name__)
_REGISTERED = re.compile(r"^(?P<name>[^/:]+)/\d+$")  # "NAME/N", as registry versions are labelled


class ModelStatus(BaseModel):
    loaded: bool
    version: str | None = None


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    model: ModelStatus


class WindowLevelInfo(BaseModel):
    """Where online calibration reads one pool's windows for a stated coverage (see the README)."""

    segment: str = Field(description="the pool: `carrier=…` (all the carrier's segments) or `overall`")
    coverage: float
    read_at: float
    deliveries: int


class ModelInfo(ModelStatus):
    name: str | None = None
    trained_at: str | None = None
    windows: dict[str, Any] | None = None
    metrics: dict[str, float] | None = None
    quantile_reference: Literal["promise", "history median"] | None = Field(
        default=None,
        description="what the transit quantiles are ratios to, chosen on the calibration window: the "
        "shipment's promise (else the lane/carrier history median) or always the history median",
    )
    window_levels: list[WindowLevelInfo] = []
    history_through: dt.date | None = Field(
        default=None,
        description="the last day whose outcomes the lane and carrier history knows: the model's data, then "
        "the deliveries the service recorded",
    )


def model_status(model: LoadedModel | None) -> ModelStatus:
    return ModelStatus(loaded=model is not None, version=model.version if model else None)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database does not answer"}})
def readyz(request: Request, model: ModelDep) -> Readiness:
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        logger.warning("readiness: the database does not answer", exc_info=exc)
        raise Unavailable(
            "The database does not answer.", database="unreachable", model=model_status(model).model_dump()
        ) from None
    return Readiness(status="ready", database="ok", model=model_status(model))


@router.get("/metrics", include_in_schema=False)
def metrics(metrics: MetricsDep) -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


@router.get("/v1/model")
def model_info(model: ModelDep, session: SessionDep) -> ModelInfo:
    """The model in service and, per carrier, the levels online calibration has moved its windows to."""
    if model is None:
        return ModelInfo(loaded=False)
    meta = model.bundle.metadata
    registered = _REGISTERED.match(model.version)
    return ModelInfo(
        loaded=True,
        version=model.version,
        name=registered["name"] if registered else None,
        trained_at=meta.get("trained_at"),
        windows=meta.get("windows"),
        metrics=meta.get("metrics"),
        quantile_reference=meta.get("quantile_reference"),
        history_through=dt.date(1970, 1, 1) + dt.timedelta(days=model.bundle.features.known_through()),
        window_levels=[
            WindowLevelInfo(segment=r.segment, coverage=r.coverage, read_at=r.level, deliveries=r.deliveries)
            for r in session.scalars(
                select(WindowLevel)
                .where(WindowLevel.model_version == model.version)
                .order_by(WindowLevel.segment, WindowLevel.coverage)
            )
        ],
    )
