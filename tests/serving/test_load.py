"""`serving.load`: contract files into the service through register and ingest, as the API would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from features.bundle import ModelBundle
from serving.db.migrate import upgrade
from serving.db.session import make_engine, session_factory
from serving.db.tables import EtaHistory, Event, Shipment
from serving.load import LoadPlan, load, read_contract, whole_week_shift
from training.simulate import SimulationConfig, simulate, write_simulation


@pytest.fixture(scope="module")
def contract_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("sim")
    write_simulation(simulate(SimulationConfig(n_shipments=600, seed=3, days=60)), out)
    return out / "history.parquet", out / "events.parquet"


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'eta.db'}"
    upgrade(url)
    return session_factory(make_engine(url))


def test_loading_registers_in_flight_and_recent_deliveries_with_their_scans_and_eta_history(
    contract_files: tuple[Path, Path], factory: sessionmaker[Session], tiny_bundle: ModelBundle
) -> None:
    history, events = read_contract(*contract_files)
    result = load(factory, history, events, tiny_bundle, LoadPlan(in_flight=5, delivered=10))
    assert result.registered == 15 and result.rejected_events == 0 and result.shift_days == 0
    with factory() as session:
        ids = list(session.scalars(select(Shipment.shipment_id)))
        stored = session.scalar(select(func.count()).select_from(Event))
        delivered = session.scalar(select(func.count()).where(Shipment.delivered_at.is_not(None)))
        updates = session.scalar(select(func.count()).select_from(EtaHistory))
    assert stored == result.events == events["shipment_id"].isin(ids).sum()
    assert delivered == 10 and updates > 15  # more than the registration's prediction
    assert load(factory, history, events, tiny_bundle, LoadPlan(in_flight=5, delivered=10)).skipped == 15


def test_shifting_to_now_moves_whole_weeks_so_weekdays_are_kept(
    contract_files: tuple[Path, Path], factory: sessionmaker[Session]
) -> None:
    history, events = read_contract(*contract_files)
    now = dt.datetime.now(dt.UTC)
    result = load(factory, history, events, None, LoadPlan(in_flight=3, delivered=0), shift_to=now)
    assert result.shift_days % 7 == 0 and now - dt.timedelta(days=7) < result.data_end <= now
    with factory() as session:
        s = session.scalars(select(Shipment)).first()
    assert s is not None
    original = history.set_index("shipment_id").loc[s.shipment_id, "created_at"]
    assert s.created_at.weekday() == original.weekday() and s.created_at > original


def test_no_shift_when_the_data_already_end_after_the_moment() -> None:
    assert whole_week_shift(pd.Timestamp("2026-01-10", tz="UTC"), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) == (
        pd.Timedelta(0)
    )
