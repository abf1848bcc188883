"""The app factory: settings are passed in; the database and the model are opened in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from serving.db.migrate import upgrade
from serving.db.session import make_engine, session_factory
from serving.db.tables import utcnow
from serving.errors import register_exception_handlers
from serving.history import HistoryRefresher
from serving.metrics import Metrics, MetricsMiddleware
from serving.middleware import REQUEST_ID_HEADER, BodyLimitMiddleware, RequestContextMiddleware
from serving.model_store import ModelHolder
from serving.notify.worker import DispatcherThread
from serving.online import LevelCache
from serving.routes import quotes, shipments, system, webhooks
from serving.security import KeyCache
from serving.settings import Settings
from serving.web.mount import register_web


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    holder = ModelHolder(settings.model_uri, settings.mlflow_tracking_uri, settings.model_poll_seconds)
    app.state.engine = engine
    app.state.session_factory = session_factory(engine)
    app.state.model = holder
    holder.start()
    levels = app.state.window_levels = LevelCache(
        app.state.session_factory, holder, settings.window_levels_seconds
    )
    levels.start()
    history = app.state.service_history = HistoryRefresher(
        app.state.session_factory, holder, settings.history_seconds, clock=lambda: app.state.clock()
    )
    history.start()
    dispatcher = None
    if settings.dispatch_in_process:
        dispatcher = DispatcherThread(app.state.session_factory, holder, settings)
        dispatcher.start()
    try:
        yield
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        history.stop()
        levels.stop()  # the one this lifespan started (an app served twice at once runs two)
        holder.stop()
        engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="eta-service", summary="Delivery windows, late risk and delay alerts", lifespan=lifespan
    )
    app.state.settings = settings
    app.state.clock = utcnow
    app.state.metrics = Metrics()
    app.state.key_cache = KeyCache()
    register_exception_handlers(app)
    for module in (system, quotes, shipments, webhooks):
        app.include_router(module.router)
    register_web(app)
    # The last added is the outermost: metrics see every answer, including the 500s made one layer in.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER],
        )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
