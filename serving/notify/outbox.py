"""The transactional outbox: a notice becomes a notification and one pending delivery per subscribed
endpoint, written in the caller's transaction (the one that stored the event that caused it), so a crash
either keeps both the event and its notifications or neither."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from features.alerts import Level, Notice, NoticeType
from serving.db.tables import Delivery, Notification, WebhookEndpoint
from serving.notify.signing import new_message_id

PENDING, DELIVERED, DEAD, DISABLED = "pending", "delivered", "dead", "disabled"

DELAY_HEADLINES = {
    Level.WATCH: "Shipment {id} may arrive after its promised date.",
    Level.LIKELY: "Shipment {id} will probably arrive after its promised date.",
    Level.LATE: "Shipment {id} is expected to arrive after its promised date.",
}
HEADLINES = {
    NoticeType.ETA_CHANGED: "The expected delivery of shipment {id} has changed.",
    NoticeType.STALLED: "Shipment {id} has not been scanned for longer than usual.",
    NoticeType.EXCEPTION: "The carrier reported a problem with shipment {id}.",
    NoticeType.BACK_ON_TRACK: "Shipment {id} is back on track for its promised date.",
    NoticeType.DELIVERED: "Shipment {id} was delivered.",
}


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def message(notice: Notice, reasons: list[dict[str, Any]]) -> str:
    if notice.type == NoticeType.DELAY_PREDICTED:
        headline = DELAY_HEADLINES[max(notice.level, Level.WATCH)]
    else:
        headline = HEADLINES[notice.type]
    text = headline.format(id=notice.shipment_id)
    if notice.new_eta is not None and notice.type not in (NoticeType.DELIVERED, NoticeType.BACK_ON_TRACK):
        text += f" Now expected around {notice.new_eta.date().isoformat()}"
        if notice.old_eta is not None and notice.old_eta.date() != notice.new_eta.date():
            text += f" (was {notice.old_eta.date().isoformat()})"
        text += "."
    if reasons and notice.type in (NoticeType.DELAY_PREDICTED, NoticeType.ETA_CHANGED):
        text += " " + reasons[0]["message"]
    return text


def payload(notice: Notice, reasons: list[dict[str, Any]], at: dt.datetime) -> dict[str, Any]:
    """The Standard Webhooks envelope: type, timestamp, data."""
    return {
        "type": notice.type.value,
        "timestamp": _iso(at),
        "data": {
            "shipment_id": notice.shipment_id,
            "level": int(notice.level),
            "level_name": notice.level.name.lower(),
            "conditions": [c.value for c in notice.conditions],
            "promised_at": _iso(notice.promised_at),
            "old_eta": _iso(notice.old_eta),
            "new_eta": _iso(notice.new_eta),
            "window_end": _iso(notice.window_end),
            "p_late": None if notice.p_late is None else round(notice.p_late, 4),
            "reasons": [{"code": r["code"], "message": r["message"]} for r in reasons],
            "message": message(notice, reasons),
        },
    }


def subscribers(session: Session, event_type: str) -> list[WebhookEndpoint]:
    endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True)))
    return [e for e in endpoints if event_type in e.events]


def enqueue(
    session: Session, notice: Notice, reasons: list[dict[str, Any]], at: dt.datetime
) -> Notification | None:
    """Store the notification and its pending deliveries; None when its dedupe key was already used."""
    taken = session.scalar(select(Notification.id).where(Notification.dedupe_key == notice.dedupe_key))
    if taken is not None:
        return None
    body = json.dumps(payload(notice, reasons, at), separators=(",", ":"))
    note = Notification(
        id=new_message_id(), type=notice.type.value, shipment_id=notice.shipment_id,
        dedupe_key=notice.dedupe_key, body=body, created_at=at,
    )  # fmt: skip
    session.add(note)
    session.flush()
    for endpoint in subscribers(session, notice.type.value):
        session.add(deliver_to(note, endpoint, at))
    return note


def deliver_to(note: Notification, endpoint: WebhookEndpoint, at: dt.datetime) -> Delivery:
    return Delivery(
        notification_id=note.id, endpoint_id=endpoint.id, status=PENDING, attempts=0,
        next_attempt_at=at, created_at=at,
    )  # fmt: skip
