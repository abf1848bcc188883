"""Every error is application/problem+json; internals never leak; each answer carries its request id."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.settings import Settings
from tests.serving.probe import probe_app

PROBLEM = "application/problem+json"
ORDER = {"weight_kg": 1.0, "options": [{"carrier": "dhl", "service": "express"}]}


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return probe_app(settings)


def test_a_validation_error_names_each_bad_field(client: TestClient) -> None:
    bad = {"weight_kg": -1, "options": [{"carrier": "dhl", "service": "x"}, {"carrier": "", "service": "y"}]}
    response = client.post("/probe/orders", json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "about:blank" and body["status"] == 422
    fields = {error["field"]: error["message"] for error in body["errors"]}
    assert set(fields) == {"body.weight_kg", "body.options.1.carrier"}
    assert "greater than 0" in fields["body.weight_kg"]
    assert "body.options.1.carrier" in body["detail"]


def test_malformed_json_is_a_422_problem(client: TestClient) -> None:
    response = client.post(
        "/probe/orders", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_an_unknown_field_is_refused_by_name(client: TestClient) -> None:
    response = client.post("/probe/orders", json=ORDER | {"colour": "red"})
    assert [error["field"] for error in response.json()["errors"]] == ["body.colour"]


def test_an_unexpected_error_is_a_generic_500_with_the_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="serving.errors"):
        response = client.get("/probe/boom")
    assert response.status_code == 500 and response.headers["content-type"] == PROBLEM
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    request_id = response.headers["x-request-id"]
    assert response.json()["request_id"] == request_id
    [record] = caplog.records
    assert request_id in record.getMessage() and "hunter2" in caplog.text  # the traceback is in the log


def test_a_domain_error_maps_to_its_status_with_its_message(client: TestClient) -> None:
    response = client.get("/probe/missing")
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "No shipment s1."


def test_an_unknown_path_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.json()["title"] == "Not Found"


def test_a_wrong_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    response = client.delete("/healthz")
    assert response.status_code == 405 and response.headers["content-type"] == PROBLEM
    assert response.headers["allow"] == "GET"


def test_the_client_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/probe/missing", headers={"X-Request-ID": "checkout-42"})
    assert response.headers["x-request-id"] == "checkout-42"
    assert response.json()["request_id"] == "checkout-42"


@pytest.mark.parametrize("sent", [None, "bad id with spaces\r\n", "x" * 200])
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(
    client: TestClient, sent: str | None
) -> None:
    headers = {"X-Request-ID": sent} if sent else {}
    response = client.get("/healthz", headers=headers)
    assert len(response.headers["x-request-id"]) == 32 and response.headers["x-request-id"] != sent
