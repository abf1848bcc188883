"""Time-based splits: train on the past, calibrate on a later window, test on the latest period."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Split:
    train: pd.DataFrame
    calibrate: pd.DataFrame
    test: pd.DataFrame
    by_time: bool

    def windows(self) -> dict[str, str]:
        def span(df: pd.DataFrame) -> str:
            if not self.by_time or df.empty:
                return f"{len(df)} rows (no dates)"
            return f"{df['created_at'].min():%Y-%m-%d} .. {df['created_at'].max():%Y-%m-%d}"

        return {"train": span(self.train), "calibrate": span(self.calibrate), "test": span(self.test)}

    def sizes(self) -> dict[str, int]:
        return {"n_train": len(self.train), "n_calibrate": len(self.calibrate), "n_test": len(self.test)}


def split_times(created: pd.Series, calibrate: float = 0.15, test: float = 0.15) -> tuple:
    """Where calibration and test begin: the (1 - calibrate - test) and (1 - test) quantiles of the creation
    times (missing ones ignored)."""
    return created.quantile(1 - calibrate - test), created.quantile(1 - test)


def time_split(history: pd.DataFrame, calibrate: float = 0.15, test: float = 0.15) -> Split:
    """Split by creation time at the (1 - calibrate - test) and (1 - test) quantiles of `created_at`.

    Outcome-only data have no times; they are split by a hash of the shipment id (never by row order, which
    leaks the label in some exports), and `by_time` says so.
    """
    created = history["created_at"]
    if created.notna().any():
        dated = history[created.notna()].sort_values("created_at", kind="stable")
        t1, t2 = split_times(dated["created_at"], calibrate, test)
        c = dated["created_at"]
        return Split(dated[c < t1], dated[(c >= t1) & (c < t2)], dated[c >= t2], by_time=True)
    u = np.array([int(hashlib.sha1(s.encode()).hexdigest()[:8], 16) / 16**8 for s in history["shipment_id"]])
    return Split(
        history[u < 1 - calibrate - test],
        history[(u >= 1 - calibrate - test) & (u < 1 - test)],
        history[u >= 1 - test],
        by_time=False,
    )
