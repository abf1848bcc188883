"""`python -m serving create-key | revoke-key | migrate`, against a temporary SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from serving.__main__ import main
from serving.db.session import make_engine, session_factory
from serving.security import Scope, authenticate


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("ETA_DATABASE_URL", url)
    return url


def test_create_key_prints_a_usable_key_once(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-key", "--name", "ops team", "--scope", "quote", "--scope", "ops"]) == 0
    [key] = capsys.readouterr().out.split()
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        principal = authenticate(session, key)
    engine.dispose()
    assert principal is not None and principal.name == "ops team"
    assert principal.scopes == {Scope.QUOTE, Scope.OPS}


def test_revoke_key_disables_a_key_by_its_prefix(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["create-key", "--name", "old", "--scope", "track"])
    key = capsys.readouterr().out.strip()
    assert main(["revoke-key", key.split("_")[1]]) == 0
    assert main(["revoke-key", key.split("_")[1]]) == 1  # already revoked
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        assert authenticate(session, key) is None
    engine.dispose()


def test_an_unknown_scope_is_a_usage_error(database_url: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["create-key", "--name", "x", "--scope", "everything"])
    assert exit_.value.code == 2


def test_migrate_creates_the_tables(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert {"api_keys", "shipments", "events", "eta_history"} <= set(
            inspect(connection).get_table_names()
        )
    engine.dispose()
