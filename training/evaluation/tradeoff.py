"""The promise trade-off: on-time rate against mean promised hours, for the model and the dataset's promise.

A promise policy sets each shipment's promise to a timestamp (the P90, the window's upper end, or the point
estimate plus k hours). Each policy gives one point: the share delivered by the promise and the mean promise
length in hours from `created_at`. Every point is computed on the same shipments: delivered, with
`created_at` and an `eta_p50`, and with a dataset promise when the dataset has promises at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from training.evaluation.metrics import HOURS_PER_DAY, hours_between

NAMED_POLICIES = ("eta_p50", "eta_p90", "window_end", "window_end_90", "window_end_95")
# The offsets k of "eta_p50 + k hours" are the quantiles of the residual at these levels, so the curve
# runs from 5% to 100% on time in even steps of on-time rate.
OFFSET_LEVELS = np.linspace(0.05, 1.0, 39)
COMPARE_KEYS = ("on_time_rate_at_equal_hours", "on_time_rate_gain", "promised_hours_saved_at_equal_on_time")


def promise_point(promise_hours: np.ndarray, actual_hours: np.ndarray) -> dict[str, float]:
    """On-time rate (delivered no later than the promise) and mean promised hours / days."""
    mean_hours = float(np.mean(promise_hours))
    return {
        "on_time_rate": float(np.mean(actual_hours <= promise_hours)),
        "mean_promised_hours": mean_hours,
        "mean_promised_days": mean_hours / HOURS_PER_DAY,
    }


def offset_curve(point_hours: np.ndarray, actual_hours: np.ndarray, name: str) -> list[dict[str, Any]]:
    """Points of the policies `point estimate + k hours` for a grid of k spanning the residuals."""
    offsets = np.unique(np.quantile(actual_hours - point_hours, OFFSET_LEVELS))
    return [
        {"policy": f"{name}{k:+.2f}h", "offset_hours": float(k)}
        | promise_point(point_hours + k, actual_hours)
        for k in offsets
    ]


def frontier(points: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The best on-time rate reachable for each promise length: (hours, on-time), both strictly increasing."""
    ordered = sorted(points, key=lambda p: (p["mean_promised_hours"], -p["on_time_rate"]))
    hours: list[float] = []
    on_time: list[float] = []
    for p in ordered:
        if not on_time or p["on_time_rate"] > on_time[-1]:
            hours.append(p["mean_promised_hours"])
            on_time.append(p["on_time_rate"])
    return np.array(hours), np.array(on_time)


def compare_at(points: list[dict[str, Any]], reference: dict[str, float] | None) -> dict[str, float | None]:
    """Interpolate the frontier of `points` linearly at the reference promise.

    `on_time_rate_at_equal_hours`: the curve's on-time rate at the reference's mean promised hours;
    `promised_hours_saved_at_equal_on_time`: reference hours minus the curve's hours at the reference's
    on-time rate (positive = shorter promises for the same on-time rate). Beyond the curve's longest
    promise the on-time rate stays at its last value, and below its lowest on-time rate the hours stay at
    its shortest promise: both are bounds that never overstate the curve. Other values outside it are None.
    """
    out: dict[str, float | None] = dict.fromkeys(COMPARE_KEYS)
    if reference is None or not points:
        return out
    hours, on_time = frontier(points)
    ref_hours, ref_on_time = reference["mean_promised_hours"], reference["on_time_rate"]
    if ref_hours >= hours[0]:
        at_equal_hours = float(np.interp(ref_hours, hours, on_time))
        out["on_time_rate_at_equal_hours"] = at_equal_hours
        out["on_time_rate_gain"] = at_equal_hours - ref_on_time
    if ref_on_time <= on_time[-1]:
        out["promised_hours_saved_at_equal_on_time"] = ref_hours - float(
            np.interp(ref_on_time, on_time, hours)
        )
    return out


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    needed = ["delivered_at", "created_at", "eta_p50"]
    rows = frame[frame[needed].notna().all(axis=1)]
    return rows[rows["promised_at"].notna()] if rows["promised_at"].notna().any() else rows


def _named_points(rows: pd.DataFrame, actual: np.ndarray) -> list[dict[str, Any]]:
    points = []
    for col in NAMED_POLICIES:
        if col in rows and rows[col].notna().all():
            points.append(
                {"policy": col} | promise_point(hours_between(rows[col], rows["created_at"]), actual)
            )
    return points


def tradeoff(frame: pd.DataFrame, baseline_columns: dict[str, str]) -> dict[str, Any]:
    """Model and baseline promise curves, the dataset promise's point and the comparison at that point."""
    rows = _rows(frame)
    actual = hours_between(rows["delivered_at"], rows["created_at"])
    reference = None
    if len(rows) and rows["promised_at"].notna().all():
        reference = promise_point(hours_between(rows["promised_at"], rows["created_at"]), actual)
    out: dict[str, Any] = {"n": len(rows), "dataset_promise": reference, "baselines": {}}
    if not len(rows):
        out["model"] = {"points": [], "curve": []} | compare_at([], None)
        return out
    named = _named_points(rows, actual)
    curve = offset_curve(hours_between(rows["eta_p50"], rows["created_at"]), actual, "eta_p50")
    out["model"] = {"points": named, "curve": curve} | compare_at(named + curve, reference)
    for name, col in baseline_columns.items():
        if rows[col].notna().all():
            base_curve = offset_curve(hours_between(rows[col], rows["created_at"]), actual, name)
            out["baselines"][name] = {"curve": base_curve} | compare_at(base_curve, reference)
    return out
