"""Online calibration of the delivery windows in service (adaptive conformal inference, see
`features.conformal.AdaptiveCoverage`).

Every first delivery of a shipment moves the level its segment's windows are read at, for each tracked
coverage, in the transaction that records the delivery: the rows are locked, so concurrent deliveries in one
segment are applied one after the other. Registrations read the levels in their own transaction; checkout
quotes, which touch no database, read a copy refreshed in the background (`LevelCache`).
Levels belong to one model version: a new model starts from its calibrated windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from features.bundle import ModelBundle
from features.conformal import TRACKED_COVERAGES, AdaptiveCoverage
from serving.db.session import insert_if_absent
from serving.db.tables import Shipment, WindowLevel, utcnow
from serving.model_store import ModelHolder
from serving.periodic import Periodic


def model_version(bundle: ModelBundle) -> str:
    """The version the levels of the bundle in service are kept under."""
    return str(bundle.metadata.get("version", ""))


def load_levels(session: Session, version: str, segments: list[str] | None = None) -> AdaptiveCoverage:
    """The levels of a model version (of the given segments only, when given)."""
    stmt = select(WindowLevel).where(WindowLevel.model_version == version)
    if segments is not None:
        stmt = stmt.where(WindowLevel.segment.in_(segments))
    return AdaptiveCoverage({(r.segment, r.coverage): r.level for r in session.scalars(stmt)})


def observe_delivery(session: Session, bundle: ModelBundle, shipment: Shipment, frame: pd.DataFrame) -> None:
    """Move the levels of the delivered shipment's pool (its carrier's, see `ConformalOffsets.pools`) by its
    score (`frame`: the shipment as a contract row). Nothing without a calibrated transit model or with a
    delivery before creation."""
    if bundle.conformal is None or bundle.quantile_models is None or shipment.delivered_at is None:
        return
    hours = (shipment.delivered_at - shipment.created_at).total_seconds() / 3600
    if hours < 0:
        return
    score = float(bundle.window_scores(frame, np.array([hours]))[0])
    segment, version = str(bundle.window_pools(frame)[0]), model_version(bundle)  # the levels' `segment`
    fresh = [
        {"model_version": version, "segment": segment, "coverage": c, "level": c, "deliveries": 0,
         "updated_at": utcnow()}
        for c in TRACKED_COVERAGES
    ]  # fmt: skip
    session.execute(insert_if_absent(session, WindowLevel, fresh, ["model_version", "segment", "coverage"]))
    rows = session.scalars(
        select(WindowLevel)
        .where(WindowLevel.model_version == version, WindowLevel.segment == segment)
        .with_for_update()
    ).all()
    online = AdaptiveCoverage({(r.segment, r.coverage): r.level for r in rows})
    moved = online.observe(segment, score, bundle.conformal.grid_named(str(bundle.window_rows(frame)[0])))
    for r in rows:
        r.level = moved[r.coverage]
        r.deliveries += 1


class LevelCache:
    """The levels of the model in service for the quote path, re-read every `refresh_seconds` in a daemon
    thread (0: only when `refresh` is called)."""

    def __init__(self, factory: sessionmaker[Session], holder: ModelHolder, refresh_seconds: float) -> None:
        self.factory, self.holder = factory, holder
        self._levels: tuple[str, AdaptiveCoverage] | None = None
        self._runner = Periodic("window-levels", self.refresh, refresh_seconds)
        self.start, self.stop = self._runner.start, self._runner.stop

    def get(self, version: str) -> AdaptiveCoverage | None:
        levels = self._levels
        return levels[1] if levels is not None and levels[0] == version else None

    def refresh(self) -> None:
        loaded = self.holder.current
        if loaded is None:
            return
        with self.factory() as session:
            self._levels = (loaded.version, load_levels(session, loaded.version))
