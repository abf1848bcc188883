"""The pages in a real browser (Debian's Chromium, headless, driven by Playwright), at a desktop and a phone
viewport: sign in, filter, a shipment's chart, tracking links, the checkout widget; axe-core finds no serious
or critical accessibility violation on any of them. Screenshots go to `test-artifacts/browser/`.

Skipped when /usr/bin/chromium is missing, unless ETA_REQUIRE_BROWSER=1 (as in CI), which makes it a failure.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from serving.app import create_app
from serving.security import create_key
from serving.settings import Settings
from serving.signing import tracking_path
from serving.users import create_user
from tests.serving.conftest import serving
from tests.serving.web.conftest import PASSWORD, SECRET, seed

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "browser"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
}  # fmt: skip
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("ETA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and ETA_REQUIRE_BROWSER=1 requires it")
        pytest.skip(f"{reason}; set ETA_REQUIRE_BROWSER=1 to fail instead")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One live server for the module (the tests only read), on SQLite (the HTTP suites cover PostgreSQL),
    with shipments registered through the API, an admin user and a quote-only key."""
    root = tmp_path_factory.mktemp("site")
    settings = Settings(
        database_url=f"sqlite:///{root / 'eta.db'}", model_uri=str(bundle_dir), model_poll_seconds=0,
        mlflow_tracking_uri=f"sqlite:///{root / 'mlflow.db'}", secret_key=SECRET,
    )  # fmt: skip
    app = create_app(settings)
    with serving(app) as url:
        with app.state.session_factory() as session:
            create_user(session, "ops-admin", PASSWORD, "admin")
            ingest = create_key(session, "loader", ["ingest"])
            quote = create_key(session, "shop widget", ["quote"])
        with httpx.Client(base_url=url) as client:
            ids = seed(client, {"Authorization": f"Bearer {ingest}"})
        yield {"url": url, "quote_key": quote, **ids}


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(**VIEWPORTS[request.param], bypass_csp=True)  # lets axe-core be injected
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}px.png"), full_page=True)


def check_page(page: Page, name: str) -> None:
    """Screenshot, no sideways scrolling of the whole page, and no serious or critical axe violation."""
    shot(page, name)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name}: the page scrolls sideways by {overflow}px"
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{name}: {serious}"


def test_an_ops_user_signs_in_filters_the_list_and_opens_a_shipment_chart(page: Page, site) -> None:
    page.goto(site["url"] + "/ops")
    expect(page).to_have_url(site["url"] + "/ops/login?next=/ops")
    check_page(page, "ops-login")
    page.get_by_label("Username").fill("ops-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Shipments at risk of missing their promise")
    expect(page.get_by_role("link", name=site["late"])).to_be_visible()
    check_page(page, "ops-at-risk")

    page.get_by_label("Carrier").select_option("mid")
    page.get_by_label("Show").select_option("all")
    page.get_by_role("button", name="Apply filters").click()
    rows = page.locator("#shipments tbody tr")
    expect(rows).to_have_count(4)  # HELD-1 and three delivered
    expect(page.get_by_role("link", name=site["held"])).to_be_visible()
    expect(page.get_by_role("link", name=site["late"])).to_have_count(0)
    page.get_by_label("Search shipment id").fill("held")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(1)

    page.get_by_role("link", name=site["held"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Shipment {site['held']}")
    expect(page.locator("#eta-chart[data-drawn=true]")).to_be_attached()
    labels = page.evaluate("Chart.getChart('eta-chart').data.datasets.map(d => d.label)")
    assert labels == ["Window start", "Window end", "Most likely", "Promise"]
    expect(page.locator("#reasons")).to_contain_text("held at customs")
    check_page(page, "ops-shipment")


def test_scorecards_and_the_model_page_draw_their_charts(page: Page, site) -> None:
    page.goto(site["url"] + "/ops/login?next=/ops/scorecards")
    page.get_by_label("Username").fill("ops-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#carrier-chart[data-drawn=true]")).to_be_attached()
    expect(page.locator("#carrier-scorecard tbody tr")).to_have_count(2)
    page.get_by_label("Chart metric").select_option("mae_hours")
    assert page.evaluate("Chart.getChart('carrier-chart').options.scales.y.title.text") == "hours"
    check_page(page, "ops-scorecards")
    page.get_by_role("link", name="Model").click()
    expect(page.locator("#model-version")).to_contain_text("local-")
    expect(page.locator("#calibration-chart[data-drawn=true]")).to_be_attached()
    check_page(page, "ops-model")


def test_the_keyboard_reaches_the_sign_in_form_in_order(page: Page, site) -> None:
    page.goto(site["url"] + "/ops/login")
    focused = []
    for _ in range(4):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        )
    assert focused == ["Skip to content", "username", "password", "Sign in"]


def test_a_customer_opens_a_tracking_link_and_a_forged_one_shows_nothing(page: Page, site) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    page.goto(site["url"] + tracking_path(SECRET, site["late"], later))
    expect(page.locator("#status")).to_have_text("On its way")
    expect(page.locator("#delay-message")).to_contain_text("running late")
    expect(page.locator("#events li")).to_have_count(2)
    check_page(page, "track-valid")
    forged = tracking_path("someone-elses-secret-of-enough-length-000", site["late"], later)
    answer = page.goto(site["url"] + forged)
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("This tracking link is not valid")
    expect(page.locator("#events")).to_have_count(0)
    check_page(page, "track-forged")


def test_the_checkout_widget_shows_each_option_with_dates(page: Page, site) -> None:
    page.goto(site["url"] + "/widget#key=" + site["quote_key"])
    options = page.locator(".eta-option")
    expect(options).to_have_count(3)
    expect(page.get_by_role("radio", name="northwind express")).to_be_checked()
    expect(options.first).to_contain_text("Arrives")
    expect(page.locator(".eta-status")).to_have_text("3 shipping options with delivery dates.")
    check_page(page, "widget")
    page.get_by_label("Deliver to").select_option(label="United States, New York")
    expect(page.locator(".eta-status")).to_have_text("3 shipping options with delivery dates.")
    page.get_by_label("Quote-only API key").fill("eta_bad_key")
    page.get_by_role("button", name="Get delivery options").click()
    expect(page.locator(".eta-status")).to_contain_text("Delivery dates are unavailable: Invalid or revoked")


def test_the_pages_work_under_their_content_security_policy(browser: Browser, site) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(site["url"] + f"/ops/login?next=/ops/shipments/{site['late']}")
    page.get_by_label("Username").fill("ops-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#eta-chart[data-drawn=true]")).to_be_attached()
    page.goto(site["url"] + "/widget#key=" + site["quote_key"])
    expect(page.locator(".eta-option")).to_have_count(3)
    context.close()
    assert problems == []
