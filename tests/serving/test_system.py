"""Liveness, readiness, Prometheus metrics and the model report."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from serving.app import create_app
from serving.settings import Settings


def test_healthz_answers_while_the_process_lives(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_200_without_a_model_and_says_so(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "model": {"loaded": False, "version": None},
    }


def test_readyz_is_503_when_the_database_does_not_answer(client: TestClient, tmp_path: Path) -> None:
    client.app.state.engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["database"] == "unreachable" and response.json()["model"]["loaded"] is False


def test_metrics_expose_the_latency_histogram_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/no/such/page")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'eta_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="<unmatched>",status="404"' in text
    assert 'eta_predictions_total{source="model"} 0.0' in text


def test_business_code_counts_predictions_through_app_state(client: TestClient) -> None:
    client.app.state.metrics.predictions.labels(source="fallback").inc(3)  # type: ignore[attr-defined]
    assert 'eta_predictions_total{source="fallback"} 3.0' in client.get("/metrics").text


def test_each_app_has_its_own_metrics(settings: Settings) -> None:
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        first.get("/healthz")
        assert 'route="/healthz"' not in second.get("/metrics").text


def test_the_model_report_says_when_no_model_is_loaded(client: TestClient) -> None:
    assert client.get("/v1/model").json()["loaded"] is False


def test_the_model_report_gives_version_windows_and_metrics(settings: Settings, bundle_dir: Path) -> None:
    with TestClient(create_app(settings.model_copy(update={"model_uri": str(bundle_dir)}))) as client:
        body = client.get("/v1/model").json()
        ready = client.get("/readyz").json()
    assert body["loaded"] is True and body["version"].startswith("local-")
    assert set(body["windows"]) == {"train", "calibrate", "test"}
    assert body["metrics"]["test_mae_hours"] == pytest.approx(12.5)
    assert body["quantile_reference"] in {"promise", "history median"}
    assert ready["model"] == {"loaded": True, "version": body["version"]}


def test_the_service_answers_over_real_http(live_server: str) -> None:
    response = httpx.get(f"{live_server}/healthz", headers={"X-Request-ID": "probe-1"})
    assert response.status_code == 200 and response.headers["x-request-id"] == "probe-1"


def test_the_route_label_keeps_a_prefix_given_at_inclusion(settings: Settings) -> None:
    router = APIRouter(prefix="/things")

    @router.get("/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    app = create_app(settings)
    app.include_router(router, prefix="/v2")
    with TestClient(app) as client:
        client.get("/v2/things/abc")
        assert 'route="/v2/things/{thing_id}",status="200"' in client.get("/metrics").text
