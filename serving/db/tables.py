"""The service's tables (typed SQLAlchemy 2 ORM). Every timestamp is timezone-aware UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zone type and hands back naive values: they are stored converted to UTC and UTC is
    attached again on read. Naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: timestamps must carry a time zone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON()}


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200), doc="comma-separated scope names")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        Index("ix_shipments_risk", "p_late"),
        Index("ix_shipments_carrier_service", "carrier", "service"),
        Index("ix_shipments_lane", "origin_country", "destination_country"),
        Index("ix_shipments_status", "status", "stalled"),
        Index("ix_shipments_promised_at", "promised_at"),
    )

    shipment_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(64))
    origin_country: Mapped[str] = mapped_column(String(2))
    origin_region: Mapped[str | None] = mapped_column(String(64))
    origin_lat: Mapped[float | None] = mapped_column(Float)
    origin_lon: Mapped[float | None] = mapped_column(Float)
    destination_country: Mapped[str] = mapped_column(String(2))
    destination_region: Mapped[str | None] = mapped_column(String(64))
    destination_lat: Mapped[float | None] = mapped_column(Float)
    destination_lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime]
    promised_at: Mapped[dt.datetime | None] = mapped_column(
        doc="the promise shown at checkout; never updated"
    )
    weight_kg: Mapped[float | None] = mapped_column(Float)
    distance_km: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str | None] = mapped_column(String(32), doc="latest canonical status by occurred_at")
    delivered_at: Mapped[dt.datetime | None]
    last_event_at: Mapped[dt.datetime | None]
    stalled: Mapped[bool] = mapped_column(default=False)
    eta_p50: Mapped[dt.datetime | None]
    window_start: Mapped[dt.datetime | None]
    window_end: Mapped[dt.datetime | None]
    coverage: Mapped[float | None] = mapped_column(Float)
    p_late: Mapped[float | None] = mapped_column(Float)
    prediction_source: Mapped[str | None] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_shipment_occurred", "shipment_id", "occurred_at"),)

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id"))
    occurred_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    description: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EtaHistory(Base):
    __tablename__ = "eta_history"
    __table_args__ = (Index("ix_eta_history_shipment_computed", "shipment_id", "computed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id"))
    computed_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, doc="the moment the prediction was made for (the request's time; a back-fill's clock)"
    )
    trigger: Mapped[str] = mapped_column(String(16), doc="registered, event, reload or rescore")
    eta_p50: Mapped[dt.datetime | None]
    window_start: Mapped[dt.datetime | None]
    window_end: Mapped[dt.datetime | None]
    p_late: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(200))
    prediction_source: Mapped[str | None] = mapped_column(String(16))


class AlertStateRow(Base):
    """The alert rules' memory for one shipment (`features.alerts.AlertState` as a dict) and its latest
    delay reasons."""

    __tablename__ = "alert_states"

    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Alert(Base):
    """One delay alert: a shipment reaching a level within a delay episode (never twice: `dedupe_key`)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_shipment", "shipment_id", "episode"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id"))
    episode: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    conditions: Mapped[str] = mapped_column(String(200), doc="comma-separated alert conditions")
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    old_eta: Mapped[dt.datetime | None]
    new_eta: Mapped[dt.datetime | None]
    promised_at: Mapped[dt.datetime | None]
    window_end: Mapped[dt.datetime | None]
    p_late: Mapped[float | None] = mapped_column(Float)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id"))
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(32), doc="back_on_track or delivered")


class Notification(Base):
    """One event for subscribers; its id is the `webhook-id` of every delivery and every retry of it."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_shipment", "shipment_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    shipment_id: Mapped[str] = mapped_column(ForeignKey("shipments.shipment_id"))
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    body: Mapped[str] = mapped_column(Text, doc="the JSON payload exactly as signed and sent")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100), doc="whsec_…, kept to sign; shown once to the client")
    description: Mapped[str | None] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """A notification owed to one endpoint: pending until delivered, dead-lettered or the endpoint gone."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "endpoint_id", name="uq_deliveries_notification_endpoint"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(16), doc="pending, delivered, dead or disabled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"))
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[float] = mapped_column(Float)


class User(Base):
    """A person who signs in to the ops pages; `role` is `ops` (read) or `admin` (also moves the model)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), doc="scrypt$n$r$p$salt$hash (base64)")
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None]


class SignInFailure(Base):
    """Failed sign-ins in a row for one username (whether or not such a user exists), and until when further
    attempts are refused."""

    __tablename__ = "sign_in_failures"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[dt.datetime]
    locked_until: Mapped[dt.datetime | None]


class WindowLevel(Base):
    """Online calibration: the coverage a model's windows in one conformal segment are read at, for a stated
    coverage, as moved by the deliveries seen since the model went into service."""

    __tablename__ = "window_levels"

    model_version: Mapped[str] = mapped_column(String(200), primary_key=True)
    segment: Mapped[str] = mapped_column(String(300), primary_key=True, doc="`overall` or `level=key`")
    coverage: Mapped[float] = mapped_column(Float, primary_key=True, doc="the stated coverage")
    level: Mapped[float] = mapped_column(Float, doc="the coverage the offsets are read at now")
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
