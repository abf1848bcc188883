"""The dispatcher as its own process and in pairs: killed with SIGKILL mid-batch and restarted it delivers
every notification (a repeat only under the same webhook-id); two dispatchers on PostgreSQL share the work
through FOR UPDATE SKIP LOCKED without sending anything twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.db.migrate import upgrade
from serving.db.session import make_engine, session_factory
from serving.db.tables import Delivery, Notification, WebhookEndpoint
from serving.notify.dispatcher import Dispatcher
from serving.notify.signing import new_secret
from serving.settings import PROJECT_ROOT, Settings
from serving.tracking import EventBatch, ShipmentIn, ingest, parse_events, register
from tests.serving.conftest import _empty_tables
from tests.serving.receiver import Receiver

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=10)


def delays(factory: sessionmaker[Session], receiver: Receiver, n: int) -> list[str]:
    """n shipments held at customs (one alert and one exception notice each) for an endpoint at the
    receiver; returns the ids of the notifications it is owed."""
    receiver.secret = new_secret()
    with factory() as session:
        session.add(
            WebhookEndpoint(
                id="ep_1", url=receiver.url, events=["shipment.exception"], secret=receiver.secret
            )
        )
        for i in range(n):
            body = ShipmentIn.model_validate(
                {"shipment_id": f"s{i}", "carrier": "mid", "service": "standard", "origin": {"country": "DE"},
                 "destination": {"country": "GB"}, "created_at": T0.isoformat(),
                 "promised_at": (T0 + dt.timedelta(hours=96)).isoformat()}
            )  # fmt: skip
            s = register(session, body, None, T0)
            scan = {
                "event_id": f"s{i}-1",
                "status": "customs_hold",
                "occurred_at": (T0 + dt.timedelta(hours=9)).isoformat(),
            }
            ingest(session, s, parse_events(EventBatch(events=[scan]))[0], None, T0 + dt.timedelta(hours=10))
        session.commit()
        return list(session.scalars(select(Notification.id).where(Notification.type == "shipment.exception")))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """One dispatcher process on SQLite (the lease logic is the same on PostgreSQL, tested in pairs below)."""
    url = f"sqlite:///{tmp_path / 'eta.db'}"
    upgrade(url)
    return url


@pytest.fixture
def factory(sqlite_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(sqlite_url)
    yield session_factory(engine)
    engine.dispose()


def start_dispatcher(database_url: str, tmp_path: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETA_")}
    env.update(
        ETA_DATABASE_URL=database_url, ETA_MODEL_URI=str(tmp_path / "no-model"),
        ETA_WEBHOOK_ALLOW_LOOPBACK="true",
        ETA_DISPATCH_BATCH="20", ETA_DISPATCH_CONCURRENCY="2", ETA_DISPATCH_LEASE_SECONDS="2",
        ETA_DISPATCH_POLL_SECONDS="0.1", ETA_STALL_SWEEP_SECONDS="0", ETA_MODEL_POLL_SECONDS="0",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )  # fmt: skip
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "serving", "dispatch"], cwd=PROJECT_ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=out,
        )  # fmt: skip


@pytest.mark.slow
def test_a_dispatcher_killed_mid_batch_and_restarted_delivers_every_notification(
    factory: sessionmaker[Session], sqlite_url: str, tmp_path: Path
) -> None:
    with Receiver(delay_s=0.05) as receiver:
        owed = delays(factory, receiver, 60)
        first = start_dispatcher(sqlite_url, tmp_path, tmp_path / "first.log")
        try:
            receiver.wait_until(lambda: len(receiver.received) >= 10, timeout_s=60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        at_kill = set(receiver.accepted_ids())
        assert 0 < len(at_kill) < len(owed), "the kill should land mid-way"
        second = start_dispatcher(sqlite_url, tmp_path, tmp_path / "second.log")
        try:
            receiver.wait_until(lambda: set(receiver.accepted_ids()) >= set(owed), timeout_s=60)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, (tmp_path / "second.log").read_text()
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for r in receiver.received:
        bodies[r.webhook_id].add(r.body)
    assert set(bodies) == set(owed) and all(len(b) == 1 for b in bodies.values())
    assert all(r.verified for r in receiver.received)
    with factory() as session:
        assert set(session.scalars(select(Delivery.status))) == {"delivered"}


@pytest.fixture
def pg_factory(postgres_database: str):  # type: ignore[no-untyped-def]
    _empty_tables(postgres_database)
    engine = make_engine(postgres_database)
    yield session_factory(engine)
    engine.dispose()


def test_two_dispatchers_on_postgresql_share_the_work_and_send_nothing_twice(
    pg_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://unused", webhook_allow_loopback=True, dispatch_batch=5,
        dispatch_concurrency=2, dispatch_lease_seconds=60, model_uri=str(tmp_path),
    )  # fmt: skip
    with Receiver(delay_s=0.01) as receiver:
        owed = delays(pg_factory, receiver, 80)
        pair = [Dispatcher(pg_factory, settings, name=f"d{i}") for i in range(2)]
        start = threading.Barrier(2)

        def work(d: Dispatcher) -> None:
            start.wait()
            while d.run_once():
                pass

        threads = [threading.Thread(target=work, args=(d,)) for d in pair]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for d in pair:
            d.close()
    assert sorted(receiver.accepted_ids()) == sorted(owed)  # each exactly once
    assert all(d.delivered > 0 for d in pair) and sum(d.delivered for d in pair) == len(owed)
    with pg_factory() as session:
        assert set(session.scalars(select(Delivery.status))) == {"delivered"}
