"""Alert rules wired into tracking: alerts and their outbox rows share the event's transaction, on SQLite and
PostgreSQL; the same delay never alerts twice at one level; the sweep finds stalls and passed promises."""

from __future__ import annotations

import copy
import datetime as dt
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from features.bundle import ModelBundle
from serving.db.tables import Alert, Delivery, Event, Notification, Shipment, WebhookEndpoint
from serving.tracking import EventBatch, ShipmentIn, ingest, parse_events, register, sweep

T0 = dt.datetime(2024, 11, 4, 9, tzinfo=dt.UTC)


def body(shipment_id: str = "s1", promise_hours: float = 72) -> ShipmentIn:
    return ShipmentIn.model_validate(
        {"shipment_id": shipment_id, "carrier": "mid", "service": "standard",
         "origin": {"country": "DE", "region": "BE"}, "destination": {"country": "FR", "region": "A"},
         "created_at": T0.isoformat(), "promised_at": (T0 + dt.timedelta(hours=promise_hours)).isoformat()}
    )  # fmt: skip


def scans(*items: tuple[str, str, float]) -> list:
    raw = [
        {"event_id": i, "status": st, "occurred_at": (T0 + dt.timedelta(hours=h)).isoformat()}
        for i, st, h in items
    ]
    return parse_events(EventBatch(events=raw))[0]


def subscribe(session: Session, *events: str) -> None:
    session.add(
        WebhookEndpoint(id="ep_1", url="https://hooks.example/", events=list(events), secret="whsec_eA==")
    )
    session.commit()


def count(session: Session, table: type) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


def types(session: Session) -> list[str]:
    return list(session.scalars(select(Notification.type).order_by(Notification.id)))


def test_an_exception_scan_writes_its_alert_notification_and_deliveries_with_the_event(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        subscribe(session, "shipment.delay_predicted", "shipment.exception")
        s = register(session, body(), None, T0)
        ingest(
            session,
            s,
            scans(("e1", "picked_up", 2), ("e2", "exception", 5)),
            None,
            T0 + dt.timedelta(hours=6),
        )
        session.commit()
    with sessions() as session:
        assert types(session) == ["shipment.delay_predicted", "shipment.exception"]
        alert = session.scalars(select(Alert)).one()
        assert (alert.level, alert.conditions, alert.dedupe_key) == (1, "exception", "s1/0/level-1")
        assert [r["code"] for r in alert.reasons] == ["exception"]
        assert count(session, Delivery) == 2
        data = json.loads(session.get(Notification, alert.notification_id).body)["data"]
        assert data["reasons"][0]["code"] == "exception" and data["promised_at"] == "2024-11-07T09:00:00Z"


def test_a_rolled_back_event_leaves_neither_the_event_nor_its_notifications(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        subscribe(session, "shipment.exception")
        register(session, body(), None, T0)
        session.commit()
    with sessions() as session:
        s = session.get(Shipment, "s1")
        ingest(session, s, scans(("e1", "exception", 5)), None, T0 + dt.timedelta(hours=6))
        session.rollback()  # the transaction dies: the event, its alert and its outbox rows go together
    with sessions() as session:
        assert count(session, Event) == count(session, Notification) == count(session, Alert) == 0
        assert count(session, Delivery) == 0


def test_the_same_delay_never_alerts_twice_at_one_level(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        s = register(session, body(), None, T0)
        for hour in (5, 6, 7):  # more scans of the same held parcel
            ingest(session, s, scans((f"e{hour}", "customs_hold", hour)), None, T0 + dt.timedelta(hours=hour))
        session.commit()
        assert [a.dedupe_key for a in session.scalars(select(Alert))] == ["s1/0/level-1"]


def test_delivery_resolves_the_open_alerts_and_is_announced(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        s = register(session, body(), None, T0)
        ingest(session, s, scans(("e1", "exception", 5)), None, T0 + dt.timedelta(hours=6))
        ingest(session, s, scans(("e2", "delivered", 60)), None, T0 + dt.timedelta(hours=61))
        session.commit()
        assert types(session)[-1] == "shipment.delivered"
        assert [(a.resolution, a.resolved_at) for a in session.scalars(select(Alert))] == [
            ("delivered", T0 + dt.timedelta(hours=61))
        ]


def test_endpoints_get_only_the_event_types_they_subscribed_to(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        subscribe(session, "shipment.delivered")
        s = register(session, body(), None, T0)
        ingest(
            session,
            s,
            scans(("e1", "exception", 5), ("e2", "delivered", 9)),
            None,
            T0 + dt.timedelta(hours=10),
        )
        session.commit()
        delivered = select(Notification.type).join(Delivery, Delivery.notification_id == Notification.id)
        assert list(session.scalars(delivered)) == ["shipment.delivered"]


def test_the_sweep_raises_the_late_alert_once_the_promise_passes(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        register(session, body(promise_hours=24), None, T0)
        session.commit()
        assert sweep(session, None, T0 + dt.timedelta(hours=12)) == 0
        assert sweep(session, None, T0 + dt.timedelta(hours=25)) == 1
        assert sweep(session, None, T0 + dt.timedelta(hours=26)) == 0
        alert = session.scalars(select(Alert)).one()
        assert alert.level == 3 and alert.conditions == "late"


def test_the_sweep_marks_a_silent_shipment_stalled_and_alerts_once(
    sessions: sessionmaker[Session], tiny_bundle: ModelBundle
) -> None:
    bundle = copy.copy(tiny_bundle)
    bundle.stall_hours = {"picked_up": 12.0, "*": 24.0}
    with sessions() as session:
        s = register(session, body(promise_hours=300), bundle, T0)
        ingest(session, s, scans(("e1", "picked_up", 2)), bundle, T0 + dt.timedelta(hours=3))
        session.commit()
        assert sweep(session, bundle, T0 + dt.timedelta(hours=20)) == 1
        assert session.get(Shipment, "s1").stalled
        assert sweep(session, bundle, T0 + dt.timedelta(hours=21)) == 0  # stalled already: nothing due
        assert types(session).count("shipment.stalled") == 1
        reasons = session.scalars(select(Alert.reasons)).all()
        assert reasons and reasons[-1][0]["code"] == "stalled"
