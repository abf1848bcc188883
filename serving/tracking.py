"""Shipments and their scan events: register with the checkout promise, ingest events idempotently in any
arrival order, re-predict the ETA from everything seen so far, keep the history of ETA changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from features.alerts import DEFAULT_RULES, AlertRules
from features.bundle import ModelBundle
from features.contract import EventStatus, validate_shipments
from features.reasons import DelayReason, Reason, delay_reasons
from serving.db.tables import EtaHistory, Event, Shipment
from serving.errors import ProblemError
from serving.notify.alerting import assess
from serving.online import load_levels, model_version, observe_delivery
from serving.quotes import AttrValue, Code, Country, Moment, Place

MAX_EVENTS_PER_BATCH = 500
AT_RISK = 0.5


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shipment_id: Code
    carrier: Code
    service: Code
    origin: Place
    destination: Place
    created_at: Moment
    promised_at: Moment | None = Field(default=None, description="the promise shown at checkout")
    weight_kg: float | None = Field(default=None, gt=0, le=50_000)
    distance_km: float | None = Field(default=None, ge=0, le=40_000)
    attributes: dict[Code, AttrValue] = Field(default_factory=dict, max_length=20)

    @model_validator(mode="after")
    def _promise_after_creation(self) -> ShipmentIn:
        if self.promised_at is not None and self.promised_at < self.created_at:
            raise ValueError("promised_at lies before created_at")
        return self


class InvalidShipment(ProblemError):
    status = 422


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: Code
    occurred_at: Moment
    status: EventStatus
    region: Code | None = None
    country: Country | None = None
    description: str | None = Field(default=None, max_length=500)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class Rejected(BaseModel):
    index: int
    event_id: str | None
    errors: list[str]


_EVENT = TypeAdapter(EventIn)


def parse_events(batch: EventBatch) -> tuple[list[EventIn], list[Rejected]]:
    """Validate each event on its own: bad ones are rejected with reasons, the good ones still go in."""
    good, bad = [], []
    for i, raw in enumerate(batch.events):
        try:
            good.append(_EVENT.validate_python(raw))
        except ValidationError as exc:
            errors = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
            bad.append(Rejected(index=i, event_id=event_id, errors=errors))
    return good, bad


def contract_row(s: Shipment) -> dict[str, Any]:
    """A stored shipment as one row of the canonical contract (what the model bundle reads)."""
    return {
        "shipment_id": s.shipment_id, "carrier": s.carrier, "service": s.service,
        "origin_country": s.origin_country, "origin_region": s.origin_region,
        "origin_lat": s.origin_lat, "origin_lon": s.origin_lon,
        "destination_country": s.destination_country, "destination_region": s.destination_region,
        "destination_lat": s.destination_lat, "destination_lon": s.destination_lon,
        "created_at": s.created_at, "promised_at": s.promised_at, "weight_kg": s.weight_kg,
        "distance_km": s.distance_km, **{f"attr_{k}": v for k, v in (s.attributes or {}).items()},
    }  # fmt: skip


def shipment_frame(s: Shipment) -> pd.DataFrame:
    checked = validate_shipments(pd.DataFrame([contract_row(s)]))
    if checked.n_rejected:
        raise InvalidShipment(f"The shipment breaks the shipment contract: {checked.reasons}")
    return checked.valid


def register(
    session: Session,
    body: ShipmentIn,
    bundle: ModelBundle | None,
    now: dt.datetime,
    rules: AlertRules = DEFAULT_RULES,
) -> Shipment:
    places = {**body.origin.contract_fields("origin"), **body.destination.contract_fields("destination")}
    shipment = Shipment(
        shipment_id=body.shipment_id, carrier=body.carrier, service=body.service, created_at=body.created_at,
        promised_at=body.promised_at, weight_kg=body.weight_kg, distance_km=body.distance_km,
        attributes=dict(body.attributes), **places,
    )  # fmt: skip
    session.add(shipment)
    session.flush()
    repredict(session, shipment, bundle, now, trigger="registered", rules=rules)
    return shipment


def ingest(
    session: Session,
    shipment: Shipment,
    events: list[EventIn],
    bundle: ModelBundle | None,
    now: dt.datetime,
    rules: AlertRules = DEFAULT_RULES,
) -> tuple[int, int]:
    """Store new events (a repeated event_id is a no-op) and re-predict; returns (accepted, duplicates)."""
    ids = [e.event_id for e in events]
    known = set(session.scalars(select(Event.event_id).where(Event.event_id.in_(ids))))
    fresh = {e.event_id: e for e in events if e.event_id not in known}  # also drops repeats within the batch
    for e in fresh.values():
        session.add(Event(shipment_id=shipment.shipment_id, **e.model_dump(mode="python")))
    session.flush()
    if fresh:
        repredict(session, shipment, bundle, now, trigger="event", rules=rules)
    return len(fresh), len(events) - len(fresh)


def events_of(session: Session, shipment_id: str) -> list[Event]:
    stmt = select(Event).where(Event.shipment_id == shipment_id).order_by(Event.occurred_at, Event.event_id)
    return list(session.scalars(stmt))


def repredict(
    session: Session,
    s: Shipment,
    bundle: ModelBundle | None,
    now: dt.datetime,
    trigger: str,
    rules: AlertRules = DEFAULT_RULES,
) -> None:
    """Recompute the shipment's state from all its events (order of arrival never matters), then apply the
    alert rules: alerts and their notifications join this transaction."""
    events = events_of(session, s.shipment_id)
    last = events[-1] if events else None
    s.status = last.status if last else None
    s.last_event_at = last.occurred_at if last else None
    delivered = next((e.occurred_at for e in events if e.status == EventStatus.DELIVERED.value), None)
    first_delivery = s.delivered_at is None and delivered is not None
    s.delivered_at = delivered
    frame = shipment_frame(s) if bundle is not None else None  # validated once for every use below
    if first_delivery and bundle is not None and frame is not None:
        observe_delivery(session, bundle, s, frame)
    if delivered is not None:
        s.eta_p50 = s.window_start = s.window_end = delivered
        s.p_late = None if s.promised_at is None else float(delivered > s.promised_at)
        s.stalled = False
    elif bundle is not None and frame is not None:
        _apply_prediction(session, s, bundle, frame, events, now)
    s.updated_at = now
    _record(session, s, trigger, now)

    def explain(facts: Sequence[Reason]) -> list[DelayReason]:
        return model_reasons(s, events, bundle, frame, now, facts)

    assess(session, s, events, now, rules, explain)


def model_reasons(
    s: Shipment,
    events: list[Event],
    bundle: ModelBundle | None,
    frame: pd.DataFrame | None,
    now: dt.datetime,
    facts: Sequence[Reason],
) -> list[DelayReason]:
    """The facts from the scans, then the model's reasons (feature contributions towards lateness);
    `frame`: the shipment as a contract row."""
    if bundle is None or frame is None or s.delivered_at is not None:
        return delay_reasons(facts=facts)
    found = bundle.contributions(frame, _scans(s, events), pd.Timestamp(_moment(s, now))) if events else (
        bundle.contributions(frame)
    )  # fmt: skip
    if found is None:
        return delay_reasons(facts=facts)
    names, contributions = found
    return delay_reasons(names, contributions[0], facts)


def _moment(s: Shipment, now: dt.datetime) -> dt.datetime:
    return max(now, s.last_event_at or s.created_at)


def _scans(s: Shipment, events: list[Event]) -> pd.DataFrame:
    scans = pd.DataFrame(
        {"shipment_id": s.shipment_id, "occurred_at": [e.occurred_at for e in events],
         "status": [e.status for e in events]}
    )  # fmt: skip
    scans["occurred_at"] = pd.to_datetime(scans["occurred_at"], utc=True)
    return scans


def _apply_prediction(
    session: Session,
    s: Shipment,
    bundle: ModelBundle,
    frame: pd.DataFrame,
    events: list[Event],
    now: dt.datetime,
) -> None:
    """The in-transit prediction from the scans; before any scan, the creation-time window read at the
    segment's online calibration level."""
    if events:
        pred = bundle.predict_progress(frame, _scans(s, events), pd.Timestamp(_moment(s, now))).iloc[0]
    else:
        pools = list(bundle.window_pools(frame)) if bundle.conformal is not None else []
        online = load_levels(session, model_version(bundle), pools)
        pred = bundle.predict(frame, online=online).iloc[0]
    for col in ("eta_p50", "window_start", "window_end"):
        setattr(s, col, None if pd.isna(pred[col]) else pred[col].to_pydatetime())
    s.coverage = float(pred["coverage"])
    s.p_late = None if pd.isna(pred["p_late"]) else float(pred["p_late"])
    s.prediction_source = str(pred["prediction_source"])
    s.model_version = str(pred["model_version"]) or None
    since = (now - (s.last_event_at or s.created_at)).total_seconds() / 3600
    s.stalled = bundle.is_stalled(s.status, since)


