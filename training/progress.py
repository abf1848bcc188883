"""The in-transit model: remaining hours from the latest scan and the time elapsed, calibrated by status."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.bundle import ConformalOffsets
from features.contract import EventStatus
from features.fastpredict import threads
from features.progress import PROGRESS_FEATURES, progress, status_segments
from training.boosting import TrainConfig, fit_quantile_models, log_hours

MAX_SNAPSHOTS = 100_000


def snapshots(shipments: pd.DataFrame, events: pd.DataFrame | None, seed: int) -> pd.DataFrame:
    """Moments at which a delivered shipment could have been asked about, drawn between its hand-over (or
    creation) and its delivery, with the progress its events showed then. Data without scans still have one
    real milestone: the hand-over to the carrier (`shipped_at`), used as a `picked_up` event."""
    done = np.flatnonzero((shipments["delivered_at"].notna() & shipments["created_at"].notna()).to_numpy())
    rng = np.random.default_rng(seed)
    if len(done) > MAX_SNAPSHOTS:
        done = np.sort(rng.choice(done, MAX_SNAPSHOTS, replace=False))
    rows = np.repeat(done, int(np.clip(MAX_SNAPSHOTS // max(len(done), 1), 1, 3)))
    base = shipments.iloc[rows]
    start = base["shipped_at"].where(base["shipped_at"].notna(), base["created_at"])
    span = (base["delivered_at"] - start).dt.total_seconds().to_numpy()
    moment = start + pd.to_timedelta(rng.random(len(base)) * span, unit="s").to_numpy()
    snaps = pd.DataFrame(
        {
            "row": rows,
            "shipment_id": base["shipment_id"].to_numpy(),
            "moment": moment.to_numpy(),
            "created_at": base["created_at"].to_numpy(),
            "remaining_hours": (base["delivered_at"] - moment).dt.total_seconds().to_numpy() / 3600,
        }
    )
    snaps = snaps[snaps["remaining_hours"] > 0].reset_index(drop=True)
    if events is None or events.empty:
        events = handover_events(shipments)
    return pd.concat([snaps, progress(events, snaps)], axis=1)


def handover_events(shipments: pd.DataFrame) -> pd.DataFrame:
    """The hand-over to the carrier as a `picked_up` scan, for data that have no scan events."""
    handed = shipments[["shipment_id", "shipped_at"]].dropna()
    return handed.rename(columns={"shipped_at": "occurred_at"}).assign(status=EventStatus.PICKED_UP.value)


def design(X: pd.DataFrame, snaps: pd.DataFrame) -> pd.DataFrame:
    """Creation-time features of each snapshot's shipment beside its progress features."""
    static = X.iloc[snaps["row"].to_numpy()].reset_index(drop=True)
    return pd.concat([static, snaps[list(PROGRESS_FEATURES)].reset_index(drop=True)], axis=1)


def fit_progress(
    X_train: pd.DataFrame,
    train: pd.DataFrame,
    X_cal: pd.DataFrame,
    calibrate: pd.DataFrame,
    events: pd.DataFrame | None,
    config: TrainConfig,
) -> tuple[dict[float, lgb.Booster], ConformalOffsets] | None:
    snaps = snapshots(train, events, config.seed)
    cal = snapshots(calibrate, events, config.seed + 1)
    if len(snaps) < 100 or len(cal) < 20:
        return None
    models = fit_quantile_models(
        design(X_train, snaps), log_hours(snaps["remaining_hours"].to_numpy()), config
    )
    Z = design(X_cal, cal)
    n_threads = threads(len(Z))
    predictions = [models[q].predict(Z, num_threads=n_threads) for q in sorted(models)]
    logs = np.sort(np.column_stack(predictions), axis=1)
    y = log_hours(cal["remaining_hours"].to_numpy())
    scores = np.maximum(logs[:, 0] - y, y - logs[:, -1])
    return models, ConformalOffsets.fit(scores, status_segments(cal))


def scan_gaps(
    events: pd.DataFrame | None, shipments: pd.DataFrame, quantile: float = 0.95
) -> dict[str, float]:
    """How long a shipment usually waits for its next scan after each status (hours, the given quantile);
    a longer silence marks it stalled. Without scans: the hand-over-to-delivery time."""
    if events is None or events.empty:
        hours = (shipments["delivered_at"] - shipments["shipped_at"]).dt.total_seconds().dropna() / 3600
        return {"*": float(np.quantile(hours, quantile))} if len(hours) else {}
    ordered = events.sort_values(["shipment_id", "occurred_at"], kind="stable")
    gap = ordered.groupby("shipment_id")["occurred_at"].shift(-1) - ordered["occurred_at"]
    frame = pd.DataFrame({"status": ordered["status"], "hours": gap.dt.total_seconds() / 3600}).dropna()
    table = {str(k): float(v) for k, v in frame.groupby("status")["hours"].quantile(quantile).items()}
    return {**table, "*": float(frame["hours"].quantile(quantile))}
