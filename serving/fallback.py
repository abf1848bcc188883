"""Answers without a model: quantiles of the transit times this service has itself seen delivered, for the
lane, else the carrier's service, else the carrier; no answer (an abstention) when none has enough history."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from serving.db.tables import Shipment

MIN_HISTORY = 20
LOOKBACK = dt.timedelta(days=180)


def _transit_hours(session: Session, since: dt.datetime, *conditions: ColumnElement[bool]) -> np.ndarray:
    stmt = select(Shipment.created_at, Shipment.delivered_at).where(
        Shipment.delivered_at.is_not(None), Shipment.delivered_at >= since, *conditions
    )
    rows = session.execute(stmt).all()
    return np.array([(d - c).total_seconds() / 3600 for c, d in rows], dtype=float)


def history_fallback(
    session: Session, shipments: pd.DataFrame, coverage: float, now: dt.datetime
) -> pd.DataFrame:
    """The bundle's prediction columns from delivered history: P50 and the central `coverage` interval."""
    since = now - LOOKBACK
    qs = ((1 - coverage) / 2, 0.5, (1 + coverage) / 2)
    out = []
    for _, s in shipments.iterrows():
        lane = (
            Shipment.origin_country == s["origin_country"],
            Shipment.destination_country == s["destination_country"],
            Shipment.origin_region == s["origin_region"],
            Shipment.destination_region == s["destination_region"],
        )
        service = (Shipment.carrier == s["carrier"], Shipment.service == s["service"])
        quantiles = None
        for conditions in (lane, service, service[:1]):
            hours = _transit_hours(session, since, *conditions)
            if len(hours) >= MIN_HISTORY:
                quantiles = np.quantile(hours, qs)
                break
        times = [pd.NaT] * 3
        if quantiles is not None:
            times = [s["created_at"] + pd.Timedelta(hours=float(h)) for h in quantiles]
        out.append({"window_start": times[0], "eta_p50": times[1], "window_end": times[2],
                    "prediction_source": "fallback", "model_version": None})  # fmt: skip
    return pd.DataFrame(out, index=shipments.index)
