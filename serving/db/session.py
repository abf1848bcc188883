"""Engines and sessions.

SQLite (the single-node default) lets one writer in at a time. Each transaction starts with `BEGIN IMMEDIATE`,
so a transaction that reads and then writes holds the write lock from its start: concurrent writers wait up to
the busy timeout instead of failing with "database is locked" on a stale snapshot, and no update is lost.
WAL keeps readers outside transactions (and the backup tools) unblocked. PostgreSQL pings pooled connections
before use so a restarted server costs no failed request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Insert, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 5


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_S} if backend == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, decides where transactions begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def insert_if_absent(session: Session, table: Any, rows: dict | list[dict], key: list[str]) -> Insert:
    """An INSERT of `rows` into `table` (a mapped class) that leaves a row whose `key` exists untouched, on
    PostgreSQL and SQLite alike; the caller executes it (then locks the rows with SELECT ... FOR UPDATE)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(rows).on_conflict_do_nothing(index_elements=key)
