import pandas as pd

from features.contract import STATUSES
from features.progress import progress

T0 = pd.Timestamp("2024-03-01T08:00:00Z")


def hours(h: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=h)


EVENTS = pd.DataFrame(
    {
        "shipment_id": ["a", "a", "a", "a"],
        "occurred_at": [hours(1), hours(5), hours(20), hours(30)],
        "status": ["picked_up", "customs_hold", "customs_cleared", "delivered"],
    }
)


def test_a_snapshot_sees_only_the_events_up_to_its_moment() -> None:
    snaps = pd.DataFrame({"shipment_id": ["a", "a"], "moment": [hours(6), hours(25)], "created_at": T0})
    out = progress(EVENTS, snaps)
    assert list(out["n_events"]) == [2, 3]
    assert list(out["status_code"]) == [STATUSES.index("customs_hold"), STATUSES.index("customs_cleared")]
    assert list(out["hours_since_event"]) == [1.0, 5.0]
    assert list(out["elapsed_hours"]) == [6.0, 25.0]
    assert list(out["customs_hold_seen"]) == [1.0, 1.0] and list(out["exception_seen"]) == [0.0, 0.0]


def test_a_shipment_without_scans_yet_has_no_status_and_counts_from_creation() -> None:
    snaps = pd.DataFrame({"shipment_id": ["b", "a"], "moment": [hours(3), hours(0.5)], "created_at": T0})
    out = progress(EVENTS, snaps)
    assert out["status_code"].isna().all() and list(out["n_events"]) == [0, 0]
    assert list(out["hours_since_event"]) == [3.0, 0.5]
