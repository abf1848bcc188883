"""Shipments and scan events: register, ingest, read one, list the ones at risk."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.reasons import Reason
from serving.db.tables import Alert, AlertStateRow, EtaHistory, Shipment
from serving.deps import ClockDep, ModelDep, SessionDep, SettingsDep
from serving.errors import Conflict, NotFound
from serving.security import Principal, Scope, require
from serving.shipment_query import ShipmentFilter, Sort, find_shipments
from serving.signing import tracking_path
from serving.tracking import (
    EventBatch,
    Rejected,
    ShipmentIn,
    at_risk,
    events_of,
    ingest,
    parse_events,
    reasons,
    register,
)  # fmt: skip

router = APIRouter(prefix="/v1/shipments", tags=["shipments"])
Ingest = Annotated[Principal, Depends(require(Scope.INGEST))]
Track = Annotated[Principal, Depends(require(Scope.TRACK))]
Ops = Annotated[Principal, Depends(require(Scope.OPS))]


class EventOut(BaseModel):
    event_id: str
    occurred_at: dt.datetime
    status: str
    region: str | None
    country: str | None
    description: str | None


class EtaChange(BaseModel):
    computed_at: dt.datetime
    trigger: str
    eta_p50: dt.datetime | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    p_late: float | None
    model_version: str | None


class ShipmentSummary(BaseModel):
    shipment_id: str
    carrier: str
    service: str
    origin_country: str
    destination_country: str
    created_at: dt.datetime
    promised_at: dt.datetime | None
    status: str | None
    delivered_at: dt.datetime | None
    last_event_at: dt.datetime | None
    stalled: bool
    eta_p50: dt.datetime | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    coverage: float | None
    p_late: float | None
    at_risk: bool
    prediction_source: str | None
    model_version: str | None


class DelayReasonOut(BaseModel):
    code: str
    message: str
    weight: float | None = Field(description="summed contributions towards lateness; null for a scan fact")


class AlertOut(BaseModel):
    id: int
    episode: int
    level: int
    conditions: str
    reasons: list[DelayReasonOut]
    old_eta: dt.datetime | None
    new_eta: dt.datetime | None
    promised_at: dt.datetime | None
    raised_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str | None
    notification_id: str


class ShipmentDetail(ShipmentSummary):
    origin_region: str | None
    destination_region: str | None
    reasons: list[str]
    delay_reasons: list[DelayReasonOut] = Field(
        description="why it is late (weather, customs, carrier_backlog, holiday_or_weekend, "
        "long_or_rare_lane, stalled, exception), strongest first; empty while on track"
    )
    alerts: list[AlertOut]
    events: list[EventOut]
    eta_history: list[EtaChange]


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[Rejected]
    shipment: ShipmentDetail


class ShipmentPage(BaseModel):
    items: list[ShipmentSummary]
    next_cursor: str | None


def _summary(s: Shipment) -> dict:
    fields = ShipmentSummary.model_fields.keys() - {"at_risk"}
    return {**{f: getattr(s, f) for f in fields}, "at_risk": at_risk(s)}


def detail(session: Session, s: Shipment) -> ShipmentDetail:
    events = events_of(session, s.shipment_id)
    history = session.scalars(
        select(EtaHistory).where(EtaHistory.shipment_id == s.shipment_id).order_by(EtaHistory.id)
    )
    state = session.get(AlertStateRow, s.shipment_id)
    why = [DelayReasonOut(**r) for r in state.reasons] if state else []
    alerts = session.scalars(select(Alert).where(Alert.shipment_id == s.shipment_id).order_by(Alert.id))
    return ShipmentDetail(
        **_summary(s), origin_region=s.origin_region, destination_region=s.destination_region,
        reasons=reasons(s, events), delay_reasons=why,
        alerts=[AlertOut.model_validate(a, from_attributes=True) for a in alerts],
        events=[EventOut.model_validate(e, from_attributes=True) for e in events],
        eta_history=[EtaChange.model_validate(h, from_attributes=True) for h in history],
    )  # fmt: skip


def _locked(session: Session, shipment_id: str) -> Shipment:
    """The shipment row, locked for this transaction (PostgreSQL; SQLite's writers already queue)."""
    found = session.scalars(
        select(Shipment).where(Shipment.shipment_id == shipment_id).with_for_update()
    ).first()
    if found is None:
        raise NotFound(f"No shipment '{shipment_id}'.")
    return found


@router.post("", status_code=status.HTTP_201_CREATED)
def create_shipment(
    body: ShipmentIn, session: SessionDep, model: ModelDep, settings: SettingsDep, clock: ClockDep, _: Ingest
) -> ShipmentDetail:
    if session.get(Shipment, body.shipment_id) is not None:
        raise Conflict(f"Shipment '{body.shipment_id}' is already registered; its promise is never changed.")
    bundle = model.bundle if model else None
    s = register(session, body, bundle, clock(), settings.alert_rules())
    session.commit()
    return detail(session, s)


@router.post("/{shipment_id}/events")
def add_events(
    shipment_id: str,
    body: EventBatch,
    session: SessionDep,
    model: ModelDep,
    settings: SettingsDep,
    clock: ClockDep,
    _: Ingest,
) -> IngestResult:
    """Each event is checked on its own: bad ones come back with reasons, the rest are stored. Alerts and
    their notifications are written in the same transaction as the events."""
    good, bad = parse_events(body)
    s = _locked(session, shipment_id)
    bundle = model.bundle if model else None
    accepted, duplicates = ingest(session, s, good, bundle, clock(), settings.alert_rules())
    session.commit()
    return IngestResult(accepted=accepted, duplicates=duplicates, rejected=bad, shipment=detail(session, s))


@router.get("/{shipment_id}")
def get_shipment(shipment_id: str, session: SessionDep, _: Track) -> ShipmentDetail:
    s = session.get(Shipment, shipment_id)
    if s is None:
        raise NotFound(f"No shipment '{shipment_id}'.")
    return detail(session, s)


class TrackingLink(BaseModel):
    path: str = Field(description="the customer's tracking page, relative to this service's address")
    expires_at: dt.datetime


@router.post("/{shipment_id}/tracking-link")
def create_tracking_link(
    shipment_id: str, session: SessionDep, settings: SettingsDep, _: Ingest
) -> TrackingLink:
    """A signed link to the customer tracking page (no sign-in; it shows no personal data), for the shop's
    shipping e-mail. It opens only this shipment and expires after `ETA_TRACKING_LINK_DAYS`."""
    if session.get(Shipment, shipment_id) is None:
        raise NotFound(f"No shipment '{shipment_id}'.")
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=settings.tracking_link_days)
    path = tracking_path(settings.secret_key.get_secret_value(), shipment_id, expires)
    return TrackingLink(path=path, expires_at=expires)


