"""Loading contract files (history and events parquet) into the service through the API's own code path.

`python -m serving load` registers each chosen shipment with `tracking.register` at its creation time (the
checkout moment), then feeds its scans through `tracking.ingest` one day at a time, so every shipment gets
the ETA history the live service would have recorded. Used by `make demo` on simulated data; it also
back-fills a new installation from exported history.

`shift_to` moves every timestamp by whole weeks so the data end just before that moment (weekdays are kept):
simulated in-flight shipments then look in flight today.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from features.alerts import DEFAULT_RULES, AlertRules
from features.bundle import ModelBundle
from features.contract import validate_events, validate_shipments
from serving.db.tables import Shipment
from serving.tracking import EventBatch, ShipmentIn, ingest, parse_events, register, repredict

PLACE_FIELDS = ("country", "region", "lat", "lon")
STAMPS = ("created_at", "shipped_at", "promised_at", "delivered_at")


@dataclass(frozen=True)
class LoadPlan:
    in_flight: int = 120  # the latest shipments not delivered by the end of the data
    delivered: int = 200  # a sample of those delivered in the last `delivered_weeks`
    delivered_weeks: int = 10
    seed: int = 0


@dataclass(frozen=True)
class LoadResult:
    registered: int
    skipped: int  # already in the service
    events: int
    rejected_events: int
    data_end: dt.datetime
    shift_days: int


def read_contract(history_path: Path, events_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    history = validate_shipments(pd.read_parquet(history_path)).valid
    events = validate_events(pd.read_parquet(events_path)).valid
    return history, events


def whole_week_shift(data_end: pd.Timestamp, to: dt.datetime) -> pd.Timedelta:
    weeks = math.floor((pd.Timestamp(to) - data_end) / pd.Timedelta(weeks=1))
    return pd.Timedelta(weeks=max(weeks, 0))


def choose(history: pd.DataFrame, plan: LoadPlan, data_end: pd.Timestamp) -> pd.DataFrame:
    """The latest in-flight shipments and a random sample of recent deliveries."""
    flying = history[history["delivered_at"].isna()].nlargest(plan.in_flight, "created_at")
    recent = history[history["delivered_at"] >= data_end - pd.Timedelta(weeks=plan.delivered_weeks)]
    sample = recent.sample(n=min(plan.delivered, len(recent)), random_state=plan.seed)
    return pd.concat([sample, flying]).sort_values("created_at")


def _value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


def shipment_in(row: pd.Series) -> ShipmentIn:
    def place(side: str) -> dict[str, Any]:
        return {k: v for k in PLACE_FIELDS if (v := _value(row.get(f"{side}_{k}"))) is not None}

    attributes = {
        str(k).removeprefix("attr_"): v
        for k in row.index
        if str(k).startswith("attr_") and (v := _value(row[k])) is not None
    }
    body = {
        "shipment_id": row["shipment_id"], "carrier": row["carrier"], "service": row["service"],
        "origin": place("origin"), "destination": place("destination"),
        "created_at": row["created_at"].to_pydatetime(),
        "promised_at": None if pd.isna(row["promised_at"]) else row["promised_at"].to_pydatetime(),
        "weight_kg": _value(row.get("weight_kg")), "distance_km": _value(row.get("distance_km")),
        "attributes": attributes,
    }  # fmt: skip
    return ShipmentIn.model_validate(body)


def _event_batches(scans: pd.DataFrame) -> list[tuple[dt.datetime, list[dict[str, Any]]]]:
    """The shipment's scans grouped by UTC day, each batch with the time it is ingested at (its last scan)."""
    batches = []
    for _, day in scans.groupby(scans["occurred_at"].dt.floor("D"), sort=True):
        records = [
            {k: _value(r.get(k)) for k in ("event_id", "status", "region", "country", "description")}
            | {"occurred_at": r["occurred_at"].to_pydatetime()}
            for r in day.to_dict("records")
        ]
        batches.append((max(r["occurred_at"] for r in records), records))
    return batches


def load(
    factory: sessionmaker[Session],
    history: pd.DataFrame,
    events: pd.DataFrame,
    bundle: ModelBundle | None,
    plan: LoadPlan,
    shift_to: dt.datetime | None = None,
    rules: AlertRules = DEFAULT_RULES,
) -> LoadResult:
    data_end = max(history["created_at"].max(), events["occurred_at"].max())
    shift = whole_week_shift(data_end, shift_to) if shift_to else pd.Timedelta(0)
    chosen = choose(history, plan, data_end)
    scans = events[events["shipment_id"].isin(chosen["shipment_id"])].copy()
    for column in STAMPS:
        if column in chosen:
            chosen[column] = chosen[column] + shift
    scans["occurred_at"] = scans["occurred_at"] + shift
    end = (data_end + shift).to_pydatetime()
    by_shipment = dict(tuple(scans.sort_values("occurred_at").groupby("shipment_id", sort=False)))
    registered = skipped = accepted = rejected = 0
    for _, row in chosen.iterrows():
        body = shipment_in(row)
        with factory() as session:
            if session.get(Shipment, body.shipment_id) is not None:
                skipped += 1
                continue
            s = register(session, body, bundle, body.created_at, rules)
            empty = pd.DataFrame(columns=scans.columns)
            for at, records in _event_batches(by_shipment.get(body.shipment_id, empty)):
                good, bad = parse_events(EventBatch(events=records))
                accepted += ingest(session, s, good, bundle, at, rules)[0]
                rejected += len(bad)
            if s.delivered_at is None and bundle is not None:
                repredict(
                    session, s, bundle, end, trigger="rescore", rules=rules
                )  # the state at the data's end (stalls)
            session.commit()
            registered += 1
    return LoadResult(registered, skipped, accepted, rejected, end, shift.days)
