"""`POST /v1/quotes`: a delivery window per shipping option for a checkout page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from serving.deps import MetricsDep, ModelDep, SessionFactoryDep, SettingsDep
from serving.fallback import history_fallback
from serving.quotes import QuoteRequest, QuoteResponse, quote
from serving.security import Principal, Scope, require

router = APIRouter(prefix="/v1", tags=["quotes"])


@router.post("/quotes", response_model=QuoteResponse)
def create_quotes(
    body: QuoteRequest,
    model: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    sessions: SessionFactoryDep,
    _: Annotated[Principal, Depends(require(Scope.QUOTE))],
) -> Response:
    """Plain `def`: the model runs in the thread pool, never on the event loop. The answer is built from
    trusted values and serialized once (FastAPI would validate it again against `response_model`); the
    database is opened only when there is no model to answer from."""
    now = dt.datetime.now(dt.UTC)

    def fallback(shipments, coverage):  # type: ignore[no-untyped-def]
        with sessions() as session:
            return history_fallback(session, shipments, coverage, now)

    answer = quote(model.bundle if model else None, body, now, settings.default_coverage, fallback)
    for q in answer.quotes:
        q.model_version = model.version if model else None
        metrics.predictions.labels(source=q.prediction_source).inc()
    return Response(answer.model_dump_json(), media_type="application/json")
