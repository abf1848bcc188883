"""Quotes, shipments and events over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.quotes import QuoteRequest, to_shipments
from serving.settings import Settings
from training.__main__ import main as training_cli

T0 = "2024-04-20T09:30:00Z"
QUOTE = {
    "origin": {"country": "DE", "region": "BE"},
    "destination": {"country": "FR", "region": "A"},
    "created_at": T0,
    "weight_kg": 2.0,
    "options": [{"carrier": "fast", "service": "standard"}, {"carrier": "slow", "service": "express"}],
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, bundle_dir: Path) -> Settings:
    return Settings(database_url=database_url, model_uri=str(bundle_dir), model_poll_seconds=0)


def shipment_body(shipment_id: str = "s1", **overrides: object) -> dict:
    body = {
        "shipment_id": shipment_id, "carrier": "mid", "service": "standard",
        "origin": {"country": "DE", "region": "BE"}, "destination": {"country": "FR", "region": "A"},
        "created_at": T0, "promised_at": "2024-04-23T18:00:00Z",
    }  # fmt: skip
    return {**body, **overrides}


def event(i: int, status: str = "in_transit", hours: float = 1.0) -> dict:
    at = pd.Timestamp(T0) + pd.Timedelta(hours=hours)
    return {"event_id": f"e{i}", "occurred_at": at.isoformat(), "status": status}


def test_a_quote_gives_each_option_a_window_and_local_dates(client: TestClient, auth) -> None:
    answer = client.post("/v1/quotes", json=QUOTE, headers=auth("quote"))
    assert answer.status_code == 200
    quotes = answer.json()["quotes"]
    assert [q["carrier"] for q in quotes] == ["fast", "slow"]
    for q in quotes:
        assert q["window_start"] < q["window_end"] and q["prediction_source"] == "model"
        assert q["earliest_date"] <= q["most_likely_date"] <= q["latest_date"]
        assert q["coverage"] == 0.8 and q["model_version"]


def test_the_http_quote_equals_the_offline_prediction(client: TestClient, auth, bundle_dir, tmp_path) -> None:
    quotes = client.post("/v1/quotes", json=QUOTE, headers=auth("quote")).json()["quotes"]
    shipments = to_shipments(QuoteRequest.model_validate(QUOTE), pd.Timestamp(T0))
    shipments.to_parquet(tmp_path / "h.parquet")
    out = tmp_path / "p.parquet"
    args = [
        "predict",
        "--model",
        str(bundle_dir),
        "--history",
        str(tmp_path / "h.parquet"),
        "--out",
        str(out),
    ]
    assert training_cli(args) == 0
    offline = pd.read_parquet(out)
    for q, (_, row) in zip(quotes, offline.iterrows(), strict=True):
        assert pd.Timestamp(q["window_start"]) == row["window_start"]
        assert pd.Timestamp(q["window_end"]) == row["window_end"]


def test_a_conservative_policy_widens_the_window(client: TestClient, auth) -> None:
    balanced = client.post("/v1/quotes", json=QUOTE, headers=auth("quote")).json()["quotes"][0]
    wide = client.post("/v1/quotes", json={**QUOTE, "policy": "conservative"}, headers=auth("quote"))
    wide_quote = wide.json()["quotes"][0]
    assert wide_quote["coverage"] == 0.95
    assert wide_quote["window_end"] >= balanced["window_end"]


def test_quote_limits_are_problems_naming_the_field(client: TestClient, auth) -> None:
    too_many = {**QUOTE, "options": QUOTE["options"] * 11}
    answer = client.post("/v1/quotes", json=too_many, headers=auth("quote"))
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    assert "options" in str(answer.json())
    assert client.post("/v1/quotes", json=QUOTE, headers=auth("track")).status_code == 403


def test_a_shipment_is_registered_once_with_its_promise(client: TestClient, auth) -> None:
    created = client.post("/v1/shipments", json=shipment_body(), headers=auth("ingest"))
    assert created.status_code == 201
    assert created.json()["promised_at"].startswith("2024-04-23T18:00:00")
    again = client.post(
        "/v1/shipments", json=shipment_body(promised_at="2024-05-01T00:00:00Z"), headers=auth("ingest")
    )
    assert again.status_code == 409
    read = client.get("/v1/shipments/s1", headers=auth("track")).json()
    assert read["promised_at"].startswith("2024-04-23T18:00:00") and len(read["eta_history"]) == 1


def test_a_batch_with_bad_events_stores_the_good_ones_and_explains_the_rest(client: TestClient, auth) -> None:
    client.post("/v1/shipments", json=shipment_body(), headers=auth("ingest"))
    batch = {"events": [event(1, "picked_up"), {"event_id": "x", "status": "teleported"}, event(2, hours=3)]}
    answer = client.post("/v1/shipments/s1/events", json=batch, headers=auth("ingest")).json()
    assert answer["accepted"] == 2 and [r["index"] for r in answer["rejected"]] == [1]
    assert any("status" in e for e in answer["rejected"][0]["errors"])
    repeat = client.post("/v1/shipments/s1/events", json=batch, headers=auth("ingest")).json()
    assert repeat["accepted"] == 0 and repeat["duplicates"] == 2
    assert [e["event_id"] for e in repeat["shipment"]["events"]] == ["e1", "e2"]


def test_events_for_an_unknown_shipment_are_a_404_problem(client: TestClient, auth) -> None:
    answer = client.post("/v1/shipments/nope/events", json={"events": [event(1)]}, headers=auth("ingest"))
    assert answer.status_code == 404 and answer.json()["status"] == 404


def test_concurrent_events_for_one_shipment_lose_nothing(live_server: str, client: TestClient, auth) -> None:
    headers = auth("ingest", "track")
    client.post("/v1/shipments", json=shipment_body(), headers=headers)

    def send(worker: int) -> None:
        with httpx.Client(base_url=live_server, headers=headers, timeout=60) as http:
            for k in range(5):
                i = worker * 100 + k
                answer = http.post("/v1/shipments/s1/events", json={"events": [event(i, hours=i / 100)]})
                assert answer.status_code == 200, answer.text

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(send, range(6)))
    final = client.get("/v1/shipments/s1", headers=headers).json()
    assert len(final["events"]) == 30
    latest = max(final["events"], key=lambda e: e["occurred_at"])
    assert final["last_event_at"] == latest["occurred_at"]


def test_the_at_risk_list_pages_through_every_shipment_once(client: TestClient, auth) -> None:
    for i in range(7):
        promise = (pd.Timestamp(T0) + pd.Timedelta(hours=6 + i)).isoformat()  # too tight: all at risk
        client.post("/v1/shipments", json=shipment_body(f"s{i}", promised_at=promise), headers=auth("ingest"))
    seen, cursor = [], None
    while True:
        params = {"at_risk": "true", "sort": "risk", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/shipments", params=params, headers=auth("ops")).json()
        seen += [item["shipment_id"] for item in page["items"]]
        risks = [item["p_late"] for item in page["items"]]
        assert risks == sorted(risks, reverse=True)
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == [f"s{i}" for i in range(7)]
    assert client.get("/v1/shipments", params={"cursor": "junk"}, headers=auth("ops")).status_code == 400


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_a_model_quotes_abstain_with_a_reason(database_url: str, tmp_path: Path) -> None:
    app: FastAPI = create_app(Settings(database_url=database_url, model_uri=str(tmp_path / "none")))
    with TestClient(app) as client, app.state.session_factory() as session:
        from serving.security import create_key

        headers = {"Authorization": f"Bearer {create_key(session, 't', ['quote'])}"}
        quotes = client.post("/v1/quotes", json=QUOTE, headers=headers).json()["quotes"]
    assert all(
        q["earliest_date"] is None and q["reason"] and q["prediction_source"] == "fallback" for q in quotes
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_a_model_quotes_come_from_delivered_history(database_url: str, tmp_path: Path) -> None:
    app: FastAPI = create_app(Settings(database_url=database_url, model_uri=str(tmp_path / "none")))
    with TestClient(app) as client, app.state.session_factory() as session:
        from serving.security import create_key

        headers = {"Authorization": f"Bearer {create_key(session, 't', ['admin'])}"}
        now = pd.Timestamp.now(tz="UTC").floor("s")
        for i in range(25):  # 25 deliveries on the lane, 40 to 64 hours each
            created = now - pd.Timedelta(days=10)
            body = shipment_body(f"h{i}", carrier="fast", created_at=created.isoformat(), promised_at=None)
            client.post("/v1/shipments", json=body, headers=headers)
            done = {
                **event(i, "delivered"),
                "occurred_at": (created + pd.Timedelta(hours=40 + i)).isoformat(),
            }
            client.post(f"/v1/shipments/h{i}/events", json={"events": [done]}, headers=headers)
        asked = {**QUOTE, "created_at": now.isoformat()}
        lane = client.post("/v1/quotes", json=asked, headers=headers).json()["quotes"][0]
        elsewhere = {**asked, "destination": {"country": "FR", "region": "Z"},
                     "options": [{"carrier": "nobody", "service": "x"}]}  # fmt: skip
        unknown = client.post("/v1/quotes", json=elsewhere, headers=headers).json()["quotes"][0]
    assert lane["prediction_source"] == "fallback" and lane["earliest_date"] is not None
    hours = (pd.Timestamp(lane["window_end"]) - now).total_seconds() / 3600
    assert 55 <= hours <= 64
    assert unknown["earliest_date"] is None and unknown["reason"]


@pytest.mark.parametrize(
    "change",
    [
        {"by_date": "4061-11-17"},
        {"created_at": "1900-01-01T00:00:00Z"},
        {"created_at": "2024-04-20T09:30:00"},
    ],
)
def test_dates_outside_the_service_range_or_without_zone_are_422(client: TestClient, auth, change) -> None:
    assert client.post("/v1/quotes", json={**QUOTE, **change}, headers=auth("quote")).status_code == 422


def test_a_promise_before_the_order_is_a_422_problem(client: TestClient, auth) -> None:
    body = shipment_body(promised_at="2024-04-19T00:00:00Z")
    answer = client.post("/v1/shipments", json=body, headers=auth("ingest"))
    assert answer.status_code == 422 and "promised_at" in answer.text


def test_a_quote_without_a_creation_time_is_made_at_the_apps_clock(client: TestClient, auth) -> None:
    fixed = dt.datetime(2024, 5, 2, 8, 15, tzinfo=dt.UTC)
    client.app.state.clock = lambda: fixed  # type: ignore[attr-defined]
    body = {k: v for k, v in QUOTE.items() if k != "created_at"}
    quotes = client.post("/v1/quotes", json=body, headers=auth("quote")).json()["quotes"]
    bundle = client.app.state.model.current.bundle  # type: ignore[attr-defined]
    offline = bundle.predict(to_shipments(QuoteRequest.model_validate(body), pd.Timestamp(fixed)))
    assert [pd.Timestamp(q["window_end"]) for q in quotes] == list(offline["window_end"])