def _record(session: Session, s: Shipment, trigger: str, now: dt.datetime) -> None:
    """Append to the ETA history when the window or the risk changed, stamped with the prediction moment."""
    last = session.scalars(
        select(EtaHistory)
        .where(EtaHistory.shipment_id == s.shipment_id)
        .order_by(EtaHistory.id.desc())
        .limit(1)
    ).first()
    current = (s.eta_p50, s.window_start, s.window_end, s.p_late)
    if last is not None and (last.eta_p50, last.window_start, last.window_end, last.p_late) == current:
        return
    session.add(EtaHistory(
        shipment_id=s.shipment_id, computed_at=now, trigger=trigger, eta_p50=s.eta_p50,
        window_start=s.window_start, window_end=s.window_end, p_late=s.p_late, model_version=s.model_version,
        prediction_source=s.prediction_source,
    ))  # fmt: skip


def reasons(s: Shipment, events: list[Event]) -> list[str]:
    """Plain-language reasons a shipment is at risk."""
    out = []
    if s.delivered_at is None and s.promised_at and s.window_end and s.window_end > s.promised_at:
        out.append("the delivery window now ends after the promised time")
    if s.p_late is not None and s.p_late >= AT_RISK and s.delivered_at is None:
        out.append(f"late risk {s.p_late:.0%}")
    if s.stalled:
        out.append("no scan for longer than usual")
    statuses = {e.status for e in events}
    if EventStatus.CUSTOMS_HOLD.value in statuses and EventStatus.CUSTOMS_CLEARED.value not in statuses:
        out.append("held at customs")
    if EventStatus.EXCEPTION.value in statuses:
        out.append("the carrier reported an exception")
    return out


