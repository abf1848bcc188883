"""The bundle as an MLflow pyfunc model, for `mlflow.pyfunc.load_model` and `mlflow models serve`."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc import PythonModel

from features.bundle import ModelBundle
from features.contract import validate_shipments

ARTIFACT_KEY = "bundle"


class BundleModel(PythonModel):
    """Input: shipments in the contract (one per row). Output: the `predictions.parquet` columns."""

    def load_context(self, context: Any) -> None:
        self.bundle = ModelBundle.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        coverage = float((params or {}).get("coverage", 0.8))
        checked = validate_shipments(model_input)
        if checked.n_rejected:
            raise ValueError(f"invalid shipments: {checked.reasons}")
        shipments = checked.valid
        return self.bundle.predict(shipments, coverage=coverage)
