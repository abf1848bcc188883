"""Request body limit and CORS."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.settings import Settings
from tests.serving.probe import probe_app

LIMIT = 1000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": LIMIT, "cors_origins": ["https://shop.example"]})


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return probe_app(settings)


def test_a_body_within_the_limit_passes(client: TestClient) -> None:
    assert client.post("/probe/bytes", content=b"x" * LIMIT).json() == {"bytes": LIMIT}


def test_a_declared_body_over_the_limit_is_413(client: TestClient) -> None:
    response = client.post("/probe/bytes", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert str(LIMIT) in response.json()["detail"]


def test_a_streamed_body_over_the_limit_is_413_over_real_http(live_server: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b"x" * 400

    response = httpx.post(f"{live_server}/probe/bytes", content=chunks())
    assert response.status_code == 413
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_a_configured_origin_gets_cors_headers(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://shop.example"})
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    preflight = client.options(
        "/probe/orders",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_another_origin_gets_no_cors_headers(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_without_configured_origins_there_are_no_cors_headers(settings: Settings) -> None:
    with TestClient(probe_app(settings.model_copy(update={"cors_origins": []}))) as client:
        response = client.get("/healthz", headers={"Origin": "https://shop.example"})
    assert not any(name.startswith("access-control-") for name in response.headers)
