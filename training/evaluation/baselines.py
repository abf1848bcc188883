"""Baselines reported beside every model: the dataset's own promise, lane median and carrier median.

Medians are transit hours from `created_at` to `delivered_at`, learned from the training window only and
added to each test shipment's `created_at`. Where a key was never seen in training the baseline falls back
to a coarser key and finally to the global median; how often each level answered is counted.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from training.evaluation.frame import conform_truth
from training.evaluation.metrics import hours_between

BASELINES = ("promise", "lane_median", "carrier_median")
KeyFn = Callable[[pd.DataFrame], pd.Series]


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return (
        df[name].astype("string").fillna("") if name in df else pd.Series("", index=df.index, dtype="string")
    )


def lane_key(df: pd.DataFrame) -> pd.Series:
    """`origin_country/origin_region->destination_country/destination_region` (missing regions left blank)."""
    origin = _col(df, "origin_country") + "/" + _col(df, "origin_region")
    return origin + "->" + _col(df, "destination_country") + "/" + _col(df, "destination_region")


def carrier_key(df: pd.DataFrame) -> pd.Series:
    return _col(df, "carrier")


def carrier_service_key(df: pd.DataFrame) -> pd.Series:
    return _col(df, "carrier") + "|" + _col(df, "service")


# baseline -> the keys it tries, finest first; the global median is always the last resort.
HIERARCHIES: dict[str, tuple[tuple[str, KeyFn], ...]] = {
    "lane_median": (("lane", lane_key), ("carrier", carrier_key)),
    "carrier_median": (("carrier_service", carrier_service_key), ("carrier", carrier_key)),
}


def train_transit_hours(train: pd.DataFrame) -> pd.DataFrame:
    """Training shipments conformed like the test frame, with `transit_hours` (NaN where not delivered)."""
    frame = conform_truth(train)
    frame["transit_hours"] = hours_between(frame["delivered_at"], frame["created_at"])
    return frame


def hierarchical_median(
    test: pd.DataFrame, train: pd.DataFrame, levels: tuple[tuple[str, KeyFn], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Median `transit_hours` of the finest key seen in `train`, and which level answered for each row."""
    known = train[train["transit_hours"].notna()]
    hours = np.full(len(test), np.nan)
    source = np.full(len(test), "none", dtype=object)
    for name, key in levels:
        medians = known.groupby(key(known).to_numpy())["transit_hours"].median()
        found = key(test).map(medians).to_numpy(dtype=float, na_value=np.nan)
        fill = np.isnan(hours) & ~np.isnan(found)
        hours[fill], source[fill] = found[fill], name
    if len(known):
        fill = np.isnan(hours)
        hours[fill], source[fill] = float(known["transit_hours"].median()), "global"
    return hours, source


def baseline_etas(frame: pd.DataFrame, train: pd.DataFrame) -> tuple[dict[str, pd.Series], dict[str, dict]]:
    """Point estimates (UTC timestamps) of each baseline for the rows of `frame`, and the fallback counts.

    `promise` is `promised_at` itself. A median baseline answers from the finest level seen in training;
    "none" counts shipments without `created_at` or without any delivered training shipment (NaT estimate).
    """
    known = train_transit_hours(train)
    etas = {"promise": frame["promised_at"]}
    fallbacks: dict[str, dict] = {}
    for name, levels in HIERARCHIES.items():
        hours, source = hierarchical_median(frame, known, levels)
        eta = frame["created_at"] + pd.to_timedelta(hours, unit="h")
        source[eta.isna().to_numpy(dtype=bool)] = "none"
        labels = [level for level, _ in levels] + ["global", "none"]
        etas[name] = eta
        fallbacks[name] = {label: int((source == label).sum()) for label in labels}
    return etas, fallbacks


def lane_volume(frame: pd.DataFrame, train: pd.DataFrame) -> np.ndarray:
    """Number of training shipments on each test shipment's lane (0 for lanes never seen)."""
    counts = lane_key(train).value_counts()
    return lane_key(frame).map(counts).fillna(0).to_numpy(dtype=int)
