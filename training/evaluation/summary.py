"""`evaluate`: the model beside its baselines, overall and per segment, as a JSON-ready dict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from training.evaluation.baselines import BASELINES, baseline_etas, lane_volume
from training.evaluation.frame import conform_truth, join_truth
from training.evaluation.metrics import (
    DAY_KEYS,
    ERROR_KEYS,
    LATE_KEYS,
    day_accuracy,
    error_metrics,
    hours_between,
    interval_metrics,
    jsonable,
    late_risk_metrics,
    pinball_loss,
)
from training.evaluation.segments import MIN_SEGMENT_SIZE, by_segment, segment_labels
from training.evaluation.tradeoff import COMPARE_KEYS, tradeoff

DAY_SCALE_MIN_MEDIAN_HOURS = 24.0
QUANTILES = {"p10": ("eta_p10", 0.1), "p50": ("eta_p50", 0.5), "p90": ("eta_p90", 0.9)}
# key suffix -> window columns; the unsuffixed window is the one at the stated coverage.
WINDOWS = {
    "": ("window_start", "window_end"),
    "_90": ("window_start_90", "window_end_90"),
    "_95": ("window_start_95", "window_end_95"),
}
NOTES = {
    "error": "eta - delivered_at in hours (positive = predicted later than the delivery); days = hours / 24",
    "rows": "transit, pinball, window and day metrics use delivered shipments with an estimate; undelivered "
    "shipments and abstentions are excluded (see counts); late risk uses every shipment with p_late "
    "and a known late outcome (delivered_late, else delivered_at > promised_at)",
    "dates": "exact-day and +-1-day accuracy compare UTC calendar dates; reported only for day-scale data "
    f"(median transit >= {DAY_SCALE_MIN_MEDIAN_HOURS:g} h)",
    "baselines": "medians of training transit hours from created_at; lane -> carrier -> global and "
    "carrier+service -> carrier -> global; see baseline_fallbacks",
    "segments": "segments with fewer than min_segment_size test shipments are skipped (segments_skipped)",
}


def point_metrics(frame: pd.DataFrame, eta_col: str, day_scale: bool) -> dict[str, Any]:
    """Error metrics of a point estimate against `delivered_at`, plus day accuracy on day-scale data."""
    eta, actual = frame[eta_col], frame["delivered_at"]
    days = day_accuracy(eta, actual) if day_scale else dict.fromkeys(DAY_KEYS)
    return error_metrics(hours_between(eta, actual)) | days


def model_metrics(frame: pd.DataFrame, day_scale: bool) -> dict[str, Any]:
    """Point metrics of `eta_p50`, pinball loss per quantile, window coverage and width per level."""
    out = point_metrics(frame, "eta_p50", day_scale)
    for name, (col, q) in QUANTILES.items():
        residual = hours_between(frame["delivered_at"], frame[col]) if col in frame else np.array([])
        out[f"pinball_{name}"] = pinball_loss(residual, q)
    out |= {"coverage": None, "width_hours": None}
    for suffix, (start, end) in WINDOWS.items():
        if start in frame and end in frame:
            window = interval_metrics(frame["delivered_at"], frame[start], frame[end])
            out |= {f"{key}{suffix}": value for key, value in window.items() if key != "n"}
            out[f"n_window{suffix}"] = window["n"]
    return out


def metrics_block(frame: pd.DataFrame, day_scale: bool) -> dict[str, Any]:
    """n, the model, each baseline and a late-risk summary for one set of shipments."""
    return {
        "n": len(frame),
        "model": model_metrics(frame, day_scale),
        "baselines": {name: point_metrics(frame, f"baseline_{name}", day_scale) for name in BASELINES},
        "late_risk": late_risk_metrics(frame["p_late"], frame["late"], reliability=False),
    }


def is_day_scale(frame: pd.DataFrame) -> bool:
    """Whether deliveries take days rather than hours (median transit of at least a day)."""
    transit = hours_between(frame["delivered_at"], frame["created_at"])
    transit = transit[~np.isnan(transit)]
    return bool(len(transit)) and float(np.median(transit)) >= DAY_SCALE_MIN_MEDIAN_HOURS


def counts(frame: pd.DataFrame, n_predictions: int) -> dict[str, int]:
    """How many shipments each kind of metric could use, and why the others were excluded."""
    has = frame["has_prediction"]
    return {
        "n_test": len(frame),
        "n_predictions": n_predictions,
        "n_without_prediction": int((~has).sum()),
        "n_predictions_not_in_test": int(n_predictions - has.sum()),
        "n_delivered": int(frame["delivered_at"].notna().sum()),
        "n_undelivered": int(frame["delivered_at"].isna().sum()),
        "n_abstained": int((has & frame["eta_p50"].isna()).sum()),
        "n_with_promise": int(frame["promised_at"].notna().sum()),
        "n_with_late_outcome": int(frame["late"].notna().sum()),
        "n_with_p_late": int(frame["p_late"].notna().sum()),
    }


def evaluate(
    test: pd.DataFrame,
    predictions: pd.DataFrame,
    train: pd.DataFrame,
    *,
    coverage: float,
    min_segment_size: int = MIN_SEGMENT_SIZE,
    day_scale: bool | None = None,
) -> dict[str, Any]:
    """Score `predictions` on the `test` shipments beside the baselines learned from `train`.

    Returns a JSON-serialisable dict (no NaN: undefined metrics are None). `day_scale` defaults to
    whether the median delivered transit is at least a day; it decides whether day accuracy is reported.
    """
    frame = join_truth(test, predictions)
    etas, fallbacks = baseline_etas(frame, train)
    for name, eta in etas.items():
        frame[f"baseline_{name}"] = eta
    day_scale = is_day_scale(frame) if day_scale is None else day_scale
    overall = metrics_block(frame, day_scale)
    del overall["late_risk"]
    labels = segment_labels(frame, lane_volume(frame, train))
    segments, skipped = by_segment(
        frame, labels, lambda rows: metrics_block(rows, day_scale), min_segment_size
    )
    metrics = {
        "n_test": len(frame),
        "coverage_target": coverage,
        "day_scale": day_scale,
        "transit_available": bool(frame["delivered_at"].notna().any()),
        "counts": counts(frame, len(predictions)),
        "overall": overall,
        "late_risk": late_risk_metrics(frame["p_late"], frame["late"]),
        "tradeoff": tradeoff(frame, {name: f"baseline_{name}" for name in BASELINES if name != "promise"}),
        "baseline_fallbacks": fallbacks,
        "min_segment_size": min_segment_size,
        "segments": segments,
        "segments_skipped": skipped,
        "notes": NOTES,
    }
    return jsonable(metrics)


def window_profile(shipments: pd.DataFrame, p_late: pd.Series | np.ndarray | None) -> dict[str, Any]:
    """What a window of shipments looked like, to set the training, calibration and test windows side by
    side: its size, delivered share, median transit and promised hours (from creation), late rate, share
    delivered at the very promised moment (the promised day, in day-precision data) and the late-risk ROC-AUC
    of `p_late` (one per shipment, in order; None: not scored, as the training window, which the model has
    seen). The isotonic map fitted on the calibration window keeps the ranking, so its AUC there is a fair
    match."""
    truth = conform_truth(shipments)
    delivered, promised = truth["delivered_at"], truth["promised_at"]
    done = delivered.notna()
    transit = _median(hours_between(delivered[done], truth["created_at"][done]))
    kept = done & promised.notna()
    auc = None
    if p_late is not None:
        auc = late_risk_metrics(np.asarray(p_late, dtype=float), truth["late"], reliability=False)["roc_auc"]
    return {
        "n": len(truth),
        "delivered_share": float(done.mean()) if len(truth) else None,
        "median_transit_hours": transit,
        "median_promised_hours": _median(hours_between(promised, truth["created_at"])),
        "late_rate": float(truth["late"].mean()) if truth["late"].notna().any() else None,
        "share_at_promise": float((delivered[kept] == promised[kept]).mean()) if kept.any() else None,
        "late_roc_auc": auc,
    }


def _median(hours: np.ndarray) -> float | None:
    known = hours[~np.isnan(hours)]
    return float(np.median(known)) if len(known) else None


def flatten_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Headline numbers under MLflow-safe keys (test_*, baseline_*, late_*, tradeoff_*); None left out."""
    model = metrics["overall"]["model"]
    window_keys = [f"{key}{suffix}" for suffix in WINDOWS for key in ("coverage", "width_hours")]
    pairs = {f"test_{key}": model.get(key) for key in (*ERROR_KEYS, *window_keys)}
    pairs |= {f"test_pinball_{name}": model.get(f"pinball_{name}") for name in QUANTILES}
    pairs |= {key: model.get(key) for key in DAY_KEYS}
    for name, base in metrics["overall"]["baselines"].items():
        pairs |= {f"baseline_{name}_{key}": base.get(key) for key in ("mae_hours", "rmse_hours", *DAY_KEYS)}
    pairs |= {f"late_{key}": metrics["late_risk"].get(key) for key in LATE_KEYS}
    pairs |= {f"tradeoff_{key}": metrics["tradeoff"]["model"].get(key) for key in COMPARE_KEYS}
    pairs["n_test"] = metrics["n_test"]
    return {key: float(value) for key, value in pairs.items() if value is not None}
