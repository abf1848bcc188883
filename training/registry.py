"""MLflow: one experiment per dataset, the bundle logged as a pyfunc, registered, and the `champion` alias."""

from __future__ import annotations

import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from features.bundle import BUNDLE_FILE, ModelBundle
from features.pyfunc import ARTIFACT_KEY, BundleModel

OUTCOME_COLUMNS = ("shipped_at", "delivered_at", "delivered_late")  # unknown when a prediction is asked
PROJECT_ROOT = Path(__file__).resolve().parents[1]
CHAMPION = "champion"
# What the logged model needs to load, pinned by `pip_requirements()`. Given explicitly, MLflow does not infer
# them by loading the model in a subprocess (4-5 s for a bundle fitted on 100,000 shipments, 20-30 s on
# 1,000,000).
MODEL_REQUIREMENTS = (
    "eta-service", "mlflow", "cloudpickle",  # the project itself (features/) and the pickled PythonModel
    "numpy", "pandas", "lightgbm", "joblib", "holidays",  # what the bundle's pickle and features/ import
)  # fmt: skip


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else a SQLite store in the project's `var/`."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    var = PROJECT_ROOT / "var"
    var.mkdir(exist_ok=True)
    return f"sqlite:///{var / 'mlflow.db'}"


def configure() -> MlflowClient:
    mlflow.set_tracking_uri(tracking_uri())
    return MlflowClient()


def ensure_experiment(name: str) -> str:
    """The experiment's id; a new one on a SQLite store keeps its artifacts beside the database file
    (`var/mlartifacts/NAME` for the default store), so a temporary store leaves nothing in the project."""
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = None
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        location = (database.resolve().parent / "mlartifacts" / name).as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def log_bundle(bundle: ModelBundle, input_example: pd.DataFrame, register: str | None) -> str:
    """Log the bundle as a pyfunc model in the active run; register it when asked. Returns the model URI."""
    with tempfile.TemporaryDirectory() as tmp:
        path = bundle.save(Path(tmp))
        example = input_example.head(5).drop(columns=list(OUTCOME_COLUMNS), errors="ignore")
        # a request is made at a moment: rows of outcome-only data (no timestamps) are asked about now
        example["created_at"] = example["created_at"].fillna(pd.Timestamp.now(tz="UTC").floor("s"))
        output = bundle.predict(example)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=BundleModel(),
            artifacts={ARTIFACT_KEY: str(path)},
            signature=infer_signature(jsonable(example), jsonable(output), params={"coverage": 0.8}),
            input_example=jsonable(example),
            registered_model_name=register,
            pip_requirements=pip_requirements(),
        )
    if register:
        return f"models:/{register}/{info.registered_model_version}"
    return info.model_uri


def pip_requirements() -> list[str]:
    """`MODEL_REQUIREMENTS` pinned to the versions installed here, the ones the model was trained with."""
    return [f"{name}=={metadata.version(name)}" for name in MODEL_REQUIREMENTS]


def jsonable(frame: pd.DataFrame) -> pd.DataFrame:
    """MLflow's schema inference wants plain dtypes: timestamps as ISO strings, nullable types as objects."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif str(out[col].dtype) in ("string", "str", "boolean"):
            out[col] = out[col].astype(object)
    return out


def load_bundle(uri: str) -> ModelBundle:
    """A bundle from a local path, or from MLflow (`models:/NAME@alias`, `models:/NAME/3`, `runs:/…`)."""
    local = Path(uri)
    if local.exists():
        return ModelBundle.load(local)
    configure()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        found = next(root.rglob(BUNDLE_FILE), None)
        if found is None:
            raise FileNotFoundError(f"no {BUNDLE_FILE} under {uri}")
        bundle = ModelBundle.load(found)
    bundle.metadata["uri"] = uri
    bundle.metadata["version"] = resolve_version(uri)
    return bundle


def resolve_version(uri: str) -> str:
    """`models:/NAME@alias` or `models:/NAME/N` -> "NAME/N"; other URIs are their own version label."""
    if not uri.startswith("models:/"):
        return uri
    ref = uri.removeprefix("models:/")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return f"{name}/{MlflowClient().get_model_version_by_alias(name, alias).version}"
    return ref


def champion_version(client: MlflowClient, name: str) -> Any | None:
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None


def record_comparison(comparison: dict) -> None:
    mlflow.log_dict(comparison, "champion_comparison.json")
    mlflow.set_tag("champion_decision", comparison["decision"])
    print("champion comparison on the candidate's test window:")
    print(json.dumps(comparison, indent=2))
