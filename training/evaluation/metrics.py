"""Pure metric functions on arrays of hours, timestamps and probabilities; missing values are skipped.

Errors are signed `predicted - actual` in hours: positive means the prediction was later than the delivery.
Every function returns plain Python numbers (or None where the metric is undefined), ready for JSON.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

HOURS_PER_DAY = 24.0
ERROR_KEYS = ("mae_hours", "rmse_hours", "mae_days", "rmse_days", "bias_hours")
DAY_KEYS = ("exact_day_accuracy", "within_1_day_accuracy")
LATE_KEYS = (
    "base_rate",
    "mean_predicted",
    "roc_auc",
    "pr_auc",
    "brier",
    "brier_base_rate",
    "log_loss",
    "ece",
)
_EPS = 1e-15

Number = float | int | None


def hours_between(later: pd.Series, earlier: pd.Series) -> np.ndarray:
    """`later - earlier` in hours as floats; NaN where either side is missing."""
    delta = later - earlier
    return (delta.dt.total_seconds() / 3600.0).to_numpy(dtype=float, na_value=np.nan)


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def error_metrics(error_hours: np.ndarray) -> dict[str, Number]:
    """n, MAE / RMSE in hours and days, and the mean signed error (bias) in hours."""
    e = _finite(error_hours)
    if not len(e):
        return {"n": 0} | dict.fromkeys(ERROR_KEYS)
    mae, rmse = float(np.mean(np.abs(e))), math.sqrt(float(np.mean(e**2)))
    return {
        "n": len(e),
        "mae_hours": mae,
        "rmse_hours": rmse,
        "mae_days": mae / HOURS_PER_DAY,
        "rmse_days": rmse / HOURS_PER_DAY,
        "bias_hours": float(np.mean(e)),
    }


def pinball_loss(actual_minus_predicted_hours: np.ndarray, quantile: float) -> float | None:
    """Mean quantile (pinball) loss in hours: q * u if u >= 0 else (q - 1) * u, u = actual - predicted."""
    u = _finite(actual_minus_predicted_hours)
    return _mean(np.maximum(quantile * u, (quantile - 1.0) * u))


def interval_metrics(actual: pd.Series, start: pd.Series, end: pd.Series) -> dict[str, Number]:
    """Share of deliveries inside [start, end] (both ends included) and the mean width in hours."""
    ok = (actual.notna() & start.notna() & end.notna()).to_numpy(dtype=bool)
    a, s, e = actual[ok], start[ok], end[ok]
    inside = ((s <= a) & (a <= e)).to_numpy(dtype=float)
    width = hours_between(e, s)
    return {"n": int(ok.sum()), "coverage": _mean(inside), "width_hours": _mean(width)}


def _wall_dates(ts: pd.Series) -> pd.Series:
    return (
        ts.dt.tz_localize(None).dt.normalize()
        if isinstance(ts.dtype, pd.DatetimeTZDtype)
        else ts.dt.normalize()
    )


def day_accuracy(predicted: pd.Series, actual: pd.Series) -> dict[str, Number]:
    """Exact-day and within-one-day accuracy of the predicted date against the delivery date.

    Dates are the calendar dates of the timestamps as given: UTC dates for contract (UTC) timestamps.
    To score local dates, pass both series converted first, e.g. `ts.dt.tz_convert("Europe/Berlin")`.
    """
    ok = (predicted.notna() & actual.notna()).to_numpy(dtype=bool)
    days = hours_between(_wall_dates(predicted[ok]), _wall_dates(actual[ok])) / HOURS_PER_DAY
    return {
        "exact_day_accuracy": _mean((days == 0).astype(float)),
        "within_1_day_accuracy": _mean((np.abs(days) <= 1).astype(float)),
    }


def reliability_curve(p: np.ndarray, late: np.ndarray, bins: int = 10) -> list[dict[str, Number]]:
    """Equal-width bins on [0, 1]: bin edges, mean predicted probability, observed late rate and count."""
    index = np.minimum((p * bins).astype(int), bins - 1)
    curve = []
    for b in range(bins):
        in_bin = index == b
        curve.append(
            {
                "bin_lower": b / bins,
                "bin_upper": (b + 1) / bins,
                "mean_predicted": _mean(p[in_bin]),
                "observed_rate": _mean(late[in_bin]),
                "count": int(in_bin.sum()),
            }
        )
    return curve


def _expected_calibration_error(curve: list[dict[str, Any]], n: int) -> float:
    return sum(c["count"] / n * abs(c["mean_predicted"] - c["observed_rate"]) for c in curve if c["count"])


def late_risk_metrics(
    p_late: np.ndarray | pd.Series, late: np.ndarray | pd.Series, *, reliability: bool = True
) -> dict[str, Any]:
    """Discrimination and calibration of `p_late` against the late outcome (1/0), rows with both only.

    ROC-AUC and PR-AUC are None when only one class is present; `brier_base_rate` is the Brier score of
    always predicting the base rate, the bar a useful risk score must clear.
    """
    p, y = np.asarray(p_late, dtype=float), np.asarray(late, dtype=float)
    ok = ~np.isnan(p) & ~np.isnan(y)
    p, y = np.clip(p[ok], 0.0, 1.0), y[ok]
    out: dict[str, Any] = {"n": int(ok.sum())} | dict.fromkeys(LATE_KEYS)
    if reliability:
        out["reliability"] = []
    if not len(p):
        return out
    base = float(np.mean(y))
    pc = np.clip(p, _EPS, 1 - _EPS)
    both_classes = 0.0 < base < 1.0
    out |= {
        "base_rate": base,
        "mean_predicted": float(np.mean(p)),
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else None,
        "pr_auc": float(average_precision_score(y, p)) if both_classes else None,
        "brier": float(np.mean((p - y) ** 2)),
        "brier_base_rate": base * (1.0 - base),
        "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
    }
    curve = reliability_curve(p, y)
    out["ece"] = _expected_calibration_error(curve, len(p))
    if reliability:
        out["reliability"] = curve
    return out


def jsonable(value: Any) -> Any:
    """Recursively turn numpy scalars into Python numbers and NaN / inf / NA into None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value
