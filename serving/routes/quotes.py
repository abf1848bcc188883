"""`POST /v1/quotes`: a delivery window per shipping option for a checkout page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from serving.fallback import history_fallback
from serving.quotes import QuoteRequest, QuoteResponse, quote
from serving.security import Principal, Scope, require

router = APIRouter(prefix="/v1", tags=["quotes"])


@router.post("/quotes", response_model=QuoteResponse)
async def create_quotes(
    body: QuoteRequest, request: Request, _: Annotated[Principal, Depends(require(Scope.QUOTE))]
) -> Response:
    """A quote from the model is a fraction of a millisecond of CPU under the GIL: less than a hop to the
    thread pool costs, so it runs here; the fallback without a model reads the database in the thread pool.
    The app's state is read directly (each dependency costs FastAPI more per request than the read), and the
    answer, built from trusted values, is serialized once (`response_model` would validate it again)."""
    state = request.app.state
    loaded, settings = state.model.current, state.settings  # the model in service when the request arrived
    now = state.clock()  # the app's clock, as every other route reads it
    if loaded is not None:
        online = state.window_levels.get(loaded.version)
        answer = quote(loaded.bundle, body, now, settings.default_coverage, online=online)
    else:

        def fallback(shipments, coverage):  # type: ignore[no-untyped-def]
            with state.session_factory() as session:
                return history_fallback(session, shipments, coverage, now)

        answer = await run_in_threadpool(quote, None, body, now, settings.default_coverage, fallback)
    for q in answer.quotes:
        q.model_version = loaded.version if loaded else None
        state.metrics.predictions.labels(source=q.prediction_source).inc()
    return Response(answer.model_dump_json(), media_type="application/json")