@router.get("")
def list_shipments(
    session: SessionDep,
    _: Ops,
    at_risk_only: Annotated[bool, Query(alias="at_risk")] = False,
    risk_gte: Annotated[float | None, Query(ge=0, le=1)] = None,
    carrier: Annotated[str | None, Query(max_length=64)] = None,
    origin_country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    destination_country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    status_is: Annotated[str | None, Query(alias="status", max_length=32)] = None,
    stalled: bool | None = None,
    promised_before: Annotated[AwareDatetime | None, Query(description="promised before this time")] = None,
    search: Annotated[str | None, Query(max_length=128, description="part of the shipment id")] = None,
    reason: Annotated[Reason | None, Query(description="one of the current delay reasons")] = None,
    sort: Sort = "risk",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ShipmentPage:
    """Sorted by risk (highest first) or by promise (soonest first); `next_cursor` continues the list."""
    where = ShipmentFilter(
        at_risk=at_risk_only, risk_gte=risk_gte, carrier=carrier, origin_country=origin_country,
        destination_country=destination_country, status=status_is, stalled=stalled,
        promised_before=promised_before, search=search, reason=reason,
    )  # fmt: skip
    rows, next_cursor = find_shipments(session, where, sort, limit, cursor)
    return ShipmentPage(items=[ShipmentSummary(**_summary(s)) for s in rows], next_cursor=next_cursor)
