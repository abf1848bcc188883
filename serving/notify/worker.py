"""Running the dispatcher: `python -m serving dispatch` (its own process; as many as wanted on PostgreSQL,
one on SQLite), or a thread inside the API (`ETA_DISPATCH_IN_PROCESS=true`). Both also run the sweep that
marks silent shipments stalled and raises the alerts that time alone brings."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from serving.db.migrate import upgrade
from serving.db.session import make_engine, session_factory
from serving.history import HistoryRefresher
from serving.model_store import ModelHolder
from serving.notify.dispatcher import Dispatcher
from serving.settings import Settings
from serving.tracking import sweep

logger = logging.getLogger(__name__)


def sweeper(factory: sessionmaker[Session], holder: ModelHolder, settings: Settings) -> Callable[[], int]:
    recheck = dt.timedelta(seconds=settings.stall_sweep_seconds)

    def run() -> int:
        model = holder.current
        with factory() as session:
            done = sweep(
                session,
                model.bundle if model else None,
                dt.datetime.now(dt.UTC),
                settings.alert_rules(),
                recheck,
            )
        if done:
            logger.info("sweep re-evaluated %d shipments", done)
        return done

    return run


class DispatcherThread:
    """The dispatcher loop in a daemon thread, stopped (and joined) with the app."""

    def __init__(self, factory: sessionmaker[Session], holder: ModelHolder, settings: Settings) -> None:
        self.dispatcher = Dispatcher(factory, settings, name="in-process-dispatcher")
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=self.dispatcher.run,
            args=(self.stop_event, sweeper(factory, holder, settings)),
            name="webhook-dispatcher",
            daemon=True,
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join()
        self.dispatcher.close()


def run_dispatcher(settings: Settings) -> int:
    """Deliver until SIGINT or SIGTERM, then finish the round in hand and exit."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    factory = session_factory(engine)
    holder = ModelHolder(settings.model_uri, settings.mlflow_tracking_uri, settings.model_poll_seconds)
    holder.start()
    history = HistoryRefresher(factory, holder, settings.history_seconds)  # the sweep's features: the API's
    history.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    dispatcher = Dispatcher(factory, settings)
    logger.info(
        "dispatching webhooks (batch %d, %d in flight)",
        settings.dispatch_batch,
        settings.dispatch_concurrency,
    )
    try:
        dispatcher.run(stop, sweeper(factory, holder, settings))
    finally:
        dispatcher.close()
        history.stop()
        holder.stop()
        engine.dispose()
    return 0
