"""The alert rules (`features.alerts`) applied to a stored shipment, in the transaction that changed it:
the rules' state, the delay reasons, the alerts and their notifications are written together."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from features.alerts import AlertRules, AlertState, Notice, NoticeType, Snapshot, evaluate
from features.contract import EventStatus
from features.reasons import DelayReason, Reason, delay_reasons
from serving.db.tables import Alert, AlertStateRow, Event, Shipment
from serving.notify.outbox import enqueue

HOLDING = (EventStatus.EXCEPTION.value, EventStatus.CUSTOMS_HOLD.value)
ModelReasons = Callable[[Sequence[Reason]], list[DelayReason]]


def scan_facts(s: Shipment, events: Sequence[Event]) -> list[Reason]:
    """What the scans state outright: a stall, an exception or a customs hold that is the latest word."""
    facts = [Reason.STALLED] if s.stalled else []
    last = events[-1] if events else None
    if last is not None and last.status == EventStatus.EXCEPTION.value:
        facts.append(Reason.EXCEPTION)
    statuses = [e.status for e in events]
    holds = [i for i, status in enumerate(statuses) if status == EventStatus.CUSTOMS_HOLD.value]
    if holds and EventStatus.CUSTOMS_CLEARED.value not in statuses[holds[-1] :]:
        facts.append(Reason.CUSTOMS)
    return facts


def snapshot(s: Shipment, events: Sequence[Event], now: dt.datetime) -> Snapshot:
    last = events[-1] if events else None
    return Snapshot(
        shipment_id=s.shipment_id, at=now, promised_at=s.promised_at, eta_p50=s.eta_p50,
        window_start=s.window_start, window_end=s.window_end, p_late=s.p_late, stalled=s.stalled,
        last_event_at=s.last_event_at,
        exception_event_id=last.event_id if last is not None and last.status in HOLDING else None,
        delivered_at=s.delivered_at,
    )  # fmt: skip


def assess(
    session: Session,
    s: Shipment,
    events: Sequence[Event],
    now: dt.datetime,
    rules: AlertRules,
    model_reasons: ModelReasons | None = None,
) -> list[Notice]:
    """Run the rules on the shipment as it now stands; store the new state, the reasons, the alerts and the
    notifications (outbox) in the session's transaction. Returns the notices that were new."""
    row = session.get(AlertStateRow, s.shipment_id)
    if row is None:
        row = AlertStateRow(shipment_id=s.shipment_id, state={}, reasons=[])
        session.add(row)
    state, notices = evaluate(AlertState.from_dict(row.state), snapshot(s, events, now), rules)
    reasons: list[DelayReason] = []
    if state.conditions:  # reasons are owed only while something is wrong
        facts = scan_facts(s, events)
        reasons = model_reasons(facts) if model_reasons is not None else delay_reasons(facts=facts)
    as_dicts = [r.as_dict() for r in reasons]
    row.state, row.reasons = state.as_dict(), as_dicts
    sent = []
    for notice in notices:
        notice = replace(notice, reasons=tuple(r.code.value for r in reasons))
        note = enqueue(session, notice, as_dicts, now)
        if note is None:
            continue
        sent.append(notice)
        if notice.type == NoticeType.DELAY_PREDICTED:
            episode = int(notice.dedupe_key.split("/")[-2])
            session.add(Alert(
                shipment_id=s.shipment_id, episode=episode, level=int(notice.level),
                dedupe_key=notice.dedupe_key, conditions=",".join(c.value for c in notice.conditions),
                reasons=as_dicts, old_eta=notice.old_eta, new_eta=notice.new_eta,
                promised_at=notice.promised_at, window_end=notice.window_end, p_late=notice.p_late,
                notification_id=note.id, raised_at=now,
            ))  # fmt: skip
        elif notice.type in (NoticeType.BACK_ON_TRACK, NoticeType.DELIVERED):
            resolve(session, s.shipment_id, now, notice.type)
    return sent


def resolve(session: Session, shipment_id: str, now: dt.datetime, why: NoticeType) -> None:
    session.flush()
    open_alerts = select(Alert).where(Alert.shipment_id == shipment_id, Alert.resolved_at.is_(None))
    for alert in session.scalars(open_alerts):
        alert.resolved_at = now
        alert.resolution = why.value.removeprefix("shipment.")
