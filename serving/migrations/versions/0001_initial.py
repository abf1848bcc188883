"""Initial tables: API keys, shipments, tracking events, ETA history.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamp(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("revoked_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "shipments",
        sa.Column("shipment_id", sa.String(length=128), nullable=False),
        sa.Column("carrier", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("origin_country", sa.String(length=2), nullable=False),
        sa.Column("origin_region", sa.String(length=64), nullable=True),
        sa.Column("origin_lat", sa.Float(), nullable=True),
        sa.Column("origin_lon", sa.Float(), nullable=True),
        sa.Column("destination_country", sa.String(length=2), nullable=False),
        sa.Column("destination_region", sa.String(length=64), nullable=True),
        sa.Column("destination_lat", sa.Float(), nullable=True),
        sa.Column("destination_lon", sa.Float(), nullable=True),
        timestamp("created_at", nullable=False),
        timestamp("promised_at"),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        timestamp("delivered_at"),
        timestamp("last_event_at"),
        sa.Column("stalled", sa.Boolean(), nullable=False),
        timestamp("eta_p50"),
        timestamp("window_start"),
        timestamp("window_end"),
        sa.Column("coverage", sa.Float(), nullable=True),
        sa.Column("p_late", sa.Float(), nullable=True),
        sa.Column("prediction_source", sa.String(length=16), nullable=True),
        sa.Column("model_version", sa.String(length=200), nullable=True),
        timestamp("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("shipment_id", name=op.f("pk_shipments")),
    )
    op.create_index("ix_shipments_carrier_service", "shipments", ["carrier", "service"])
    op.create_index("ix_shipments_lane", "shipments", ["origin_country", "destination_country"])
    op.create_index("ix_shipments_promised_at", "shipments", ["promised_at"])
    op.create_index("ix_shipments_risk", "shipments", ["p_late"])
    op.create_index("ix_shipments_status", "shipments", ["status", "stalled"])
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("shipment_id", sa.String(length=128), nullable=False),
        timestamp("occurred_at", nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        timestamp("received_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.shipment_id"], name=op.f("fk_events_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_shipment_occurred", "events", ["shipment_id", "occurred_at"])
    op.create_table(
        "eta_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.String(length=128), nullable=False),
        timestamp("computed_at", nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        timestamp("eta_p50"),
        timestamp("window_start"),
        timestamp("window_end"),
        sa.Column("p_late", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=200), nullable=True),
        sa.Column("prediction_source", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.shipment_id"], name=op.f("fk_eta_history_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eta_history")),
    )
    op.create_index("ix_eta_history_shipment_computed", "eta_history", ["shipment_id", "computed_at"])


def downgrade() -> None:
    op.drop_table("eta_history")
    op.drop_table("events")
    op.drop_table("shipments")
    op.drop_table("api_keys")
