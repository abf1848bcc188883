"""Carrier and lane scorecards from the service's own delivered shipments.

Each delivered shipment is judged against the first prediction the service made for it (at registration,
the checkout moment) and against its promise: on time (delivered by the promise), the absolute error of the
most likely time (MAE, hours) and whether delivery fell inside the predicted window (coverage). The same
outcomes give the live reliability of the late-risk score.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.db.tables import EtaHistory, Shipment

OUTCOME_COLUMNS = [
    "shipment_id", "carrier", "service", "origin_country", "destination_country", "promised_at",
    "delivered_at", "eta_p50", "window_start", "window_end", "p_late",
]  # fmt: skip


def delivered_outcomes(session: Session, since: dt.datetime) -> pd.DataFrame:
    """Shipments delivered since `since`, with the first prediction recorded for each."""
    first = (
        select(EtaHistory.shipment_id, func.min(EtaHistory.id).label("first_id"))
        .group_by(EtaHistory.shipment_id)
        .subquery()
    )
    stmt = (
        select(
            Shipment.shipment_id,
            Shipment.carrier,
            Shipment.service,
            Shipment.origin_country,
            Shipment.destination_country,
            Shipment.promised_at,
            Shipment.delivered_at,
            EtaHistory.eta_p50,
            EtaHistory.window_start,
            EtaHistory.window_end,
            EtaHistory.p_late,
        )  # fmt: skip
        .join(first, first.c.shipment_id == Shipment.shipment_id)
        .join(EtaHistory, EtaHistory.id == first.c.first_id)
        .where(Shipment.delivered_at.is_not(None), Shipment.delivered_at >= since)
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=OUTCOME_COLUMNS)
    for column in ("promised_at", "delivered_at", "eta_p50", "window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["p_late"] = frame["p_late"].astype(float)
    return judged(frame)


def judged(frame: pd.DataFrame) -> pd.DataFrame:
    """Add `lane`, `week` (Monday, UTC), `on_time`, `abs_error_hours` and `in_window` (NaN when unknown)."""
    out = frame.copy()
    out["lane"] = out["origin_country"] + "-" + out["destination_country"]
    delivered = out["delivered_at"]
    out["week"] = (delivered.dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time).dt.date
    has_promise = out["promised_at"].notna()
    out["on_time"] = np.where(has_promise, delivered <= out["promised_at"], np.nan)
    out["abs_error_hours"] = (delivered - out["eta_p50"]).abs().dt.total_seconds() / 3600
    has_window = out["window_start"].notna() & out["window_end"].notna()
    inside = (delivered >= out["window_start"]) & (delivered <= out["window_end"])
    out["in_window"] = np.where(has_window, inside, np.nan)
    out["late"] = np.where(has_promise, delivered > out["promised_at"], np.nan)
    return out


def _summary(group: pd.DataFrame) -> dict[str, Any]:
    def mean(column: str) -> float | None:
        value = group[column].mean()
        return None if pd.isna(value) else float(value)

    return {
        "n": len(group),
        "on_time_rate": mean("on_time"),
        "mae_hours": mean("abs_error_hours"),
        "coverage": mean("in_window"),
    }


def scorecard(outcomes: pd.DataFrame, by: str) -> list[dict[str, Any]]:
    """One row per carrier or lane (`by`), busiest first."""
    rows = [{by: key, **_summary(group)} for key, group in outcomes.groupby(by, sort=True)]
    return sorted(rows, key=lambda row: (-row["n"], row[by]))


def weekly(outcomes: pd.DataFrame, by: str) -> dict[str, list[dict[str, Any]]]:
    """Per carrier or lane, the summary for each week of delivery (oldest first)."""
    series: dict[str, list[dict[str, Any]]] = {}
    for (key, week), group in outcomes.groupby([by, "week"], sort=True):
        series.setdefault(str(key), []).append({"week": str(week), **_summary(group)})
    return series


def reliability(outcomes: pd.DataFrame, bins: int = 10) -> list[dict[str, Any]]:
    """Late-risk reliability: per equal-width bin of the first predicted p_late, the observed late rate."""
    known = outcomes[outcomes["p_late"].notna() & outcomes["late"].notna()]
    p = known["p_late"].to_numpy(dtype=float)
    late = known["late"].to_numpy(dtype=float)
    index = np.minimum((p * bins).astype(int), bins - 1)
    curve = []
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            curve.append({
                "bin_lower": b / bins, "bin_upper": (b + 1) / bins, "count": int(chosen.sum()),
                "mean_predicted": float(p[chosen].mean()), "observed_rate": float(late[chosen].mean()),
            })  # fmt: skip
    return curve
