"""API fixtures: a database per backend (SQLite file, fresh PostgreSQL database), the app, a client, a live
server and a tiny model bundle.

PostgreSQL on 127.0.0.1:5432 (user postgres) is used when it answers; otherwise its cases are skipped, unless
`ETA_REQUIRE_POSTGRES=1` (as in CI), which turns an unreachable server into a failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from features.bundle import ModelBundle
from serving.app import create_app
from serving.db.migrate import upgrade
from serving.db.session import make_engine, session_factory
from serving.db.tables import Base
from serving.security import create_key
from serving.settings import Settings
from tests.factories import make_shipments
from training.models import TrainConfig, fit_bundle
from training.registry import log_bundle
from training.split import Split, time_split

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, never from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("ETA_") and not name.startswith("ETA_REQUIRE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A uniquely named database for this test session, migrated, dropped afterwards."""
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL is not reachable on 127.0.0.1:5432 ({str(exc).strip()})"
        if os.environ.get("ETA_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}, and ETA_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(f"{reason}; set ETA_REQUIRE_POSTGRES=1 to fail instead")
    name = f"eta_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = PG_URL.format(name=name)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def sessions(database_url: str):  # type: ignore[no-untyped-def]
    """A session factory on the test's migrated database (either backend)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            names = ", ".join(table.name for table in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """An ORM session on a new SQLite file with the tables created (no migrations, no HTTP)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the session's PostgreSQL database with its tables emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'eta.db'}"
    url = request.getfixturevalue("postgres_database")
    _empty_tables(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        model_uri=str(tmp_path / "no-model"),
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        model_poll_seconds=0,
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def auth(client: TestClient) -> Callable[..., dict[str, str]]:
    """`auth("quote", "ops")` -> headers carrying a new key with those scopes."""

    def headers(*scopes: str) -> dict[str, str]:
        app: FastAPI = client.app  # type: ignore[assignment]
        with app.state.session_factory() as session:
            return {"Authorization": f"Bearer {create_key(session, 'test', scopes)}"}

    return headers


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn in a thread, on a socket bound before start (no port race); yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture(scope="session")
def tiny_history() -> Split:
    return time_split(make_shipments(600, seed=1, days=120))


@pytest.fixture(scope="session")
def tiny_bundle(tiny_history: Split) -> ModelBundle:
    meta = {
        "windows": tiny_history.windows(),
        "trained_at": "2024-05-01T00:00:00+00:00",
        "metrics": {"test_mae_hours": 12.5, "test_coverage": 0.81},
    }
    return fit_bundle(
        tiny_history.train, tiny_history.calibrate, config=TrainConfig(num_boost_round=5), metadata=meta
    )


@pytest.fixture(scope="session")
def bundle_dir(tiny_bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("model")
    tiny_bundle.save(directory)
    return directory


@pytest.fixture(scope="module")
def registry(
    tiny_bundle: ModelBundle, tiny_history: Split, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A temporary SQLite tracking store holding versions 1 and 2 of model `eta`; yields its URI."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment("serving", artifact_location=(root / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            assert log_bundle(tiny_bundle, tiny_history.test, "eta") == "models:/eta/1"
        client = MlflowClient()
        first = client.get_model_version("eta", "1")
        client.create_model_version("eta", source=str(first.source), run_id=first.run_id)
        yield uri
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # back to the default; unsets the env var
