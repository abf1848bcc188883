"""The app factory includes every router module that exists, and hides no broken import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from serving import app as app_module
from serving.settings import Settings


def test_a_router_module_not_written_yet_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "ROUTERS", ("serving.routes.system", "serving.routes.not_written_yet"))
    assert "/healthz" in app_module.create_app(Settings()).openapi()["paths"]


def test_a_router_module_with_a_broken_import_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "broken_routes.py").write_text("import a_package_that_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(app_module, "ROUTERS", ("broken_routes",))
    monkeypatch.delitem(sys.modules, "broken_routes", raising=False)
    with pytest.raises(ModuleNotFoundError, match="a_package_that_does_not_exist"):
        app_module.create_app(Settings())
