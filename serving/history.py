"""The lane and carrier history a running service adds to its model's: the shipments it registered and the
deliveries it recorded after the model's data end (`FeatureBuilder.set_service_history`), re-read every
`ETA_HISTORY_SECONDS`. Shipments then see the history as of their creation day, as in the evaluation, and not
only the outcomes the model was trained with; a day's outcomes count from the next day, so re-reading more
often than hourly changes little.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from features.contract import validate_shipments
from serving.db.tables import Shipment, utcnow
from serving.model_store import ModelHolder
from serving.periodic import Periodic

DAY = dt.timedelta(days=1)
logger = logging.getLogger(__name__)


HISTORY_COLUMNS = (  # what the lane and carrier history reads of a shipment
    "shipment_id", "carrier", "service", "origin_country", "origin_region", "destination_country",
    "destination_region", "created_at", "promised_at", "delivered_at",
)  # fmt: skip


def recorded_since(session: Session, since: dt.datetime) -> pd.DataFrame:
    """The shipments created or delivered from `since` on, as contract rows with the columns the history
    reads (plain rows, not ORM objects: a window holds every shipment of half a year)."""
    stmt = select(*(getattr(Shipment, c) for c in HISTORY_COLUMNS)).where(
        or_(Shipment.created_at >= since, Shipment.delivered_at >= since)
    )
    rows = session.execute(stmt).all()
    return (
        validate_shipments(pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))).valid
        if rows
        else pd.DataFrame()
    )


class HistoryRefresher:
    """Keeps the model in service's history up to date with what the service recorded: read at start and then
    every `refresh_seconds` in a daemon thread (0: only when `refresh` is called)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        holder: ModelHolder,
        refresh_seconds: float,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.factory, self.holder, self.clock = factory, holder, clock
        self.refresh_seconds = refresh_seconds
        self._runner = Periodic("service-history", self.refresh, refresh_seconds, wait_first=True)
        self.stop = self._runner.stop

    def start(self) -> None:
        """Read once before the first request (unless never to be read), then every `refresh_seconds`."""
        if self.refresh_seconds > 0:
            try:
                self.refresh()
            except Exception as exc:  # the model's own history serves meanwhile
                logger.warning("could not read the service's history: %s", exc)
        self._runner.start()

    def refresh(self, now: dt.datetime | None = None) -> int:
        """Hand the shipments recorded in the window before `now` (the service's clock) to the model in
        service; returns how many there were."""
        loaded = self.holder.current
        if loaded is None:
            return 0
        builder = loaded.bundle.features
        known = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + builder.known_day_ * DAY  # the data's last day
        today = (now or self.clock()).replace(hour=0, minute=0, second=0, microsecond=0)
        since = max(known + DAY, today - (builder.window_days + 1) * DAY)  # older days are out of the window
        with self.factory() as session:
            recorded = recorded_since(session, since)
        builder.set_service_history(recorded)
        return len(recorded)
