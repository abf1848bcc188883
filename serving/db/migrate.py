"""Alembic without an alembic.ini: the configuration is built here, pointing at `serving/migrations`.

A new revision after changing `serving/db/tables.py`:
`command.revision(make_config(url), "what changed", autogenerate=True)` against an up-to-date database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from serving.db.session import make_engine

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
PG_LOCK_KEY = 0x657461  # "eta": replicas starting together migrate one after another


def make_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` in one transaction."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            config = make_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
