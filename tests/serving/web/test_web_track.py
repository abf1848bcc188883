"""The tracking page: a signed link shows status, window, scans and delays; anything else shows nothing."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from serving.signing import tracking_path
from tests.serving.web.conftest import SECRET

LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)


def test_a_signed_link_shows_status_window_and_scans_without_carrier_free_text(
    client: TestClient, seeded
) -> None:
    answer = client.get(tracking_path(SECRET, seeded["ok"], LATER))
    assert answer.status_code == 200
    page = answer.text
    assert "Picked up by the carrier" in page and "Expected" in page and 'id="delay-message"' not in page
    assert "Jane Doe" not in page  # scan descriptions may name people
    assert (
        answer.headers["referrer-policy"] == "no-referrer" and answer.headers["cache-control"] == "no-store"
    )


def test_a_late_parcel_gets_a_delay_message(client: TestClient, seeded) -> None:
    page = client.get(tracking_path(SECRET, seeded["late"], LATER)).text
    assert "Your parcel is running late" in page


def test_a_parcel_held_at_customs_says_so(client: TestClient, seeded) -> None:
    page = client.get(tracking_path(SECRET, seeded["held"], LATER)).text
    assert "Held at customs" in page and "being checked at customs" in page


def test_a_forged_link_shows_nothing_of_the_shipment(client: TestClient, seeded) -> None:
    path = tracking_path("another-secret-of-the-same-length-0123456789", seeded["ok"], LATER)
    answer = client.get(path)
    assert answer.status_code == 403 and "not valid" in answer.text
    assert "Picked up" not in answer.text and "Expected" not in answer.text
    assert client.get(f"/track/{seeded['ok']}").status_code == 403


def test_a_link_for_one_parcel_does_not_open_another(client: TestClient, seeded) -> None:
    path = tracking_path(SECRET, seeded["ok"], LATER).replace(seeded["ok"], seeded["late"], 1)
    assert client.get(path).status_code == 403


def test_an_expired_link_says_so(client: TestClient, seeded) -> None:
    answer = client.get(
        tracking_path(SECRET, seeded["ok"], dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    )
    assert answer.status_code == 403 and "expired" in answer.text


def test_a_genuine_link_to_an_unknown_parcel_is_a_404(client: TestClient) -> None:
    assert client.get(tracking_path(SECRET, "NOT-YET", LATER)).status_code == 404


def test_the_widget_demo_page_loads_the_widget_script(client: TestClient) -> None:
    page = client.get("/widget").text
    assert "eta-widget.js" in page and 'data-endpoint="/v1/quotes"' in page
    assert client.get("/static/eta-widget.js").status_code == 200


def test_a_shop_asks_the_api_for_a_tracking_link_that_opens_the_page(
    client: TestClient, auth, seeded
) -> None:
    answer = client.post(f"/v1/shipments/{seeded['ok']}/tracking-link", headers=auth("ingest"))
    assert answer.status_code == 200
    assert client.get(answer.json()["path"]).status_code == 200
    assert client.post("/v1/shipments/NOPE/tracking-link", headers=auth("ingest")).status_code == 404
    assert (
        client.post(f"/v1/shipments/{seeded['ok']}/tracking-link", headers=auth("quote")).status_code == 403
    )
