"""The MLflow store: where a new experiment keeps its artifacts."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from training import registry


def test_an_experiment_on_a_sqlite_store_keeps_its_artifacts_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    (tmp_path / "store").mkdir()
    registry.configure()

    experiment = mlflow.get_experiment(registry.ensure_experiment("lanes"))

    assert experiment.artifact_location == (tmp_path / "store" / "mlartifacts" / "lanes").as_uri()