def at_risk(s: Shipment) -> bool:
    late_window = bool(s.promised_at and s.window_end and s.window_end > s.promised_at)
    return s.delivered_at is None and (late_window or s.stalled or (s.p_late or 0) >= AT_RISK)


def sweep(
    session: Session,
    bundle: ModelBundle | None,
    now: dt.datetime,
    rules: AlertRules = DEFAULT_RULES,
    recheck: dt.timedelta = dt.timedelta(minutes=5),
    limit: int = 500,
) -> int:
    """Re-evaluate the shipments in flight that time alone may have changed: a silence past the shortest
    stall limit (not checked within `recheck`), a promise passed since the last evaluation. Each is locked
    (PostgreSQL skips rows another sweep holds) and committed on its own. Returns how many were evaluated."""
    in_flight = Shipment.delivered_at.is_(None)
    passed = and_(Shipment.promised_at < now, Shipment.updated_at < Shipment.promised_at)
    due = passed
    if bundle is not None and bundle.stall_hours:
        silent_since = func.coalesce(Shipment.last_event_at, Shipment.created_at)
        quiet = silent_since < now - dt.timedelta(hours=min(bundle.stall_hours.values()))
        due = or_(passed, and_(Shipment.stalled.is_(False), quiet, Shipment.updated_at < now - recheck))
    ids = list(session.scalars(select(Shipment.shipment_id).where(in_flight, due).limit(limit)))
    session.rollback()
    done = 0
    for shipment_id in ids:
        found = session.scalars(
            select(Shipment).where(Shipment.shipment_id == shipment_id).with_for_update(skip_locked=True)
        ).first()
        if found is not None and found.delivered_at is None:
            repredict(session, found, bundle, now, trigger="sweep", rules=rules)
            done += 1
        session.commit()
    return done
