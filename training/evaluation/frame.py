"""The evaluation frame: test shipments joined with their predictions, timestamps in UTC, the late outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import UTC_TS, to_utc

TRUTH_TIMESTAMPS = ("created_at", "promised_at", "delivered_at")
TRUTH_STRINGS = (
    "carrier",
    "service",
    "origin_country",
    "destination_country",
    "origin_region",
    "destination_region",
)
PREDICTION_TIMESTAMPS = (
    "eta_p10",
    "eta_p50",
    "eta_p90",
    "window_start",
    "window_end",
    "window_start_90",
    "window_end_90",
    "window_start_95",
    "window_end_95",
)


def _timestamps(df: pd.DataFrame, col: str) -> pd.Series:
    if col in df:
        return to_utc(df[col]).reset_index(drop=True)
    return pd.Series(pd.NaT, index=pd.RangeIndex(len(df)), dtype=UTC_TS)


def _strings(df: pd.DataFrame, col: str) -> pd.Series:
    if col in df:
        return df[col].astype("string").reset_index(drop=True)
    return pd.Series(pd.NA, index=pd.RangeIndex(len(df)), dtype="string")


def late_outcome(truth: pd.DataFrame) -> np.ndarray:
    """1.0 late / 0.0 on time / NaN unknown: `delivered_late`, else `delivered_at > promised_at`."""
    given = pd.Series(np.nan, index=truth.index)
    if "delivered_late" in truth:
        given = truth["delivered_late"].astype("Float64").astype(float)
    both = truth["delivered_at"].notna() & truth["promised_at"].notna()
    derived = (truth["delivered_at"] > truth["promised_at"]).astype(float).where(both)
    return given.fillna(derived).to_numpy(dtype=float)


def conform_truth(test: pd.DataFrame) -> pd.DataFrame:
    """The shipment columns evaluation reads (absent ones as nulls), timestamps in UTC, and `late`."""
    out = pd.DataFrame({"shipment_id": _strings(test, "shipment_id")})
    for col in TRUTH_STRINGS:
        out[col] = _strings(test, col)
    for col in TRUTH_TIMESTAMPS:
        out[col] = _timestamps(test, col)
    if "delivered_late" in test:
        out["delivered_late"] = test["delivered_late"].astype("boolean").reset_index(drop=True)
    out["late"] = late_outcome(out)
    return out


def _conform_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    ids = _strings(predictions, "shipment_id")
    if ids.duplicated().any():
        raise ValueError(f"predictions repeat {int(ids.duplicated().sum())} shipment_id(s)")
    out = pd.DataFrame({"shipment_id": ids})
    for col in PREDICTION_TIMESTAMPS:
        if col in predictions:
            out[col] = _timestamps(predictions, col)
    out["eta_p50"] = _timestamps(predictions, "eta_p50")
    p_late = predictions["p_late"] if "p_late" in predictions else pd.Series(np.nan, index=predictions.index)
    out["p_late"] = pd.to_numeric(p_late, errors="coerce").astype(float).to_numpy(na_value=np.nan)
    out["prediction_source"] = _strings(predictions, "prediction_source")
    return out


def join_truth(test: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per test shipment with its prediction columns (missing where it got no prediction row).

    Timestamps are conformed to tz-aware UTC (naive values are read as UTC), `late` is the outcome as a float
    and `has_prediction` says whether the shipment had a prediction row.
    """
    truth = conform_truth(test)
    preds = _conform_predictions(predictions)
    frame = truth.merge(preds, on="shipment_id", how="left", indicator="_merge")
    frame["has_prediction"] = (frame["_merge"] == "both").to_numpy(dtype=bool)
    return frame.drop(columns="_merge")
