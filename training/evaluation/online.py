"""The test window replayed as the service lives it: each window read at the online calibration levels
reached when the shipment was created, the levels moved by each delivery once it has happened."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.build import transit_hours
from features.bundle import ModelBundle
from features.conformal import AdaptiveCoverage


def replay(
    bundle: ModelBundle, shipments: pd.DataFrame, coverages: tuple[float, ...], weather: pd.DataFrame | None
) -> tuple[dict[float, pd.DataFrame], AdaptiveCoverage]:
    """Predictions at each coverage, in `shipments`' order, each window read at the levels online calibration
    had reached at the shipment's creation (deliveries at the same instant count first); and the levels at
    the end. Without conformal offsets (no transit model) or without dates: the calibrated windows alone."""
    online = AdaptiveCoverage()
    created = pd.to_datetime(shipments["created_at"], utc=True)
    if bundle.conformal is None or created.isna().any():
        return {c: bundle.predict(shipments, c, weather) for c in coverages}, online
    hours = transit_hours(shipments)
    done = ~np.isnan(hours)
    rows, pools = bundle.window_rows(shipments), bundle.window_pools(shipments)
    scores = bundle.window_scores(shipments[done], hours[done], weather)
    delivered = pd.to_datetime(shipments["delivered_at"], utc=True)
    moments = pd.concat([delivered[done], created], ignore_index=True).dt.tz_convert(None).to_numpy()
    index = np.concatenate([np.flatnonzero(done), np.arange(len(shipments))])
    is_creation = np.arange(len(index)) >= done.sum()
    read_at = {c: np.empty(len(shipments)) for c in coverages}
    score_of = dict(zip(np.flatnonzero(done), scores, strict=True))
    for k in np.lexsort((is_creation, moments)):  # by time, deliveries first at the same instant
        i = index[k]
        if is_creation[k]:
            for c in coverages:
                read_at[c][i] = online.effective_one(pools[i], c)
        else:
            online.observe(pools[i], float(score_of[i]), bundle.conformal.grid_named(rows[i]))
    return {c: bundle.predict(shipments, c, weather, read_at=read_at[c]) for c in coverages}, online


def window_coverage(shipments: pd.DataFrame, predictions: pd.DataFrame) -> dict[str, float | None]:
    """Share of delivered shipments inside their window, and the windows' mean width in hours."""
    truth = pd.to_datetime(shipments["delivered_at"], utc=True).reset_index(drop=True)
    done = truth.notna().to_numpy()
    if not done.any():
        return {"coverage": None, "width_hours": None}
    inside = (predictions["window_start"] <= truth) & (truth <= predictions["window_end"])
    width = (predictions["window_end"] - predictions["window_start"]).dt.total_seconds() / 3600
    return {"coverage": float(inside[done].mean()), "width_hours": float(width[done].mean())}
