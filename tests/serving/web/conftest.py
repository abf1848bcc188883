"""Page fixtures: an app serving the tiny model, ops users, shipments registered through the JSON API."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.settings import Settings
from serving.users import create_user

SECRET = "a-test-secret-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery staple"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, bundle_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        model_uri=str(bundle_dir),
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        model_poll_seconds=0,
        secret_key=SECRET,
    )


@pytest.fixture
def make_user(app: FastAPI) -> Callable[[str, str], str]:
    """`make_user("ann", "admin")` stores a user with PASSWORD; returns the username."""

    def make(username: str, role: str = "ops") -> str:
        with app.state.session_factory() as session:
            create_user(session, username, PASSWORD, role)
        return username

    return make


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/ops/login").text)
    answer = client.post(
        "/ops/login", data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text


def at(hours: float) -> str:
    return (NOW + dt.timedelta(hours=hours)).isoformat()


def shipment(shipment_id: str, carrier: str, destination: str, created: float, promised: float) -> dict:
    return {
        "shipment_id": shipment_id, "carrier": carrier, "service": "standard",
        "origin": {"country": "DE", "region": "BE"}, "destination": {"country": destination, "region": "A"},
        "created_at": at(created), "promised_at": at(promised),
    }  # fmt: skip


def scans(shipment_id: str, *steps: tuple[str, float]) -> dict:
    return {
        "events": [
            {"event_id": f"{shipment_id}-{i}", "occurred_at": at(hours), "status": status,
             "region": "A", "country": "DE", "description": "scan by Jane Doe"}
            for i, (status, hours) in enumerate(steps)
        ]
    }  # fmt: skip


def seed(client: httpx.Client | TestClient, key: dict[str, str]) -> dict[str, str]:
    """Shipments registered and scanned through the JSON API: late, on track, held, and delivered ones."""
    bodies = [
        (shipment("LATE-1", "slow", "FR", -30, -2), scans("LATE-1", ("picked_up", -28), ("in_transit", -20))),
        (shipment("OK-1", "fast", "FR", -5, 120), scans("OK-1", ("picked_up", -4))),
        (
            shipment("HELD-1", "mid", "GB", -40, 200),
            scans("HELD-1", ("picked_up", -38), ("customs_hold", -10)),
        ),
    ]
    for i in range(6):  # delivered: four on time, two late
        late = i >= 4
        sid = f"DONE-{i}"
        body = shipment(sid, "fast" if i % 2 else "mid", "FR", -200 - i, -120 if late else -60)
        bodies.append((body, scans(sid, ("picked_up", -190 - i), ("delivered", -100 - i))))
    for body, events in bodies:
        assert client.post("/v1/shipments", json=body, headers=key).status_code == 201
        answer = client.post(f"/v1/shipments/{body['shipment_id']}/events", json=events, headers=key)
        assert answer.status_code == 200
    return {"late": "LATE-1", "ok": "OK-1", "held": "HELD-1"}


@pytest.fixture
def seeded(client: TestClient, auth: Callable[..., dict[str, str]]) -> dict[str, str]:
    return seed(client, auth("ingest"))
