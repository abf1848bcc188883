"""The lane and carrier history in service, on SQLite and PostgreSQL: shipments the service registered and
saw delivered after its model's data count in later shipments' history once re-read, and the answer over
HTTP then equals the offline prediction of a model that learned the same outcomes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from features.bundle import ModelBundle
from features.contract import validate_shipments
from serving.quotes import QuoteRequest, to_shipments
from serving.settings import Settings

PLACES = {"origin": {"country": "DE", "region": "BE"}, "destination": {"country": "FR", "region": "A"}}


@pytest.fixture
def settings(database_url: str, bundle_dir: Path) -> Settings:
    return Settings(
        database_url=database_url, model_uri=str(bundle_dir), model_poll_seconds=0, history_seconds=0
    )


def test_deliveries_the_service_recorded_enter_later_shipments_history(
    client: TestClient, auth, bundle_dir: Path
) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    client.headers.update(auth("quote", "ingest", "track"))
    bundle = app.state.model.current.bundle
    start = pd.Timestamp(0, tz="UTC") + pd.Timedelta(days=bundle.features.known_day_ + 2, hours=9)
    sent = []
    for i in range(24):  # a slow week on one lane, each one delivered days after its creation
        created = start + pd.Timedelta(hours=7 * i)
        delivered = created + pd.Timedelta(hours=150 + 5 * i)
        body = {"shipment_id": f"h{i}", "carrier": "mid", "service": "standard", **PLACES,
                "created_at": created.isoformat()}  # fmt: skip
        assert client.post("/v1/shipments", json=body).status_code == 201
        scan = {"event_id": f"h{i}-d", "occurred_at": delivered.isoformat(), "status": "delivered"}
        assert client.post(f"/v1/shipments/h{i}/events", json={"events": [scan]}).status_code == 200
        sent.append({"shipment_id": f"h{i}", "carrier": "mid", "service": "standard", "origin_country": "DE",
                     "origin_region": "BE", "destination_country": "FR", "destination_region": "A",
                     "created_at": created, "delivered_at": delivered})  # fmt: skip
    moment = max(s["delivered_at"] for s in sent).ceil("D") + pd.Timedelta(hours=10)
    quote = {
        **PLACES,
        "created_at": moment.isoformat(),
        "options": [{"carrier": "mid", "service": "standard"}],
    }
    shipments = to_shipments(QuoteRequest.model_validate(quote), moment)

    before = client.post("/v1/quotes", json=quote).json()["quotes"][0]
    assert app.state.service_history.refresh(moment.to_pydatetime()) == 24
    after = client.post("/v1/quotes", json=quote).json()["quotes"][0]

    learned = ModelBundle.load(bundle_dir)  # a model that learned the same outcomes offline
    known = learned.predict(shipments)
    learned.features.add_history(learned.features.daily_counts(validate_shipments(pd.DataFrame(sent)).valid))
    offline = learned.predict(shipments)
    for answer, expected in ((before, known), (after, offline)):
        for field in ("window_start", "window_end"):
            assert pd.Timestamp(answer[field]) == expected[field][0]
    assert after["window_end"] != before["window_end"]  # the slow week moved it
    last = max(s["delivered_at"] for s in sent)
    assert client.get("/v1/model").json()["history_through"] == last.date().isoformat()
