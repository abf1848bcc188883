"""Storage: migrations build exactly the ORM's schema; timestamps come back as UTC; writers never clash."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import StatementError

from serving.db.migrate import upgrade
from serving.db.session import make_engine
from serving.db.tables import Base, Event, Shipment

BERLIN_SUMMER = dt.timezone(dt.timedelta(hours=2))


def shipment(shipment_id: str = "s1", **fields: object) -> Shipment:
    values: dict = {
        "shipment_id": shipment_id,
        "carrier": "dhl",
        "service": "express",
        "origin_country": "DE",
        "destination_country": "FR",
        "created_at": dt.datetime(2026, 7, 1, 10, 0, tzinfo=BERLIN_SUMMER),
    }
    return Shipment(**(values | fields))


def test_the_migrations_build_exactly_the_orm_schema(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            assert set(inspect(connection).get_table_names()) == set(Base.metadata.tables) | {
                "alembic_version"
            }
    finally:
        engine.dispose()


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)


def test_timestamps_come_back_as_the_same_instant_in_utc(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        session.add(shipment(promised_at=dt.datetime(2026, 7, 3, 18, 30, tzinfo=BERLIN_SUMMER)))
        session.commit()
    with sessions() as session:
        stored = session.get_one(Shipment, "s1")
    assert stored.created_at == dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC)
    assert stored.created_at.tzinfo == dt.UTC
    assert stored.promised_at == dt.datetime(2026, 7, 3, 16, 30, tzinfo=dt.UTC)
    assert stored.updated_at.tzinfo == dt.UTC


def test_a_naive_timestamp_is_refused(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        session.add(shipment(created_at=dt.datetime(2026, 7, 1, 10, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.commit()


def test_concurrent_read_modify_writes_lose_no_update(sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        session.add(shipment(weight_kg=0.0))
        session.commit()

    def add_event(i: int) -> None:
        with sessions() as session:
            row = session.get_one(Shipment, "s1", with_for_update=True)
            row.weight_kg = (row.weight_kg or 0) + 1
            session.add(
                Event(event_id=f"e{i}", shipment_id="s1", occurred_at=row.created_at, status="in_transit")
            )
            session.commit()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add_event, range(40)))
    with sessions() as session:
        assert session.get_one(Shipment, "s1").weight_kg == 40
        assert session.query(Event).count() == 40
