"""Segments the metrics are broken down by, and the per-segment loop that skips small segments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

MIN_SEGMENT_SIZE = 30
SEGMENT_DIMENSIONS = ("carrier", "service", "cross_border", "lane_volume", "prediction_source", "month")
LANE_VOLUME_BUCKETS = ((0, "unseen"), (9, "rare <10"), (100, "10-100"))  # upper bound (inclusive) -> label


def lane_volume_bucket(train_count: int) -> str:
    """Label for a lane by its number of training shipments: unseen, rare <10, 10-100 or >100."""
    for upper, label in LANE_VOLUME_BUCKETS:
        if train_count <= upper:
            return label
    return ">100"


def cross_border(frame: pd.DataFrame) -> pd.Series:
    """ "cross-border" / "domestic", or "unknown" where a country is missing or unknown (ZZ)."""
    origin, dest = frame["origin_country"].fillna("ZZ"), frame["destination_country"].fillna("ZZ")
    label = np.where(origin.to_numpy() != dest.to_numpy(), "cross-border", "domestic")
    unknown = ((origin == "ZZ") | (dest == "ZZ")).to_numpy(dtype=bool)
    return pd.Series(np.where(unknown, "unknown", label), index=frame.index)


def segment_labels(frame: pd.DataFrame, lane_train_counts: np.ndarray) -> dict[str, pd.Series]:
    """dimension -> label per row of `frame` (missing values labelled "unknown" / "missing")."""
    source = frame["prediction_source"].fillna("missing")
    source = source.where(frame["has_prediction"], "missing")
    return {
        "carrier": frame["carrier"].fillna("unknown"),
        "service": frame["service"].fillna("unknown"),
        "cross_border": cross_border(frame),
        "lane_volume": pd.Series([lane_volume_bucket(c) for c in lane_train_counts], index=frame.index),
        "prediction_source": source,
        "month": frame["created_at"].dt.strftime("%Y-%m").fillna("unknown"),  # of creation: drift in the test
    }


def by_segment(
    frame: pd.DataFrame,
    labels: dict[str, pd.Series],
    metric: Callable[[pd.DataFrame], dict[str, Any]],
    min_size: int = MIN_SEGMENT_SIZE,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, int]]]:
    """`metric` on each segment with at least `min_size` test shipments; the others counted as skipped."""
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, dict[str, int]] = {}
    for dimension, label in labels.items():
        results[dimension], skipped[dimension] = {}, {"segments": 0, "shipments": 0}
        for value, rows in frame.groupby(label.to_numpy(), sort=True):
            if len(rows) < min_size:
                skipped[dimension]["segments"] += 1
                skipped[dimension]["shipments"] += len(rows)
                continue
            results[dimension][str(value)] = metric(rows)
    return results, skipped
