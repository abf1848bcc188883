"""Online calibration in service, on SQLite and PostgreSQL: each first delivery moves its segment's level in
the database once; quotes and registrations then read their windows at that level, exactly as the offline
prediction does when given the same levels."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from features.conformal import TRACKED_COVERAGES
from serving.db.tables import Shipment, WindowLevel
from serving.online import load_levels
from serving.quotes import QuoteRequest, hours_to_end_of, request_columns, to_shipments
from serving.settings import Settings
from serving.tracking import shipment_frame

T0 = pd.Timestamp("2024-04-20T09:30:00Z")
QUOTE = {
    "origin": {"country": "DE", "region": "BE"},
    "destination": {"country": "FR", "region": "A"},
    "created_at": T0.isoformat(),
    "options": [{"carrier": "mid", "service": "standard"}],
}


@pytest.fixture
def settings(database_url: str, bundle_dir: Path) -> Settings:
    return Settings(
        database_url=database_url, model_uri=str(bundle_dir), model_poll_seconds=0, window_levels_seconds=0
    )


def register_and_deliver(http: httpx.Client | TestClient, shipment_id: str, created: pd.Timestamp) -> None:
    """A shipment delivered three times later than its window's end (far outside its window)."""
    body = {
        "shipment_id": shipment_id, "carrier": "mid", "service": "standard",
        "origin": {"country": "DE", "region": "BE"}, "destination": {"country": "FR", "region": "A"},
        "created_at": created.isoformat(),
    }  # fmt: skip
    registered = http.post("/v1/shipments", json=body)
    assert registered.status_code == 201, registered.text
    end = pd.Timestamp(registered.json()["window_end"])
    delivered = created + 3 * (end - created)
    scan = {"event_id": f"{shipment_id}-d", "occurred_at": delivered.isoformat(), "status": "delivered"}
    answer = http.post(f"/v1/shipments/{shipment_id}/events", json={"events": [scan]})
    assert answer.status_code == 200, answer.text


def levels(app: FastAPI) -> dict[float, tuple[float, int]]:
    with app.state.session_factory() as session:
        rows = session.scalars(select(WindowLevel).where(WindowLevel.segment == "overall")).all()
        return {r.coverage: (r.level, r.deliveries) for r in rows}


def test_late_deliveries_widen_later_windows_as_the_offline_prediction_does(client: TestClient, auth) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    loaded = app.state.model.current
    bundle, headers = loaded.bundle, auth("quote", "ingest", "track")
    client.headers.update(headers)
    shipments = to_shipments(QuoteRequest.model_validate(QUOTE), T0)
    before = client.post("/v1/quotes", json=QUOTE).json()["quotes"][0]
    assert pd.Timestamp(before["window_end"]) == bundle.predict(shipments)["window_end"][0]
    by_quote = {**QUOTE, "by_date": before["latest_date"]}
    by_date = dt.date.fromisoformat(before["latest_date"])
    by_hours = hours_to_end_of(request_columns(QuoteRequest.model_validate(by_quote), T0), by_date)
    p_before = client.post("/v1/quotes", json=by_quote).json()["quotes"][0]["p_on_time_by"]
    assert p_before == bundle.probability_within(shipments, by_hours)[0]

    for i in range(20):
        register_and_deliver(client, f"s{i}", T0 - pd.Timedelta(days=30 - i))
    moved = levels(app)
    assert set(moved) == set(TRACKED_COVERAGES)
    assert all(deliveries == 20 for _, deliveries in moved.values())
    assert moved[0.8][0] > 0.8 and moved[0.95][0] > 0.95
    again = {"event_id": "s0-again", "occurred_at": T0.isoformat(), "status": "delivered"}
    client.post("/v1/shipments/s0/events", json={"events": [again]})
    assert levels(app) == moved  # a shipment counts once
    published = client.get("/v1/model").json()["window_levels"]
    assert [(w["coverage"], w["read_at"], w["deliveries"]) for w in published] == [
        (c, *moved[c]) for c in TRACKED_COVERAGES
    ]

    app.state.window_levels.refresh()
    after = client.post("/v1/quotes", json=QUOTE).json()["quotes"][0]
    with app.state.session_factory() as session:
        online = load_levels(session, loaded.version)
    offline = bundle.predict(shipments, online=online)
    assert pd.Timestamp(after["window_end"]) == offline["window_end"][0]
    assert pd.Timestamp(after["window_end"]) > pd.Timestamp(before["window_end"])
    assert after["coverage"] == before["coverage"] == 0.8
    p_after = client.post("/v1/quotes", json=by_quote).json()["quotes"][0]["p_on_time_by"]
    assert p_after == bundle.probability_within(shipments, by_hours, online=online)[0]
    assert p_after < p_before  # the same date is less sure once deliveries ran late

    body = {"shipment_id": "fresh", "carrier": "mid", "service": "standard", "created_at": T0.isoformat(),
            "origin": QUOTE["origin"], "destination": QUOTE["destination"]}  # fmt: skip
    registered = client.post("/v1/shipments", json=body).json()
    with app.state.session_factory() as session:
        frame = shipment_frame(session.get(Shipment, "fresh"))
        online = load_levels(session, loaded.version)
    offline = bundle.predict(frame, online=online)
    assert pd.Timestamp(registered["window_end"]) == offline["window_end"][0]
    assert offline["window_end"][0] > bundle.predict(frame)["window_end"][0]


def test_concurrent_deliveries_in_one_segment_are_all_counted(
    live_server: str, client: TestClient, auth
) -> None:
    headers = auth("ingest")

    def send(worker: int) -> None:
        with httpx.Client(base_url=live_server, headers=headers, timeout=60) as http:
            for k in range(5):
                register_and_deliver(http, f"w{worker}-{k}", T0 - pd.Timedelta(hours=worker * 10 + k))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, range(4)))
    assert all(deliveries == 20 for _, deliveries in levels(client.app).values())  # type: ignore[arg-type]
