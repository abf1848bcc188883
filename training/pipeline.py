"""The `train`, `evaluate` and `predict` commands: split, fit, evaluate against baselines, log, register."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd

from features.bundle import DEFAULT_COVERAGE, ModelBundle
from features.contract import validate_events, validate_shipments, validate_weather
from training import registry
from training.evaluation import evaluate, flatten_metrics, join_truth, window_profile, write_report
from training.evaluation.online import replay, window_coverage
from training.models import TrainConfig, fit_bundle
from training.progress import handover_events, snapshots
from training.split import Split, time_split

PREDICTION_COLUMNS = [
    "shipment_id", "eta_p50", "window_start", "window_end", "coverage", "p_late", "prediction_source",
]  # fmt: skip


def read_history(path: Path) -> pd.DataFrame:
    checked = validate_shipments(pd.read_parquet(path))
    if checked.n_rejected:
        print(checked.summary(f"{path.name}: shipments"))
    return checked.valid


def read_weather(path: Path | None) -> pd.DataFrame | None:
    return validate_weather(pd.read_parquet(path)).valid if path else None


def read_events(path: Path | None) -> pd.DataFrame | None:
    if not path:
        return None
    checked = validate_events(pd.read_parquet(path))
    if checked.n_rejected:
        print(checked.summary(f"{path.name}: events"))
    return checked.valid


def evaluate_bundle(
    bundle: ModelBundle, split: Split, coverage: float, weather: pd.DataFrame | None
) -> tuple:
    """Metrics of the test window replayed as the service lives it (windows at the online calibration levels
    reached before each shipment's creation, the lane and carrier history with every outcome the split's
    shipments had by then), with the windows at the calibrated levels alone beside them. A bundle fitted on
    this split knows those outcomes already; an older one (the champion a candidate is compared with) learns
    them here as a service running it would have recorded them (of a cluster split's training window, only
    the sample it holds)."""
    bundle.features.set_service_history(pd.concat([split.train, split.calibrate, split.test]))
    online, _ = replay(bundle, split.test, tuple(sorted({coverage, 0.9, 0.95})), weather)
    predictions = online[coverage]
    for c in (0.9, 0.95):
        predictions[f"window_start_{int(c * 100)}"] = online[c]["window_start"]
        predictions[f"window_end_{int(c * 100)}"] = online[c]["window_end"]
    metrics = evaluate(split.test, predictions, split.train, coverage=coverage)
    metrics["windows"] = split.windows()
    metrics["calibration"] = {
        "online": "adaptive conformal inference over the conformal offsets, a level per carrier, step 0.005",
        "offline_only": window_coverage(split.test, bundle.predict(split.test, coverage, weather)),
    }
    calibrated_on = bundle.predict(split.calibrate, coverage, weather)
    metrics["shift"] = {  # how the windows the models learned and were calibrated on differ from the test
        "train": window_profile(split.train, None),
        "calibrate": window_profile(split.calibrate, calibrated_on["p_late"]),
        "test": window_profile(split.test, predictions["p_late"]),
    }
    return metrics, predictions


def evaluate_progress(
    bundle: ModelBundle,
    test: pd.DataFrame,
    events: pd.DataFrame | None,
    coverage: float,
    weather: pd.DataFrame | None,
) -> dict | None:
    """Re-predictions at random moments while test shipments were in flight, against their actual delivery."""
    if bundle.progress_models is None:
        return None
    snaps = snapshots(test, events, seed=99)
    shipments = test.iloc[snaps["row"].to_numpy()].reset_index(drop=True)
    moments = snaps["moment"].reset_index(drop=True)
    scans = events if events is not None else handover_events(test)
    pred = bundle.predict_progress(shipments, scans, moments, coverage, weather)
    truth = shipments["delivered_at"]
    hours = ((pred["eta_p50"] - truth).dt.total_seconds() / 3600).abs()
    at_creation = bundle.predict(shipments, coverage, weather)
    inside = (pred["window_start"] <= truth) & (truth <= pred["window_end"])
    return {
        "n_snapshots": len(snaps),
        "mae_hours": float(hours.mean()),
        "creation_time_mae_hours": float(
            ((at_creation["eta_p50"] - truth).dt.total_seconds() / 3600).abs().mean()
        ),
        "coverage": float(inside.mean()),
        "width_hours": float(((pred["window_end"] - pred["window_start"]).dt.total_seconds() / 3600).mean()),
    }


def headline(metrics: dict) -> tuple[str, float | None]:
    """The number the champion is chosen by: P50 MAE where transit times exist, else the late-risk Brier."""
    model = metrics.get("overall", {}).get("model") or {}
    if model.get("mae_hours") is not None:
        return "mae_hours", model["mae_hours"]
    return "brier", (metrics.get("late_risk") or {}).get("brier")


def run_train(
    history_path: Path,
    weather_path: Path | None = None,
    events_path: Path | None = None,
    register: str | None = None,
    experiment: str | None = None,
    out_dir: Path | None = None,
    config: TrainConfig | None = None,
    coverage: float = DEFAULT_COVERAGE,
) -> str:
    history = read_history(history_path)
    weather = read_weather(weather_path)
    split = time_split(history)
    events = read_events(events_path)

    def fit(meta: dict) -> ModelBundle:
        return fit_bundle(
            split.train, split.calibrate, weather, events, config, metadata=meta, later=split.test
        )

    return train_and_log(
        fit, split, events, weather, experiment or history_path.stem, register, out_dir, coverage
    )


def train_and_log(
    fit: Callable[[dict], ModelBundle],
    split: Split,
    events: pd.DataFrame | None,
    weather: pd.DataFrame | None,
    experiment: str,
    register: str | None,
    out_dir: Path | None,
    coverage: float,
) -> str:
    """Fit inside an MLflow run, evaluate on the test window against the baselines, log the metrics, the
    report and the bundle, register it and move the champion alias when it wins; returns the model URI.
    `fit(metadata)` returns the fitted bundle; `events` are the scans of the test shipments (or more)."""
    print("windows:", json.dumps(split.windows()))
    client = registry.configure()
    mlflow.set_experiment(experiment_id=registry.ensure_experiment(experiment))
    with mlflow.start_run() as run:
        meta = {
            "dataset": experiment,
            "windows": split.windows(),
            "trained_at": dt.datetime.now(dt.UTC).isoformat(),
            **split.sizes(),
        }
        bundle = fit(meta)
        metrics, predictions = evaluate_bundle(bundle, split, coverage, weather)
        metrics["in_transit"] = evaluate_progress(bundle, split.test, events, coverage, weather)
        if metrics["in_transit"]:
            mlflow.log_metrics({f"in_transit_{k}": v for k, v in metrics["in_transit"].items()})
        bundle.metadata["metrics"] = flatten_metrics(metrics)
        bundle.metadata["reliability"] = metrics["late_risk"].get(
            "reliability", []
        )  # the ops model page plots it
        chosen = {k: bundle.metadata.get(k) for k in ("quantile_reference", "conformal_half_life_days")}
        params = {**bundle.metadata["train_config"], **chosen, "coverage": coverage, **split.windows()}
        mlflow.log_params(params)
        mlflow.log_metrics(bundle.metadata["metrics"])
        report_dir = out_dir or Path(tempfile.mkdtemp(prefix="eta-report-"))
        for path in write_report(metrics, join_truth(split.test, predictions), report_dir):
            mlflow.log_artifact(str(path), artifact_path="report")
        uri = registry.log_bundle(bundle, split.test, register)
        print(f"run {run.info.run_id}: {headline(metrics)[0]} = {headline(metrics)[1]}")
        if register:
            promote_if_better(client, register, uri, bundle, split, metrics, coverage, weather)
    return uri


def promote_if_better(client, name, uri, bundle, split, metrics, coverage, weather) -> None:  # type: ignore[no-untyped-def]
    """Move `champion` to the candidate only when it beats the current champion on the same test window."""
    version = uri.rsplit("/", 1)[-1]
    key, candidate = headline(metrics)
    current = registry.champion_version(client, name)
    comparison: dict = {"metric": key, "candidate_version": version, "candidate": candidate}
    if current is None:
        comparison.update(decision="promoted (no champion yet)", champion=None)
    else:
        champion = registry.load_bundle(f"models:/{name}/{current.version}")
        champ_metrics, _ = evaluate_bundle(champion, split, coverage, weather)
        comparison.update(champion_version=current.version, champion=headline(champ_metrics)[1])
        better = candidate is not None and (
            comparison["champion"] is None or candidate < comparison["champion"]
        )
        comparison["decision"] = "promoted" if better else "kept the champion"
    if comparison["decision"].startswith("promoted"):
        client.set_registered_model_alias(name, registry.CHAMPION, version)
    registry.record_comparison(comparison)


def run_evaluate(
    model_uri: str,
    history_path: Path,
    out_dir: Path,
    weather_path: Path | None = None,
    coverage: float = DEFAULT_COVERAGE,
) -> dict:
    bundle = registry.load_bundle(model_uri)
    split = time_split(read_history(history_path))
    metrics, predictions = evaluate_bundle(bundle, split, coverage, read_weather(weather_path))
    metrics["model"] = {"uri": model_uri, "version": bundle.metadata.get("version")}
    for path in write_report(metrics, join_truth(split.test, predictions), out_dir):
        print(f"wrote {path}")
    return metrics


def run_predict(
    model_uri: str,
    history_path: Path,
    out_path: Path,
    weather_path: Path | None = None,
    coverage: float = DEFAULT_COVERAGE,
) -> int:
    bundle = registry.load_bundle(model_uri)
    shipments = read_history(history_path)
    bundle.features.set_service_history(shipments)  # their outcomes after the bundle's data, as a service's
    predictions = bundle.predict(shipments, coverage=coverage, weather=read_weather(weather_path))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_parquet(out_path, index=False)
    counts = predictions["prediction_source"].value_counts().to_dict()
    print(f"wrote {len(predictions):,} predictions to {out_path} (by source: {counts})")
    return len(predictions)
