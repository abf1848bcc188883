"""`python -m serving create-key | revoke-key | migrate`, against a temporary SQLite database."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import inspect

from serving.__main__ import main
from serving.db.session import make_engine, session_factory
from serving.db.tables import Shipment
from serving.security import Scope, authenticate
from serving.signing import check_tracking_token
from serving.users import sign_in


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


def test_create_user_stores_a_user_who_can_sign_in_and_reset_changes_the_password(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("first password ok\n"))
    assert main(["create-user", "--username", "ann", "--role", "admin", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("first password ok\n"))
    assert main(["create-user", "--username", "ann", "--password-stdin"]) == 1  # taken
    assert main(["create-user", "--username", "ann", "--generate-password", "--reset"]) == 0
    password = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        user = sign_in(session, "ann", password)
        assert (
            user is not None and user.role == "admin" and sign_in(session, "ann", "first password ok") is None
        )
    engine.dispose()


def test_tracking_link_signs_a_link_for_the_riskiest_in_flight_shipment_by_default(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "a-secret-for-the-command-line-test-0123456789"
    monkeypatch.setenv("ETA_SECRET_KEY", secret)
    main(["migrate"])
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        for sid, risk in (("calm", 0.1), ("risky", 0.9)):
            now = dt.datetime.now(dt.UTC)
            session.add(Shipment(shipment_id=sid, carrier="c", service="s", origin_country="DE",
                                 destination_country="FR", created_at=now, p_late=risk))  # fmt: skip
        session.commit()
    engine.dispose()
    capsys.readouterr()
    assert main(["tracking-link", "--base-url", "https://track.example/"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://track.example/track/risky?t=")
    check_tracking_token(secret, "risky", link.split("?t=")[1], dt.datetime.now(dt.UTC))
