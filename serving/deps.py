"""Typed dependencies: everything a route needs comes from the app's state, opened in the lifespan.

Those that only read the state are `async def`: FastAPI runs a plain `def` dependency in its thread pool,
a hop that costs more than the read itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from serving.metrics import Metrics
from serving.model_store import LoadedModel
from serving.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


def get_session(factory: Annotated[sessionmaker[Session], Depends(get_session_factory)]) -> Iterator[Session]:
    with factory() as session:
        yield session


async def get_model(request: Request) -> LoadedModel | None:
    """The model in service when the request arrived; a later swap does not change it for this request."""
    return request.app.state.model.current


async def get_clock(request: Request) -> Callable[[], dt.datetime]:
    """What "now" is for predictions and alerts: the wall clock, or a replay's simulated clock."""
    return request.app.state.clock


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
SessionDep = Annotated[Session, Depends(get_session)]
ModelDep = Annotated[LoadedModel | None, Depends(get_model)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ClockDep = Annotated[Callable[[], dt.datetime], Depends(get_clock)]
