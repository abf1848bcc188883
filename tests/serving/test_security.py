"""API keys: shown once, stored hashed, checked per scope; admin passes everywhere."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving.db.tables import ApiKey
from serving.security import authenticate, create_key, revoke_key
from serving.settings import Settings
from tests.serving.probe import probe_app


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return probe_app(settings)


def sessions(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.session_factory  # type: ignore[attr-defined]


def test_a_new_key_is_returned_once_and_stored_only_as_a_hash(client: TestClient) -> None:
    with sessions(client)() as session:
        key = create_key(session, "checkout widget", ["quote"])
        rows = session.execute(select(ApiKey.__table__)).all()
    assert key.startswith("eta_") and len(key) > 40
    stored = " ".join(str(value) for row in rows for value in row)
    assert key not in stored and key.split("_", 2)[2] not in stored
    assert "checkout widget" in stored


def test_a_request_without_a_key_is_401_problem(client: TestClient) -> None:
    response = client.get("/probe/scope/quote")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize(
    "header", ["Bearer nonsense", "Bearer eta_000000000000_not-the-secret", "Bearer eta__", "Basic YTpi"]
)
def test_a_bad_key_is_401(client: TestClient, header: str) -> None:
    response = client.get("/probe/scope/quote", headers={"Authorization": header})
    assert response.status_code == 401


def test_a_key_with_a_known_prefix_but_a_wrong_secret_is_401(client: TestClient, auth: Callable) -> None:
    real = auth("quote")["Authorization"]
    response = client.get("/probe/scope/quote", headers={"Authorization": real[:-4] + "AAAA"})
    assert response.status_code == 401


def test_a_revoked_key_is_401(client: TestClient) -> None:
    with sessions(client)() as session:
        key = create_key(session, "old", ["quote"])
        assert revoke_key(session, key.split("_")[1])
    response = client.get("/probe/scope/quote", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401


def test_a_key_without_the_scope_is_403(client: TestClient, auth: Callable) -> None:
    response = client.get("/probe/scope/ops", headers=auth("quote", "track"))
    assert response.status_code == 403
    assert response.json()["detail"] == "This API key lacks the 'ops' scope."


def test_a_key_with_the_scope_passes(client: TestClient, auth: Callable) -> None:
    response = client.get("/probe/scope/ingest", headers=auth("ingest"))
    assert response.status_code == 200 and response.json() == {"name": "test"}


@pytest.mark.parametrize("scope", ["quote", "track", "ingest", "ops", "admin"])
def test_an_admin_key_passes_every_scope(client: TestClient, auth: Callable, scope: str) -> None:
    assert client.get(f"/probe/scope/{scope}", headers=auth("admin")).status_code == 200


def test_unknown_scopes_are_refused_at_creation(client: TestClient) -> None:
    with sessions(client)() as session, pytest.raises(ValueError):
        create_key(session, "typo", ["qoute"])


def test_authenticate_reads_the_scopes_back(client: TestClient) -> None:
    with sessions(client)() as session:
        principal = authenticate(session, create_key(session, "ops team", ["ops", "track"]))
    assert principal is not None and {str(s) for s in principal.scopes} == {"ops", "track"}
