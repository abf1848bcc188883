"""Webhook subscriptions (admin) and the delivery log with replay (ops)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from features.alerts import EVENT_TYPES
from serving.db.tables import Delivery, DeliveryAttempt, Notification, WebhookEndpoint
from serving.deps import SessionDep, SettingsDep
from serving.errors import NotFound, ProblemError
from serving.notify.outbox import DISABLED, PENDING, deliver_to
from serving.notify.signing import new_secret
from serving.notify.urls import UnsafeUrl, check
from serving.security import Principal, Scope, require

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
Ops = Annotated[Principal, Depends(require(Scope.OPS))]
RowId = Annotated[int, Path(ge=1, le=2**62)]
EventType = Literal[
    "shipment.delay_predicted", "shipment.eta_changed", "shipment.stalled", "shipment.exception",
    "shipment.back_on_track", "shipment.delivered",
]  # fmt: skip
DeliveryStatus = Literal["pending", "delivered", "dead", "disabled"]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]


class InvalidWebhook(ProblemError):
    status = 422


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1, max_length=2000, description="https://… (http only to loopback in development)"
    )
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=500)

    @field_validator("events")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: dt.datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_…: verify signatures with it; shown only this once")


class AttemptOut(BaseModel):
    attempted_at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str = Field(description="the notification's id, sent as the `webhook-id` header")
    event_type: str
    shipment_id: str
    endpoint_id: str
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    finished_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None


class DeliveryDetail(DeliveryOut):
    payload: str
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: int | None


def _endpoint(session: Session, endpoint_id: str) -> WebhookEndpoint:
    found = session.get(WebhookEndpoint, endpoint_id)
    if found is None:
        raise NotFound(f"No webhook endpoint '{endpoint_id}'.")
    return found


@router.post("", status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookIn, session: SessionDep, settings: SettingsDep, _: Admin) -> WebhookCreated:
    """Subscribe a URL to event types; the answer carries the signing secret, shown only this once."""
    try:
        check(body.url, settings.webhook_allow_loopback)
    except UnsafeUrl as exc:
        raise InvalidWebhook(f"url: {exc}") from None
    endpoint = WebhookEndpoint(
        id=f"ep_{secrets.token_hex(8)}", url=body.url, events=list(body.events), secret=new_secret(),
        description=body.description, enabled=True, created_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    session.add(endpoint)
    session.commit()
    return WebhookCreated(**_public(endpoint), secret=endpoint.secret)


def _public(e: WebhookEndpoint) -> dict:
    return {f: getattr(e, f) for f in WebhookOut.model_fields}


@router.get("")
def list_webhooks(session: SessionDep, _: Admin) -> list[WebhookOut]:
    rows = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id))
    return [WebhookOut(**_public(e)) for e in rows]


@router.get("/deliveries")
def list_deliveries(
    session: SessionDep,
    _: Ops,
    endpoint_id: Annotated[str | None, Query(max_length=40)] = None,
    shipment_id: Annotated[str | None, Query(max_length=128)] = None,
    status_is: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        int | None, Query(ge=1, le=2**62, description="next_cursor of the previous page")
    ] = None,
) -> DeliveryPage:
    """The delivery log, newest first."""
    stmt = select(Delivery, Notification).join(Notification, Notification.id == Delivery.notification_id)
    if endpoint_id is not None:
        stmt = stmt.where(Delivery.endpoint_id == endpoint_id)
    if shipment_id is not None:
        stmt = stmt.where(Notification.shipment_id == shipment_id)
    if status_is is not None:
        stmt = stmt.where(Delivery.status == status_is)
    if cursor is not None:
        stmt = stmt.where(Delivery.id < cursor)
    rows = list(session.execute(stmt.order_by(Delivery.id.desc()).limit(limit + 1)))
    page = [_delivery(d, n) for d, n in rows[:limit]]
    return DeliveryPage(items=page, next_cursor=page[-1].id if len(rows) > limit else None)


def _delivery(d: Delivery, n: Notification) -> DeliveryOut:
    return DeliveryOut(
        id=d.id, webhook_id=n.id, event_type=n.type, shipment_id=n.shipment_id, endpoint_id=d.endpoint_id,
        status=d.status, attempts=d.attempts, created_at=d.created_at,
        next_attempt_at=d.next_attempt_at if d.status == PENDING else None, finished_at=d.finished_at,
        last_status_code=d.last_status_code, last_error=d.last_error,
    )  # fmt: skip


def _delivery_detail(session: Session, delivery_id: int) -> DeliveryDetail:
    d = session.get(Delivery, delivery_id)
    if d is None:
        raise NotFound(f"No delivery {delivery_id}.")
    n = session.get(Notification, d.notification_id)
    assert n is not None
    attempts = session.scalars(
        select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == d.id).order_by(DeliveryAttempt.id)
    )
    log = [AttemptOut.model_validate(a, from_attributes=True) for a in attempts]
    return DeliveryDetail(**_delivery(d, n).model_dump(), payload=n.body, attempt_log=log)


@router.get("/deliveries/{delivery_id}")
def get_delivery(delivery_id: RowId, session: SessionDep, _: Ops) -> DeliveryDetail:
    return _delivery_detail(session, delivery_id)


@router.post("/deliveries/{delivery_id}/replay", status_code=status.HTTP_202_ACCEPTED)
def replay_delivery(delivery_id: RowId, session: SessionDep, _: Ops) -> DeliveryDetail:
    """Send a delivery again (same `webhook-id`): it is pending from now, with a fresh dead-letter age."""
    d = session.get(Delivery, delivery_id, with_for_update=True)
    if d is None:
        raise NotFound(f"No delivery {delivery_id}.")
    if not _endpoint(session, d.endpoint_id).enabled:
        raise InvalidWebhook(f"Endpoint '{d.endpoint_id}' is disabled; enable it before replaying.")
    now = dt.datetime.now(dt.UTC)
    d.status, d.next_attempt_at, d.created_at, d.finished_at = PENDING, now, now, None
    session.commit()
    return _delivery_detail(session, delivery_id)


@router.post("/{endpoint_id}/replay", status_code=status.HTTP_202_ACCEPTED)
def replay_since(
    endpoint_id: str,
    session: SessionDep,
    _: Ops,
    since: Annotated[dt.datetime, Query(description="notifications created at or after this moment")],
) -> dict[str, int]:
    """Queue again, for this endpoint, every notification of its event types since a moment (after an outage
    of the receiver, or for a new endpoint); those it already has are sent again with the same id."""
    endpoint = _endpoint(session, endpoint_id)
    if not endpoint.enabled:
        raise InvalidWebhook(f"Endpoint '{endpoint_id}' is disabled; enable it before replaying.")
    if since.tzinfo is None:
        raise InvalidWebhook("since: needs a time zone (e.g. 2026-11-22T10:00:00Z)")
    now = dt.datetime.now(dt.UTC)
    notes = session.scalars(
        select(Notification).where(Notification.created_at >= since, Notification.type.in_(endpoint.events))
    )
    existing = {
        d.notification_id: d
        for d in session.scalars(select(Delivery).where(Delivery.endpoint_id == endpoint_id))
    }
    queued = 0
    for note in notes:
        d = existing.get(note.id)
        if d is None:
            session.add(deliver_to(note, endpoint, now))
        else:
            d.status, d.next_attempt_at, d.created_at, d.finished_at = PENDING, now, now, None
        queued += 1
    session.commit()
    return {"queued": queued}


@router.get("/{endpoint_id}")
def get_webhook(endpoint_id: str, session: SessionDep, _: Admin) -> WebhookOut:
    return WebhookOut(**_public(_endpoint(session, endpoint_id)))


@router.post("/{endpoint_id}/enable")
def enable_webhook(endpoint_id: str, session: SessionDep, settings: SettingsDep, _: Admin) -> WebhookOut:
    """Turn an endpoint on again (after a 410, say); its URL is checked again."""
    endpoint = _endpoint(session, endpoint_id)
    try:
        check(endpoint.url, settings.webhook_allow_loopback)
    except UnsafeUrl as exc:
        raise InvalidWebhook(f"url: {exc}") from None
    endpoint.enabled, endpoint.disabled_reason = True, None
    session.commit()
    return WebhookOut(**_public(endpoint))


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(endpoint_id: str, session: SessionDep, _: Admin) -> Response:
    """Stop sending to the endpoint; its delivery log is kept and its pending deliveries are dropped."""
    endpoint = _endpoint(session, endpoint_id)
    now = dt.datetime.now(dt.UTC)
    endpoint.enabled, endpoint.disabled_reason = False, f"deleted at {now.isoformat()}"
    session.execute(
        update(Delivery)
        .where(Delivery.endpoint_id == endpoint_id, Delivery.status == PENDING)
        .values(status=DISABLED, finished_at=now)
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
