"""Property-based run over the OpenAPI schema: whatever a client sends, the service never answers 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from serving.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def database_url(tmp_path: Path) -> str:  # one backend is enough here; the API tests cover both
    return f"sqlite:///{tmp_path / 'eta.db'}"


@pytest.fixture
def settings_(database_url: str, bundle_dir: Path) -> Settings:
    return Settings(database_url=database_url, model_uri=str(bundle_dir), model_poll_seconds=0)


@pytest.fixture
def app(settings_: Settings):  # type: ignore[no-untyped-def]
    from serving.app import create_app

    return create_app(settings_)


def test_no_request_makes_the_service_fail(live_server: str, auth) -> None:
    headers = auth("admin")
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}")

        check()
    assert failures == []
