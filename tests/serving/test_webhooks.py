"""Webhooks over real HTTP to a receiver on 127.0.0.1: subscriptions, URL safety, Standard Webhooks
signatures checked by the receiver's own code, retries with the same webhook-id, Retry-After, 410, dead
letters, the delivery log and replay; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving.app import create_app
from serving.db.tables import Delivery, Notification, WebhookEndpoint
from serving.notify.dispatcher import Dispatcher, backoff_seconds, retry_after_seconds
from serving.security import create_key
from serving.settings import Settings
from tests.serving.receiver import Receiver

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=10)
Auth = Callable[..., dict[str, str]]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, model_uri=str(tmp_path / "no-model"),
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", model_poll_seconds=0,
        webhook_allow_loopback=True, webhook_backoff_base_seconds=0.05, webhook_backoff_max_seconds=0.2,
        stall_sweep_seconds=0,
    )  # fmt: skip


@pytest.fixture
def dispatcher(app: FastAPI, client: TestClient, settings: Settings) -> Iterator[Dispatcher]:
    d = Dispatcher(app.state.session_factory, settings)
    yield d
    d.close()


def subscribe(client: TestClient, auth: Auth, receiver: Receiver, events: list[str] | None = None) -> dict:
    events = events or ["shipment.delay_predicted", "shipment.exception", "shipment.delivered"]
    r = client.post("/v1/webhooks", json={"url": receiver.url, "events": events}, headers=auth("admin"))
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    return r.json()


def delay(client: TestClient, auth: Auth, shipment_id: str = "s1") -> None:
    """A shipment whose exception scan raises a watch alert and an exception notice."""
    ship = {
        "shipment_id": shipment_id, "carrier": "mid", "service": "standard", "origin": {"country": "DE"},
        "destination": {"country": "FR"}, "created_at": T0.isoformat(),
        "promised_at": (T0 + dt.timedelta(hours=72)).isoformat(),
    }  # fmt: skip
    assert client.post("/v1/shipments", json=ship, headers=auth("ingest")).status_code == 201
    scan = {
        "event_id": f"{shipment_id}-e1",
        "status": "exception",
        "occurred_at": (T0 + dt.timedelta(hours=5)).isoformat(),
    }
    r = client.post(f"/v1/shipments/{shipment_id}/events", json={"events": [scan]}, headers=auth("ingest"))
    assert r.status_code == 200, r.text


def drain(dispatcher: Dispatcher, until: Callable[[], bool], timeout_s: float = 20) -> None:
    """Run delivery rounds until `until()` holds (retries come due after their short test backoff)."""
    deadline = time.monotonic() + timeout_s
    while not until():
        assert time.monotonic() < deadline, "the deliveries did not finish"
        if not dispatcher.run_once():
            time.sleep(0.02)


def deliveries(client: TestClient, auth: Auth, **query: str) -> list[dict]:
    r = client.get("/v1/webhooks/deliveries", params=query, headers=auth("ops"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_subscription_answers_its_secret_once(client: TestClient, auth: Auth) -> None:
    body = {"url": "http://127.0.0.1:9/hooks", "events": ["shipment.stalled", "shipment.stalled"]}
    created = client.post("/v1/webhooks", json=body, headers=auth("admin")).json()
    assert created["secret"].startswith("whsec_") and created["events"] == ["shipment.stalled"]
    listed = client.get("/v1/webhooks", headers=auth("admin")).json()
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1/hooks", "https://"),
        ("https://10.1.2.3/hooks", "private address"),
        ("https://192.168.0.10/hooks", "private address"),
        ("https://169.254.169.254/latest", "link-local address"),
        ("https://[fe80::1]/hooks", "link-local address"),
        ("https://user:pw@127.0.0.1/hooks", "credentials"),
        ("https://nonexistent.invalid/hooks", "does not resolve"),
    ],
)
def test_unsafe_urls_are_refused_at_registration(client: TestClient, auth: Auth, url: str, why: str) -> None:
    r = client.post("/v1/webhooks", json={"url": url, "events": ["shipment.stalled"]}, headers=auth("admin"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert why in r.json()["detail"] and r.json()["detail"].startswith("url:")


def test_loopback_is_refused_unless_the_development_setting_allows_it(
    settings: Settings, auth: Auth, client: TestClient
) -> None:
    strict = settings.model_copy(update={"webhook_allow_loopback": False})
    with TestClient(create_app(strict)) as other:
        admin = auth("admin")
        for url in ("http://127.0.0.1:8080/hooks", "https://127.0.0.1/hooks", "https://[::1]/hooks"):
            r = other.post("/v1/webhooks", json={"url": url, "events": ["shipment.stalled"]}, headers=admin)
            assert r.status_code == 422, url


def test_an_unknown_event_type_is_a_problem_naming_the_field(client: TestClient, auth: Auth) -> None:
    body = {"url": "http://127.0.0.1:9/", "events": ["shipment.teleported"]}
    r = client.post("/v1/webhooks", json=body, headers=auth("admin"))
    assert r.status_code == 422 and "body.events.0" in r.json()["detail"]


def test_signatures_verify_with_the_receivers_secret_and_the_id_is_the_notifications(
    client: TestClient, auth: Auth, dispatcher: Dispatcher
) -> None:
    with Receiver() as receiver:
        subscribe(client, auth, receiver)
        delay(client, auth)
        drain(dispatcher, lambda: len(receiver.accepted_ids()) == 2)
    assert all(r.verified for r in receiver.received)
    bodies = [json.loads(r.body) for r in receiver.received]
    assert sorted(b["type"] for b in bodies) == ["shipment.delay_predicted", "shipment.exception"]
    ids = {d["webhook_id"] for d in deliveries(client, auth)}
    assert set(receiver.accepted_ids()) == ids
    alert = next(b for b in bodies if b["type"] == "shipment.delay_predicted")["data"]
    assert alert["level"] == 1 and alert["reasons"][0]["code"] == "exception" and alert["message"]


def test_a_receiver_failing_three_times_gets_the_event_once_it_recovers_with_the_same_id(
    client: TestClient, auth: Auth, dispatcher: Dispatcher
) -> None:
    with Receiver(respond=lambda _id, seen: (500, {}) if seen < 3 else (200, {})) as receiver:
        subscribe(client, auth, receiver, ["shipment.exception"])
        delay(client, auth)
        drain(dispatcher, lambda: len(receiver.accepted_ids()) == 1)
    assert len({r.webhook_id for r in receiver.received}) == 1 and len(receiver.received) == 4
    assert all(r.verified for r in receiver.received)
    [logged] = deliveries(client, auth)
    assert (logged["status"], logged["attempts"]) == ("delivered", 4)
    detail = client.get(f"/v1/webhooks/deliveries/{logged['id']}", headers=auth("ops")).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 500, 500, 200]


def test_retry_after_sets_the_next_attempt(
    client: TestClient, auth: Auth, dispatcher: Dispatcher, app: FastAPI
) -> None:
    with Receiver(respond=lambda _id, _n: (503, {"Retry-After": "120"})) as receiver:
        subscribe(client, auth, receiver, ["shipment.exception"])
        delay(client, auth)
        assert dispatcher.run_once() == 1
    with app.state.session_factory() as session:
        d = session.scalars(select(Delivery)).one()
        wait = (d.next_attempt_at - dt.datetime.now(dt.UTC)).total_seconds()
        assert d.status == "pending" and 110 < wait <= 120


def test_a_410_disables_the_endpoint_and_stops_its_deliveries(
    client: TestClient, auth: Auth, dispatcher: Dispatcher
) -> None:
    with Receiver(respond=lambda _id, _n: (410, {})) as receiver:
        endpoint = subscribe(client, auth, receiver)
        delay(client, auth)
        dispatcher.run_once()
        delay(client, auth, "s2")
        assert dispatcher.run_once() == 0
    after = client.get(f"/v1/webhooks/{endpoint['id']}", headers=auth("admin")).json()
    assert not after["enabled"] and "410" in after["disabled_reason"]
    assert [d["status"] for d in deliveries(client, auth, shipment_id="s1")] == ["disabled", "disabled"]
    assert deliveries(client, auth, shipment_id="s2") == []


def test_a_delivery_older_than_the_dead_letter_age_is_dead_lettered(
    client: TestClient, auth: Auth, app: FastAPI, settings: Settings
) -> None:
    aged = Dispatcher(app.state.session_factory, settings.model_copy(update={"webhook_max_age_hours": 1e-9}))
    try:
        with Receiver(respond=lambda _id, _n: (500, {})) as receiver:
            subscribe(client, auth, receiver, ["shipment.exception"])
            delay(client, auth)
            assert aged.run_once() == 1
    finally:
        aged.close()
    [logged] = deliveries(client, auth, status="dead")
    assert logged["attempts"] == 1 and logged["last_status_code"] == 500


def test_the_address_is_checked_again_at_send_time(
    client: TestClient, auth: Auth, app: FastAPI, settings: Settings
) -> None:
    strict = Dispatcher(
        app.state.session_factory, settings.model_copy(update={"webhook_allow_loopback": False})
    )
    try:
        with Receiver() as receiver:
            subscribe(client, auth, receiver, ["shipment.exception"])
            delay(client, auth)
            assert strict.run_once() == 1
            assert receiver.received == []
    finally:
        strict.close()
    [logged] = deliveries(client, auth)
    assert logged["status"] == "pending" and "refused" in logged["last_error"]


def test_a_replayed_delivery_is_sent_again_with_the_same_id(
    client: TestClient, auth: Auth, dispatcher: Dispatcher
) -> None:
    with Receiver() as receiver:
        subscribe(client, auth, receiver, ["shipment.exception"])
        delay(client, auth)
        drain(dispatcher, lambda: len(receiver.accepted_ids()) == 1)
        [logged] = deliveries(client, auth)
        r = client.post(f"/v1/webhooks/deliveries/{logged['id']}/replay", headers=auth("ops"))
        assert r.status_code == 202 and r.json()["status"] == "pending"
        drain(dispatcher, lambda: len(receiver.accepted_ids()) == 2)
    assert receiver.accepted_ids() == [logged["webhook_id"]] * 2


def test_replaying_since_a_moment_queues_past_notifications_for_a_new_endpoint(
    client: TestClient, auth: Auth, dispatcher: Dispatcher
) -> None:
    delay(client, auth)  # before anyone subscribed
    with Receiver() as receiver:
        endpoint = subscribe(client, auth, receiver, ["shipment.delay_predicted"])
        since = (T0 - dt.timedelta(days=1)).isoformat()
        r = client.post(f"/v1/webhooks/{endpoint['id']}/replay", params={"since": since}, headers=auth("ops"))
        assert r.json() == {"queued": 1}
        drain(dispatcher, lambda: len(receiver.accepted_ids()) == 1)


def test_a_deleted_endpoint_gets_nothing_more(client: TestClient, auth: Auth, app: FastAPI) -> None:
    with Receiver() as receiver:
        endpoint = subscribe(client, auth, receiver)
        assert client.delete(f"/v1/webhooks/{endpoint['id']}", headers=auth("admin")).status_code == 204
        delay(client, auth)
    with app.state.session_factory() as session:
        assert session.scalars(select(Delivery)).all() == []
        assert session.get(WebhookEndpoint, endpoint["id"]).enabled is False


def test_the_shipment_answer_carries_its_alerts_and_delay_reasons(client: TestClient, auth: Auth) -> None:
    delay(client, auth)
    s = client.get("/v1/shipments/s1", headers=auth("track")).json()
    assert [r["code"] for r in s["delay_reasons"]] == ["exception"] and s["delay_reasons"][0]["message"]
    [alert] = s["alerts"]
    assert alert["level"] == 1 and alert["conditions"] == "exception" and alert["resolved_at"] is None


def test_webhook_routes_need_their_scopes(client: TestClient, auth: Auth) -> None:
    assert client.get("/v1/webhooks", headers=auth("ops")).status_code == 403
    assert client.get("/v1/webhooks/deliveries", headers=auth("track")).status_code == 403
    assert client.post("/v1/webhooks", json={}).status_code == 401


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    waits = [backoff_seconds(n, 5.0, 3600.0, rng) for n in range(1, 12)]
    assert 2.5 <= waits[0] <= 5 and 5 <= waits[1] <= 10 and 1800 <= waits[-1] <= 3600


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
    assert retry_after_seconds("30", now) == 30
    assert retry_after_seconds("Mon, 30 Nov 2026 12:01:00 GMT", now) == 60
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


def test_a_notification_keeps_its_body_byte_for_byte_across_retries(
    client: TestClient, auth: Auth, dispatcher: Dispatcher, app: FastAPI
) -> None:
    with Receiver(respond=lambda _id, seen: (500, {}) if seen < 1 else (200, {})) as receiver:
        subscribe(client, auth, receiver, ["shipment.exception"])
        delay(client, auth)
        drain(dispatcher, lambda: len(receiver.accepted_ids()) == 1)
    with app.state.session_factory() as session:
        stored = session.scalars(
            select(Notification.body).where(Notification.type == "shipment.exception")
        ).one()
    assert [r.body.decode() for r in receiver.received] == [stored, stored]


def test_the_api_can_run_the_dispatcher_in_process(settings: Settings, tmp_path: Path) -> None:
    in_process = settings.model_copy(update={"dispatch_in_process": True, "dispatch_poll_seconds": 0.05})
    with TestClient(create_app(in_process)) as own, Receiver() as receiver:
        app: FastAPI = own.app  # type: ignore[assignment]
        with app.state.session_factory() as session:
            headers = {"Authorization": f"Bearer {create_key(session, 'test', ['admin'])}"}
        subscribe(own, lambda *_: headers, receiver, ["shipment.exception"])
        delay(own, lambda *_: headers)
        receiver.wait_until(lambda: len(receiver.accepted_ids()) == 1, timeout_s=20)
    assert receiver.received[0].verified
