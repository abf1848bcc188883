"""Progress of a shipment in flight: what its scan events say at a given moment.

One function serves both sides: training builds snapshots (shipment, moment) from past event histories,
serving asks for (shipment, now); each snapshot sees only the events that occurred up to its moment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import STATUSES, EventStatus

PROGRESS_FEATURES = (
    "status_code",
    "elapsed_hours",
    "hours_since_event",
    "n_events",
    "customs_hold_seen",
    "exception_seen",
    "delivery_attempted_seen",
)
_STATUS_CODE = {s: float(i) for i, s in enumerate(STATUSES)}


def progress(events: pd.DataFrame, snapshots: pd.DataFrame) -> pd.DataFrame:
    """Progress features per snapshot.

    `events`: shipment_id, occurred_at, status (canonical). `snapshots`: shipment_id, moment, created_at, one
    row per question asked; the result has the snapshots' index.
    """
    snaps = snapshots[["shipment_id", "moment", "created_at"]].assign(_snap=np.arange(len(snapshots)))
    seen = snaps.merge(events[["shipment_id", "occurred_at", "status"]], on="shipment_id", how="inner")
    seen = seen[seen["occurred_at"] <= seen["moment"]].sort_values(["_snap", "occurred_at"], kind="stable")
    by = seen.groupby("_snap", sort=True)
    last = by.tail(1).set_index("_snap")
    flags = (
        pd.DataFrame(
            {
                "customs_hold_seen": seen["status"].eq(EventStatus.CUSTOMS_HOLD.value),
                "exception_seen": seen["status"].eq(EventStatus.EXCEPTION.value),
                "delivery_attempted_seen": seen["status"].eq(EventStatus.DELIVERY_ATTEMPTED.value),
                "_snap": seen["_snap"],
            }
        )
        .groupby("_snap")
        .any()
    )
    idx = pd.RangeIndex(len(snapshots))
    moment, created = snaps["moment"].to_numpy(), snaps["created_at"].to_numpy()
    last_at = last["occurred_at"].reindex(idx).to_numpy()
    elapsed = (moment - created) / np.timedelta64(1, "h")
    since = np.where(pd.isna(last_at), elapsed, (moment - last_at) / np.timedelta64(1, "h"))
    out = pd.DataFrame(
        {
            "status_code": last["status"].reindex(idx).map(_STATUS_CODE).to_numpy(dtype=float),
            "elapsed_hours": elapsed.astype(float),
            "hours_since_event": since.astype(float),
            "n_events": by.size().reindex(idx, fill_value=0).to_numpy(dtype=float),
            **{c: flags[c].reindex(idx, fill_value=False).to_numpy(dtype=float) for c in flags.columns},
        },
        index=snapshots.index,
    )
    return out[list(PROGRESS_FEATURES)]


def status_segments(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """Conformal segments of the in-transit model: the latest canonical status."""
    codes = features["status_code"].fillna(-1).astype(int).astype(str)
    return {"status": codes.to_numpy(dtype=object)}
