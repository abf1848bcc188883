"""The ops pages over HTTP: sign-in, CSRF, the at-risk list, filters, a shipment, scorecards, the model."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from serving.settings import Settings
from serving.users import FREE_FAILURES
from serving.web.session import COOKIE
from tests.serving.web.conftest import PASSWORD, csrf_of, sign_in


def test_the_dashboard_sends_a_visitor_to_sign_in_and_back(client: TestClient, make_user) -> None:
    answer = client.get("/ops/scorecards?weeks=4", follow_redirects=False)
    assert (
        answer.status_code == 303
        and answer.headers["location"] == "/ops/login?next=/ops/scorecards%3Fweeks%3D4"
    )
    page = client.get(answer.headers["location"]).text
    user = make_user("ann")
    answer = client.post(
        "/ops/login", data={"username": user, "password": PASSWORD, "csrf_token": csrf_of(page),
                            "next": "/ops/scorecards?weeks=4"}, follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/ops/scorecards?weeks=4"


def test_the_session_cookie_is_http_only_and_same_site_lax(client: TestClient, make_user) -> None:
    sign_in(client, make_user("ann"))
    [cookie] = [c for c in client.cookies.jar if c.name == COOKIE]
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "lax"
    assert not cookie.secure  # plain http in the test; Secure over HTTPS or by ETA_SESSION_COOKIE_SECURE


def test_pages_allow_only_their_own_scripts_and_no_framing(client: TestClient) -> None:
    headers = client.get("/ops/login").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient, make_user
) -> None:
    make_user("ann")
    for username, password in (("ann", "not the password"), ("nobody", PASSWORD)):
        token = csrf_of(client.get("/ops/login").text)
        answer = client.post(
            "/ops/login", data={"username": username, "password": password, "csrf_token": token}
        )
        assert answer.status_code == 401 and "Wrong username or password." in answer.text
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_repeated_wrong_passwords_hold_the_username_back(client: TestClient, make_user) -> None:
    make_user("ann")

    def attempt(password: str):  # type: ignore[no-untyped-def]
        token = csrf_of(client.get("/ops/login").text)
        data = {"username": "ann", "password": password, "csrf_token": token}
        return client.post("/ops/login", data=data, follow_redirects=False)

    assert [attempt("not the password").status_code for _ in range(FREE_FAILURES)] == [401] * FREE_FAILURES
    held = attempt(PASSWORD)  # the right password, but the name is held back
    assert held.status_code == 429 and 0 < int(held.headers["retry-after"]) <= 30
    assert "Too many failed sign-ins for this username" in held.text and csrf_of(held.text)
    assert client.get("/ops", follow_redirects=False).status_code == 303  # not signed in


def test_a_form_without_the_session_csrf_token_is_refused(client: TestClient, make_user) -> None:
    make_user("ann")
    client.get("/ops/login")
    answer = client.post("/ops/login", data={"username": "ann", "password": PASSWORD, "csrf_token": "forged"})
    assert answer.status_code == 403 and "did not come from this site" in answer.text


def test_an_outside_redirect_after_sign_in_goes_to_the_dashboard(client: TestClient, make_user) -> None:
    make_user("ann")
    token = csrf_of(client.get("/ops/login").text)
    answer = client.post(
        "/ops/login", data={"username": "ann", "password": PASSWORD, "csrf_token": token,
                            "next": "//evil.example/ops"}, follow_redirects=False,
    )  # fmt: skip
    assert answer.headers["location"] == "/ops"


def test_signing_out_needs_the_token_and_ends_the_session(client: TestClient, make_user) -> None:
    sign_in(client, make_user("ann"))
    page = client.get("/ops").text
    assert client.post("/ops/logout", data={"csrf_token": "x"}).status_code == 403
    client.post("/ops/logout", data={"csrf_token": csrf_of(page)})
    assert client.get("/ops", follow_redirects=False).status_code == 303


def test_the_at_risk_list_ranks_by_risk_and_leaves_out_delivered_shipments(
    client: TestClient, make_user, seeded
) -> None:
    sign_in(client, make_user("ann"))
    page = client.get("/ops").text
    assert seeded["late"] in page and "DONE-0" not in page
    everything = client.get("/ops?show=all&sort=promise&q=&carrier=&lane=&promised_by=").text
    assert "DONE-0" in everything


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ("carrier=slow", ["LATE-1"], ["HELD-1"]),
        ("lane=DE-GB&show=all", ["HELD-1"], ["LATE-1", "OK-1"]),
        ("q=held&show=all", ["HELD-1"], ["LATE-1"]),
        ("promised_by=2000-01-01&show=all", [], ["LATE-1", "OK-1", "HELD-1"]),
        ("reason=customs&show=all", ["HELD-1"], ["LATE-1", "OK-1"]),
    ],
)
def test_filters_narrow_the_list(client: TestClient, make_user, seeded, query, present, absent) -> None:
    sign_in(client, make_user("ann"))
    page = client.get(f"/ops?{query}").text
    assert all(s in page for s in present) and not any(f">{s}<" in page for s in absent)


def test_a_bad_filter_value_is_a_clear_400_page(client: TestClient, make_user) -> None:
    sign_in(client, make_user("ann"))
    answer = client.get("/ops?promised_by=tomorrow")
    assert answer.status_code == 400 and "is not a date" in answer.text


def test_a_shipment_page_has_its_window_history_reasons_and_scans(
    client: TestClient, make_user, seeded
) -> None:
    sign_in(client, make_user("ann"))
    page = client.get(f"/ops/shipments/{seeded['late']}").text
    assert 'id="eta-chart"' in page and '"promised_at"' in page and "picked up" in page
    assert "the delivery window now ends after the promised time" in page
    section = page[page.index("alerts-heading") : page.index("events-heading")]
    assert 'id="alerts"' in section and "<td>late" in section and "msg_" in section
    assert client.get("/ops/shipments/NOPE").status_code == 404


def test_scorecards_judge_delivered_shipments_by_carrier_and_lane(
    client: TestClient, make_user, seeded
) -> None:
    sign_in(client, make_user("ann"))
    page = client.get("/ops/scorecards?weeks=4").text
    assert "6 shipments delivered" in page and 'id="carrier-scorecard"' in page and ">DE-FR<" in page


@pytest.fixture
def registry_settings(settings: Settings, registry: str) -> Settings:
    return settings.model_copy(update={"model_uri": "models:/eta@champion", "mlflow_tracking_uri": registry})


@pytest.fixture
def registry_client(registry_settings: Settings, registry: str):  # type: ignore[no-untyped-def]
    from serving.app import create_app

    MlflowClient(tracking_uri=registry).set_registered_model_alias("eta", "champion", "2")
    with TestClient(create_app(registry_settings)) as client:
        yield client


def _make_user(client: TestClient, name: str, role: str) -> None:
    from serving.users import create_user

    app: FastAPI = client.app  # type: ignore[assignment]
    with app.state.session_factory() as session:
        create_user(session, name, PASSWORD, role)


def test_an_admin_rolls_the_model_back_and_the_service_serves_it(registry_client: TestClient) -> None:
    _make_user(registry_client, "root", "admin")
    sign_in(registry_client, "root")
    page = registry_client.get("/ops/model").text
    assert "eta/2" in page and "Roll back to version 1" in page
    reference = registry_client.get("/v1/model").json()["quantile_reference"]
    assert f'<dd id="quantile-reference">{reference}</dd>' in page  # chosen on the calibration window
    answer = registry_client.post("/ops/model/alias", data={"version": "1", "csrf_token": csrf_of(page)})
    assert answer.status_code == 200 and "serving eta/1" in answer.text
    assert registry_client.get("/v1/model").json()["version"] == "eta/1"


def test_an_ops_user_may_not_move_the_model(registry_client: TestClient) -> None:
    _make_user(registry_client, "viewer", "ops")
    sign_in(registry_client, "viewer")
    page = registry_client.get("/ops/model").text
    assert "Only an admin may move it." in page and "Roll back to" not in page
    answer = registry_client.post("/ops/model/alias", data={"version": "1", "csrf_token": csrf_of(page)})
    assert answer.status_code == 403
    assert registry_client.get("/v1/model").json()["version"] == "eta/2"


def test_the_model_page_says_so_when_nothing_is_registered(settings: Settings, tmp_path, make_user) -> None:  # type: ignore[no-untyped-def]
    from serving.app import create_app

    empty = settings.model_copy(update={"model_uri": "models:/nothing@champion"})
    with TestClient(create_app(empty)) as client:
        _make_user(client, "ann", "ops")
        sign_in(client, "ann")
        page = client.get("/ops/model")
    assert page.status_code == 200 and "No model is loaded" in page.text
    assert "No registered versions of nothing." in page.text
